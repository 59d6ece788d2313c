"""
Images from noise (R12)
=======================

The report's "non-targeted attack": start from faint noise, N(0, 0.1), and climb the
logit of one class by gradient ascent until the network is 99 % sure. Every step is
capped, so a class that never gets there is reported as a failure, not a hang.
"""

# %%
import cnnviz
from cnnviz import plots
from cnnviz.attacks import class_visualisation

model = cnnviz.pretrained(batchnorm=False)
result = class_visualisation(model, targets=range(10), step_size=0.1, max_steps=500)
fig = plots.plot_class_visualisations(result)

# %%
# Every image is called its class with p >= 0.99, yet none looks like a digit: the
# network has only seen digits, so it has no notion of "none of the above", and faint
# stroke fragments in the right places are enough. This answers the report's
# questions: yes, the network is fooled; no, the images do not look like numbers.
print("steps:", result.steps.tolist())

# %%
# The cost (Fig 14, 15)
# ---------------------
# The target logit rises roughly linearly with the iterations, as the report observed:
# the network is close to linear in its input along the gradient direction. The
# probability, a softmax of the logits, follows an S-curve.
fig = plots.plot_logit_history(result, classes=(1, 7))

# %%
# A regulariser
# -------------
# Simonyan et al. penalise the image's squared norm so that only the strongest
# evidence grows; the images get sparser.
fig = plots.plot_class_visualisations(class_visualisation(model, l2=5.0, max_steps=500))
