"""The report's CNN: shapes, outputs and the layer table (R2, R7)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cnnviz.core.hooks import eval_mode
from cnnviz.models.cnn import CNN
from cnnviz.models.summary import format_summary, layer_summary, totals
from cnnviz.report.presets import REPORT_NEURONS
from tests.foreign_models import ColourNet, NestedNet

REPORT_PARAMETERS = {"conv1": 320, "conv2": 9248, "fc1": 784500, "fc2": 5010}


@pytest.mark.parametrize("batchnorm", [False, True])
def test_outputs_are_log_probabilities_of_the_logits(batchnorm):
    torch.manual_seed(0)
    model = CNN(batchnorm=batchnorm).eval()
    x = torch.rand(4, 1, 28, 28) * 2 - 1
    logits, log_probs = model.logits(x), model(x)
    assert logits.shape == log_probs.shape == (4, 10)
    assert torch.allclose(log_probs.exp().sum(1), torch.ones(4), atol=1e-5)
    assert torch.allclose(log_probs, torch.log_softmax(logits, 1))
    assert torch.allclose(model.predict_proba(x), log_probs.exp(), atol=1e-6)


def test_layer_names_follow_the_report():
    names = set(dict(CNN(batchnorm=True).named_children()))
    assert {"conv1", "conv2", "conv2_bn", "fc1", "fc1_bn", "fc2"} <= names
    assert isinstance(CNN(batchnorm=False).conv2_bn, torch.nn.Identity)


@pytest.mark.parametrize("batchnorm", [False, True])
def test_layer_table_matches_the_report(batchnorm):
    rows = {row.name: row for row in layer_summary(CNN(batchnorm=batchnorm))}
    assert {name: rows[name].parameters for name in REPORT_PARAMETERS} == REPORT_PARAMETERS
    assert (rows["conv1"].weights, rows["conv1"].biases) == (288, 32)
    assert rows["conv1"].input_shape == (1, 28, 28) and rows["conv1"].output_shape == (32, 28, 28)
    assert rows["pool1"].output_shape == (32, 14, 14)
    assert rows["conv2"].output_shape == (32, 14, 14)
    assert rows["pool2"].output_shape == (32, 7, 7)
    assert rows["fc1"].input_shape == (1568,) and rows["fc2"].output_shape == (10,)
    total = totals(list(rows.values()))
    assert total["conv_parameters"] == 9568 and total["fc_parameters"] == 789510
    assert [rows[n].neurons for n in ("conv1", "fc1", "fc2")] == [25088, 500, 10]
    assert total["fc_neurons"] == 510
    # The report's conv2 count (25088) is conv1's output size; conv2 outputs 32x14x14.
    assert rows["conv2"].neurons == 6272 != REPORT_NEURONS["conv2"]


def test_summary_text_carries_report_counts_and_leaves_mode_alone():
    model = CNN(batchnorm=True).train()
    text = format_summary(model)
    assert model.training
    for number in ("320", "9248", "784500", "5010", "9568", "789510", "25088", "50176", "510"):
        assert number in text
    assert "batch-norm parameters: 1064" in text  # 2*32 + 2*500
    assert "batch-norm parameters: 0" in format_summary(CNN(batchnorm=False))


def test_layer_table_rows_are_the_report_layers_in_forward_order():
    rows = layer_summary(CNN(batchnorm=True))
    assert [row.name for row in rows] == ["conv1", "pool1", "conv2", "pool2", "fc1", "fc2"]
    assert [row.kind for row in rows] == ["Conv2d", "MaxPool2d"] * 2 + ["Linear"] * 2


def test_layer_table_of_a_colour_model_counts_every_parameter():
    net = ColourNet().train()
    rows = layer_summary(net, (3, 32, 32))
    assert [(row.name, row.output_shape) for row in rows] == [
        ("block.0", (8, 32, 32)),
        ("block.2", (8, 16, 16)),
        ("block.3", (16, 16, 16)),
        ("block.5", (16, 4, 4)),
        ("head", (7,)),
    ]
    assert rows[0].input_shape == (3, 32, 32) and rows[-1].input_shape == (256,)
    assert (rows[0].weights, rows[0].biases, rows[0].neurons) == (3 * 8 * 9, 8, 8 * 32 * 32)
    assert sum(row.parameters for row in rows) == sum(p.numel() for p in net.parameters())
    assert net.training and all(not m._forward_hooks for m in net.modules())


def test_layer_table_of_nested_blocks():
    net = NestedNet().double()
    rows = {row.name: row for row in layer_summary(net, (1, 28, 28))}
    assert list(rows) == ["stem.conv", "blocks.0.conv", "blocks.1.conv", "pool", "classifier"]
    assert rows["stem.conv"].output_shape == (6, 14, 14) and rows["stem.conv"].parameters == 156
    assert rows["blocks.1.conv"].parameters == 6 * 6 * 9 + 6 and rows["pool"].neurons == 0
    assert rows["classifier"].input_shape == (6,) and rows["classifier"].neurons == 10
    # Normalisation layers have no row (as in the report's table); nothing else is missed.
    norms = sum(
        p.numel() for m in net.modules() if isinstance(m, nn.BatchNorm2d) for p in m.parameters()
    )
    assert sum(row.parameters for row in rows.values()) + norms == sum(
        p.numel() for p in net.parameters()
    )
    assert norms == 24


def test_layer_table_needs_the_input_shape_of_other_models():
    with pytest.raises(ValueError, match=r"input_shape \(C, H, W\) is required for ColourNet"):
        layer_summary(ColourNet())
    with pytest.raises(ValueError, match="input_shape must be"):
        layer_summary(ColourNet(), (32, 32))


def test_eval_mode_restores_each_modules_own_mode():
    """A train-mode model with a frozen (eval) part: both modes come back as they were."""
    net = CNN(batchnorm=True).train()
    net.conv2_bn.eval()
    with eval_mode(net):
        assert not any(module.training for module in net.modules())
    assert net.training and net.fc1_bn.training and not net.conv2_bn.training
    net.eval().fc1_bn.train()  # eval at the top, one part training: it is switched too
    with eval_mode(net):
        assert not net.fc1_bn.training
    assert net.fc1_bn.training and not net.training
