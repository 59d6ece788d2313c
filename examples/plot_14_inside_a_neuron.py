"""
Inside a neuron
===============

**How does one number inside the network come about, and what does a channel look for?**

The feature maps of R10 show thousands of numbers at once. This page opens single
ones: how one value of ``conv1`` and one of ``conv2`` is computed from the layer below
(the products of inputs and weights, the bias, batch norm, ReLU and max pooling, as
CNN Explainer draws them), how much of the digit each layer's units can see, and what
a channel looks for: the test digits that excite it most, and an image grown to excite
it, with and without the regularisers that make such images readable (Olah et al.,
`"Feature Visualization" <https://distill.pub/2017/feature-visualization/>`__, Distill
2017).

Try it live: click a feature map, then one of its units, to see the numbers of its computation.

.. lab::
   :view: inside
"""

# %%
# One value of conv1
# ------------------
# :func:`cnnviz.inspect.neuron.unit_computation` returns every term of one unit, and the value
# the model's own forward pass computed there, so the two can be compared.
import torch

import cnnviz
from cnnviz import plots
from cnnviz.inspect.neuron import receptive_field, unit_computation
from cnnviz.plots.images import plot_image_rows
from cnnviz.plots.neuron import plot_receptive_fields, plot_top_patches, plot_unit_computation
from cnnviz.report.presets import REPORT_CLASS_VISUALISATION
from cnnviz.visualise.class_images import class_visualisation
from cnnviz.visualise.features import visualise
from cnnviz.visualise.patches import top_patches
from cnnviz.visualise.transforms import PLAIN, READABLE

model = cnnviz.pretrained()  # the batch-norm network
digits = cnnviz.load_test_digits()
image = digits.x[0]
first = unit_computation(model, image, "conv1", 3, (10, 17))
fig = plot_unit_computation(first, image)
# sphinx_gallery_start_ignore
plots.describe(
    fig,
    alt=(
        "One conv1 unit's computation: the digit with the unit's 3x3 receptive field "
        "outlined in orange; the input window, the kernel and their products as numbered "
        "blue-red grids; the 2x2 max-pooling window with the kept value outlined; and the "
        "sum written out."
    ),
    caption="Inside one conv1 unit: input window times kernel, plus bias, ReLU, max pooling.",
    report_figure=None,
)
# sphinx_gallery_end_ignore
print(f"conv1[3, 10, 17]: 9 products sum to {first.products.sum():.4f}, + bias {first.bias:.4f}")
print(f"= {first.total:.4f}; the forward pass computed {first.forward_value:.4f}")
print(f"after ReLU {first.output:.4f}; max pooling keeps {first.pool.value:.4f}")
assert abs(first.total - first.forward_value) < 1e-5, "the terms add up to the forward value"

# %%
# The input window sits on the top bar of the 7. The kernel's weights multiply the
# pixels one by one, the nine products and the bias add up to exactly the value in the
# feature map (both printed), and ReLU cuts it to zero when it is negative. Max pooling
# then keeps the largest of four neighbouring values (outlined in black; the triangle
# marks this unit), so most units never reach the next layer at all.
#
# One value of conv2
# ------------------
# A ``conv2`` unit reads a 3x3 window of all 32 ``pool1`` channels: 288 products. The
# bars sum each channel's nine, so the picture shows which channels pushed the value up
# and which pushed it down; batch norm then rescales it with the statistics it kept
# during training.
second = unit_computation(model, image, "conv2", 5, (7, 6))
fig = plot_unit_computation(second, image)
# sphinx_gallery_start_ignore
plots.describe(
    fig,
    alt=(
        "One conv2 unit's computation: the digit with its 8x8 receptive field outlined; "
        "horizontal bars of the pool1 channels that pushed the value up (red) and down "
        "(blue); and the sum, batch norm and ReLU written out."
    ),
    caption=(
        "Inside one conv2 unit: which input channels push it up and down, then the arithmetic."
    ),
    report_figure=None,
)
# sphinx_gallery_end_ignore
sums = second.channel_sums()
print(f"conv2[5, 7, 6]: {second.products.size} products, total {second.total:.4f}")
print(f"the forward pass computed {second.forward_value:.4f}")
print(f"largest channel sum {sums.max():.4f} (channel {sums.argmax()}), smallest {sums.min():.4f}")
print(f"after batch norm {second.normalised:.4f}, after ReLU {second.output:.4f}")
assert abs(second.total - second.forward_value) < 1e-4, "the 288 products add up"

