"""The browser edition's graphs compute what the library computes (ONNX Runtime, Python side).

The site is built once per session (``web_site``); every check runs the written files
with onnxruntime's CPU kernels, the same kernels ONNX Runtime Web compiles to wasm.
"""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from torch.nn import functional as F

from cnnviz import activations, input_gradient
from cnnviz.data.sample_digits import SAMPLE_PATH, read_test_sample
from cnnviz.models.checkpoint import history_path, pretrained, pretrained_path
from cnnviz.web.export import REPORT_OUTPUTS
from cnnviz.web.runtime import ORT_FILES, ORT_VERSION
from cnnviz.web.site import gzip_size

#: Site id -> variant of cnnviz.pretrained.
NETWORKS = {"standard": "nobn", "batchnorm": "bn", "robust": "robust"}
GRADIENT_DIGITS = 20


@pytest.fixture(scope="module")
def manifest(web_site) -> dict:
    return json.loads((web_site / "manifest.json").read_text())


@pytest.fixture(scope="module")
def digits():
    return read_test_sample()


def entry(manifest: dict, site_id: str) -> dict:
    return next(model for model in manifest["models"] if model["id"] == site_id)


def session(web_site, relative: str) -> onnxruntime.InferenceSession:
    return onnxruntime.InferenceSession(
        str(web_site / relative), providers=["CPUExecutionProvider"]
    )


@pytest.mark.parametrize(("site_id", "variant"), NETWORKS.items())
def test_forward_graph_reads_all_bundled_digits_as_torch_does(
    web_site, manifest, digits, site_id, variant
):
    forward = session(web_site, entry(manifest, site_id)["forward"])
    (logits,) = forward.run(["logits"], {"x": digits.x.numpy()})
    probs = torch.softmax(torch.from_numpy(logits), 1)
    expected = pretrained(variant=variant).predict_proba(digits.x)
    assert torch.equal(probs.argmax(1), expected.argmax(1))
    assert (probs - expected).abs().max() < 1e-4
    assert (probs.argmax(1) == digits.y).float().mean() > 0.97  # real digits, read right


@pytest.mark.parametrize("site_id", NETWORKS)
def test_logits_graph_is_the_forward_pass_with_logits_only(web_site, manifest, digits, site_id):
    """``logits.onnx`` (batches in the page) = the forward graph's logits, without the maps."""
    model_entry = entry(manifest, site_id)
    assert model_entry["logits"] == f"models/{site_id}/logits.onnx"
    logits_only = session(web_site, model_entry["logits"])
    assert [node.name for node in logits_only.get_outputs()] == ["logits"]
    (logits,) = logits_only.run(None, {"x": digits.x.numpy()})
    (expected,) = session(web_site, model_entry["forward"]).run(["logits"], {"x": digits.x.numpy()})
    assert logits.shape == (1000, 10)
    assert np.abs(logits - expected).max() < 1e-4
    probs = torch.softmax(torch.from_numpy(logits), 1)
    torch_probs = pretrained(variant=NETWORKS[site_id]).predict_proba(digits.x)
    assert torch.equal(probs.argmax(1), torch_probs.argmax(1))
    assert (probs - torch_probs).abs().max() < 1e-4


@pytest.mark.parametrize(("site_id", "variant"), NETWORKS.items())
def test_forward_graph_returns_every_layer_as_the_library_sees_it(
    web_site, manifest, digits, site_id, variant
):
    model_entry = entry(manifest, site_id)
    model = pretrained(variant=variant)
    names = [name for name in REPORT_OUTPUTS if model.batchnorm or not name.endswith("_bn")]
    assert list(model_entry["outputs"]) == ["logits", *names]
    forward = session(web_site, model_entry["forward"])
    assert [node.name for node in forward.get_outputs()] == ["logits", *names]
    images = digits.x[:GRADIENT_DIGITS]
    results = dict(zip(["logits", *names], forward.run(None, {"x": images.numpy()}), strict=True))
    expected = activations(model, images, names)
    for name in names:
        assert list(results[name].shape[1:]) == model_entry["outputs"][name], name
        assert np.abs(results[name] - expected[name].numpy()).max() < 1e-4, name


