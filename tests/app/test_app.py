"""The app: its handlers called directly, then the live app through gradio_client.

The live app is ``python demo/app.py`` (the Space's entry, which runs
:func:`cnnviz.app.main`) in its own process, as it is deployed: once with
MNIST on the machine and once with no data at all (an empty ``CNNVIZ_DATA``, ``HOME``
and cache), as every Space visitor meets it.
"""

from __future__ import annotations

import base64
import io
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import gradio as gr
import matplotlib
import numpy as np
import pytest
import torch
from gradio_client import Client, handle_file
from PIL import Image, ImageDraw

from cnnviz import plots
from cnnviz.app import components, events, handlers, inputs, pictures, train_handlers
from cnnviz.attacks.result import AttackResult
from cnnviz.data.sample_digits import load_test_digits, sample_indices
from cnnviz.inspect.occlusion import occlusion

ROOT = Path(__file__).resolve().parents[2]
SEVEN = [(100, 90), (290, 90), (170, 320)]
ONE = [(196, 60), (196, 330)]
CLEARED = {"background": None, "layers": [], "composite": None}
STARTUP_SECONDS = 180


def drawing(points, size=392, width=26) -> np.ndarray:
    """A sketchpad composite: opaque white, black strokes through ``points``."""
    canvas = Image.new("RGB", (size, size), "white")
    ImageDraw.Draw(canvas).line(points, fill="black", width=width)
    return np.asarray(canvas)


def sketch(points) -> dict:
    return {"background": None, "layers": [], "composite": drawing(points)}


def top(label: dict[str, float]) -> str:
    return max(label, key=label.get)


def probabilities_in(captions: list[str]) -> list[float]:
    """The ``p = 0.991`` of each caption."""
    return [float(re.search(r"p = ([0-9.]+)", caption).group(1)) for caption in captions]


# --- handlers ---------------------------------------------------------------------------


@pytest.mark.parametrize("model_name", list(handlers.MODELS))
@pytest.mark.parametrize(("points", "digit"), [(SEVEN, "7"), (ONE, "1")])
def test_draw_update_reads_drawn_digits(model_name, points, digit):
    label, seen, occluded, salient, message = handlers.draw_update(sketch(points), model_name, 5, 1)
    assert top(label) == digit and f"reads **{digit}**" in message
    assert seen.shape == (28, 28, 3) and seen.dtype == np.uint8  # the page scales it up
    for picture in (occluded, salient):  # the map and a labelled colour bar beside it
        assert picture.shape[0] > 224 and picture.shape[1] > 224 + 50


def test_occlusion_map_uses_a_fixed_probability_scale():
    """The darkest colour is the lowest probability on a 0-100 % scale, not black."""
    x = inputs.sketch_input(sketch(ONE))
    lowest = float(occlusion(handlers.model("batch norm"), x[0], 1, patch=2).probability.min())
    occluded = handlers.draw_update(sketch(ONE), "batch norm", 2, 1)[2]
    expected = np.round(255 * pictures.colour(np.array([lowest]), "magma", 0, 1)).sum()
    darkest = occluded[8 : 8 + 224, :224].astype(int).sum(axis=2).min()
    assert lowest > 0.5 and abs(darkest - expected) <= 6


@pytest.mark.parametrize(
    "value", [None, CLEARED, {"composite": np.full((50, 50, 3), 255, np.uint8)}]
)
def test_empty_canvas_gives_the_hint_and_no_prediction(value):
    assert handlers.draw_update(value, "batch norm", 5, 1) == (
        None,
        None,
        None,
        None,
        inputs.EMPTY_HINT,
    )


def test_bad_values_give_a_message():
    nan = {"composite": np.full((40, 40), np.nan, np.float32)}
    result = handlers.draw_update(nan, "batch norm", 5, 1)
    assert result[0] is None and result[-1].startswith("Could not read the drawing")
    huge = {"composite": np.zeros((5000, 10, 3), np.uint8)}
    assert handlers.targeted_on_drawing(huge, "batch norm", 3, 1.0, 10)[-1].startswith("Could not")
    for bad in ("abc", float("nan"), None, 99):
        with pytest.raises(inputs.InputError, match="occlusion patch must be"):
            handlers.draw_update(sketch(SEVEN), "batch norm", bad, 1)
    with pytest.raises(inputs.InputError, match="Unknown model"):
        handlers.model("resnet")


def test_stride_larger_than_patch_is_clamped():
    label = handlers.draw_update(sketch(SEVEN), "batch norm", 3, 7)[0]
    assert top(label) == "7"


