"""Loading a teacher's classifier: the spec forms, weights, shape/bounds/classes, every error."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cnnviz.models.checkpoint import save_checkpoint
from cnnviz.models.cnn import CNN
from cnnviz.models.user_model import (
    MAX_SIDE,
    ModelLoadError,
    UserModel,
    load_user_model,
    parse_shape,
    user_model,
)
from tests.teacher_net import COLOUR_CLASSES, Net, colour_net, seeded_net


def one_line(call, *args, **kwargs) -> str:
    """The message of the ModelLoadError ``call`` raises; it must be one line."""
    with pytest.raises(ModelLoadError) as caught:
        call(*args, **kwargs)
    message = str(caught.value)
    assert message and "\n" not in message and "Traceback" not in message
    return message


def test_a_factory_with_its_weights_gives_the_checked_model(tmp_path):
    weights = save_checkpoint(seeded_net(3), tmp_path / "net.safetensors")
    spec = load_user_model(
        "tests.teacher_net:Net", weights=weights, class_names="a,b,c,d,e,f,g,h,i,j"
    )
    assert isinstance(spec, UserModel) and spec.drawable
    assert spec.input_shape == (1, 28, 28) and spec.bounds == Net.input_bounds
    assert spec.classes == tuple("abcdefghij") and spec.name == "Net"
    assert spec.origin == "tests.teacher_net:Net with net.safetensors"
    assert not spec.model.training
    assert torch.equal(spec.model.fc1.weight, seeded_net(3).fc1.weight)
    with pytest.raises(AttributeError):
        spec.name = "other"  # frozen


def test_a_torch_save_state_dict_loads_but_a_pickled_module_is_refused(tmp_path):
    torch.save(seeded_net(4).state_dict(), tmp_path / "state.pt")
    spec = load_user_model("tests.teacher_net:Net", weights=tmp_path / "state.pt")
    assert torch.equal(spec.model.conv1.weight, seeded_net(4).conv1.weight)
    torch.save(seeded_net(4), tmp_path / "whole.pt")  # pickles the class: never unpickled
    message = one_line(load_user_model, "tests.teacher_net:Net", weights=tmp_path / "whole.pt")
    assert "whole.pt: refused: not a plain tensor checkpoint" in message


def test_the_path_form_runs_the_file_and_its_helpers_import(tmp_path):
    (tmp_path / "helpers_for_mynet.py").write_text("WIDTH = 6\n")
    (tmp_path / "mynet_by_path.py").write_text(
        "from torch import nn\n"
        "from helpers_for_mynet import WIDTH\n"
        "def build():\n"
        "    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 5 * 5, WIDTH))\n"
    )
    spec = load_user_model(f"{tmp_path}/mynet_by_path.py:build", input_shape="3,5,5")
    assert spec.classes == ("0", "1", "2", "3", "4", "5") and spec.name == "build"
    assert spec.bounds == (0.0, 1.0) and not spec.drawable
    message = one_line(load_user_model, f"{tmp_path}/missing.py:build")
    assert message == f"--model names {tmp_path}/missing.py, which is not a Python file"


def test_a_file_that_fails_to_run_is_one_line(tmp_path):
    (tmp_path / "typo_net.py").write_text("import torch\nnet = torch.nn.Linaer(2, 2)\n")
    message = one_line(load_user_model, f"{tmp_path}/typo_net.py:build")
    assert message.startswith(f"cannot run {tmp_path}/typo_net.py: AttributeError:")
    assert "Linaer" in message


def test_classes_and_shape_come_from_the_model_and_the_checkpoint(tmp_path):
    spec = load_user_model("tests.teacher_net:named_colour_net")
    assert spec.classes == COLOUR_CLASSES and spec.input_shape == (3, 32, 32)
    plain = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 2))
    weights = save_checkpoint(
        plain, tmp_path / "plain.safetensors", metadata={"input_shape": "[3, 8, 8]"}
    )
    (tmp_path / "plain_net.py").write_text(
        "from torch import nn\n"
        "class Plain(nn.Sequential):\n"
        "    input_bounds = (-1.0, 1.0)\n"
        "    def __init__(self):\n"
        "        super().__init__(nn.Flatten(), nn.Linear(3 * 8 * 8, 2))\n"
    )
    spec = load_user_model(f"{tmp_path}/plain_net.py:Plain", weights=weights)
    assert spec.input_shape == (3, 8, 8)
    assert spec.bounds == (-1.0, 1.0)  # the model's: the Sequential saved declared none
    spec = load_user_model(
        f"{tmp_path}/plain_net.py:Plain", weights=weights, input_shape=(1, 1, 192), bounds=(0, 2)
    )
    assert spec.input_shape == (1, 1, 192) and spec.bounds == (0.0, 2.0)


def test_bounds_from_the_checkpoint_win_over_the_default(tmp_path):
    net = colour_net()
    weights = save_checkpoint(net, tmp_path / "c.safetensors", metadata={"input_bounds": "[-2, 2]"})
    spec = load_user_model("tests.teacher_net:colour_net", weights=weights)
    assert spec.bounds == (-2.0, 2.0)


def test_user_model_checks_a_module_from_python():
    spec = user_model(colour_net(), class_names=COLOUR_CLASSES, name="colour")
    assert spec.input_shape == (3, 32, 32) and spec.classes == COLOUR_CLASSES
    assert spec.name == "colour" and spec.origin == "colour (from Python)"
    assert user_model(CNN()).bounds == (-1.0, 1.0)
    assert "expected a torch.nn.Module, not str" in one_line(user_model, "a network")
    message = one_line(user_model, colour_net(), class_names=["cat", "dog"])
    assert message == (
        "Sequential (from Python) returns 5 scores per image, but 2 class names were given"
    )


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("no_such_teacher_module:Net", "cannot import no_such_teacher_module: No module named"),
        ("tests.teacher_net:Missing", "tests.teacher_net has no callable Missing"),
        ("tests.teacher_net:COLOUR_CLASSES", "tests.teacher_net has no callable COLOUR_CLASSES"),
        (
            "tests.teacher_net:broken_net",
            "tests.teacher_net:broken_net() failed: RuntimeError: the teacher",
        ),
        (
            "tests.teacher_net:chatty_net",
            "chatty_net() failed: ValueError: the first line says what",
        ),
        (
            "tests.teacher_net:not_a_module",
            "tests.teacher_net:not_a_module() returned str, not a torch.nn",
        ),
        ("tests.teacher_net:not_a_classifier", "must return scores of shape (N, K) for N images"),
        ("tests.teacher_net:NanNet", "tests.teacher_net:NanNet returns scores that are not finite"),
        ("tests.teacher_net", "--model must be MODULE:FACTORY or path/to/file.py:FACTORY"),
        ("tests.teacher_net:", "--model must be MODULE:FACTORY"),
    ],
)
def test_a_model_that_cannot_be_built_or_run_is_one_line(spec, says):
    assert says in one_line(load_user_model, spec)


def test_weights_that_do_not_fit_or_are_missing_are_one_line(tmp_path, teachernet_dir):
    report_cnn = save_checkpoint(CNN(), tmp_path / "cnn.safetensors")
    message = one_line(load_user_model, "tests.teacher_net:Net", weights=report_cnn)
    assert (
        "weights do not fit Net: shape differences conv2.weight: file (32, 32, 3, 3), model (64"
        in message
    )
    assert message.endswith("; and 2 more")  # five tensors differ: three are named
    colour = save_checkpoint(colour_net(), tmp_path / "colour.safetensors")
    message = one_line(load_user_model, "tests.teacher_net:Net", weights=colour)
    assert message == (
        f"{colour}: weights do not fit Net: missing keys ['conv1.bias', 'conv1.weight', "
        "'conv2.bias', and 5 more]; unexpected keys ['0.bias', '0.weight', '1.bias', and 13 more]"
    )
    build = f"{teachernet_dir / 'teachernet.py'}:build"  # a Net wrapped in Normalized
    wrapped = one_line(load_user_model, build, weights=colour)
    assert f"weights do not fit {build}'s model: missing keys" in wrapped
    message = one_line(
        load_user_model, "tests.teacher_net:Net", weights=tmp_path / "none.safetensors"
    )
    assert message.endswith("none.safetensors: no such checkpoint file")
    (tmp_path / "junk.safetensors").write_bytes(b"not a checkpoint")
    message = one_line(
        load_user_model, "tests.teacher_net:Net", weights=tmp_path / "junk.safetensors"
    )
    assert "junk.safetensors: not a valid safetensors file" in message


def test_wrong_class_names_are_one_line():
    message = one_line(load_user_model, "tests.teacher_net:Net", class_names="a,b")
    assert (
        message == "tests.teacher_net:Net returns 10 scores per image, but 2 class names were given"
    )
    message = one_line(
        load_user_model, "tests.teacher_net:colour_net", class_names="cat,,dog,car,ship"
    )
    assert message.startswith("class names must not be empty")
    message = one_line(load_user_model, "tests.teacher_net:colour_net", class_names="a,b,a,c,d")
    assert message.startswith("class names must differ from each other")


@pytest.mark.parametrize(
    ("shape", "says"),
    [
        (
            "1,28,28",
            "tests.teacher_net:colour_net fails on images of shape [1, 28, 28] (--input-shape",
        ),
        ("32x32", "--input-shape must be C,H,W (e.g. 1,28,28), not '32x32'"),
        ("3,32", "--input-shape must be three sizes C,H,W"),
        ("2,32,32", "has 2 channels; cnnviz shows grey (1) or colour (3) pictures"),
        (f"3,{MAX_SIDE + 1},32", f"H and W must be between 1 and {MAX_SIDE}"),
        ((3, 0, 32), f"H and W must be between 1 and {MAX_SIDE}"),
    ],
)
def test_a_bad_input_shape_is_one_line(shape, says):
    assert says in one_line(load_user_model, "tests.teacher_net:colour_net", input_shape=shape)


def test_odd_model_attributes_are_one_line():
    net = colour_net()
    net.input_shape = 32
    assert "the input shape must be three sizes C,H,W, not 32" in one_line(user_model, net)
    net = colour_net()
    net.classes = 5
    assert "class names must be a list of names, not 5" in one_line(user_model, net)


def test_bad_bounds_are_one_line():
    message = one_line(load_user_model, "tests.teacher_net:colour_net", bounds=(1, 0))
    assert message.startswith("tests.teacher_net:colour_net: bounds must be finite (low, high)")


def test_parse_shape_reads_the_checkpoint_form():
    assert parse_shape("[3, 32, 32]") == parse_shape("3,32,32") == (3, 32, 32)