def autograd_gradient(model, images, logit_weights, lse_weight) -> torch.Tensor:
    images = images.clone().requires_grad_(True)
    logits = model.logits(images)
    objective = (logit_weights * logits).sum() + (lse_weight * torch.logsumexp(logits, 1)).sum()
    (grad,) = torch.autograd.grad(objective, images)
    return grad


def gradient_run(web_site, model_entry, images, logit_weights, lse_weight):
    gradient = session(web_site, model_entry["gradient"])
    feeds = {
        "x": images.numpy(),
        "logit_weights": logit_weights.numpy(),
        "lse_weight": lse_weight.numpy(),
    }
    logits, grad = gradient.run(["logits", "grad"], feeds)
    return torch.from_numpy(logits), torch.from_numpy(grad)


@pytest.mark.parametrize(("site_id", "variant"), NETWORKS.items())
def test_gradient_graph_gives_saliency_and_cross_entropy_gradients_as_autograd(
    web_site, manifest, digits, site_id, variant
):
    model = pretrained(variant=variant)
    images, labels = digits.x[:GRADIENT_DIGITS], digits.y[:GRADIENT_DIGITS]
    onehot = F.one_hot(labels, 10).float()
    model_entry = entry(manifest, site_id)

    logits, saliency = gradient_run(
        web_site, model_entry, images, onehot, torch.zeros(GRADIENT_DIGITS)
    )
    assert (logits - model.logits(images).detach()).abs().max() < 1e-4
    expected = input_gradient(model, images, labels)
    assert (saliency - expected).abs().max() < 1e-5
    assert expected.abs().max() > 1e-2  # not a vacuous match of zeros

    _, towards = gradient_run(web_site, model_entry, images, -onehot, torch.ones(GRADIENT_DIGITS))
    probe = images.clone().requires_grad_(True)
    F.cross_entropy(model.logits(probe), labels, reduction="sum").backward()
    assert (towards - probe.grad).abs().max() < 1e-5
    assert probe.grad.abs().max() > 1e-4


def pooling_ties(model, images) -> int:
    """Windows of pool1 and pool2 whose maximum is positive and held by several inputs."""
    maps = activations(model, images, ["relu1", "relu2"])
    ties = 0
    for values in maps.values():
        windows = F.unfold(values.flatten(0, 1)[:, None], 2, stride=2)  # (N*C, 4, windows)
        top = windows.max(1, keepdim=True).values
        ties += int(((windows == top).sum(1) > 1)[top[:, 0] > 0].sum())
    return ties


@pytest.mark.parametrize(("site_id", "variant"), NETWORKS.items())
def test_gradient_graph_routes_max_pooling_ties_like_torch(web_site, manifest, site_id, variant):
    model = pretrained(variant=variant)
    flat = torch.tensor([-1.0, 1.0, 0.0, 0.5]).view(4, 1, 1, 1).expand(4, 1, 28, 28)
    blocks = torch.zeros(1, 1, 28, 28)
    blocks[..., 4:20, 8:16] = 1.0  # edges on window boundaries: ties inside, not across
    images = torch.cat([flat, blocks]).contiguous()
    assert pooling_ties(model, images) > 100  # the point of these images
    weights = torch.randn(5, 10, generator=torch.Generator().manual_seed(0))
    lse = torch.full((5,), 0.5)
    _, grad = gradient_run(web_site, entry(manifest, site_id), images, weights, lse)
    assert (grad - autograd_gradient(model, images, weights, lse)).abs().max() < 1e-5


