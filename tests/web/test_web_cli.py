"""``cnnviz export-web`` on a teacher's classifier (pytorch/examples' MNIST ``Net``); its errors."""

from __future__ import annotations

import json

import numpy as np
import onnxruntime
import pytest
import torch

from cnnviz.cli import main
from cnnviz.data.sample_digits import read_test_sample
from cnnviz.models.checkpoint import save_checkpoint
from cnnviz.models.cnn import CNN
from tests.teacher_net import Net, seeded_net

CLASS_NAMES = "zero,one,two,three,four,five,six,seven,eight,nine"


@pytest.fixture(scope="module")
def teacher_site(tmp_path_factory):
    """The teacher's ``Net`` with its own weights (seed 1), exported by the command."""
    folder = tmp_path_factory.mktemp("teacher")
    weights = save_checkpoint(seeded_net(1), folder / "net.safetensors")
    out = folder / "site"
    status = main(
        [
            "export-web", str(out), "--model", "tests.teacher_net:seeded_net", "--weights",
            str(weights), "--class-names", CLASS_NAMES, "--app-url", "https://example.org/app",
        ]
    )  # fmt: skip
    assert status == 0
    return out


def test_the_teachers_net_exports_with_its_layers_gradient_and_page(teacher_site):
    manifest = json.loads((teacher_site / "manifest.json").read_text())
    assert (teacher_site / "index.html").is_file()
    assert manifest["app_url"] == "https://example.org/app"
    (model,) = manifest["models"]
    assert manifest["default_model"] == model["id"] == "seeded_net"
    assert model["kind"] == "classifier" and model["classes"] == CLASS_NAMES.split(",")
    assert model["input"] == {"shape": [1, 28, 28], "bounds": list(Net.input_bounds)}
    assert model["outputs"] == {"logits": [10], "conv1": [32, 26, 26], "conv2": [64, 24, 24]}
    assert model["gradient"] == "models/seeded_net/gradient.onnx" and model["notes"] == {}
    blob = (teacher_site / model["weights"]).read_bytes()
    trained = seeded_net(1).state_dict()
    slot = model["params"]["fc1.weight"]
    values = np.frombuffer(blob, "<f4", count=9216 * 128, offset=slot["offset"])
    assert np.array_equal(values.reshape(128, 9216), trained["fc1.weight"].numpy())


def test_the_teachers_graphs_agree_with_torch_on_real_digits(teacher_site):
    net = seeded_net(1).eval()
    sample = read_test_sample()
    pixels = (sample.x[:20] + 1) / 2  # the library's [-1, 1] -> [0, 1]
    images = (pixels - 0.1307) / 0.3081  # the teacher's normalisation
    folder = teacher_site / "models" / "seeded_net"
    forward = onnxruntime.InferenceSession(str(folder / "forward.onnx"))
    logits, conv1, _ = forward.run(None, {"x": images.numpy()})
    assert np.abs(logits - net(images).detach().numpy()).max() < 1e-4
    assert np.abs(conv1 - net.conv1(images).detach().numpy()).max() < 1e-4
    gradient = onnxruntime.InferenceSession(str(folder / "gradient.onnx"))
    onehot = torch.nn.functional.one_hot(sample.y[:20], 10).float()
    feeds = {"x": images.numpy(), "logit_weights": -onehot.numpy(), "lse_weight": np.ones(20, "f")}
    _, grad = gradient.run(None, feeds)
    probe = images.clone().requires_grad_(True)
    torch.nn.functional.nll_loss(net(probe), sample.y[:20], reduction="sum").backward()
    assert np.abs(grad - probe.grad.numpy()).max() < 1e-5
    assert probe.grad.abs().max() > 1e-3


def one_line_error(capsys, *argv) -> str:
    assert main(["export-web", *argv]) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and error.startswith("cnnviz export-web: error: ")
    return error


@pytest.mark.parametrize(
    ("model", "says"),
    [
        ("no_such_teacher_module:Net", "cannot import no_such_teacher_module"),
        ("tests.teacher_net:Missing", "tests.teacher_net has no callable Missing"),
        (
            "tests.teacher_net:broken_net",
            "tests.teacher_net:broken_net() failed: RuntimeError: the teacher",
        ),
        ("tests.teacher_net:not_a_classifier", "must return scores of shape (N, K) for N images"),
        ("tests.teacher_net", "--model must be MODULE:FACTORY"),
    ],
)
def test_a_model_that_cannot_be_built_or_run_is_one_line(tmp_path, capsys, model, says):
    assert says in one_line_error(capsys, str(tmp_path / "site"), "--model", model)
    assert not (tmp_path / "site").exists()


def test_weights_that_do_not_fit_and_wrong_class_names_are_one_line(tmp_path, capsys):
    report_cnn = save_checkpoint(CNN(), tmp_path / "cnn.safetensors")
    out = str(tmp_path / "site")
    error = one_line_error(
        capsys, out, "--model", "tests.teacher_net:Net", "--weights", str(report_cnn)
    )
    assert "weights do not fit Net" in error
    error = one_line_error(capsys, out, "--model", "tests.teacher_net:Net", "--class-names", "a,b")
    assert "returns 10 scores per image, but 2 class names were given" in error
    error = one_line_error(capsys, out, "--weights", str(report_cnn))
    assert "need --model MODULE:FACTORY" in error
