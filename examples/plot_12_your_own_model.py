"""
Your own model
==============

**Do these analyses need the report's network, or do they work on any CNN?**

Everything on the other pages works on the report's CNN, but nothing in cnnviz needs
it: any PyTorch module that maps images ``(N, C, H, W)`` to class scores ``(N, K)``
works with every analysis and attack. This page brings a network of its own, a wider
CNN with three convolutions inside a ``features`` block, batch norm and global average
pooling, which takes images in ``[0, 1]`` instead of the report's ``[-1, 1]``. It trains
it with cnnviz, then opens it with the same calls as before: the layer table,
occlusion, saliency, feature maps, and PGD beside the report's CNN.

The input range is the one thing cnnviz has to be told: pass ``bounds=(0, 1)``, or give
the model an ``input_bounds`` attribute once. Attack sizes are always in pixel units
(a fraction of black to white), so ``eps=0.1`` means the same change for both models.
"""

# %%
# A network that is not the report's
# ----------------------------------
import torch
from torch import nn

import cnnviz
from cnnviz import plots
from cnnviz.data.mnist import first_per_class

BOUNDS = (0.0, 1.0)  # black and white pixels in this model's input


class WideNet(nn.Module):
    """28x28 grey digits in [0, 1] -> 10 class scores, through three convolutions."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.BatchNorm2d(64),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(64, 64, 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
        )
        self.head = nn.Linear(64, 10)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images).flatten(1))


data = cnnviz.load_splits(bounds=BOUNDS)  # MNIST, scaled to this model's range
net, history = cnnviz.train(WideNet, data, "fast", epochs=1, seed=0, progress=False)
loss, accuracy = cnnviz.evaluate(net, data.test_x, data.test_y)
print(
    f"WideNet after 1 epoch of the fast recipe ({history.precision}): "
    f"test accuracy {accuracy:.2f} %"
)
for row in cnnviz.layer_summary(net, input_shape=(1, 28, 28)):
    print(f"{row.name:12} {row.output_shape!s:16} {row.weights:7,d} weights")

# %%
# The same analyses, the same calls
# ---------------------------------
# Occlusion slides a 5x5 grey patch (grey: the middle of the bounds) over a test
# digit. For a network it does not know, cnnviz runs the occluded copies through full
# forward passes in chunks (the report's CNN has an exact shortcut); the numbers are
# those of Captum's ``Occlusion``.
digits = data.test_x[first_per_class(data.test_y)]
seven = digits[7]
result = cnnviz.occlusion(net, seven, 7, patch=5, stride=1, bounds=BOUNDS)
fig = plots.plot_occlusion(seven, result, bounds=BOUNDS)
# sphinx_gallery_start_ignore
plots.describe(
    fig,
    alt=(
        "Three panels for WideNet: a test 7 with its probability, the probability of "
        "class 7 for each position of a 5x5 grey patch with a colour bar, and the "
        "occlusion attribution over the digit."
    ),
    caption="Occlusion, as in the report's Fig 12, on a network defined in the page (WideNet).",
    report_figure=12,
)
# sphinx_gallery_end_ignore
print(
    f"p(7) = {result.base_probability:.3f} unoccluded, "
    f"{float(result.probability.min()):.3f} with the patch at its worst place"
)

# %%
# Saliency and feature maps take layer names from ``named_modules()``: here
# ``features.0`` is the first convolution, ``features.7`` the third.
three = digits[[1, 4, 7]]
maps = cnnviz.saliency(net, three, [1, 4, 7], bounds=BOUNDS)
fig = plots.plot_saliency(three, maps, [1, 4, 7], bounds=BOUNDS)
# sphinx_gallery_start_ignore
plots.describe(
    fig,
    alt=(
        "Three rows (a 1, a 4 and a 7): each digit, WideNet's gradient saliency map and "
        "the map laid over the digit."
    ),
    caption="Gradient saliency of WideNet for three test digits.",
    report_figure=None,
)
# sphinx_gallery_end_ignore

# %%
# The feature maps of the first convolution, ``features.0``, for the 7 (the shapes of
# both layers asked for are printed):
inside = cnnviz.activations(net, seven[None], ["features.0", "features.7"])
print({name: tuple(value.shape) for name, value in inside.items()})
fig = plots.plot_activations(inside["features.0"][0], "features.0", seven, bounds=BOUNDS)
# sphinx_gallery_start_ignore
plots.describe(
    fig,
    alt=(
        "The input 7, then a grid of the feature maps of WideNet's first convolution "
        "(features.0), each titled with its channel and maximum, on one scale given by a "
        "colour bar."
    ),
    caption=(
        "The first layer's feature maps of WideNet, as the report's Fig 10 shows them for its CNN."
    ),
    report_figure=10,
)
# sphinx_gallery_end_ignore

# %%
# PGD against both networks
# -------------------------
# The same attack, the same size in pixel units, on the same 200 test digits.
images, labels = data.test_x[:200], data.test_y[:200]
report_cnn = cnnviz.pretrained(batchnorm=True)
report_images = cnnviz.load_splits().test_x[:200]  # the report's CNN reads [-1, 1]
for name, model, inputs in (("WideNet", net, images), ("report CNN", report_cnn, report_images)):
    attacked = cnnviz.pgd(model, inputs, labels, eps=0.1, steps=20)
    linf = float(attacked.perturbation_size()[0].max())
    still = 100 * float((attacked.predictions == labels).float().mean())
    print(f"{name}: {still:.1f} % correct under PGD-20 at eps 0.1 (largest change {linf:.2f})")
    assert linf <= 0.1 + 1e-5, "the same budget, 0.1 in pixel units, for both networks"

# %%
# Takeaway
# --------
# cnnviz asks two things of a model: class scores for a batch of images, and the range
# its inputs live in. With those, occlusion, saliency, feature maps, the layer table and
# every attack work unchanged, on the CPU or wherever the model's parameters live.
#
# **Exercise.** Change ``WideNet`` (drop the batch norm, or make it narrower) and watch
# its accuracy under PGD; or train it on Fashion-MNIST by pointing
# ``cnnviz.load_splits`` at a folder of its IDX files.
