"""cnnviz: see what a convolutional network sees.

Plain functions over tensors that work on any PyTorch image classifier (a module mapping
``(N, C, H, W)`` images to ``(N, K)`` class scores; see :mod:`cnnviz.core.classifier`), with
the classic MNIST assignment's CNN as the fast, exact special case and shipped weights:

* data and training: :func:`load_splits`, :func:`train`, :func:`evaluate`,
  :func:`pretrained`, :func:`save_checkpoint`, :func:`load_checkpoint`;
* looking inside: :func:`layer_summary`, :func:`conv_filters`, :func:`activations`,
  :func:`occlusion`, :func:`saliency`, :func:`prepare_drawing`;
* growing images: :func:`class_visualisation` (what a class looks for);
* attacks on given images, each returning an :class:`AttackResult`: :func:`fgsm`,
  :func:`pgd`, :func:`targeted_attack`; transfer analyses built on them:
  :func:`noise_attack`, :func:`universal_perturbation`; every attack with its declared
  capabilities in :data:`ATTACKS`, measured by :func:`accuracy_under_attack`;
* your model and pictures: :func:`load_user_model` (``--model MODULE:FACTORY``), and
  ``cnnviz.models.user_model.user_model`` for a module from Python; :func:`load_image_folder`,
  :func:`picture_to_input`;
* figures: :mod:`cnnviz.plots`. The app lives in ``cnnviz.app`` (the ``app`` extra) and
  is never imported by this package.

Examples
--------
>>> import torch
>>> import cnnviz
>>> net = cnnviz.pretrained()
>>> digits = torch.zeros(2, 1, 28, 28)
>>> cnnviz.pgd(net, digits, [0, 1], eps=0.1, steps=3).images.shape
torch.Size([2, 1, 28, 28])
"""

__version__ = "0.1.0"

from cnnviz.attacks.evaluation import accuracy_under_attack, robustness_curves
from cnnviz.attacks.fgsm import fgsm
from cnnviz.attacks.pgd import pgd
from cnnviz.attacks.registry import ATTACKS, get_attack
from cnnviz.attacks.result import AttackResult
from cnnviz.attacks.targeted import all_pairs, targeted_attack
from cnnviz.attacks.transfer import NoiseTransfer, noise_attack
from cnnviz.attacks.universal import (
    UniversalPerturbation,
    universal_fooling_rate,
    universal_perturbation,
)
from cnnviz.core.classifier import Normalized, class_scores, input_bounds
from cnnviz.core.hooks import eval_mode
from cnnviz.data.drawing import prepare_drawing
from cnnviz.data.image_folder import ImageFolderError, ImageSet, load_image_folder, picture_to_input
from cnnviz.data.mnist import load_raw, load_splits
from cnnviz.data.sample_digits import load_test_digits, sample_indices
from cnnviz.inspect.layers import Filters, activations, conv_filters
from cnnviz.inspect.occlusion import OcclusionResult, occlusion
from cnnviz.inspect.saliency import input_gradient, saliency
from cnnviz.models.checkpoint import (
    load_checkpoint,
    pretrained,
    pretrained_history,
    pretrained_metadata,
    save_checkpoint,
)
from cnnviz.models.cnn import CNN
from cnnviz.models.summary import LayerInfo, format_summary, layer_summary
from cnnviz.models.user_model import ModelLoadError, UserModel, load_user_model
from cnnviz.training.cache import cached_train
from cnnviz.training.device import resolve_device
from cnnviz.training.evaluation import evaluate
from cnnviz.training.history import History
from cnnviz.training.loop import train
from cnnviz.training.recipe import Recipe
from cnnviz.visualise.class_images import class_visualisation

__all__ = [
    "ATTACKS",
    "CNN",
    "AttackResult",
    "Filters",
    "History",
    "ImageFolderError",
    "ImageSet",
    "LayerInfo",
    "ModelLoadError",
    "NoiseTransfer",
    "Normalized",
    "OcclusionResult",
    "Recipe",
    "UniversalPerturbation",
    "UserModel",
    "__version__",
    "accuracy_under_attack",
    "activations",
    "all_pairs",
    "cached_train",
    "class_scores",
    "class_visualisation",
    "conv_filters",
    "eval_mode",
    "evaluate",
    "fgsm",
    "format_summary",
    "get_attack",
    "input_bounds",
    "input_gradient",
    "layer_summary",
    "load_checkpoint",
    "load_image_folder",
    "load_raw",
    "load_splits",
    "load_test_digits",
    "load_user_model",
    "noise_attack",
    "occlusion",
    "pgd",
    "picture_to_input",
    "prepare_drawing",
    "pretrained",
    "pretrained_history",
    "pretrained_metadata",
    "resolve_device",
    "robustness_curves",
    "saliency",
    "sample_indices",
    "save_checkpoint",
    "targeted_attack",
    "train",
    "universal_fooling_rate",
    "universal_perturbation",
]
