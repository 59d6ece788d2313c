"""The Inside tab on a teacher's model: handlers on pytorch/examples' Net and a colour CNN,
and the tab in a browser (laptop and phone)."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import numpy as np
import pytest
import torch
from playwright.sync_api import Page, expect

from cnnviz.app.inputs import InputError
from cnnviz.app.own import inside_handlers as handlers
from cnnviz.app.own.inside import CSS as INSIDE_CSS
from cnnviz.app.own.inside import inside_tab
from cnnviz.app.page import CSS
from cnnviz.app.pictures import feature_map_picture
from cnnviz.inspect.layers import activations
from cnnviz.inspect.neuron import unit_computation
from cnnviz.models.user_model import user_model
from tests.conftest import free_port
from tests.neuron_models import COLOUR_CLASSES, colour_digits, colour_model
from tests.teacher_net import Net, seeded_net

ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"
WAIT = 30_000  # ms, on a busy 2-core machine


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread, as the app's server uses: two threads on a busy machine that
    shares its two cores wait on each other (growing an image: 12 s instead of 0.15 s)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def net():
    return user_model(seeded_net(), input_shape=(1, 28, 28), bounds=Net.input_bounds)


@pytest.fixture(scope="module")
def colour():
    return user_model(colour_model())


@pytest.fixture(scope="module")
def digit(mnist):
    """A real test digit in the Net's normalised space, as the page's state holds it."""
    pixels = (mnist.test_x[:1] + 1) / 2
    return ((pixels - 0.1307) / 0.3081).numpy().astype(np.float32)


@pytest.fixture(scope="module")
def picture(mnist):
    return colour_digits(mnist.test_x[1:2]).numpy().astype(np.float32)


def test_the_layers_come_from_the_model(net, colour):
    assert handlers.layer_choices(net) == [
        ("conv1 (Conv2d): 32 maps of 26x26", "conv1"),
        ("conv2 (Conv2d): 64 maps of 24x24", "conv2"),
        ("dropout1 (Dropout): 64 maps of 12x12", "dropout1"),
    ]
    names = [name for _, name in handlers.layer_choices(colour)]
    assert names[:3] == ["features.0.0", "features.0.1", "features.0.2"]
    assert [handlers.unit_layer_of(colour, name) for name in names] == [
        *["features.0.0"] * 3,
        *["features.1.0"] * 3,
        "features.2",
        None,
        None,
    ]
    assert handlers.linear_layers(net) == ["fc1", "fc2"]


def test_without_an_image_every_output_says_what_to_do_first(net, colour):
    for spec, words in ((net, "Draw tab"), (colour, "Pick one of the pictures")):
        hint = handlers.first_hint(spec)
        assert words in hint and hint.startswith("No image yet")
        first = handlers.layer_choices(spec)[0][1]
        assert handlers.feature_maps(spec, None, first) == ([], hint)
        assert handlers.channel_map(spec, None, first, 0) == (None, hint, "", hint)
        assert handlers.open_unit(spec, None, first, 0, 10, 10) == ("", hint)
        last = handlers.linear_layers(spec)[-1]
        assert handlers.linear_unit(spec, None, last, 0) == ("", hint)


def test_the_feature_maps_are_the_layer_outputs_labelled_by_channel(net, digit):
    items, note = handlers.feature_maps(net, digit, "conv2")
    assert [caption for _, caption in items] == [f"channel {c}" for c in range(64)]
    maps = activations(net.model, torch.from_numpy(digit), "conv2")["conv2"][0]
    assert np.array_equal(items[7][0], feature_map_picture(maps[7], handlers.THUMB_PX))
    assert "64 feature maps of 24x24" in note and "first" not in note
    picture, sentence, cleared, prompt = handlers.channel_map(net, digit, "conv2", 7)
    assert picture.shape == (280, 280, 3) and cleared == "" and "Click a pixel" in prompt
    assert f"from {float(maps[7].min()):.3f} to {float(maps[7].max()):.3f}" in sentence


def test_a_click_opens_the_unit_under_it_on_the_net(net, digit):
    x_click, y_click = 100, 250  # 280 px for 24 units: column 8, row 21
    view, sentence = handlers.open_unit(net, digit, "conv2", 5, x_click, y_click)
    terms = unit_computation(net.model, torch.from_numpy(digit)[0], "conv2", 5, (21, 8))
    assert f"<b>conv2[5, 21, 8]</b> = 288 products + bias = <b>{terms.total:.4f}</b>" in sentence
    assert f"(the forward pass: {terms.forward_value:.4f})" in sentence
    assert "it sees rows 21-25, columns 8-12 of the image" in sentence
    assert "conv2[5, 21, 8] sees" in view and view.count("conv1 channel") == 0
    assert view.count("<span class=up>") + view.count("<span class=down>") == 2 * len(
        terms.pushes(8)[0]
    )


def test_a_click_after_batch_norm_and_relu_opens_the_convolution(colour, picture):
    view, sentence = handlers.open_unit(colour, picture, "features.0.2", 4, 0, 0)
    x = torch.from_numpy(picture)
    after = activations(colour.model, x, "features.0.2")["features.0.2"][0, 4, 0, 0]
    assert "<b>features.0.0[4, 0, 0]</b> = 27 products + bias" in sentence  # 3x5x5 minus pad
    assert f"features.0.2 then makes it {float(after):.4f}" in sentence
    assert view.count("<table>") == 9 and "blue: input window" in view
    assert view.count(">pad 0<") == 2 * 3 * (25 - 9)  # window and products, 3 channels
    pooled, why = handlers.open_unit(colour, picture, "features.3", 0, 5, 5)
    assert pooled == "" and "pooling" in why


def test_class_scores_are_named_by_the_classes(colour, picture):
    assert handlers.linear_unit_choices(colour, "head.1") == [
        (f"class {name}", k) for k, name in enumerate(COLOUR_CLASSES)
    ]
    view, sentence = handlers.linear_unit(colour, picture, "head.1", 2)
    terms = unit_computation(colour.model, torch.from_numpy(picture)[0], "head.1", 2)
    assert "class car (head.1) sees" in view and "rows 0-31, columns 0-31" in view
    assert f"<b>head.1 class car</b> = 256 inputs x weights + bias = <b>{terms.total:.4f}</b>" in (
        sentence
    )


def test_fully_connected_units_of_the_net(net, digit):
    assert handlers.linear_unit_choices(net, "fc1")[-1] == ("unit 127", 127)
    view, sentence = handlers.linear_unit(net, digit, "fc1", 127)
    assert "fc1 unit 127 sees" in view and "9216 inputs" in sentence
    with pytest.raises(InputError, match="not a linear layer"):
        handlers.linear_unit(net, digit, "conv1", 0)


def test_maps_of_one_value_share_one_scale_and_say_their_value(colour, picture):
    head = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    pooled = torch.nn.Sequential(colour.model.features, head, torch.nn.LazyLinear(5)).eval()
    spec = user_model(pooled, input_shape=(3, 32, 32))
    layer = "1.0"
    assert ("1.0 (AdaptiveAvgPool2d): 16 maps of 1x1", layer) in handlers.layer_choices(spec)
    items, note = handlers.feature_maps(spec, picture, layer)
    values = activations(spec.model, torch.from_numpy(picture), layer)[layer][0, :, 0, 0]
    assert [caption for _, caption in items] == [f"{c}: {v:.3g}" for c, v in enumerate(values)]
    assert "all on one colour scale" in note and "its own" not in note
    colours = {tuple(thumb[0, 0]) for thumb, _ in items}  # one scale: values differ, colours too
    assert len(colours) == len(set(values.tolist())) > 1
    top = int(values.argmax())
    opened, sentence, _, _ = handlers.channel_map(spec, picture, layer, top)
    assert f"one value, {float(values[top]):.3f}" in sentence and "values from" not in sentence
    assert tuple(opened[0, 0]) == tuple(items[top][0][0, 0])


def test_filters_of_the_layer(net, colour):
    items, note = handlers.layer_filters(net, "conv2")
    assert len(items) == 64 and items[0][1] == "filter 0"
    assert "64 filters, each 32 input channels of 3x3 (one tile per input channel, 6x6" in note
    height, width, _ = items[0][0].shape  # 32 kernels as a near-square grid, not a strip
    assert height == handlers.FILTER_PX and abs(width - height) <= 2
    assert "32 filters, each 1 input channel of 3x3" in handlers.layer_filters(net, "conv1")[1]
    items, note = handlers.layer_filters(colour, "features.0.0")  # 3 inputs: 2x2, one blank
    height, width, _ = items[0][0].shape
    assert "3 input channels of 5x5 (one tile per input channel, 2x2" in note
    assert abs(width - height) <= 2
    items, note = handlers.layer_filters(colour, "features.1.2")  # grouped: 4 per filter
    assert len(items) == 12 and "**features.1.0**: 12 filters, each 4 input channels" in note
    assert handlers.layer_filters(net, "dropout1")[0] == []


def test_what_a_channel_looks_for(colour):
    assert "64 steps" in handlers.visualisation_cost(colour, 64)
    assert "3x32x32 image" in handlers.visualisation_cost(colour, 64)
    grown, note = handlers.what_channel_looks_for(colour, "features.2", 3, 16)
    assert grown.shape == (224, 224, 3)
    start, end = (float(v) for v in re.findall(r"went from (-?[\d.]+) to (-?[\d.]+)", note)[0])
    assert end > start and "16 steps" in note
    with pytest.raises(InputError, match="steps"):
        handlers.what_channel_looks_for(colour, "features.2", 3, 10_000)


def test_a_flat_grown_image_is_said_to_show_a_colour(colour, monkeypatch):
    """A first layer's channel often grows one colour everywhere: the note says so."""

    def grow(model, channels, **options):
        images = torch.full((1, 3, 32, 32), 0.8)
        images[:, :, :, -2:] = 0.1  # a strip at the edge, as T saw
        history = torch.tensor([[-0.3], [0.1]])
        return SimpleNamespace(images=images, objective_history=history, objective=history[-1])

    monkeypatch.setattr(handlers, "visualise", grow)
    _, note = handlers.what_channel_looks_for(colour, "features.0.0", 3, 8)
    assert note.endswith(handlers.FLAT_NOTE) and "from -0.300 to 0.100" in note
    noise = torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(0))
    assert not handlers.mostly_flat(noise, (0, 1))  # a shape-less noise is no flat colour


