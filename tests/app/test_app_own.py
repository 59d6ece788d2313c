"""The app on a teacher's model, without a browser: its handlers on pytorch/examples' ``Net``
(seeded) and on a small 3x32x32 colour CNN, the page's tabs, and bad launches of
``cnnviz demo --model`` (one line, exit status 2, no server)."""

from __future__ import annotations

import os
import re
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import cnnviz.app
from cnnviz.app.inputs import InputError
from cnnviz.app.own import handlers
from cnnviz.app.own.page import REPORT_ONLY, build, tab_labels, uploaded
from cnnviz.app.pictures import labelled_maps
from cnnviz.app.tabs import TABS
from cnnviz.attacks.registry import get_attack
from cnnviz.cli import main
from cnnviz.core.classifier import to_pixels
from cnnviz.data.drawing import prepare_drawing
from cnnviz.data.image_folder import ImageSet, load_image_folder
from cnnviz.models.checkpoint import save_checkpoint
from cnnviz.models.user_model import user_model
from tests.app.test_app import ROOT, served_command
from tests.foreign_models import ColourNet
from tests.teacher_net import seeded_net

NAMES = ["cat", "dog", "car", "ship", "tree", "boat", "bird"]


@contextmanager
def served_demo(log: Path, folder: Path, *options: str) -> Iterator[str]:
    """``cnnviz demo OPTIONS`` run in the teacher's ``folder`` (their model importable from
    there, as ``--model teachernet:build``), on a free port; yields the URL."""
    from tests.conftest import free_port

    port = free_port()
    environment = os.environ | {"PYTHONPATH": str(ROOT)}
    argv = ["-m", "cnnviz.cli", "demo", *options, "--port", str(port)]
    with served_command(argv, environment, log, port, cwd=folder) as url:
        yield url


@pytest.fixture(scope="module")
def net():
    """pytorch/examples' Net (seeded), in its normalised input space."""
    return user_model(seeded_net(), name="Net")


@pytest.fixture(scope="module")
def colour():
    return user_model(ColourNet(), input_shape=(3, 32, 32), class_names=NAMES)


def stroke_canvas() -> np.ndarray:
    """A 392x392 white canvas with a black vertical stroke (a drawn 1)."""
    canvas = np.full((392, 392, 3), 255, np.uint8)
    canvas[80:320, 180:212] = 0
    return canvas


@pytest.fixture(scope="module")
def pictures(tmp_path_factory, colour):
    """A folder of three pictures in two class subfolders, loaded for the colour model."""
    folder = tmp_path_factory.mktemp("pictures")
    for name, rgb in (("cat/red.png", (255, 0, 0)), ("cat/green.png", (0, 255, 0))):
        (folder / name).parent.mkdir(exist_ok=True)
        Image.new("RGB", (48, 40), rgb).save(folder / name)
    (folder / "dog").mkdir()
    Image.new("RGB", (20, 20), (0, 0, 255)).save(folder / "dog" / "blue.png")
    return load_image_folder(folder, shape=(3, 32, 32), bounds=(0, 1), classes=colour.classes)


def test_drawing_is_prepared_as_mnist_in_the_models_bounds(net):
    image = handlers.from_sketch(net, {"composite": stroke_canvas()})
    assert image.shape == (1, 1, 28, 28) and image.dtype == np.float32
    low, high = net.bounds
    assert (round(low, 4), round(high, 4)) == (-0.4242, 2.8215)
    pixels = to_pixels(torch.from_numpy(image), net.bounds)[0, 0].numpy()
    expected = prepare_drawing(stroke_canvas()).pixels
    assert np.allclose(pixels, expected, atol=1e-5)
    assert image.min() == pytest.approx(low) and image.max() <= high + 1e-5
    assert handlers.from_sketch(net, {"composite": np.full((392, 392, 3), 255, np.uint8)}) is None
    with pytest.raises(InputError, match="Could not read the drawing"):
        handlers.from_sketch(net, {"composite": np.zeros((8, 8, 2), np.uint8)})


def test_look_names_the_class_and_maps_on_the_models_input(net):
    image = handlers.from_sketch(net, {"composite": stroke_canvas()})
    probs, seen, occluded, salient, message = handlers.look(net, image, 5, 2)
    assert list(probs) == [str(k) for k in range(10)]
    assert sum(probs.values()) == pytest.approx(1.0, abs=1e-5)
    guess = max(probs, key=probs.get)
    assert f"reads **{guess}**" in message and "5x5 grey patch" in message
    assert message.endswith(handlers.LOG_PROBABILITY_NOTE)  # Net ends in log_softmax
    assert seen.shape == (28, 28, 3)  # shown 8x larger by the page
    pixels = to_pixels(torch.from_numpy(image), net.bounds)[0, 0].numpy()
    assert np.allclose(seen[:, :, 0] / 255, pixels, atol=1 / 255)
    assert occluded.shape[0] == salient.shape[0] == 224 + 16  # maps with colour bars
    none = handlers.look(net, None, 5, 2)
    assert none[:4] == (None,) * 4 and none[4] == handlers.NO_IMAGE_DRAWABLE
    with pytest.raises(InputError, match="occlusion patch"):
        handlers.look(net, image, 15, 2)


