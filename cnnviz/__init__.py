"""cnnviz: see what a convolutional network sees.

The building blocks of the classic MNIST CNN assignment as plain functions over tensors:
data (:mod:`cnnviz.data`), the model (:mod:`cnnviz.model`), training
(:mod:`cnnviz.training`) and checkpoints with shipped pretrained weights
(:mod:`cnnviz.checkpoint`).
"""

__version__ = "0.1.0"

from cnnviz.checkpoint import load_checkpoint, pretrained, save_checkpoint
from cnnviz.data import load_raw, load_splits
from cnnviz.model import CNN, format_summary, layer_summary
from cnnviz.training import History, Recipe, evaluate, train

__all__ = [
    "CNN",
    "History",
    "Recipe",
    "__version__",
    "evaluate",
    "format_summary",
    "layer_summary",
    "load_checkpoint",
    "load_raw",
    "load_splits",
    "pretrained",
    "save_checkpoint",
    "train",
]
