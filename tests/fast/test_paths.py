"""The one lookup of fast paths: which models have them, which inputs they serve, and that
the general algorithms find them there (and only there)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch
from torch import nn

import cnnviz
from cnnviz.attacks.pgd import pgd
from cnnviz.fast import cnn_gradient
from cnnviz.fast.paths import FastPaths, for_model
from cnnviz.models.checkpoint import pretrained
from cnnviz.models.cnn import CNN
from tests.fast.test_occlusion import DoubledCNN, RenamedCNN

DIGITS = torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(2)) * 2 - 1
GOAL = torch.tensor([1, 4, 7])
WINDOWS = {
    "rows": torch.arange(0, 24, 6),
    "cols": torch.arange(0, 24, 6),
    "patch": (5, 5),
    "stride": (6, 6),
    "value": 0.0,
    "chunk": 64,
}


def served(paths: FastPaths, images: torch.Tensor = DIGITS) -> list[bool]:
    """Which of the three paths serve these images (one image for occlusion)."""
    found = (
        paths.scores(images),
        paths.loss_gradient(images, GOAL[: len(images)]),
        paths.occluded_logits(images[:1], **WINDOWS),
    )
    return [value is not None for value in found]


def test_the_report_cnn_has_every_path():
    model = CNN(batchnorm=True).eval()
    paths = for_model(model)
    assert served(paths) == [True, True, True]
    scores, gradient = paths.loss_gradient(DIGITS, GOAL)
    assert torch.allclose(scores, model.logits(DIGITS), atol=1e-5)
    assert gradient.shape == DIGITS.shape
    assert paths.occluded_logits(DIGITS[:1], **WINDOWS).shape == (16, 10)


def test_a_subclass_keeping_the_logits_has_occlusion_only():
    """The attack step is written for ``CNN`` itself; occlusion reads only its layers."""
    assert served(for_model(RenamedCNN().eval())) == [False, False, True]


@pytest.mark.parametrize(
    "model",
    [
        DoubledCNN().eval(),
        nn.Sequential(CNN()).eval(),
        nn.Sequential(nn.Flatten(), nn.Linear(784, 10)),
    ],
    ids=["own-logits", "wrapped", "linear"],
)
def test_other_models_have_none(model):
    assert served(for_model(model)) == [False, False, False]


def test_paths_check_their_inputs():
    paths = for_model(CNN().eval())
    assert paths.scores(DIGITS.double()) is None
    assert paths.loss_gradient(DIGITS.double(), GOAL) is None
    assert paths.occluded_logits(DIGITS[:1], **dict(WINDOWS, patch=(5, 4))) is None
    assert paths.occluded_logits(DIGITS[:2], **WINDOWS) is None
    # the attack step serves eval mode only; occlusion runs the model in eval mode itself
    assert served(for_model(CNN().train())) == [False, False, True]


def test_pgd_takes_the_hand_written_step_on_the_report_cnn_only(monkeypatch):
    calls, original = [], cnn_gradient.cnn_loss_gradient

    def spy(model, images, goal):
        calls.append(type(model).__name__)
        return original(model, images, goal)

    monkeypatch.setattr(cnn_gradient, "cnn_loss_gradient", spy)
    pgd(pretrained(), DIGITS, GOAL, eps=0.1, steps=3)
    assert calls == ["CNN"] * 3
    pgd(RenamedCNN().eval(), DIGITS, GOAL, eps=0.1, steps=3)
    assert calls == ["CNN"] * 3


def test_the_algorithms_import_only_the_lookup_from_fast():
    """inspect/ and attacks/ never name a fast path: they ask cnnviz.fast.paths."""
    package = Path(cnnviz.__file__).parent
    for path in [*package.glob("inspect/*.py"), *package.glob("attacks/*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("cnnviz.fast"):
                assert node.module == "cnnviz.fast.paths", path
            if isinstance(node, ast.ImportFrom) and node.module == "cnnviz":
                assert "fast" not in {alias.name for alias in node.names}, path
            if isinstance(node, ast.Import):
                assert all(not a.name.startswith("cnnviz.fast") for a in node.names), path
