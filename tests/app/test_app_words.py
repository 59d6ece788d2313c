"""Words for a beginner (issue 28): explanations with links, the not-a-digit hint, the
comment on class images that needed no step, a test digit by its index, the race's lesson."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from cnnviz.app import handlers, train_handlers, words
from cnnviz.app.pictures import digit_image
from cnnviz.data.sample_digits import read_test_sample

EXAMPLES = Path(__file__).parents[2] / "examples"


def canvas(draw) -> np.ndarray:
    picture = Image.new("RGB", (392, 392), "white")
    draw(ImageDraw.Draw(picture))
    return np.asarray(picture)


def test_every_explanation_links_a_gallery_page_that_exists(monkeypatch):
    monkeypatch.setattr(words, "DOCS_URL", "https://example.org/docs/")
    for control, (line, page) in words.EXPLANATIONS.items():
        assert (EXAMPLES / f"{page}.py").is_file(), control
        text = words.explanation(control)
        assert line in text and f'href="https://example.org/docs/auto_examples/{page}.html"' in text


def test_without_docs_the_explanations_have_no_dead_link(monkeypatch):
    monkeypatch.setattr(words, "DOCS_URL", None)
    for control, (line, _) in words.EXPLANATIONS.items():
        assert words.explanation(control) == line


def test_the_docs_url_is_the_built_docs_or_the_setting(monkeypatch, tmp_path):
    monkeypatch.delenv("CNNVIZ_DOCS_URL", raising=False)
    monkeypatch.setattr(words, "BUILT_DOCS", tmp_path)
    assert words.docs_url() is None
    (tmp_path / "index.html").write_text("<p>docs</p>")
    assert words.docs_url() == "/docs/"
    monkeypatch.setenv("CNNVIZ_DOCS_URL", "https://example.org/cnnviz/")
    assert words.docs_url() == "https://example.org/cnnviz/"


def test_the_hint_stays_quiet_on_every_real_mnist_digit_of_the_sample():
    sample = read_test_sample()
    loud = [
        int(sample.indices[k])
        for k in range(len(sample.y))
        if words.not_a_digit_hint(digit_image(sample.x[k, 0], height=392, ink=True))
    ]
    assert loud == []


def test_the_hint_speaks_for_a_dot_and_a_scribble():
    rng = np.random.default_rng(0)
    points = [tuple(p) for p in rng.integers(80, 310, (30, 2)).tolist()]
    dot = canvas(lambda pen: pen.ellipse([190, 190, 215, 215], fill="black"))
    scribble = canvas(lambda pen: pen.line(points, fill="black", width=26))
    assert "a dot" in words.not_a_digit_hint(dot)
    assert "a scribble" in words.not_a_digit_hint(scribble)
    message = handlers.draw_update({"composite": dot}, "batch norm", 5, 2)[-1]
    assert "The network reads" in message and "does not look like a digit" in message
    assert words.not_a_digit_hint(None) == ""


def test_a_class_image_reached_in_no_step_is_explained(monkeypatch):
    real = handlers.class_visualisation

    def instantly(net, targets):
        result = real(net, targets)
        return dataclasses.replace(result, steps=torch.zeros_like(result.steps))

    monkeypatch.setattr(handlers, "class_visualisation", instantly)
    sure, _, _, status = handlers.grow_class_images("batch norm", "8")
    assert sure[0][1].endswith("after 0 steps (the noise already read as it)")
    assert "Class 8 needed 0 steps: the random noise it starts from already read" in status


def test_a_test_digit_by_its_index(without_data):
    sample = read_test_sample()
    index = int(sample.indices[17])
    picture, truth = handlers.test_digit(index)
    assert f"#{index} from a bundled sample" in truth
    assert f"true label: **{int(sample.y[17])}**" in truth and picture.shape == (392, 392, 3)
    missing = next(k for k in range(10_000) if k not in set(sample.indices.tolist()))
    assert handlers.test_digit(missing)[0] is None
    with pytest.raises(handlers.InputError, match="between 0 and 9999"):
        handlers.test_digit(10_000)


def test_the_race_lesson_is_computed_from_the_accuracies():
    small = train_handlers.race_lesson(93.0, 95.0, 100)
    assert small.startswith("No batch norm ahead by 2.0 points on 100 test digits")
    assert "+/-6.6 points" in small and "cannot tell them apart" in small
    large = train_handlers.race_lesson(98.97, 98.45, 10_000)
    assert "+/-0.3 points" in large and "more than chance" in large


# Machado, Oliveira and Fernandes (2009), severity 1, on linear RGB.
COLOUR_BLIND = {
    "normal": np.eye(3),
    "protanopia": np.array(
        [
            [0.152286, 1.052583, -0.204868],
            [0.114503, 0.786281, 0.099216],
            [-0.003882, -0.048116, 1.051998],
        ]
    ),
    "deuteranopia": np.array(
        [
            [0.367322, 0.860646, -0.227968],
            [0.280085, 0.672501, 0.047413],
            [-0.011820, 0.042940, 0.968881],
        ]
    ),
}


def seen_lab(colour: str, vision: str) -> np.ndarray:
    """CIE L*a*b* (D65) of an sRGB colour as seen with ``vision``."""
    from matplotlib.colors import to_rgb

    srgb = np.array(to_rgb(colour))
    linear = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
    linear = np.clip(COLOUR_BLIND[vision] @ linear, 0, 1)
    xyz = (
        np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
        @ linear
        / np.array([0.9505, 1.0, 1.089])
    )
    f = np.where(xyz > 216 / 24389, np.cbrt(xyz), (24389 / 27 * xyz + 16) / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def colour_distance(first: str, second: str, vision: str) -> float:
    return float(np.linalg.norm(seen_lab(first, vision) - seen_lab(second, vision)))


def test_transfer_table_colours_stay_apart_for_colour_blind_students():
    from cnnviz.plots import TRANSFER_OUTCOMES

    colours = [colour for _, colour in TRANSFER_OUTCOMES.values()]
    for vision in COLOUR_BLIND:
        for i, first in enumerate(colours):
            for second in colours[i + 1 :]:
                assert colour_distance(first, second, vision) > 20, (vision, first, second)
    # the old pair, "fooled" green and "another wrong label" orange, failed for protanopes
    assert colour_distance("#4caf50", "#f4a259", "protanopia") < 20