# %%
# How far each layer sees
# -----------------------
# Each 3x3 convolution widens the field by two pixels and each 2x2 pooling doubles the
# step between units, so the receptive field grows with depth.
for layer in ("conv1", "pool1", "conv2", "pool2"):
    top, bottom, left, right = receptive_field(layer, 3, 3)
    print(f"{layer:>5}: {bottom - top} x {right - left} pixels")
field = right - left  # of pool2, the last layer printed
columns = (image[0] > 0).any(0).nonzero().flatten()  # columns holding ink (above mid-grey)
width = int(columns.max() - columns.min() + 1)
print(
    f"a pool2 unit sees {field} x {field} pixels; this digit's ink is {width} pixels wide, "
    f"so one unit sees {field / width:.0%} of its width"
)
assert field < width, "a pool2 unit sees less than the whole digit's width"
fig = plot_receptive_fields(image, (12, 14))
# sphinx_gallery_start_ignore
plots.describe(
    fig,
    alt=(
        "A test digit with four nested squares in four colours, the receptive fields of a "
        "conv1, pool1, conv2 and pool2 unit over the same pixel, with their sizes in the "
        "legend."
    ),
    caption="How far one unit of each layer sees.",
    report_figure=None,
)
# sphinx_gallery_end_ignore

# %%
# A ``pool2`` unit sees only part of the digit's width (the share is printed): enough
# for a stroke end or a crossing, not a whole digit. Only ``fc1``, which reads all of
# ``pool2``, sees the whole image.
#
# What a channel looks for: the digits that excite it
# ---------------------------------------------------
# For four channels of ``relu2`` (after batch norm and ReLU), the receptive-field
# patches of the test digits where the channel fires most, strongest first (the number
# above each is the activation).
found = top_patches(model, digits.x, "relu2", count=6)
channels = [0, 5, 12, 27]
fig = plot_top_patches(found, channels)
# sphinx_gallery_start_ignore
plots.describe(
    fig,
    alt=(
        "Four rows of six small image patches, one row per relu2 channel (0, 5, 12, 27, "
        "row labels), strongest first, each titled with its activation."
    ),
    caption="The test-digit patches that excite four relu2 channels most.",
    report_figure=None,
)
# sphinx_gallery_end_ignore
print(f"searched {digits.description}")
for channel in channels:
    top = ", ".join(f"{value:.2f}" for value in found.values[channel, :3].tolist())
    print(f"relu2 channel {channel:>2}: top activations {top}")

# %%
# Each row repeats one motif in different digits and places: the channel is a detector
# of that piece of stroke, wherever it occurs (the convolution shares its weights over
# positions).
#
# What a channel looks for: grown from noise
# ------------------------------------------
# Gradient ascent on the channel's mean activation, from the report's N(0, 0.1) noise.
# Plain ascent (the report's method for classes) against the same ascent where every
# step sees the image shifted by up to two pixels, turned by up to 10 degrees, scaled by
# up to 10 % and then blurred a little (:data:`cnnviz.visualise.transforms.READABLE`).
print(f"start: N(0, 0.1) noise; {READABLE}")
plain = visualise(model, channels, layer="relu2", regularisers=PLAIN)
readable = visualise(model, channels, layer="relu2", regularisers=READABLE)
fig = plot_image_rows(
    {"plain": plain.images, "regularised": readable.images},
    columns=[f"relu2 ch {c}" for c in channels],
    bounds=model.input_bounds,
)
# sphinx_gallery_start_ignore
plots.describe(
    fig,
    alt=(
        "Two rows of four images grown from noise, one column per relu2 channel (column "
        "labels): plain gradient ascent above, regularised ascent below."
    ),
    caption="What four relu2 channels look for, grown from noise: plain and regularised ascent.",
    report_figure=None,
)
# sphinx_gallery_end_ignore


def roughness(images: torch.Tensor, axis: int = -2) -> torch.Tensor:
    """Mean absolute difference between neighbouring pixels along ``axis`` (-2: vertical
    neighbours, -1: horizontal ones), one value per image."""
    return images.diff(dim=axis).abs().flatten(1).mean(1)


def orientation(images: torch.Tensor) -> list[str]:
    """The stripes' direction in each image, from which neighbours differ more: stripes
    that run up and down change across a row (horizontal neighbours differ)."""
    across, down = roughness(images, -1), roughness(images, -2)
    return [
        "vertical" if a > 1.5 * d else "horizontal" if d > 1.5 * a else "mixed or diagonal"
        for a, d in zip(across.tolist(), down.tolist(), strict=True)
    ]


def numbers(values: torch.Tensor) -> str:
    """``values`` as a short list of two-decimal numbers."""
    return ", ".join(f"{value:.2f}" for value in values.tolist())


