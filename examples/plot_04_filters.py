"""
Filters (R9)
============

**What have the convolution kernels learned to look for?**

This page re-creates report item R9, the learned filters of both convolutions (the
report's Fig 8 and 9); :doc:`/reproducing` lists all report items. The first layer has
32 kernels of 3x3 on the single input channel; the second has 32 x 32 kernels of 3x3, one
per (output, input) channel pair. All kernels of a layer are drawn on one symmetric
colour scale, so their signs and sizes can be compared: blue is negative, red positive,
white zero.
"""

# %%
# Fig 8: conv1 filters
# --------------------
import cnnviz
from cnnviz import plots
from cnnviz.inspect.layers import conv_filters

model = cnnviz.pretrained(batchnorm=False)
first = conv_filters(model, "conv1")
fig = plots.plot_filters(first)
# sphinx_gallery_start_ignore
plots.describe(
    fig,
    alt=(
        "A grid of 4 rows by 8 columns of 3x3 kernels of conv1, coloured from blue "
        "(negative) through white (zero) to red (positive) on one scale given by a colour "
        "bar; rows and columns are numbered."
    ),
    caption=(
        "The 32 first-layer kernels (kernel 8r + c in row r, column c), all on one colour scale."
    ),
    report_figure=8,
)
# sphinx_gallery_end_ignore
print(f"largest |weight| of conv1: {first.limit:.2f}")
print("kernel 21:\n", first.weights[21, 0].round(2))
kernel = first.weights[21, 0]
assert kernel[0, 2] > 0 > kernel[2, 0], "kernel 21: positive top right, negative bottom left"

# %%
# Several ``conv1`` kernels are small edge detectors: a red side opposite a blue one
# responds to an edge across it. Kernel 21 (third row, column 5; its weights are printed
# above) is red in the top right and blue in the bottom left: it fires on a diagonal
# edge. With only 3x3 pixels there is little room for more, as the report notes.
#
# Fig 9: conv2 filters
# --------------------
# ``conv2`` is harder to read: each output channel (row) mixes all 32 input maps
# (columns).
second = conv_filters(model, "conv2")
fig = plots.plot_filters(second)
# sphinx_gallery_start_ignore
plots.describe(
    fig,
    alt=(
        "A 32 by 32 mosaic of 3x3 kernels of conv2: row = output channel, column = input "
        "channel, blue negative, red positive, white zero, on one scale given by a colour "
        "bar."
    ),
    caption=(
        "The 1,024 second-layer kernels: read a column to see how much the next layer "
        "uses one conv1 channel."
    ),
    report_figure=9,
)
# sphinx_gallery_end_ignore
strength = abs(second.weights).mean(axis=(0, 2, 3))  # mean |weight| per input channel
order = strength.argsort()[::-1]
print(f"largest |weight| of conv2: {second.limit:.2f}")
print("strongest input channels:", ", ".join(f"{c} ({strength[c]:.3f})" for c in order[:3]))
print("weakest input channels:  ", ", ".join(f"{c} ({strength[c]:.3f})" for c in order[-3:]))
assert strength[order[0]] > 2 * strength[order[-1]], "some input channels weigh far more"

# %%
# Some input channels (columns) carry much larger weights than others (the strongest
# more than twice the weakest, checked): the printed strongest columns are the ones with
# the most colour, so those ``conv1`` features matter more downstream, while the weakest
# columns are nearly white.
#
# Takeaway
# --------
# The first layer learns a bank of tiny edge and blob detectors; the second weighs them,
# leaning on a few input channels much more than on others.
#
# **Exercise.** Change ``batchnorm=False`` to ``True``: batch norm after ``conv2``
# rescales its outputs, so compare the colour-bar limits of the two models.
