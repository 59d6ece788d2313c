"""
Occlusion and saliency (R11)
============================

**Which parts of the digit does the network rely on?**

This page re-creates report item R11, the occlusion map (the report's Fig 12, after
`Zeiler & Fergus 2013 <https://arxiv.org/abs/1311.2901>`__); :doc:`/reproducing` lists
all report items. The report slides a 5x5 grey patch over the image and records the
probability of the true class at each position. A gradient saliency map (`Simonyan et
al. 2013 <https://arxiv.org/abs/1312.6034>`__), beyond the report, answers the same
question in one backward pass.

Try it live: draw a digit below; the occlusion and saliency maps under it are computed in your
browser as you draw.

.. lab::
   :view: draw
"""

# %%
# Fig 12: occlusion map
# ---------------------
import torch

import cnnviz
from cnnviz import plots
from cnnviz.data.mnist import first_per_class
from cnnviz.inspect.occlusion import occlusion
from cnnviz.inspect.saliency import saliency

model = cnnviz.pretrained(batchnorm=False)
data = cnnviz.load_splits()

# Most 7s keep their class wherever the 5x5 patch goes (the count is printed below);
# take the one among the first fifty that a patch hurts most, like the report's example.
sevens = data.test_x[data.test_y == 7][:50]
results = [occlusion(model, seven, target=7, patch=5, stride=1) for seven in sevens]
worst = min(range(len(results)), key=lambda i: float(results[i].probability.min()))
seven, result = sevens[worst], results[worst]
fig = plots.plot_occlusion(seven, result, bounds=model.input_bounds)
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
assert result.probability.min() < 0.5 * result.base_probability, "a patch hurts this 7 a lot"

# %%
# The occlusion map by hand
# -------------------------
# What :func:`~cnnviz.inspect.occlusion.occlusion` computes, written as a loop: one copy
# of the digit per patch position, the 5x5 window set to grey (0, the middle of the
# network's [-1, 1] input range), and the probability of the 7 for every copy. The
# library's result is the same to within rounding (checked, difference printed); it is
# faster because it only recomputes the part of ``conv1`` a patch touches.
side = 28 - 5 + 1  # patch positions per row and column
copies = seven.repeat(side * side, 1, 1, 1)
for k in range(side * side):
    row, col = divmod(k, side)
    copies[k, :, row : row + 5, col : col + 5] = 0.0  # the grey patch
by_hand = model.predict_proba(copies)[:, 7].reshape(side, side)
difference = float((by_hand - result.probability).abs().max())
print(f"largest difference from the library: {difference:.1e}")
assert difference < 1e-4, "the loop gives the library's occlusion map"

# %%
# Covering the background changes nothing; covering parts of the strokes lowers the
# probability, in this digit dramatically (checked: to below half its unoccluded value;
# the report saw one such 7, which looked like a 1 once its bar was covered). The grey
# patch also *adds* ink on the black background, which is why the drop can be largest
# right beside a stroke. The colours
# span the map's own range. The right panel is the same computation as Captum's
# ``Occlusion`` (the mean drop over all windows covering each pixel), so it can be
# checked against that library.
#
# A bigger patch hurts more
# -------------------------
# A 9x9 patch covers more of a stroke at once: the area where the probability collapses
# grows, and the lowest probability falls further (printed).
bigger = occlusion(model, seven, target=7, patch=9, stride=1)
fig = plots.plot_occlusion(seven, bigger, bounds=model.input_bounds)
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
collapsed = [float((r.probability < 0.5).float().mean()) for r in (result, bigger)]
print(f"patch positions with p(7) < 0.5: {collapsed[0]:.0%} (5x5), {collapsed[1]:.0%} (9x9)")
assert bigger.probability.min() <= result.probability.min(), "the 9x9 patch hurts at least as much"
assert collapsed[1] > collapsed[0], "the area where the probability collapses grows"

# %%
# Saliency
# --------
# The gradient of the class logit with respect to each pixel: where a small change
# would move the score most. It lies on and around the strokes, and it is speckled:
# neighbouring pixels often differ a lot. By hand it is three lines of autograd, after
# the ``speckle`` measure below: a copy of the digits that records gradients, the class
# logits summed (each depends on its own digit only), and the size of the gradient. The
# library's map is the same (checked).
digits = data.test_x[first_per_class(data.test_y)[[1, 3, 8]]]
labels = data.test_y[first_per_class(data.test_y)[[1, 3, 8]]]
plain = saliency(model, digits, labels)
fig = plots.plot_saliency(digits, plain, labels, bounds=model.input_bounds)
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
    return float((maps[..., 1:] - maps[..., :-1]).abs().mean() / maps.mean())


print(f"speckle of the plain maps: {speckle(plain):.2f}")
x = digits.clone().requires_grad_(True)
model.logits(x).gather(1, labels[:, None]).sum().backward()
by_hand = x.grad.abs()
assert torch.allclose(by_hand, plain, atol=1e-5), "the three lines give the library's map"

# %%
# SmoothGrad (`Smilkov et al. 2017 <https://arxiv.org/abs/1706.03825>`__) averages the
# gradient over noisy copies of the input. The noise is given in pixel units, as a
# fraction of the range from black to white: ``noise=0.4`` is a standard deviation of
# two fifths of that range (0.8 in the network's [-1, 1] inputs). With 32 copies the
# maps are smoother: the printed speckle measure drops (checked).
smooth = saliency(model, digits, labels, smooth_samples=32, noise=0.4)
fig = plots.plot_saliency(
    digits,
    smooth,
    labels,
    title="SmoothGrad: 32 noisy copies averaged",
    bounds=model.input_bounds,
)
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
assert speckle(smooth) < speckle(plain), "SmoothGrad's maps are smoother"

# %%
# Takeaway
# --------
# Occlusion and saliency agree that the network looks at the strokes, and at the
# background just beside them; a single digit can hinge on one short stretch of stroke.
#
# **Exercise.** Change ``patch=5`` to ``patch=3`` in the first map: how small can the
# patch be and still push p(7) below one half? Or set ``noise=0.1`` in the SmoothGrad
# call: the speckle lies between the plain maps' and those with ``noise=0.4``.