print(
    f"roughness: plain {float(roughness(plain.images).mean()):.3f}, "
    f"regularised {float(roughness(readable.images).mean()):.3f}"
)
print(f"mean activation, plain: {numbers(plain.objective)}")
print(f"mean activation, regularised: {numbers(readable.objective)}")
stuck = [c for c, value in zip(channels, plain.objective.tolist(), strict=True) if value == 0]
print(f"stuck in plain ascent (activation 0): channels {stuck}")
for channel, plain_way, regularised_way in zip(
    channels, orientation(plain.images), orientation(readable.images), strict=True
):
    print(f"channel {channel:>2}: stripes plain {plain_way}, regularised {regularised_way}")
assert all(readable.objective[channels.index(c)] > 0 for c in stuck), "jitter unsticks them"

# %%
# A channel's objective is its mean over all positions, so both ascents answer with a
# texture: the channel's motif repeated everywhere; compare each row of textures with
# the row of digit patches above (the printed directions are measured from the images:
# stripes that run up and down make horizontal neighbours differ). Plain ascent can
# also get stuck: where a channel is zero everywhere at the start (printed: the
# channels with activation 0), ReLU passes no gradient and the image never changes.
# The jitter moves the image until some unit comes alive, and the regularised ascent
# finds a motif for every channel that plain ascent left stuck (checked). The printed
# roughness compares how fine the two kinds of texture are; untick jitter in the app's
# Inside tab to see the stuck channels.
#
# The same for classes
# --------------------
# The report's Fig 13 grows class images by plain ascent; the regularised ascent climbs
# each class's log-probability under the same transformations. The last row is the
# robust network's plain ascent (see "A robust network"): robustness does by training
# what the regularisers do by hand.
report_way = class_visualisation(
    model, range(10), **REPORT_CLASS_VISUALISATION, steps=1000, steps_past_threshold=1000
)
regularised = visualise(model, range(10), regularisers=READABLE)
robust = class_visualisation(
    cnnviz.pretrained(variant="robust"),
    range(10),
    **REPORT_CLASS_VISUALISATION,
    steps=1000,
    steps_past_threshold=1000,
)
probability = torch.softmax(model.logits(regularised.images).detach(), 1).diagonal()
fig = plot_image_rows(
    {
        "plain (Fig 13)": report_way.images,
        "regularised": regularised.images,
        "robust, plain": robust.images,
    },
    captions={"regularised": [f"p {p:.2f}" for p in probability.tolist()]},
    columns=[f"class {k}" for k in range(10)],
    bounds=model.input_bounds,
)
# sphinx_gallery_start_ignore
plots.describe(
    fig,
    alt=(
        "Three rows of ten images, one column per class 0 to 9: plain ascent as in the "
        "report's Fig 13, regularised ascent (titled with its probability) and the robust "
        "network's plain ascent."
    ),
    caption=(
        "Class images three ways: the report's plain ascent, regularised ascent, and the "
        "robust network."
    ),
    report_figure=13,
)
# sphinx_gallery_end_ignore
print(f"regularised class images: lowest p(class) {probability.min():.3f}")
print(f"read as their class at p >= 0.9: {int((probability >= 0.9).sum())} of 10")
rows = {"plain": report_way, "regularised": regularised, "robust, plain": robust}
smoothness = {name: float(roughness(row.images).mean()) for name, row in rows.items()}
print("roughness: " + ", ".join(f"{name} {value:.3f}" for name, value in smoothness.items()))
assert probability.min() >= 0.9, "every regularised image is read as its class at p >= 0.9"
assert smoothness["regularised"] < smoothness["plain"], "regularised images are smoother"

# %%
# Every regularised image is read as its class at p >= 0.9 (the lowest is printed), and
# they are smoother than the plain ones (the roughness printed; both checked); but for
# this network they are no more a digit than the plain ones. The robust network's
# plain images (last row) come closer to strokes of digits ("A robust network" measures
# how close with a template matcher). Regularisers make an image readable; what the
# image shows is up to what the network learned.
#
# Takeaway
# --------
# Every number in a CNN is a sum of products plus a bias, then a ReLU and
# a pooling: simple steps, exactly reproducible by hand. What a unit "means" is not in
# one number but in what excites it, and a picture of that needs both real examples and
# a regularised optimisation.
#
# **Exercise.** Open ``fc1``'s units with ``unit_computation(model, image, "fc1", k)``
# and find the ``pool2`` values that push the strongest one; or change ``channels`` to
# four others (``[1, 2, 3, 4]``, say): the printout lists the channels plain ascent
# leaves stuck, and the page checks that the regularised ascent brings each to life.
