"""
Data and model (R1, R2, R7)
===========================

The assignment trains on MNIST: 60,000 training digits, split 90/10 into training and
validation sets, and 10,000 test digits, with pixels scaled to [-1, 1]. The network has
two 3x3 convolutions, each followed by a ReLU and 2x2 max pooling, and two fully
connected layers.
"""

# %%
# Loading the data
# ----------------
# :func:`cnnviz.data.load_splits` finds the four IDX files (or downloads and checks them),
# makes the seeded 90/10 split and keeps everything in memory as tensors.
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
# A handful of training digits, as the network receives them (black is -1, white +1),
# with what the shipped model makes of them (training comes in the next example):
picks = torch.arange(8)
shipped = cnnviz.pretrained(batchnorm=False)
fig = plots.plot_predictions(
    data.train_x[picks], data.train_y[picks], shipped.predict_proba(data.train_x[picks])
)

# %%
# The network and its layer table
# -------------------------------
# :func:`cnnviz.model.format_summary` measures each layer with a forward pass. Almost
# all parameters sit in ``fc1`` (1568 x 500 weights), almost all neurons in the
# convolutions: convolutions share a few weights across the whole image.
print(cnnviz.format_summary(cnnviz.CNN(batchnorm=False)))

# %%
# The report counts 25088 neurons for ``conv2``, the size of ``conv1``'s output;
# ``conv2`` works on the pooled 14x14 maps, so it outputs 32 x 14 x 14 = 6272 values.
# Batch norm adds a scale and a shift per channel: 2 x 32 + 2 x 500 = 1064 parameters.
print(cnnviz.format_summary(cnnviz.CNN(batchnorm=True)).splitlines()[-2])
