"""The app: its handlers called directly, then the live app through gradio_client."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image, ImageDraw

from demo import handlers

SEVEN = [(100, 90), (290, 90), (170, 320)]
ONE = [(196, 60), (196, 330)]


def drawing(points, size=392, width=26) -> np.ndarray:
    """A sketchpad composite: opaque white, black strokes through ``points``."""
    canvas = Image.new("RGB", (size, size), "white")
    ImageDraw.Draw(canvas).line(points, fill="black", width=width)
    return np.asarray(canvas)


def sketch(points) -> dict:
    return {"background": None, "layers": [], "composite": drawing(points)}


CLEARED = {"background": None, "layers": [], "composite": None}


def top(label: dict[str, float]) -> str:
    return max(label, key=label.get)


@pytest.fixture
def with_data(monkeypatch, mnist_dir):
    monkeypatch.setenv("CNNVIZ_DATA", str(mnist_dir))
    handlers.test_data.cache_clear()
    yield
    handlers.test_data.cache_clear()


@pytest.fixture
def without_data(monkeypatch, tmp_path):
    monkeypatch.setenv("CNNVIZ_DATA", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    handlers.test_data.cache_clear()
    yield
    handlers.test_data.cache_clear()


@pytest.mark.parametrize("model_name", list(handlers.MODELS))
@pytest.mark.parametrize(("points", "digit"), [(SEVEN, "7"), (ONE, "1")])
def test_draw_update_reads_drawn_digits(model_name, points, digit):
    label, seen, occluded, salient, message = handlers.draw_update(sketch(points), model_name, 5, 1)
    assert top(label) == digit and f"reads **{digit}**" in message
    for picture in (seen, occluded, salient):
        assert picture.shape == (224, 224, 3) and picture.dtype == np.uint8


@pytest.mark.parametrize(
    "value", [None, CLEARED, {"composite": np.full((50, 50, 3), 255, np.uint8)}]
)
def test_empty_canvas_gives_the_hint_and_no_prediction(value):
    assert handlers.draw_update(value, "batch norm", 5, 1) == (
        None,
        None,
        None,
        None,
        handlers.EMPTY_HINT,
    )


def test_bad_input_gives_a_message_not_an_exception():
    nan = {"composite": np.full((40, 40), np.nan, np.float32)}
    result = handlers.draw_update(nan, "batch norm", 5, 1)
    assert result[0] is None and result[-1].startswith("Could not read the drawing")
    huge = {"composite": np.zeros((5000, 10, 3), np.uint8)}
    assert handlers.targeted_on_drawing(huge, "batch norm", 3, 1.0, 10)[-1].startswith("Could not")
    with pytest.raises(ValueError, match="unknown model"):
        handlers.model("resnet")


def test_stride_larger_than_patch_is_clamped():
    label = handlers.draw_update(sketch(SEVEN), "batch norm", 3, 7)[0]
    assert top(label) == "7"


def test_inside_tab_galleries():
    conv1, conv2 = handlers.filter_galleries("no batch norm")
    assert len(conv1) == len(conv2) == 32
    assert conv1[5][1] == "conv1 #5" and conv1[0][0].shape == (120, 120, 3)
    assert conv2[0][0].shape == (120, 248, 3)  # 4 x 8 kernels keep their aspect ratio
    maps, note = handlers.activation_gallery(sketch(SEVEN), "no batch norm", "pool1")
    assert len(maps) == 32 and maps[3][1] == "ch 3" and "14x14" in note
    assert handlers.activation_gallery(CLEARED, "no batch norm", "conv1") == (
        [],
        handlers.EMPTY_HINT,
    )


def test_class_images_grow_in_bounded_chunks():
    updates = list(handlers.grow_class_images("no batch norm", "all", 40))
    assert 1 <= len(updates) <= 40 // handlers.CLASS_VIS_CHUNK + 1
    gallery, curve, status = updates[-1]
    assert len(gallery) == 10 and curve.ndim == 3 and status.startswith("step ")
    single = list(handlers.grow_class_images("no batch norm", "3", 300))[-1]
    assert len(single[0]) == 1 and "all reached" in single[2]


def test_targeted_attack_on_a_drawing_succeeds():
    adversarial, perturbation, before, after, summary = handlers.targeted_on_drawing(
        sketch(SEVEN), "no batch norm", 3, 5.0, 300
    )
    assert top(before) == "7" and top(after) == "3" and summary.startswith("Success")
    assert adversarial.shape == perturbation.shape == (224, 224, 3)


def test_fgsm_and_pgd_on_a_drawing():
    *_, before, after, summary = handlers.gradient_attack_on_drawing(
        sketch(SEVEN), "no batch norm", "FGSM", 0.0
    )
    assert before == after and "7 -> 7" in summary
    *_, after, summary = handlers.gradient_attack_on_drawing(
        sketch(SEVEN), "batch norm", "PGD-40", 0.3
    )
    assert top(after) != "7"


def test_data_dependent_features_say_when_data_is_missing(without_data):
    assert handlers.random_test_digit()[0] is None
    table, note = handlers.transfer_table("batch norm", 2)
    assert table is None and "CNNVIZ_DATA" in note


def test_data_dependent_features_with_data(with_data):
    canvas, truth = handlers.random_test_digit(seed=1)
    label = handlers.draw_update({"composite": canvas}, "batch norm", 5, 1)[0]
    assert f"**{top(label)}**" in truth  # the network reads the true label
    table, note = handlers.transfer_table("no batch norm", 2)
    assert table.ndim == 3 and "fools" in note


def test_the_library_never_imports_gradio_or_sphinx():
    code = (
        "import sys, cnnviz, cnnviz.cli, cnnviz.figures, cnnviz.attacks, cnnviz.drawing;"
        "assert not {'gradio', 'sphinx', 'sphinx_gallery'} & set(sys.modules), 'framework'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- the live app, as an external client sees it ---------------------------------------


@pytest.fixture(scope="module")
def client(app_url) -> Client:
    return Client(app_url, verbose=False)


def payload(tmp_path, points) -> dict:
    path = tmp_path / "drawing.png"
    Image.fromarray(drawing(points)).save(path)
    return {"background": handle_file(str(path)), "layers": [], "composite": handle_file(str(path))}


def test_client_draw_endpoint_reads_a_seven(client, tmp_path):
    label, *_, message = client.predict(
        payload(tmp_path, SEVEN), "batch norm", 5, 1, api_name="/draw"
    )
    assert label["label"] == "7" and "reads **7**" in message


def test_client_empty_canvas_gets_the_hint(client):
    result = client.predict(CLEARED, "batch norm", 5, 1, api_name="/draw")
    assert result[-1] == handlers.EMPTY_HINT and result[1] is None


def test_client_targeted_endpoint_returns_a_successful_attack(client, tmp_path):
    result = client.predict(
        payload(tmp_path, SEVEN), "no batch norm", 3, 5, 200, api_name="/targeted"
    )
    adversarial, _, before, after, summary = result
    assert before["label"] == "7" and after["label"] == "3" and summary.startswith("Success")
    assert Image.open(adversarial).size == (224, 224)