def test_layer_list_depends_on_the_model():
    assert "conv2_bn" in handlers.layer_choices("batch norm")
    assert "conv2_bn" not in handlers.layer_choices("no batch norm")
    with pytest.raises(inputs.InputError, match="no layer"):
        handlers.activation_gallery(sketch(SEVEN), "no batch norm", "conv2_bn")


def test_feature_maps_use_the_library_colour_rule():
    """After a ReLU: dark at 0, bright at the largest value; signed: white at 0 (RdBu)."""
    relu = torch.tensor([[0.0, 1.0], [2.0, 4.0]])
    signed = torch.tensor([[-3.0, 0.0], [1.5, 3.0]])
    for values, cmap, zero_at in ((relu, "viridis", 0.0), (signed, plots.DIVERGING, 0.5)):
        shown = pictures.feature_map_picture(values, height=2).astype(int)
        expected = np.round(255 * matplotlib.colormaps[cmap]([zero_at, 1.0])[:, :3])
        assert np.abs(shown[0, 1 if values is signed else 0] - expected[0]).max() <= 1
        assert np.abs(shown[1, 1] - expected[1]).max() <= 1  # the largest value: the top


def test_inside_tab_galleries():
    conv1, conv2 = handlers.filter_galleries("no batch norm")
    assert len(conv1) == len(conv2) == 32
    assert conv1[5][1] == "conv1 #5" and conv1[0][0].shape == (120, 120, 3)
    assert conv2[0][0].shape == (120, 248, 3)  # 4 x 8 kernels keep their aspect ratio
    maps, note = handlers.activation_gallery(sketch(SEVEN), "no batch norm", "pool1")
    assert len(maps) == 32 and maps[3][1] == "ch 3" and "14x14" in note
    assert handlers.activation_gallery(CLEARED, "no batch norm", "conv1") == (
        [],
        inputs.EMPTY_HINT,
    )


@pytest.mark.parametrize("model_name", list(handlers.MODELS))
def test_every_class_image_reaches_the_threshold(model_name):
    sure, failed, curves, status = handlers.grow_class_images(model_name, "all")
    assert [caption.split(":")[0] for _, caption in sure] == [f"class {k}" for k in range(10)]
    assert failed == [] and min(probabilities_in([c for _, c in sure])) >= 0.99
    assert status.startswith("10 of 10 reached") and curves.ndim == 3


def test_a_failed_class_image_is_reported_as_a_failure(monkeypatch):
    real = handlers.class_visualisation
    monkeypatch.setattr(  # one step cannot reach p >= 0.99 from noise
        handlers, "class_visualisation", lambda net, targets: real(net, targets, steps=1)
    )
    sure, failed, _, status = handlers.grow_class_images("no batch norm", "4")
    assert sure == [] and len(failed) == 1 and "did not reach" in status
    assert probabilities_in([failed[0][1]])[0] < 0.99


def test_perturbation_size_is_in_pixel_units():
    originals = torch.zeros(1, 1, 28, 28)
    images = originals.clone()
    images[0, 0, 3, 4], images[0, 0, 10, 10] = 0.6, -0.8  # model units: half in pixels
    one = torch.tensor([3])
    result = AttackResult(
        images=images,
        originals=originals,
        labels=None,
        targets=one,
        success=torch.tensor([True]),
        steps=one,
        logit_history=torch.zeros(2, 1),
        probability_history=torch.zeros(2, 1),
        predictions=one,
        bounds=(-1.0, 1.0),
    )
    picture, text = handlers.perturbation_image(result)
    assert "(L-inf) 0.400" in text and f"L2 size {0.5:.3f}" in text
    assert picture.shape[1] > 224  # with its colour bar


def test_targeted_attack_on_a_drawing_succeeds():
    adversarial, _, before, after, summary = handlers.targeted_on_drawing(
        sketch(SEVEN), "no batch norm", 3, 5.0, 300
    )
    assert top(before) == "7" and top(after) == "3" and summary.startswith("Success")
    assert adversarial.shape == (224, 224, 3) and "L-inf" in summary and "L2" in summary


def test_fgsm_and_pgd_on_a_drawing():
    *_, before, after, summary = handlers.gradient_attack_on_drawing(
        sketch(SEVEN), "no batch norm", "FGSM", 0.0
    )
    assert before == after and "7 -> 7" in summary and "(L-inf) 0.000" in summary
    *_, after, summary = handlers.gradient_attack_on_drawing(
        sketch(SEVEN), "batch norm", "PGD-40", 0.3
    )
    linf = float(re.search(r"\(L-inf\) ([0-9.]+)", summary).group(1))
    assert top(after) != "7" and linf <= 0.3 + 1e-3


