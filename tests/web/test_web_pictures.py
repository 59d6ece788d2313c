"""``cnnviz export-web --model ... --images DIR``: a colour model with a teacher's pictures.

One export per module (a 3x32x32 CNN with batch norm and adaptive pooling, a generated
folder of pictures in class subfolders), served on 127.0.0.1 and opened in headless
Chromium: the lab's sample is the pictures, named by their files, predicted with the class
names, with the Python library's probabilities.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import torch
from PIL import Image, ImageDraw
from playwright.sync_api import Page, expect

from cnnviz.cli import main
from cnnviz.core.classifier import class_scores
from cnnviz.data.image_folder import load_image_folder
from cnnviz.models.checkpoint import save_checkpoint
from cnnviz.models.user_model import load_user_model
from tests.conftest import serve_directory
from tests.teacher_net import COLOUR_CLASSES, colour_net

ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"
LAPTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
START = 30_000  # ms
NAMES = ",".join(COLOUR_CLASSES)
PREDICTION = re.compile(rf"^({'|'.join(COLOUR_CLASSES)}): \d{{1,3}}\.\d %$")
PREDICTION_DIGIT = re.compile(r"^\d: \d{1,3}\.\d %$")


def make_pictures(folder: Path) -> None:
    """Two pictures per class (sizes, modes and shapes vary) and one outside the classes."""
    rng = np.random.default_rng(0)
    modes = ["RGB", "RGBA", "L", "RGB", "P"]
    for k, name in enumerate(COLOUR_CLASSES):
        for j in range(2):
            size = (int(rng.integers(24, 80)), int(rng.integers(24, 80)))
            background = tuple(int(v) for v in rng.integers(0, 256, 3))
            image = Image.new("RGB", size, background)
            ink = tuple(int(v) for v in rng.integers(0, 256, 3))
            ImageDraw.Draw(image).ellipse(
                [size[0] // 5, size[1] // 4, size[0] - 3, size[1] - 2], ink
            )
            (folder / name).mkdir(parents=True, exist_ok=True)
            image.convert(modes[(k + j) % len(modes)]).save(folder / name / f"{j + 1:02d}.png")
    Image.new("RGB", (50, 20), (250, 200, 0)).save(folder / "banner.jpg")


@pytest.fixture(scope="module")
def teacher(tmp_path_factory) -> dict:
    """The exported site, its folder and weights, and the spec as the library loads it."""
    root = tmp_path_factory.mktemp("pictures")
    folder = root / "pictures"
    make_pictures(folder)
    weights = save_checkpoint(colour_net(seed=2), root / "colour.safetensors")
    out = root / "site"
    argv = ["export-web", str(out), "--model", "tests.teacher_net:colour_net", "--weights"]
    argv += [str(weights), "--class-names", NAMES, "--images", str(folder)]
    assert main(argv) == 0
    spec = load_user_model("tests.teacher_net:colour_net", weights=weights, class_names=NAMES)
    return {"site": out, "folder": folder, "spec": spec}


@pytest.fixture(scope="module")
def base(teacher) -> Iterator[str]:
    with serve_directory(teacher["site"]) as url:
        yield url + "/"


def open_lab(
    browser, url: str, viewport: dict, *, address: str = "index.html", **options
) -> tuple[Page, list[str]]:
    """The lab at ``url + address``, started, and the list its console and page errors go to."""
    page = browser.new_context(viewport=viewport, **options).new_page()
    errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url + address)
    page.wait_for_function("document.body.dataset.ready === 'true'", timeout=START)
    return page, errors


@pytest.fixture(scope="module")
def laptop(browser, base) -> Iterator[tuple[Page, list[str]]]:
    ARTIFACTS.mkdir(exist_ok=True)
    page, errors = open_lab(browser, base, LAPTOP)
    yield page, errors
    page.context.close()


def test_the_manifest_holds_the_pictures_exactly_with_names_and_labels(teacher):
    site, spec = teacher["site"], teacher["spec"]
    manifest = json.loads((site / "manifest.json").read_text())
    (model,) = manifest["models"]
    assert model["classes"] == list(COLOUR_CLASSES)
    assert model["input"] == {"shape": [3, 32, 32], "bounds": [0.0, 1.0]}
    sample = manifest["digits"]
    pictures = load_image_folder(
        teacher["folder"], shape=(3, 32, 32), bounds=(0, 1), classes=COLOUR_CLASSES
    )
    assert sample["kind"] == "pictures" and sample["count"] == len(pictures) == 11
    assert sample["names"] == list(pictures.names) and sample["names"][0] == "banner.jpg"
    assert sample["names"][1:3] == ["car/01.png", "car/02.png"]  # sorted by path
    assert sample["labels"] == [None, 2, 2, 0, 0, 1, 1, 3, 3, 4, 4]  # banner, car, cat, ...
    stored = np.fromfile(site / sample["images"], np.uint8).reshape(11, 32, 32, 3)
    assert np.array_equal(stored, (pictures.images.permute(0, 2, 3, 1) * 255).round().numpy())
    forward = onnxruntime.InferenceSession(str(site / model["forward"]))
    logits = forward.run(["logits"], {"x": pictures.images.numpy()})[0]
    with torch.no_grad():
        expected = class_scores(spec.model, pictures.images).numpy()
    assert np.abs(logits - expected).max() < 1e-4


def test_bad_images_options_are_one_line(tmp_path, capsys, teacher):
    def error(*argv) -> str:
        assert main(["export-web", str(tmp_path / "site"), *argv]) == 2
        message = capsys.readouterr().err.strip()
        assert "\n" not in message and message.startswith("cnnviz export-web: error: ")
        return message.removeprefix("cnnviz export-web: error: ")

    assert error("--images", str(teacher["folder"])).startswith("--weights, --class-names and")
    model = ["--model", "tests.teacher_net:colour_net"]
    (tmp_path / "empty").mkdir()
    assert error(*model, "--images", str(tmp_path / "empty")).startswith(
        f"{tmp_path / 'empty'} has no pictures (cnnviz reads .png"
    )
    (tmp_path / "mixed" / "cat").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(tmp_path / "mixed" / "cat" / "a.png")
    (tmp_path / "mixed" / "cat" / "notes.txt").write_text("cats")
    assert error(*model, "--images", str(tmp_path / "mixed")).startswith(
        f"{tmp_path / 'mixed'}/cat/notes.txt is not an image"
    )
    assert not (tmp_path / "site").exists()


def seen_pixels(page: Page) -> np.ndarray:
    """The "What the model sees" canvas as H x W x 3 bytes."""
    data = page.eval_on_selector(
        "#seen",
        "c => Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)",
    )
    size = page.eval_on_selector("#seen", "c => [c.height, c.width]")
    return np.array(data, np.uint8).reshape(*size, 4)[..., :3]


def test_the_lab_speaks_of_pictures_not_mnist_digits(laptop):
    page, errors = laptop
    button = page.locator("#random-digit")
    expect(button).to_have_text("Random image")
    expect(button).to_be_enabled()
    draw_view = page.text_content("#draw-view") + page.text_content("header")
    assert "test digit" not in draw_view.lower() and "MNIST" not in draw_view
    assert "11 pictures" in page.text_content(".intro")
    expect(page.locator("#prediction")).to_have_text(
        'This network takes 3 x 32 x 32 images: press "Random image".'
    )
    assert page.text_content("#pad-help") == (
        "This network reads colour pictures of 32 x 32 pixels, not drawings."
    )
    assert errors == []


def test_random_image_shows_a_picture_by_name_read_as_python_reads_it(laptop, teacher):
    page, errors = laptop
    spec = teacher["spec"]
    pictures = load_image_folder(
        teacher["folder"], shape=spec.input_shape, bounds=spec.bounds, classes=spec.classes
    )
    pixels = load_image_folder(teacher["folder"], shape=spec.input_shape, bounds=(0, 1))
    seen = set()
    for _ in range(6):
        page.click("#random-digit")
        page.evaluate("window.cnnvizLab.idle()")
        i = page.evaluate("window.cnnvizLab.view.state.digitIndex")
        seen.add(i)
        name, label = pictures.names[i], pictures.labels[i]
        truth = page.text_content("#truth")
        assert truth.startswith(f"Picture {name} ({i + 1} of 11). ")
        if label is None:
            assert truth.endswith("Its true label is not known (its folder is not a class name).")
        else:
            assert truth.endswith(f"Its true label: {COLOUR_CLASSES[label]}.")
        shown = page.text_content("#prediction")
        assert PREDICTION.match(shown), shown
        probs = np.array(page.evaluate("Array.from(window.cnnvizLab.view.state.prediction.probs)"))
        with torch.no_grad():
            expected = class_scores(spec.model, pictures.images[i : i + 1]).softmax(1)[0].numpy()
        assert np.abs(probs - expected).max() < 1e-4
        top = int(expected.argmax())
        assert shown.startswith(f"{COLOUR_CLASSES[top]}: ")
        bars = page.locator("#top3 .bar-name").all_text_contents()
        assert bars == [COLOUR_CLASSES[k] for k in np.argsort(-expected)[:3]]
        want = (pixels.images[i].permute(1, 2, 0) * 255).round().numpy().astype(np.uint8)
        assert np.array_equal(seen_pixels(page), want)  # the picture, in its colours
    assert len(seen) > 1  # random
    page.screenshot(path=ARTIFACTS / "web-pictures-laptop.png")
    assert errors == []


def test_the_attack_view_attacks_the_picture_in_colour(laptop):
    page, errors = laptop
    page.click("#tab-attack")
    caption = page.locator("#attack-before-caption")
    expect(caption).to_contain_text("Your picture: read as ")
    assert re.search(rf"read as ({'|'.join(COLOUR_CLASSES)}) ", caption.text_content())
    page.wait_for_selector("#attack-run:not([disabled])")
    page.click("#attack-run")
    page.wait_for_selector("#attack-result:not(:empty)", timeout=20_000)
    verdict = page.text_content("#attack-result")
    assert verdict.startswith(("The attack worked", "The attack failed")), verdict
    attacked = page.eval_on_selector(
        "#attack-image",
        "c => Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)",
    )
    rgb = np.array(attacked, np.int32).reshape(-1, 4)[:, :3]
    assert len(rgb) == 32 * 32 and (rgb.max(1) - rgb.min(1)).max() > 0  # colour, not grey
    intro = page.text_content("#attack-view .panel-intro")
    assert "your picture" in intro and "digit" not in intro
    assert page.text_content("#attack-change-caption").startswith(
        "The change, averaged over red, green and blue"
    )
    page.screenshot(path=ARTIFACTS / "web-pictures-attack.png", full_page=True)
    page.click("#tab-draw")
    assert errors == []


def test_the_classes_view_grows_one_image_per_class_name(laptop):
    page, errors = laptop
    page.click("#tab-classes")
    intro = page.text_content("#classes-view .panel-intro")
    assert "think a ship looks like" in intro and "All 5 images grow" in intro
    page.click("#classes-run")
    page.wait_for_selector("#classes-images figure", timeout=60_000)
    assert re.match(r"\d of 5 classes reached p >= 0.99", page.text_content("#classes-note"))
    captions = page.locator("#classes-images figcaption").all_text_contents()
    assert [caption.split(" ")[0] for caption in captions] == list(COLOUR_CLASSES)
    legend = page.locator("#classes-legend li").all_text_contents()
    assert [item.strip() for item in legend] == list(COLOUR_CLASSES)
    page.click("#tab-draw")
    assert errors == []


def test_clear_and_the_keyboard(laptop):
    page, errors = laptop
    page.focus("#random-digit")
    page.keyboard.press("Enter")
    page.evaluate("window.cnnvizLab.idle()")
    assert page.text_content("#truth").startswith("Picture ")
    assert PREDICTION.match(page.text_content("#prediction"))
    page.click("#clear")
    page.evaluate("window.cnnvizLab.idle()")
    assert page.text_content("#truth") == ""
    assert page.text_content("#prediction") == (
        'This network takes 3 x 32 x 32 images: press "Random image".'
    )
    assert page.locator("#top3 li").count() == 0
    assert errors == []


def test_the_address_names_a_picture_by_its_place(browser, base, teacher):
    page, errors = open_lab(browser, base, LAPTOP, address="index.html?digit=3")
    names = json.loads((teacher["site"] / "manifest.json").read_text())["digits"]["names"]
    assert page.text_content("#truth").startswith(f"Picture {names[3]} (4 of 11). ")
    assert "digit=3" in page.url
    page.goto(base + "index.html?digit=11")
    page.wait_for_function("document.body.dataset.ready === 'true'", timeout=START)
    assert "a picture is a whole number from 0 to 10" in page.text_content("#address-note")
    assert errors == []
    page.context.close()


def test_a_phone_shows_a_random_image_too(browser, base):
    ARTIFACTS.mkdir(exist_ok=True)
    page, errors = open_lab(browser, base, PHONE, has_touch=True, is_mobile=True)
    page.locator("#random-digit").tap()
    page.evaluate("window.cnnvizLab.idle()")
    assert page.text_content("#truth").startswith("Picture ")
    assert PREDICTION.match(page.text_content("#prediction"))
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]
    page.screenshot(path=ARTIFACTS / "web-pictures-phone.png", full_page=True)
    assert errors == []
    page.context.close()


# --- A network that reads drawings (1x28x28), with the teacher's digit pictures --------


@pytest.fixture(scope="module")
def digit_site(tmp_path_factory) -> Iterator[dict]:
    """A 1x28x28 classifier exported with three grey digit pictures (white on black)."""
    root = tmp_path_factory.mktemp("digit-pictures")
    folder = root / "pictures"
    for name, corners in {
        "1/a.png": [(14, 4), (14, 24)],
        "7/b.png": [(6, 5), (22, 5), (12, 24)],
    }.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        image = Image.new("L", (28, 28), 0)
        ImageDraw.Draw(image).line(corners, fill=255, width=3)
        image.save(folder / name)
    image = Image.new("L", (56, 56), 0)
    ImageDraw.Draw(image).ellipse([12, 8, 44, 48], outline=255, width=6)
    image.save(folder / "zero.png")
    out = root / "site"
    assert (
        main(
            [
                "export-web",
                str(out),
                "--model",
                "tests.teacher_net:tiny_digit_net",
                "--images",
                str(folder),
            ]
        )
        == 0
    )
    with serve_directory(out) as url:
        yield {"url": url + "/", "folder": folder}


def pad_pixel(page: Page, x: float, y: float) -> int:
    """The sketchpad's red byte at a fraction (x, y) of its width and height."""
    return page.eval_on_selector(
        "#sketchpad",
        f"c => c.getContext('2d').getImageData(Math.floor(c.width * {x}), "
        f"Math.floor(c.height * {y}), 1, 1).data[0]",
    )


