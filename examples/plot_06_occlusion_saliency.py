"""
Occlusion and saliency (R11)
============================

Which parts of the digit does the network rely on? The report slides a 5x5 grey patch
over the image and records the probability of the true class at each position. A
gradient saliency map answers the same question in one backward pass.
"""

# %%
# Occlusion map (Fig 12)
# ----------------------
import cnnviz
from cnnviz import plots
from cnnviz.data import first_per_class
from cnnviz.occlusion import occlusion
from cnnviz.saliency import saliency

model = cnnviz.pretrained(batchnorm=False)
data = cnnviz.load_splits()

# Most 7s are so clear that no 5x5 patch matters; look for the one among the first
# fifty that a patch can hurt most, like the report's example.
sevens = data.test_x[data.test_y == 7][:50]
results = [occlusion(model, seven, target=7, patch=5, stride=1) for seven in sevens]
worst = min(range(len(results)), key=lambda i: float(results[i].probability.min()))
seven, result = sevens[worst], results[worst]
fig = plots.plot_occlusion(seven, result)

# %%
# Covering the background changes nothing; covering parts of the strokes lowers the
# probability, in this digit dramatically (the report saw one such 7, which looked like
# a 1 once its bar was covered). The grey patch also *adds* ink on the black
# background, which is why the drop can be largest right beside a stroke. The colours
# span the map's own range. The right panel is the same computation as Captum's
# ``Occlusion`` (the mean drop over all windows covering each pixel), so it can be
# checked against that library.
print(f"p(7): {result.base_probability:.3f} unoccluded, {result.probability.min():.3f} at worst")

# %%
# A bigger patch hurts more
# -------------------------
fig = plots.plot_occlusion(seven, occlusion(model, seven, target=7, patch=9, stride=1))

# %%
# Saliency
# --------
# The gradient of the class logit with respect to each pixel: where a small change
# would move the score most. It concentrates on the strokes and their edges.
digits = data.test_x[first_per_class(data.test_y)[[1, 3, 8]]]
labels = data.test_y[first_per_class(data.test_y)[[1, 3, 8]]]
fig = plots.plot_saliency(digits, saliency(model, digits, labels), labels)

# %%
# SmoothGrad averages the gradient over noisy copies of the input, which removes much
# of the speckle.
fig = plots.plot_saliency(digits, saliency(model, digits, labels, smooth_samples=32), labels)
