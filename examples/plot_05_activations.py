"""
Activations (R10)
=================

What each channel computes for one digit: the feature maps of ``conv1`` (32 maps of
28x28) and of ``conv2`` (32 maps of 14x14). :func:`cnnviz.activations.activations`
captures them with forward hooks that it always removes.
"""

# %%
import cnnviz
from cnnviz import plots
from cnnviz.activations import activations
from cnnviz.figures import sample_indices

model = cnnviz.pretrained(batchnorm=False)
data = cnnviz.load_splits()
digit = data.test_x[sample_indices(len(data.test_x), 1)]
maps = activations(model, digit, ("conv1", "relu1", "conv2", "relu2"))
fig = plots.plot_activations(maps["conv1"][0], "conv1", digit[0])

# %%
# ``conv1`` maps still look like the digit: each one highlights edges of one
# orientation. The frame around some maps comes from the zero padding: 0 is mid-grey
# in the input's [-1, 1] range, so the border looks like an edge.
fig = plots.plot_activations(maps["conv2"][0], "conv2", digit[0])

# %%
# After pooling, ``conv2`` sees the digit at half the resolution and combines edges
# into parts of strokes. As the report says, the digit can still be made out, but the
# maps are sparser: after the ReLU most values are zero.
for layer in ("relu1", "relu2"):
    print(f"{layer}: {(maps[layer] == 0).float().mean():.0%} of the values are zero")
