"""The report's CNN: shapes, outputs and the layer table (R2, R7)."""

from __future__ import annotations

import pytest
import torch

from cnnviz.model import CNN, REPORT_NEURONS, format_summary, layer_summary, totals

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
