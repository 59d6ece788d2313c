"""
Occlusion and saliency (R11)
============================

This page re-creates report item R11, the occlusion map (the report's Fig 12);
:doc:`/reproducing` lists all report items. Which parts of the digit does the network
rely on? The report slides a 5x5 grey patch over the image and records the probability
of the true class at each position. A gradient saliency map, beyond the report, answers
the same question in one backward pass.

Try it live: draw a digit below; the occlusion and saliency maps under it are computed in your
browser as you draw.

.. lab::
   :view: draw
"""

# %%
# Fig 12: occlusion map
# ---------------------
import cnnviz
from cnnviz import plots
from cnnviz.data import first_per_class
from cnnviz.occlusion_maps import occlusion
from cnnviz.saliency_maps import saliency

model = cnnviz.pretrained(batchnorm=False)
data = cnnviz.load_splits()

# Most 7s keep their class wherever the 5x5 patch goes (the count is printed below);
# take the one among the first fifty that a patch hurts most, like the report's example.
sevens = data.test_x[data.test_y == 7][:50]
results = [occlusion(model, seven, target=7, patch=5, stride=1) for seven in sevens]
worst = min(range(len(results)), key=lambda i: float(results[i].probability.min()))
seven, result = sevens[worst], results[worst]
fig = plots.plot_occlusion(seven, result)
# sphinx_gallery_start_ignore
plots.describe(
    fig,
    alt=(
        "Three panels: a test digit 7 with its probability; a heat map of the probability "
        "of class 7 with a 5x5 grey patch centred at each pixel, dark where it is lowest, "
        "with a colour bar; the occlusion attribution laid over the digit in blue and "
        "red, with a colour bar."
    ),
    caption=(
        "Occlusion with a 5x5 grey patch: the probability of the true class for every "
        "patch position (middle) and the mean drop at each pixel (right)."
    ),
    report_figure=12,
)
# sphinx_gallery_end_ignore
hurt = sum(float(r.probability.min()) < 0.5 for r in results)
print(f"{hurt} of {len(sevens)} sevens fall below p(7) = 0.5 for some patch position")
print(f"p(7): {result.base_probability:.3f} unoccluded, {result.probability.min():.3f} at worst")

# %%
# Covering the background changes nothing; covering parts of the strokes lowers the
# probability, in this digit dramatically (the report saw one such 7, which looked like
# a 1 once its bar was covered). The grey patch also *adds* ink on the black
# background, which is why the drop can be largest right beside a stroke. The colours
# span the map's own range. The right panel is the same computation as Captum's
# ``Occlusion`` (the mean drop over all windows covering each pixel), so it can be
# checked against that library.
#
# A bigger patch hurts more
# -------------------------
# A 9x9 patch covers more of a stroke at once: the area where the probability collapses
# grows, and the lowest probability falls further (printed).
bigger = occlusion(model, seven, target=7, patch=9, stride=1)
fig = plots.plot_occlusion(seven, bigger)
# sphinx_gallery_start_ignore
plots.describe(
    fig,
    alt=(
        "The same three panels as above for a 9x9 grey patch: the digit, the probability "
        "of class 7 for each patch position, and the attribution over the digit."
    ),
    caption="Occlusion of the same 7 with a 9x9 patch instead of 5x5.",
    report_figure=12,
)
# sphinx_gallery_end_ignore
print(f"p(7) at worst: {result.probability.min():.3f} (5x5), {bigger.probability.min():.3f} (9x9)")

# %%
# Saliency
# --------
# The gradient of the class logit with respect to each pixel: where a small change
# would move the score most. It lies on and around the strokes, and it is speckled:
# neighbouring pixels often differ a lot.
digits = data.test_x[first_per_class(data.test_y)[[1, 3, 8]]]
labels = data.test_y[first_per_class(data.test_y)[[1, 3, 8]]]
plain = saliency(model, digits, labels)
fig = plots.plot_saliency(digits, plain, labels)
# sphinx_gallery_start_ignore
plots.describe(
    fig,
    alt=(
        "Three rows, one per test digit (a 1, a 3 and an 8): the digit, its gradient "
        "saliency map in black-red-yellow (bright where the class score is most "
        "sensitive), and the map laid over the digit."
    ),
    caption="Gradient saliency of the class logit for three test digits.",
    report_figure=None,
)
# sphinx_gallery_end_ignore


def speckle(maps):
    """Mean difference between horizontal neighbours, relative to the mean value."""
    return float((maps[:, :, 1:] - maps[:, :, :-1]).abs().mean() / maps.mean())


print(f"speckle of the plain maps: {speckle(plain):.2f}")

# %%
# SmoothGrad averages the gradient over noisy copies of the input. With noise of
# standard deviation ``noise=0.4`` (a fifth of the input range) and 32 copies, the maps
# are smoother: the printed speckle measure drops.
smooth = saliency(model, digits, labels, smooth_samples=32, noise=0.4)
fig = plots.plot_saliency(digits, smooth, labels, title="SmoothGrad: 32 noisy copies averaged")
# sphinx_gallery_start_ignore
plots.describe(
    fig,
    alt=(
        "The same three rows as above with SmoothGrad maps: each digit, the saliency "
        "averaged over 32 noisy copies, and that map laid over the digit."
    ),
    caption="SmoothGrad: the saliency of 32 noisy copies averaged, for the same three digits.",
    report_figure=None,
)
# sphinx_gallery_end_ignore
print(f"speckle of the SmoothGrad maps: {speckle(smooth):.2f}")

# %%
# Takeaway
# --------
# Occlusion and saliency agree that the network looks at the strokes, and at the
# background just beside them; a single digit can hinge on one short stretch of stroke.
#
# **Exercise.** Change ``patch=5`` to ``patch=3`` in the first map: how small can the
# patch be and still hurt? Or set ``noise=0.1`` in the SmoothGrad call and compare the
# speckle.