def test_the_robust_model_resists_the_attack_that_fools_the_standard_one():
    for name, fooled in (("no batch norm", True), ("robust", False)):
        *_, before, after, summary = handlers.gradient_attack_on_drawing(
            sketch(SEVEN), name, "PGD-40", 0.3
        )
        assert top(before) == "7", name
        assert (top(after) != "7") == fooled, (name, summary)


@pytest.mark.parametrize("data", ["with_data", "without_data"])
def test_test_digits_with_and_without_data(request, data):
    request.getfixturevalue(data)
    digits = load_test_digits()
    assert digits.full == (data == "with_data")
    canvas, truth = handlers.random_test_digit(seed=3)
    pick = int(sample_indices(len(digits.y), 1, seed=3)[0])  # the library's sampling
    assert f"#{int(digits.indices[pick])} from {digits.description}" in truth
    assert f"true label: **{int(digits.y[pick])}**" in truth
    label = handlers.draw_update({"composite": canvas}, "batch norm", 5, 1)[0]
    assert top(label) == str(int(digits.y[pick]))  # the canvas is that digit
    table, note = handlers.transfer_table("no batch norm", 2)
    assert table.ndim == 3 and digits.description in note


# --- the app layer -----------------------------------------------------------------------


def test_identical_images_are_served_as_distinct_files():
    """Two responses never share a cache file (the cause of truncated downloads)."""
    image = pictures.digit_image(torch.zeros(28, 28))
    first, second = components.served(image), components.served([(image, "a")])[0][0]
    assert np.array_equal(np.asarray(first), image)
    assert first.info["cnnviz-response"] != second.info["cnnviz-response"]


def test_failure_box_shows_only_for_failures():
    sure, failed, _, status = events.class_images("no batch norm", "3")
    assert status.startswith("1 of 1") and len(sure) == 1 and failed.visible is False


def test_draw_shows_the_prediction_in_short_and_keeps_the_model_input():
    *_, short, drawn = events.draw(sketch(SEVEN), "batch norm", 5, 1)
    assert short.startswith("Prediction: **7**")
    assert torch.equal(drawn, inputs.read_sketch(sketch(SEVEN))[0])  # for the unit clicks
    *_, short, drawn = events.draw(CLEARED, "batch norm", 5, 1)
    assert short == "" and drawn is None


def test_the_library_never_imports_gradio_or_sphinx():
    """``import cnnviz`` (and its modules) loads neither the app nor its frameworks."""
    code = (
        "import sys, cnnviz, cnnviz.cli, cnnviz.report.figures, cnnviz.attacks.result;"
        "import cnnviz.data.drawing;"
        "loaded = {'gradio', 'sphinx', 'sphinx_gallery', 'cnnviz.app'} & set(sys.modules);"
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    with_app = "import sys, cnnviz.app; assert 'gradio' in sys.modules"  # the check can fail
    subprocess.run([sys.executable, "-c", with_app], check=True)


# --- the live app, as an external client sees it ---------------------------------------


@contextmanager
def served_app(
    log: Path, data: Path | None, mirrors: str = "", *, lab: Path | None = None
) -> Iterator[str]:
    """``python demo/app.py`` on a free port, with MNIST in ``data`` or none at all.

    Without data, ``CNNVIZ_DATA``, ``HOME`` and ``XDG_CACHE_HOME`` point to an empty
    folder next to ``log``; the app downloads MNIST there from ``mirrors`` (comma-separated
    URLs; by default none: it keeps the bundled sample). Yields the URL; the server's
    output goes to ``log``. The Draw view is the server's sketchpad (``CNNVIZ_LAB=0``),
    or with ``lab`` (an exported site, the ``web_site`` fixture) the in-browser lab.
    """
    from tests.conftest import free_port

    port = free_port()
    empty = log.parent / "no-data"
    empty.mkdir(exist_ok=True)
    environment = os.environ | {
        "GRADIO_SERVER_PORT": str(port),
        "CNNVIZ_DATA": str(data or empty),
        "CNNVIZ_MNIST_MIRRORS": mirrors,
        "CNNVIZ_LAB": "1" if lab else "0",
        "CNNVIZ_LAB_SITE": str(lab or ""),
    }
    if data is None:
        environment |= {"HOME": str(empty), "XDG_CACHE_HOME": str(empty)}
    with served_command([str(ROOT / "demo" / "app.py")], environment, log, port) as url:
        yield url


@contextmanager
def served_command(
    argv: list[str], environment: dict, log: Path, port: int, cwd: Path | None = None
) -> Iterator[str]:
    """``python ARGV`` serving on ``port`` of 127.0.0.1, its output in ``log``: yields its URL
    once it answers, and stops it at the end."""
    with log.open("w") as output:
        server = subprocess.Popen(
            [sys.executable, *argv],
            env=environment,
            cwd=cwd,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}/"
        try:
            deadline = time.monotonic() + STARTUP_SECONDS
            while True:
                try:
                    urllib.request.urlopen(url, timeout=2)
                    break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"the app did not start:\n{log.read_text()}") from None
                    time.sleep(0.5)
            yield url
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


