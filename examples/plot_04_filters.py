"""
Filters (R9)
============

The first layer has 32 kernels of 3x3 on the single input channel; the second has
32 x 32 kernels of 3x3, one per (output, input) channel pair. All kernels of a layer are
drawn on one symmetric colour scale, so their signs and sizes can be compared: blue is
negative, red positive, white zero.
"""

# %%
import cnnviz
from cnnviz import plots
from cnnviz.activations import conv_filters

model = cnnviz.pretrained(batchnorm=False)
first = conv_filters(model, "conv1")
fig = plots.plot_filters(first)

# %%
# Many ``conv1`` kernels are small edge detectors: a red row beside a blue one responds
# to a horizontal edge, a red column beside a blue one to a vertical edge. With only
# 3x3 pixels there is little room for more, as the report notes.
#
# ``conv2`` is harder to read: each output channel mixes all 32 input maps.
fig = plots.plot_filters(conv_filters(model, "conv2"))

# %%
# Some input channels (columns) carry much larger weights than others: those
# ``conv1`` features matter more downstream.
print(f"largest |weight|: conv1 {first.limit:.2f}, conv2 {conv_filters(model, 'conv2').limit:.2f}")
