"""
FGSM and PGD: robustness curves
===============================

Beyond the report: the two standard attacks a course shows next. FGSM takes one step of
size epsilon along the sign of the loss gradient; PGD takes 40 smaller steps and
projects back into the epsilon-ball after each. Epsilon is in pixel units of [0, 1]
images, so 0.3 means what the literature means on MNIST.
"""

# %%
import cnnviz
from cnnviz import plots
from cnnviz.figures import robustness_curves, sample_indices

data = cnnviz.load_splits()
picks = sample_indices(len(data.test_x), 300)
epsilons = [0.0, 0.05, 0.1, 0.15, 0.2, 0.3]
models = {"no batch norm": cnnviz.pretrained(False), "batch norm": cnnviz.pretrained(True)}
curves = robustness_curves(models, data.test_x[picks], data.test_y[picks], epsilons)
fig = plots.plot_robustness(epsilons, curves)

# %%
# Three things to notice. Accuracy falls with epsilon for both attacks; PGD, the
# stronger attack, is always at or below FGSM; and the batch-norm model, as accurate as
# the other on clean digits (epsilon 0), is markedly *less* robust, a known side effect
# of batch norm.
for name, accuracies in curves.items():
    print(f"{name:<24}", "  ".join(f"{a:5.1f}" for a in accuracies.tolist()))
