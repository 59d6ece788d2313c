"""
Targeted attack (R13)
=====================

Start from a real digit *a* and climb ``logit[t] - beta * MSE(x, x_a)`` until the network
says *t* with 90 % confidence. The penalty keeps the image close to the original. (The
report's code compared two fixed images in its penalty, a constant; this is what it
meant.) All 100 (source, target) pairs run in one batch.
"""

# %%
import cnnviz
from cnnviz import plots
from cnnviz.attacks import all_pairs, targeted_attack
from cnnviz.data import first_per_class

model = cnnviz.pretrained(batchnorm=False)
data = cnnviz.load_splits()
sources = data.test_x[first_per_class(data.test_y)]
images, targets = all_pairs(sources)
result = targeted_attack(model, images, targets, beta=1.0, threshold=0.9, max_steps=500)
fig = plots.plot_targeted_grid(result)

# %%
# The diagonal is the digit itself. Off the diagonal, each image still reads as its
# row's digit to us, with some blur and smudges, but the network reads the column's
# class, as the report found.
print(
    f"{int(result.success.sum())}/100 pairs reached p >= 0.9; "
    f"at most {int(result.steps.max())} steps"
)

# %%
# Closeness has a price
# ---------------------
# A larger beta keeps the image closer to its source (smaller mean squared change) and
# needs more steps.
for beta in (0.0, 1.0, 20.0):
    run = targeted_attack(model, images, targets, beta=beta, max_steps=500)
    change = (run.images - images).pow(2).flatten(1).mean(1)
    print(
        f"beta {beta:5.1f}: mean squared change {change.mean():.4f}, "
        f"median steps {run.steps.median():.0f}, success {run.success.float().mean():.0%}"
    )
