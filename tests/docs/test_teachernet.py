"""The teacher's file of the "Your model in the app" page (docs/teacher/teachernet.py).

Its factories build what the page says, its pictures are what the page shows, and its
training recipes give networks that read real MNIST test digits and unseen pictures at
the accuracy the page quotes (the thresholds asserted here).
"""

from __future__ import annotations

import doctest
import re
import shlex
import shutil
import textwrap
import urllib.request
from pathlib import Path

import pytest
import torch
from PIL import Image
from torch import nn

import cnnviz
from cnnviz.cli import build_parser, main
from tests.docs.test_docs_site import PROSE_NUMBER

NET_ACCURACY = 97.0  # % of MNIST's 10,000 test digits, at least (measured by cnnviz.train)
COLOUR_ACCURACY = 95.0  # % of 100 pictures drawn with another seed, at least


@pytest.fixture(scope="module")
def teachernet(teachernet_dir):
    import teachernet

    return teachernet


def test_build_is_the_examples_net_taking_pixels_in_0_1(teachernet):
    net = teachernet.build().eval()
    assert isinstance(net, cnnviz.Normalized) and cnnviz.input_bounds(net) == (0.0, 1.0)
    shapes = {name: tuple(p.shape) for name, p in net.model.state_dict().items()}
    assert shapes == {  # pytorch/examples' Net, layer by layer
        "conv1.weight": (32, 1, 3, 3),
        "conv1.bias": (32,),
        "conv2.weight": (64, 32, 3, 3),
        "conv2.bias": (64,),
        "fc1.weight": (128, 9216),
        "fc1.bias": (128,),
        "fc2.weight": (10, 128),
        "fc2.bias": (10,),
    }
    assert (net.mean.item(), net.std.item()) == pytest.approx((0.1307, 0.3081))
    digits = torch.rand(4, 1, 28, 28)
    scores = net(digits)
    assert scores.shape == (4, 10)
    assert torch.allclose(scores.exp().sum(1), torch.ones(4))  # log-probabilities
    assert torch.equal(scores, net.model((digits - 0.1307) / 0.3081))


def test_colour_is_a_3x32x32_cnn_with_batch_norm_and_adaptive_pooling(teachernet):
    net = teachernet.colour().eval()
    kinds = {type(module) for module in net.modules()}
    assert {nn.BatchNorm2d, nn.AdaptiveAvgPool2d, nn.Conv2d} <= kinds
    assert net.input_shape == (3, 32, 32) and cnnviz.input_bounds(net) == (0.0, 1.0)
    assert net(torch.rand(2, 3, 32, 32)).shape == (2, 5)
    assert net(torch.rand(2, 3, 64, 64)).shape == (2, 5)  # the pooling adapts


def test_docstring_examples_run(teachernet):
    import trained

    for module, examples in ((teachernet, 4), (trained, 1)):
        result = doctest.testmod(module)
        assert result.attempted >= examples and result.failed == 0, module.__name__


def test_pictures_are_five_folders_of_colour_pngs(teachernet, teacher_pictures):
    folders = sorted(p.name for p in teacher_pictures.iterdir())
    assert folders == sorted(teachernet.CLASSES) == ["car", "cat", "dog", "ship", "tree"]
    for name in folders:
        files = sorted((teacher_pictures / name).iterdir())
        assert len(files) == 40 and all(f.suffix == ".png" for f in files)
        with Image.open(files[0]) as picture:
            assert (picture.mode, picture.size) == ("RGB", (64, 64))
    x, y = teachernet.read_pictures(teacher_pictures)
    assert x.shape == (200, 3, 32, 32) and 0 <= x.min() < x.max() <= 1
    assert torch.bincount(y).tolist() == [40] * 5
    means = torch.stack([x[y == k].mean((0, 2, 3)) for k in range(5)])  # (class, RGB)
    assert torch.cdist(means, means).add(torch.eye(5)).min() > 0.02  # colours differ


def test_pictures_are_seeded(teachernet, tmp_path):
    first = teachernet.make_pictures(tmp_path / "a", per_class=2, seed=3)
    again = teachernet.make_pictures(tmp_path / "b", per_class=2, seed=3)
    other = teachernet.make_pictures(tmp_path / "c", per_class=2, seed=4)
    name = "ship/ship-001.png"
    assert (first / name).read_bytes() == (again / name).read_bytes()
    assert (first / name).read_bytes() != (other / name).read_bytes()
    with pytest.raises(ValueError, match="no drawing for 'horse'"):
        teachernet.make_pictures(tmp_path / "d", classes=["horse"], per_class=1)


def test_trained_net_reads_mnist_test_digits(teachernet, teacher_weights, mnist):
    """``train_net`` measured all 10,000 test digits (the checkpoint's metadata); the saved
    weights, loaded as the app loads them, read the first 2,000 as well."""
    net, metadata = cnnviz.load_checkpoint(teacher_weights, model=teachernet.build())
    measured = float(metadata["test_accuracy"])
    digits = (mnist.test_x[:2000] + 1) / 2  # the fixture's [-1, 1] digits, in [0, 1]
    _, accuracy = cnnviz.evaluate(net, digits, mnist.test_y[:2000])
    print(f"teachernet:build reads {measured:.2f} % of MNIST's 10,000 test digits")
    assert (metadata["recipe"], len(mnist.test_y)) == ("teachernet", 10_000)
    assert measured >= NET_ACCURACY and accuracy >= NET_ACCURACY


