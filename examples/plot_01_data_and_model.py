"""
Data and model (R1, R2, R7)
===========================

**What does the network receive, and where do its weights and neurons sit?**

This page re-creates three items of the assignment's report: R1, the data (MNIST split
into training and validation sets, pixels scaled to [-1, 1]); R2, the network (two
3x3 convolutions, each followed by a ReLU and 2x2 max pooling, then two fully connected
layers); and R7, its layer table. :doc:`/reproducing` lists every report item R1-R14
and the page that re-creates it.
"""

# %%
# R1: loading the data
# --------------------
# :func:`cnnviz.data.mnist.load_splits` finds the four IDX files (or downloads and checks them),
# splits the 60,000 training digits 90/10 into training and validation sets with a fixed
# seed, and keeps everything in memory as tensors.
import torch

import cnnviz
from cnnviz import plots

data = cnnviz.load_splits()
print(
    f"train {tuple(data.train_x.shape)}, validation {tuple(data.val_x.shape)}, "
    f"test {tuple(data.test_x.shape)}"
)
print(f"pixel range [{data.train_x.min():.0f}, {data.train_x.max():.0f}]")

# %%
# Ten training digits, as the network receives them (black is -1, white +1), with what
# the shipped model makes of them (training itself comes in the next example):
picks = torch.arange(10)
shipped = cnnviz.pretrained(batchnorm=False)
fig = plots.plot_predictions(
    data.train_x[picks],
    data.train_y[picks],
    shipped.predict_proba(data.train_x[picks]),
    title="Training digits: true label and the shipped model's prediction",
    bounds=shipped.input_bounds,
)
# sphinx_gallery_start_ignore
plots.describe(
    fig,
    alt=(
        "Ten training digits in a row of five and a row of five, each titled with its "
        "true label and the shipped network's prediction and confidence; a wrong "
        "prediction would be titled in red."
    ),
    caption=(
        "Training digits as the network receives them (black is -1, white +1), with what "
        "the shipped network without batch norm reads; the report's Fig 3 does the same "
        "for test digits."
    ),
    report_figure=None,
)
# sphinx_gallery_end_ignore

# %%
# R2 and R7: the network and its layer table
# ------------------------------------------
# :func:`cnnviz.models.summary.format_summary` measures each layer with a forward pass.
layers = cnnviz.models.summary.layer_summary(cnnviz.CNN(batchnorm=False))
print(cnnviz.format_summary(cnnviz.CNN(batchnorm=False)))
parameters = sum(row.parameters for row in layers)
fc1 = next(row for row in layers if row.name == "fc1")
neurons = sum(row.neurons or 0 for row in layers)
conv_neurons = sum(row.neurons or 0 for row in layers if row.name.startswith("conv"))
print(f"fc1 holds {fc1.parameters / parameters:.1%} of the parameters;")
print(f"conv1 and conv2 produce {conv_neurons / neurons:.1%} of the neurons")
assert f"{fc1.parameters / parameters:.1%}" == "98.2%", "98.2 % of the parameters in fc1"
assert f"{conv_neurons / neurons:.1%}" == "98.4%", "98.4 % of the neurons from the convolutions"

# %%
# Almost all parameters (98.2 %, checked) sit in ``fc1``, its 1568 x 500 weights; almost
# all neurons (98.4 %, checked) are outputs of the convolutions, which share a few
# weights across the whole image.
#
# The report counts 25088 neurons for ``conv2``, the size of ``conv1``'s output;
# ``conv2`` works on the pooled 14x14 maps, so it outputs 32 x 14 x 14 = 6272 values.
# Batch norm adds a scale and a shift per channel: 2 x 32 + 2 x 500 = 1064 parameters.
print(cnnviz.format_summary(cnnviz.CNN(batchnorm=True)).splitlines()[-2])

# %%
# Takeaway
# --------
# Convolutions are cheap in weights and expensive in activations; the fully connected
# ``fc1`` is the opposite. Whatever the network learns about shapes, it learns in 320 +
# 9248 convolution weights.
#
# **Exercise.** Change ``picks = torch.arange(10)`` to ``torch.arange(100, 110)`` to see
# other training digits, or build ``cnnviz.CNN(batchnorm=True)`` and find in its layer
# table where the 1064 extra parameters sit.