@pytest.mark.parametrize(("site_id", "variant"), NETWORKS.items())
def test_weights_bin_holds_the_state_dict_at_the_manifest_offsets(
    web_site, manifest, site_id, variant
):
    model_entry = entry(manifest, site_id)
    blob = (web_site / model_entry["weights"]).read_bytes()
    state = {
        k: v for k, v in pretrained(variant=variant).state_dict().items() if v.is_floating_point()
    }
    params = model_entry["params"]
    assert sum(tensor.numel() * 4 for tensor in state.values()) == len(blob)
    for name, tensor in state.items():
        slot = params[name]
        assert slot["offset"] % 4 == 0
        values = np.frombuffer(blob, "<f4", count=tensor.numel(), offset=slot["offset"])
        assert slot["shape"] == list(tensor.shape)
        assert np.array_equal(values.reshape(tensor.shape), tensor.numpy()), name
    eps = {name: value for name, value in params.items() if name.endswith(".eps")}
    assert eps == ({"conv2_bn.eps": 1e-5, "fc1_bn.eps": 1e-5} if variant != "nobn" else {})


@pytest.mark.parametrize("site_id", NETWORKS)
@pytest.mark.parametrize("graph", ["forward", "logits", "gradient"])
def test_graphs_are_opset_18_with_dynamic_batch_and_weights_in_weights_bin(
    web_site, manifest, site_id, graph
):
    path = web_site / entry(manifest, site_id)[graph]
    proto = onnx.load(str(path), load_external_data=False)
    assert max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")) >= 18
    assert all(inp.type.tensor_type.shape.dim[0].dim_param for inp in proto.graph.input)
    inputs = [inp.name for inp in proto.graph.input]
    assert inputs == (["x"] if graph != "gradient" else ["x", "logit_weights", "lse_weight"])
    external = [t for t in proto.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
    locations = {e.value for t in external for e in t.external_data if e.key == "location"}
    assert locations == {"weights.bin"}
    assert all(t.data_type == onnx.TensorProto.FLOAT for t in external)  # ints stay inline
    embedded = sum(len(t.raw_data) for t in proto.graph.initializer)
    assert embedded < 10_000 and path.stat().st_size < 64_000  # the weights are not copied


def test_manifest_lists_relative_files_the_digits_and_the_histories(web_site, manifest, digits):
    assert manifest["format"] == 1 and manifest["ort_version"] == ORT_VERSION
    assert [model["id"] for model in manifest["models"]] == list(NETWORKS)
    assert manifest["default_model"] == "batchnorm"
    for model in manifest["models"]:
        assert model["kind"] == "report-cnn"
        assert model["input"] == {"shape": [1, 28, 28], "bounds": [-1.0, 1.0]}
        assert model["classes"] == [str(k) for k in range(10)]
        for key in ("forward", "logits", "gradient", "weights", "history"):
            assert not model[key].startswith(("/", "http")) and (web_site / model[key]).is_file()
        files = [model["forward"], model["logits"], model["gradient"], model["weights"]]
        assert model["bytes"] == sum((web_site / name).stat().st_size for name in files)
        shipped = history_path(pretrained_path(variant=NETWORKS[model["id"]]))
        assert (web_site / model["history"]).read_bytes() == shipped.read_bytes()
    described = manifest["digits"]
    with np.load(SAMPLE_PATH) as sample:
        images = sample["images"]
    stored = np.fromfile(web_site / described["images"], np.uint8)
    assert described["shape"] == [28, 28, 1] and described["count"] == 1000
    assert np.array_equal(stored.reshape(1000, 28, 28), images)
    assert described["labels"] == digits.y.tolist()
    assert described["indices"] == digits.indices.tolist()
    assert (web_site / "ort" / "ort.wasm.min.mjs").is_file()
    assert {path.name for path in (web_site / "ort").iterdir()} == set(ORT_FILES)


def test_first_view_is_under_8_mb_compressed_and_sizes_are_printed(web_site, manifest, capsys):
    first = ["ort/" + name for name in ORT_FILES]
    default = entry(manifest, manifest["default_model"])
    first += [default[key] for key in ("forward", "logits", "gradient", "weights")]
    raw = sum((web_site / name).stat().st_size for name in first)
    packed = sum(gzip_size(web_site / name) for name in first)
    with capsys.disabled():
        print(f"\nfirst view: {raw / 1e6:.2f} MB raw, {packed / 1e6:.2f} MB gzipped")
    assert packed <= 8_000_000