def test_colour_picture_is_resized_and_read_with_class_names(colour):
    red = np.zeros((60, 90, 3), np.uint8)
    red[..., 0] = 255
    image = handlers.from_picture(colour, red)
    assert image.shape == (1, 3, 32, 32)
    assert image[0, :, 5, 5].tolist() == [1.0, 0.0, 0.0]
    probs, seen, _, salient, message = handlers.look(colour, image, 6, 3)
    assert list(probs) == NAMES
    assert re.search(r"reads \*\*(cat|dog|car|ship|tree|boat|bird)\*\*", message)
    assert handlers.LOG_PROBABILITY_NOTE not in message  # ColourNet returns logits
    assert seen.shape == (32, 32, 3) and seen[5, 5].tolist() == [255, 0, 0]
    assert salient.shape[0] == 240
    assert handlers.from_picture(colour, None) is None
    cut_out = np.zeros((40, 40, 4), np.uint8)  # an upload with a transparent background
    cut_out[10:30, 10:30] = (0, 160, 0, 255)
    on_white = handlers.from_picture(colour, cut_out)[0]
    assert on_white[:, 0, 0].tolist() == [1.0, 1.0, 1.0] and on_white[0, 16, 16] == 0.0
    assert uploaded(colour)(None) == (None, "")  # a removed upload is no longer the image
    upload = next(
        c for c in build(colour).config["components"] if c["props"].get("elem_id") == "upload"
    )
    assert upload["props"]["image_mode"] == "RGBA"  # so the cut-out reaches the library
    assert handlers.look(colour, None, 6, 3)[4] == handlers.NO_IMAGE
    with pytest.raises(InputError, match="the model takes"):
        handlers.look(colour, np.zeros((1, 1, 28, 28), np.float32), 6, 3)
    assert handlers.occlusion_defaults(colour) == (16, 6, 3)


def test_folder_pictures_are_the_gallery_and_the_image(colour, pictures):
    items = handlers.folder_gallery(colour, pictures)
    assert [caption for _, caption in items] == ["green", "red", "blue"]  # short: they fit
    assert items[2][0].shape == (128, 128, 3) and items[2][0][0, 0].tolist() == [0, 0, 255]
    truth = handlers.folder_truth(colour, pictures, 2)
    assert truth == "Picked dog/blue.png. Its true label (its folder): **dog**."
    image = handlers.from_folder(pictures, 1)
    assert image.shape == (1, 3, 32, 32) and image[0, :, 0, 0].tolist() == [1.0, 0.0, 0.0]
    with pytest.raises(InputError, match="The picture"):
        handlers.from_folder(pictures, 3)


def test_class_images_are_captioned_with_names(colour):
    items, status = handlers.grow_class_images(colour, "2")
    assert len(items) == 1 and items[0][1].startswith("car: p = ")
    assert items[0][0].shape == (224, 224, 3)
    assert re.match(r"(1 of 1 reached p >= 0.99|\*\*1 of 1 did not)", status)
    assert [value for _, value in handlers.class_choices(colour)] == ["all", *"0123456"]
    with pytest.raises(InputError, match="The class"):
        handlers.grow_class_images(colour, "7")


def test_targeted_attack_pushes_towards_the_named_class(net):
    image = handlers.from_sketch(net, {"composite": stroke_canvas()})
    attacked, change, before, after, summary = handlers.targeted(net, image, "8", 0, 50)
    found = re.match(r"(Success|Not reached within the step cap): p\(8\) = ([\d.]+) after", summary)
    assert found and float(found[2]) == pytest.approx(after["8"], abs=1e-3)
    assert after["8"] > before["8"] and list(before) == list(net.classes)
    assert attacked.shape == (224, 224, 3) and change.shape[0] == 240
    assert "largest |change| (L-inf)" in summary
    one = handlers.targeted(net, image, "8", 0, 1)[4]  # one step, said in the singular
    assert re.match(
        r"(Success|Not reached within the step cap): p\(8\) = [\d.]+ after 1 step\.", one
    )
    assert handlers.counted(1, "step") == "1 step" and handlers.counted(2, "step") == "2 steps"
    assert handlers.targeted(net, None, "8", 20, 200)[4] == handlers.NO_IMAGE_DRAWABLE
    read = max(before, key=before.get)  # no attack towards what it already reads
    same = handlers.targeted(net, image, read, 20, 200)
    assert same[4] == f"It already reads {read}: pick another class." and same[0] is None
    with pytest.raises(InputError, match="target class"):
        handlers.targeted(net, image, "10", 20, 200)


