"""
Activations (R10)
=================

**What does a digit look like to the network after each convolution?**

This page re-creates report item R10, the feature maps of both convolutions for one
digit (the report's Fig 10 and 11); :doc:`/reproducing` lists all report items. Each
channel of ``conv1`` gives a map of 28x28, each channel of ``conv2`` (working on the
pooled maps) one of 14x14. :func:`cnnviz.inspect.layers.activations` captures them with
forward hooks that it always removes. All maps of a figure share one colour scale,
shown by its colour bar, so a weak channel looks weak.

Try it live: draw a digit (or pick a test digit) and open the feature maps of any layer.

.. lab::
   :view: inside
"""

# %%
# Fig 10: conv1 activations
# -------------------------
# The output of ``conv1`` before its ReLU, on a scale symmetric around zero: red where a
# kernel matches the image, blue where it matches the opposite pattern.
import cnnviz
from cnnviz import plots
from cnnviz.data.sample_digits import sample_indices
from cnnviz.inspect.layers import activations

model = cnnviz.pretrained(batchnorm=False)
data = cnnviz.load_splits()
digit = data.test_x[sample_indices(len(data.test_x), 1)]
maps = activations(model, digit, ("conv1", "relu1", "relu2"))
fig = plots.plot_activations(
    maps["conv1"][0], "conv1 (before its ReLU)", digit[0], bounds=model.input_bounds
)
# sphinx_gallery_start_ignore
plots.describe(
    fig,
    alt=(
        "The input digit, then a grid of 32 feature maps of 28x28 pixels, each titled "
        "with its channel number and maximum, on one blue-white-red scale symmetric "
        "around zero given by a colour bar."
    ),
    caption=(
        "The 32 outputs of conv1 for one test digit, before the ReLU, all on one colour scale."
    ),
    report_figure=10,
)
# sphinx_gallery_end_ignore

# %%
# The ``conv1`` maps still look like the digit: most highlight the edges of one
# orientation, red on one side of a stroke and blue on the other. A few, such as
# channels 3 and 29, mostly report the background: one colour over the whole black area.
# The frame around several maps comes from the zero padding: 0 is mid-grey in the
# input's [-1, 1] range, so the border of the black background looks like an edge.
#
# Fig 11: conv2 activations after the ReLU
# ----------------------------------------
# What the next layer receives from ``conv2``: its output after the ReLU (negative values
# become 0), on a scale from 0 (dark) to the largest value of any channel.
fig = plots.plot_activations(
    maps["relu2"][0], "conv2 after its ReLU", digit[0], bounds=model.input_bounds
)
# sphinx_gallery_start_ignore
plots.describe(
    fig,
    alt=(
        "The input digit, then a grid of 32 feature maps of 14x14 pixels, each titled "
        "with its channel number and maximum, on one dark-to-yellow scale from zero to "
        "the largest value, given by a colour bar."
    ),
    caption=(
        "The 32 outputs of conv2 after its ReLU for the same digit; dark maps are "
        "channels silent for this digit."
    ),
    report_figure=11,
)
# sphinx_gallery_end_ignore
silent = (maps["relu2"][0].flatten(1).amax(1) == 0).nonzero()[:, 0].tolist()
print(f"conv2 channels that are all zero for this digit: {silent}")
for layer in ("relu1", "relu2"):
    print(f"{layer}: {(maps[layer] == 0).float().mean():.0%} of the values are zero")
assert (maps["relu2"] == 0).float().mean() > 0.5, "after the ReLU most conv2 values are zero"

# %%
# After pooling, ``conv2`` sees the digit at half the resolution and combines edges into
# parts of strokes. As the report says, the digit can still be made out in some maps,
# but they are sparse: after the ReLU most values are zero (printed above), and the
# channels printed as all zero are silent for this digit. Compared on one scale, a few
# channels carry most of the activity.
#
# Takeaway
# --------
# Early layers keep the image's layout and respond to edges; deeper layers respond to
# larger parts, more sparsely, and only some channels answer any given digit.
#
# **Exercise.** Change ``sample_indices(len(data.test_x), 1)`` to
# ``sample_indices(len(data.test_x), 1, seed=7)`` to look at another digit: do the same
# ``conv2`` channels stay silent?