def test_a_drawing_network_shows_a_picture_as_ink_a_stroke_continues(browser, digit_site):
    page, errors = open_lab(browser, digit_site["url"], LAPTOP)
    assert page.text_content("#pad-title") == "Your drawing or picture"
    assert page.text_content("#prediction") == "Draw a digit to start."
    assert page.text_content("#seen-help").startswith("Your drawing cropped")  # as MNIST's
    spec = load_user_model("tests.teacher_net:tiny_digit_net")
    pictures = load_image_folder(
        digit_site["folder"], shape=(1, 28, 28), bounds=(0, 1), classes=spec.classes
    )
    assert pictures.names == ("1/a.png", "7/b.png", "zero.png")
    page.goto(digit_site["url"] + "index.html?digit=1")  # 7/b.png
    page.wait_for_function("document.body.dataset.ready === 'true'", timeout=START)
    page.evaluate("window.cnnvizLab.idle()")
    assert page.text_content("#truth") == "Picture 7/b.png (2 of 3). Its true label: 7."
    assert pad_pixel(page, 14 / 28, 5.5 / 28) < 60  # the 7's bar: dark ink
    assert pad_pixel(page, 3 / 28, 24 / 28) > 200  # the black background: white paper
    probs = np.array(page.evaluate("Array.from(window.cnnvizLab.view.state.prediction.probs)"))
    with torch.no_grad():
        expected = class_scores(spec.model, pictures.images[1:2]).softmax(1)[0].numpy()
    assert np.abs(probs - expected).max() < 1e-4
    box = page.locator("#sketchpad").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.55)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.7, box["y"] + box["height"] * 0.55, steps=8)
    page.mouse.up()
    page.evaluate("window.cnnvizLab.idle()")
    assert page.text_content("#truth") == ""  # now a drawing: the 7 with a bar across
    seen = np.array(page.evaluate("Array.from(window.cnnvizLab.view.state.pixels)"))
    assert 0.02 < seen.mean() < 0.3  # strokes on black, as MNIST: not an inverted blob
    assert PREDICTION_DIGIT.match(page.text_content("#prediction"))
    page.screenshot(path=ARTIFACTS / "web-pictures-digit.png")
    assert errors == []
    page.context.close()