def test_bad_values_are_refused_with_a_reason(net, digit):
    with pytest.raises(InputError, match=r"no feature-map layer 'fc1'; choose from \['conv1'"):
        handlers.feature_maps(net, digit, "fc1")
    with pytest.raises(InputError, match="channel of conv1 must be"):
        handlers.channel_map(net, digit, "conv1", 32)
    with pytest.raises(InputError, match="shape"):
        handlers.feature_maps(net, np.zeros((1, 3, 28, 28), np.float32), "conv1")


@pytest.fixture(scope="module")
def inside_site(colour, picture):
    """A page with just the Inside tab on the colour model, and a button that sets the
    page's image state (as the Look tab does); served on 127.0.0.1, closed at the end."""
    with gr.Blocks() as app:
        image = gr.State(None)
        use = gr.Button("Use the picture", elem_id="use-picture")
        with gr.Tabs(), gr.Tab("Inside", id="inside"):
            inside_tab(colour, image)
        use.click(lambda: picture, None, image, api_name=False)
    port = free_port()
    app.queue().launch(
        server_name="127.0.0.1",
        server_port=port,
        prevent_thread_lock=True,
        quiet=True,
        css=CSS + INSIDE_CSS,
    )
    yield f"http://127.0.0.1:{port}"
    app.close()