@pytest.fixture(scope="module")
def no_data_app(tmp_path_factory) -> Iterator[tuple[str, Path]]:
    log = tmp_path_factory.mktemp("app") / "server.log"
    with served_app(log, None) as url:
        yield url, log


@pytest.fixture(scope="module")
def client(no_data_app) -> Client:
    return Client(no_data_app[0], verbose=False)


def payload(tmp_path, points=None, content=None, name="drawing.png", width=26) -> dict:
    """A sketchpad value as a client sends it: ``points`` drawn, or raw file ``content``."""
    path = tmp_path / name
    if content is None:
        Image.fromarray(drawing(points, width=width)).save(path)
    else:
        path.write_bytes(content)
    return {"background": handle_file(str(path)), "layers": [], "composite": handle_file(str(path))}


def inline_picture(html: str) -> Image.Image:
    """The picture a Draw-tab ``<img>`` carries as a PNG data URI, decoded whole."""
    data = re.fullmatch(r'<img class="\w+" alt="[^"]+" src="data:image/png;base64,([^"]+)">', html)
    picture = Image.open(io.BytesIO(base64.b64decode(data.group(1))))
    picture.load()
    return picture


def test_client_draw_endpoint_reads_a_seven_and_sends_its_pictures(client, tmp_path):
    label, seen, occluded, salient, message, short = client.predict(
        payload(tmp_path, SEVEN), "batch norm", 5, 1, api_name="/draw"
    )
    assert label["label"] == "7" and "reads **7**" in message and "**7**" in short
    assert inline_picture(seen).size == (28, 28) and 'class="pixels"' in seen
    for html in (occluded, salient):
        assert inline_picture(html).size[0] > 224  # the map with its colour bar


def test_client_empty_canvas_gets_the_hint(client, tmp_path):
    result = client.predict(CLEARED, "batch norm", 5, 1, api_name="/draw")
    assert result[-2] == inputs.EMPTY_HINT and result[1:4] == ("", "", "")
    blank = payload(tmp_path, [(0, 0), (0, 0)], width=0)  # a white PNG, no ink
    assert client.predict(blank, "batch norm", 5, 1, api_name="/draw")[-2] == inputs.EMPTY_HINT


@pytest.mark.parametrize(
    ("name", "content", "patch", "expected"),
    [
        ("notes.txt", b"not an image", 5, "the upload is not a readable image"),
        ("empty.png", b"", 5, "the upload is not a readable image"),
        ("drawing.png", None, "five", "must be a number, not 'five'"),
        ("drawing.png", None, 99, "must be between 2 and 14"),
    ],
)
def test_client_bad_input_gets_a_message_and_one_log_line(
    client, no_data_app, tmp_path, name, content, patch, expected
):
    log = no_data_app[1]
    before = log.read_text()
    sent = payload(tmp_path, SEVEN, content=content, name=name)
    with pytest.raises(Exception, match=re.escape(expected)):
        client.predict(sent, "batch norm", patch, 1, api_name="/draw")
    time.sleep(0.5)
    new = log.read_text()[len(before) :]
    assert new.count("rejected input") == 1 and "Traceback" not in new, new


def test_client_without_data_uses_the_bundled_sample(client):
    canvas, truth = client.predict(api_name="/random_digit")
    assert "bundled sample of 1,000 MNIST test digits" in truth
    assert Image.open(canvas["composite"]).size == (392, 392)
    table, note = client.predict("batch norm", 2, api_name="/transfer")
    assert "bundled sample" in note and Image.open(table).size[0] > 200


def test_client_class_images_for_one_class(client):
    sure, failed, _, status = client.predict("no batch norm", "3", api_name="/class_images")
    assert status.startswith("1 of 1 reached") and failed["visible"] is False
    (image,) = sure
    assert probabilities_in([image["caption"]])[0] >= 0.99
    assert Image.open(image["image"]).size == (224, 224)