def test_trained_colour_cnn_reads_pictures_it_never_saw(teachernet, colour_weights, tmp_path):
    net, _ = cnnviz.load_checkpoint(colour_weights, model=teachernet.colour())
    unseen = teachernet.make_pictures(tmp_path, per_class=20, seed=1)
    x, y = teachernet.read_pictures(unseen)
    _, accuracy = cnnviz.evaluate(net, x, y)
    print(f"teachernet:colour reads {accuracy:.1f} % of {len(y)} unseen pictures")
    assert len(y) == 100 and accuracy >= COLOUR_ACCURACY


PAGE = Path(__file__).parents[2] / "docs" / "your_model.rst"


def page_prose() -> str:
    """The page's sentences: without code blocks, literal blocks and inline code."""
    kept, skipping = [], False
    for line in PAGE.read_text(encoding="utf-8").splitlines():
        if skipping and (not line.strip() or line.startswith(" ")):
            continue
        skipping = line.rstrip().endswith("::") or line.startswith(".. ")
        kept.append(line)
    return re.sub(r"``.*?``", "", " ".join(kept))


def test_the_page_quotes_only_the_numbers_these_tests_check():
    quoted = {float(n) for n in PROSE_NUMBER.findall(page_prose())}
    assert quoted == {NET_ACCURACY, COLOUR_ACCURACY}


def console_examples() -> list[tuple[list[str], str]]:
    """The page's ``$ cnnviz ...`` commands (arguments) and the line printed after each
    (the page wraps long lines: a continued command ends with a backslash, a continued
    output line is indented)."""
    block = re.search(r"code-block:: console\n\n((?: {3}.*\n)+)", PAGE.read_text()).group(1)
    text = re.sub(r"\s*\\\n\s*|\n\s+", " ", textwrap.dedent(block))
    lines = text.splitlines()
    return [
        (shlex.split(command)[2:], printed)
        for command, printed in zip(lines[::2], lines[1::2], strict=True)
        if command.startswith("$ cnnviz ")
    ]


def test_the_pages_bad_launches_print_what_the_page_says(
    colour_weights, tmp_path, monkeypatch, capsys
):
    import cnnviz.app

    def no_server(*args, **kwargs):
        raise AssertionError("a bad launch reached the server")

    monkeypatch.setattr(cnnviz.app, "launch", no_server)
    monkeypatch.chdir(tmp_path)
    shutil.copy(colour_weights, "colour.safetensors")
    Path("empty").mkdir()
    examples = console_examples()
    assert len(examples) == 3
    for argv, printed in examples:
        assert main(argv) == 2, argv
        assert capsys.readouterr().err.strip() == printed


def test_the_pages_notebook_cell_serves_the_app_until_closed(
    colour_weights, teacher_pictures, tmp_path, monkeypatch
):
    cell = re.search(r"code-block:: python\n\n((?: {3}.*\n|\n)+)", PAGE.read_text()).group(1)
    opened, closing = textwrap.dedent(cell).split("app.close()")
    assert "launch(" in opened and not closing.strip()
    monkeypatch.chdir(tmp_path)
    shutil.copy(colour_weights, "colour.safetensors")
    shutil.copytree(teacher_pictures, "pictures")
    scope: dict = {}
    exec(opened, scope)
    try:
        with urllib.request.urlopen(scope["app"].local_url, timeout=30) as response:
            assert response.status == 200 and b"gradio" in response.read().lower()
    finally:
        exec("app.close()", scope)
    with pytest.raises(OSError):
        urllib.request.urlopen(scope["app"].local_url, timeout=5)


README = Path(__file__).parents[2] / "README.md"


def model_commands(text: str) -> list[list[str]]:
    """The ``cnnviz ... --model ...`` commands of ``text`` (continued lines joined), as
    arguments without the leading ``cnnviz``."""
    lines = re.sub(r"\\\n\s*", " ", text).splitlines()
    found = [shlex.split(line)[1:] for line in lines if line.strip().startswith("cnnviz ")]
    return [argv for argv in found if "--model" in argv]


def test_the_model_commands_of_the_page_and_readme_load_what_they_name(
    teacher_weights, colour_weights, teacher_pictures, tmp_path, monkeypatch
):
    """Each ``cnnviz demo --model`` command loads its model and pictures and reaches the
    server; each ``export-web`` command's options exist."""
    import cnnviz.app

    commands = [argv for text in (PAGE, README) for argv in model_commands(text.read_text())]
    demos = [argv for argv in commands if argv[0] == "demo"]
    exports = [argv for argv in commands if argv[0] == "export-web"]
    assert len(demos) == 4 and len(exports) == 1 and len(commands) == 5
    launched = []
    monkeypatch.setattr(cnnviz.app, "launch", lambda spec, **kw: launched.append((spec, kw)))
    monkeypatch.chdir(tmp_path)
    shutil.copy(teacher_weights, "net.safetensors")
    shutil.copy(colour_weights, "colour.safetensors")
    shutil.copytree(teacher_pictures, "pictures")
    for argv in demos:
        assert main(argv) == 0, argv
        spec, options = launched.pop()
        if spec.drawable:
            assert spec.classes == tuple("0123456789") and options["images"] is None
        else:
            assert spec.input_shape == (3, 32, 32) and spec.bounds == (0.0, 1.0)
            assert spec.classes == ("cat", "dog", "car", "ship", "tree")
            assert len(options["images"].names) == 200 and None not in options["images"].labels
    for argv in exports:
        assert build_parser().parse_args(argv).images == Path("pictures")