def click_at(page: Page, selector: str, x: float, y: float) -> None:
    """Click the picture under ``selector`` at fractions ``x``, ``y`` of its width and height.

    The ``<img>`` scales its picture down to fit (``object-fit``), centred in its box.
    """
    image = page.locator(f"{selector} img")
    image.scroll_into_view_if_needed()
    box = image.bounding_box()
    width, height = image.evaluate("i => [i.naturalWidth, i.naturalHeight]")
    scale = min(1.0, box["width"] / width, box["height"] / height)
    left = box["x"] + (box["width"] - width * scale) / 2
    top = box["y"] + (box["height"] - height * scale) / 2
    page.mouse.click(left + x * width * scale, top + y * height * scale)


def assert_captions_under_pictures(page: Page, gallery: str) -> None:
    """The first thumbnail's caption is below its picture (``object-fit: contain`` draws the
    picture as large as fits in the image's content box, centred)."""
    thumb = page.locator(f"{gallery} .thumbnail-item").first
    thumb.scroll_into_view_if_needed()
    bottom = thumb.locator("img").evaluate(
        """i => {
          const box = i.getBoundingClientRect(), style = getComputedStyle(i);
          const inner = [box.width, box.height - parseFloat(style.paddingBottom)];
          const scale = Math.min(inner[0] / i.naturalWidth, inner[1] / i.naturalHeight);
          return box.top + (inner[1] + i.naturalHeight * scale) / 2;
        }"""
    )
    caption = thumb.locator(".caption-label").bounding_box()
    assert caption["y"] >= bottom - 1, (caption, bottom)