def test_client_targeted_endpoint_returns_a_successful_attack(client, tmp_path):
    result = client.predict(
        payload(tmp_path, SEVEN), "no batch norm", 3, 5, 200, api_name="/targeted"
    )
    adversarial, _, before, after, summary = result
    assert before["label"] == "7" and after["label"] == "3" and summary.startswith("Success")
    assert Image.open(adversarial).size == (224, 224) and "L-inf" in summary


def test_sixteen_clients_sending_identical_drawings_all_succeed(no_data_app, tmp_path):
    """Identical outputs requested at once used to be served truncated (issue 10, 7)."""
    url, log = no_data_app
    sent = payload(tmp_path, SEVEN)
    clients = [Client(url, verbose=False) for _ in range(16)]

    def ask(client: Client) -> str:
        label, seen, occluded, salient, *_ = client.predict(
            sent, "batch norm", 5, 1, api_name="/draw"
        )
        for html in (seen, occluded, salient):
            inline_picture(html)  # the whole picture arrived
        return label["label"]

    with ThreadPoolExecutor(max_workers=16) as pool:
        labels = list(pool.map(ask, clients * 2))
    assert labels == ["7"] * 32
    assert "Content-Length" not in log.read_text()


def test_attack_results_stay_while_the_drawing_is_the_one_seen_or_attacked():
    """A repeated change event keeps the results (whenever it comes, even before the attack's
    key reached the page); a new stroke or another model clears them."""
    seven, one = sketch(SEVEN), sketch(ONE)
    key = handlers.drawing_key(seven)
    attacked = (key, "batch norm")
    skip = type(gr.skip())
    for kept in (
        events.stale_if_redrawn(seven, "batch norm", attacked, None),
        events.stale_if_redrawn(seven, "batch norm", None, key),  # the same drawing again
    ):
        assert len(kept) == 11 and all(isinstance(value, skip) for value in kept[:10])
        assert kept[10] == key
    new_stroke = events.stale_if_redrawn(one, "batch norm", attacked, key)
    other_model = events.stale_if_redrawn(seven, "no batch norm", attacked, None)
    for cleared in (new_stroke, other_model):
        assert cleared[:10] == events.stale() and cleared[4] == handlers.STALE
    assert new_stroke[10] == handlers.drawing_key(one)
    assert events.stale_if_redrawn(seven, "batch norm", None, None)[:10] == events.stale()


def test_train_api_streams_then_ends_with_a_summary(client):
    job = client.submit("fast", True, 1, 0.1, 64, api_name="/train")
    outputs = list(job)
    assert len(outputs) >= 2  # updates while training, then the end
    curves, filters, status, summary = outputs[-1]
    assert curves.startswith("<svg") and "batch norm: validation" in curves
    assert inline_picture(filters).size[0] > 0  # the conv1 filters, a PNG
    assert summary["steps"] == 13 and summary["data"].startswith("only the 1,000")
    assert 0 <= summary["val_acc"] <= 100 and 0 <= summary["test_acc"] <= 100
    assert summary["train_seconds"] > 0 and not summary["stopped"]
    assert f"test accuracy {summary['test_acc']:.2f} %" in status
    race = list(client.submit("fast", 1, 0.1, 128, api_name="/race"))[-1]
    assert set(race[2]) == {"batch norm", "no batch norm"}
    assert race[2]["batch norm"]["steps"] == race[2]["no batch norm"]["steps"] == 7
    # 800 sample digits: up to MAX_SAMPLE_EPOCHS short epochs (3 on the full MNIST)
    most = train_handlers.MAX_SAMPLE_EPOCHS
    with pytest.raises(Exception, match=f"number of epochs must be between 1 and {most}, not 99"):
        client.predict("fast", True, 99, 0.1, 32, api_name="/train")
    with pytest.raises(Exception, match="learning rate must be a number, not 'abc'"):
        client.predict("fast", True, 1, "abc", 32, api_name="/train")


def test_served_app_links_its_gallery_pages_where_the_docs_are_built(no_data_app):
    """In a checkout with built docs (``make test`` builds them first) the app serves them
    at /docs/, so every explanation's link opens its gallery page; without, no links."""
    from cnnviz.app import words

    if words.DOCS_URL != "/docs/":
        if os.environ.get("CI"):
            pytest.fail("make test builds the docs before the tests")
        pytest.skip("docs not built here (or $CNNVIZ_DOCS_URL set): nothing served")
    for _, page in words.EXPLANATIONS.values():
        link = no_data_app[0].rstrip("/") + words.gallery_link(page)
        with urllib.request.urlopen(link, timeout=10) as response:
            assert response.status == 200 and b"sphx-glr" in response.read()