def test_gradient_attack_stays_in_its_budget_on_colour(colour):
    rng = np.random.default_rng(0)
    image = handlers.from_picture(colour, rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))
    _, change, before, after, summary = handlers.gradient_attack(colour, image, "FGSM", 0.1)
    match = re.search(r"read as (\w+) -> (\w+)\..*L-inf\) ([\d.]+)", summary)
    assert match and match[1] == max(before, key=before.get)
    assert match[2] == max(after, key=after.get) and float(match[3]) <= 0.1 + 1e-3
    limit = float(re.search(r"L-inf\) ([\d.]+)", summary)[1])
    names = ["red", "green", "blue"]  # in a 2x2 grid with the bar, not a small strip
    x = torch.from_numpy(image)
    label = colour.model(x).argmax(1)
    fgsm = get_attack(handlers.METHODS["FGSM"])(colour.model, x, label, eps=0.1, bounds=(0, 1))
    expected = labelled_maps(fgsm.perturbation[0].detach().numpy(), names, limit)
    assert change.shape == expected.shape and np.abs(change - expected.astype(int)).max() <= 8
    assert abs(change.shape[0] - change.shape[1]) < 0.2 * change.shape[0]
    assert "drawn under its name (red, green, blue)" in summary
    with pytest.raises(InputError, match="Method"):
        handlers.gradient_attack(colour, image, "CW", 0.1)


def test_page_has_the_report_apps_tab_ids(colour, net):
    assert list(tab_labels(colour)) == list(TABS)
    assert tab_labels(colour)["draw"] == "Look" and tab_labels(net)["draw"] == "Draw"
    config = build(colour).config
    ids = [c["props"].get("id") for c in config["components"] if c["type"] == "tabitem"]
    assert ids == list(TABS)
    texts = [c["props"].get("value") for c in config["components"] if c["type"] == "markdown"]
    assert REPORT_ONLY.format(tab="Transfer") in texts
    explanations = " ".join(str(t) for t in texts if "**Occlusion**" in str(t))
    assert "hides part of the image" in explanations and "digit" not in explanations
    assert any("cnnviz: your model ColourNet (from Python)" in str(t) for t in texts)


@pytest.fixture
def no_server(monkeypatch):
    """Any server start fails the test: bad launches must stop before it."""

    def refuse(*args, **kwargs):
        raise AssertionError("a server was started")

    monkeypatch.setattr(cnnviz.app, "launch", refuse)
    monkeypatch.setattr(cnnviz.app, "main", refuse)


def demo_error(capsys, *argv: str) -> str:
    """``cnnviz demo ARGV``'s one error line (the exit status must be 2)."""
    assert main(["demo", *argv]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cnnviz demo: error: "), lines
    return lines[0]


def test_bad_launches_say_one_line_before_any_server(no_server, capsys, tmp_path):
    assert "No module named" in demo_error(capsys, "--model", "no_such_teacher_module:Net")
    shape = demo_error(capsys, "--model", "tests.teacher_net:not_a_classifier")
    assert "tests.teacher_net:not_a_classifier" in shape
    other = tmp_path / "colour.safetensors"
    save_checkpoint(ColourNet(), other)
    assert "colour.safetensors" in demo_error(
        capsys, "--model", "tests.teacher_net:seeded_net", "--weights", str(other)
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "empty" in demo_error(
        capsys, "--model", "tests.teacher_net:seeded_net", "--images", str(empty)
    )
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    Image.new("RGB", (28, 28)).save(mixed / "one.png")
    (mixed / "notes.txt").write_text("not a picture")
    line = demo_error(capsys, "--model", "tests.teacher_net:seeded_net", "--images", str(mixed))
    assert "notes.txt is not an image" in line
    net = ("--model", "tests.teacher_net:seeded_net")
    assert "shape [3, 32, 32]" in demo_error(capsys, *net, "--input-shape", "3,32,32")
    names = demo_error(capsys, *net, "--class-names", "cat,dog")
    assert "returns 10 scores per image, but 2 class names were given" in names
    weights_alone = demo_error(capsys, "--weights", str(other))
    assert weights_alone.endswith("--weights needs --model MODULE:FACTORY (your model)")


def test_launch_from_python_serves_the_model_and_its_pictures(tmp_path):
    from tests.conftest import free_port

    folder = tmp_path / "pictures" / "ship"
    folder.mkdir(parents=True)
    Image.new("RGB", (40, 40), (0, 0, 200)).save(folder / "blue.png")
    net = ColourNet().train()  # as a teacher's net is while they train it
    with pytest.raises(ValueError, match="7 scores per image, but 2 class names"):
        cnnviz.app.launch(net, input_shape=(3, 32, 32), class_names=["cat", "dog"])
    grey = ImageSet(torch.zeros(1, 1, 32, 32), ("a.png",), (None,))
    with pytest.raises(ValueError, match=r"the pictures are \(1, 32, 32\), but the model takes"):
        cnnviz.app.launch(net, images=grey, input_shape=(3, 32, 32), class_names=NAMES)
    port, threads = free_port(), torch.get_num_threads()
    app = cnnviz.app.launch(
        net,
        images=folder.parent,
        input_shape=(3, 32, 32),
        class_names=NAMES,
        port=port,
        block=False,
    )
    try:
        page = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10).read().decode()
        assert "cnnviz: ColourNet" in page
        assert "cnnviz: your model ColourNet (from Python)" in page
        assert "1 picture of yours to pick from" in page
        assert net.training  # the teacher's net keeps its mode: the app serves a copy
    finally:
        app.close()
        torch.set_num_threads(threads)  # launch serves with one