@pytest.mark.parametrize(
    "viewport",
    [{"width": 1366, "height": 768}, {"width": 390, "height": 844}],
    ids=["laptop", "phone"],
)
def test_the_tab_in_a_browser_opens_a_unit(browser, inside_site, colour, picture, viewport):
    page = browser.new_page(viewport=viewport)
    try:
        page.goto(inside_site, wait_until="load")
        hint = handlers.first_hint(colour)
        expect(page.locator("#own-inside-maps-note")).to_contain_text(hint, timeout=WAIT)
        expect(page.locator("#own-inside-unit-note")).to_contain_text(hint)
        expect(page.locator("#own-inside-filters img")).to_have_count(12, timeout=WAIT)
        assert_captions_under_pictures(page, "#own-inside-filters")
        page.get_by_text("Fully connected units and class scores").click()
        page.locator("#own-inside-fc-open").click()  # no image yet: the hint again
        expect(page.locator("#own-inside-unit-note")).to_contain_text(hint, timeout=WAIT)
        page.locator("#use-picture").click()
        expect(page.locator("#own-inside-maps img")).to_have_count(12, timeout=WAIT)
        assert_captions_under_pictures(page, "#own-inside-maps")
        box = page.locator("#own-inside-maps").bounding_box()
        last = page.locator("#own-inside-maps img").nth(11).bounding_box()
        assert last["x"] + last["width"] <= box["x"] + box["width"] + 1  # none off the edge
        page.get_by_label("Layer", exact=True).click()
        page.get_by_role("option", name="features.1.2 (ReLU): 12 maps of 16x16").click()
        maps_note = page.locator("#own-inside-maps-note")
        expect(maps_note).to_contain_text("features.1.2: 12 feature maps of 16x16", timeout=WAIT)
        map_note = page.locator("#own-inside-map-note")  # the new layer's channel 0 first
        expect(map_note).to_contain_text("features.1.2 channel 0: 16x16 values", timeout=WAIT)
        page.locator("#own-inside-maps img").nth(2).click()  # channel 2
        expect(map_note).to_contain_text("features.1.2 channel 2: 16x16 values", timeout=WAIT)
        expect(map_note).to_contain_text("Click a pixel to open that unit of features.1.0")
        expect(page.locator("#own-inside-map img")).to_be_visible(timeout=WAIT)
        click_at(page, "#own-inside-map", 8.5 / 16, 4.5 / 16)  # the middle of unit (4, 8)
        terms = unit_computation(
            colour.model, torch.from_numpy(picture)[0], "features.1.0", 2, (4, 8)
        )
        unit_note = page.locator("#own-inside-unit-note")
        expect(unit_note).to_contain_text(
            f"features.1.0[2, 4, 8] = 36 products + bias = {terms.total:.4f}", timeout=WAIT
        )
        expect(unit_note).to_contain_text("features.1.2 then makes it")
        view = page.locator("#own-inside-unit")
        expect(view).to_contain_text("features.1.0[2, 4, 8] sees")
        expect(view.locator(".pushes > div").first).to_contain_text("channel ")
        expect(view.locator("pre")).to_contain_text(
            f"(forward pass:       {terms.forward_value:+.4f})"
        )
        field = view.locator(".field img")
        expect(field).to_have_attribute("alt", "the input image")
        assert page.evaluate("() => document.querySelector('#own-inside-unit .field img').complete")
        ARTIFACTS.mkdir(exist_ok=True)
        name = "laptop" if viewport["width"] > 800 else "phone"
        view.scroll_into_view_if_needed()
        page.screenshot(path=ARTIFACTS / f"own_inside_unit_{name}.png", full_page=True)
        page.get_by_label("Channel").fill("5")
        page.get_by_label("Channel").press("Enter")
        expect(map_note).to_contain_text("features.1.2 channel 5: 16x16 values", timeout=WAIT)
        page.get_by_label("Unit", exact=True).click()
        page.get_by_role("option", name="class ship").click()
        page.locator("#own-inside-fc-open").click()
        expect(view).to_contain_text("class ship (head.1) sees", timeout=WAIT)
        expect(unit_note).to_contain_text("head.1 class ship = 256 inputs x weights + bias")
        page.get_by_text("What this channel looks for").click()
        expect(page.locator("#own-inside-cost")).to_contain_text("64 steps, each a forward")
        page.locator("#own-inside-grow").click()
        grown = page.locator("#own-inside-grown-note")
        expect(grown).to_contain_text("features.1.2 channel 5 looks for this", timeout=WAIT)
        expect(page.locator("#own-inside-grown img")).to_be_visible()
        page.screenshot(path=ARTIFACTS / f"own_inside_more_{name}.png", full_page=True)
        assert page.locator('[data-testid="toast-body"]').count() == 0
    finally:
        page.close()


def test_a_model_without_feature_maps_offers_its_fully_connected_units(digit):
    torch.manual_seed(0)
    mlp = torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Linear(784, 16), torch.nn.ReLU(), torch.nn.Linear(16, 10)
    )
    spec = user_model(mlp, input_shape=(1, 28, 28))
    assert handlers.layer_choices(spec) == [] and handlers.linear_layers(spec) == ["1", "3"]
    with gr.Blocks() as app, gr.Tab("Inside"):
        inside_tab(spec, gr.State(None))
    ids = {block.elem_id for block in app.blocks.values()}
    assert "own-inside-fc-open" in ids and "own-inside-maps" not in ids
    view, sentence = handlers.linear_unit(spec, digit, "3", 4)
    assert "class 4 (3) sees" in view and "16 inputs x weights" in sentence


def test_a_normalised_net_shows_what_its_first_layer_receives(mnist):
    from cnnviz.core.classifier import Normalized

    spec = user_model(Normalized(seeded_net(), [0.1307], [0.3081]), input_shape=(1, 28, 28))
    pixels = ((mnist.test_x[:1] + 1) / 2).numpy().astype(np.float32)  # [0, 1]
    view, sentence = handlers.open_unit(spec, pixels, "model.conv1", 4, 140, 140)
    assert "<b>model.conv1[4, 13, 13]</b> = 9 products" in sentence
    assert "input window (model.conv1 receives)" in view and view.count("<table>") == 3
    terms = unit_computation(spec.model, torch.from_numpy(pixels)[0], "model.conv1", 4, (13, 13))
    normalised = (pixels[0, 0, 13:16, 13:16] - 0.1307) / 0.3081
    assert np.allclose(terms.inputs[0], normalised, atol=1e-6)
