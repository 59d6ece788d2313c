"""``cnnviz report`` and :mod:`cnnviz.report.numbers`: the report's numbers beside ours, sane."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout

import pytest
import torch

from cnnviz.cli import main
from cnnviz.data.mnist import Splits
from cnnviz.report.numbers import compute_report, report_transfer_rates
from cnnviz.report.table import format_report, report_rows
from cnnviz.visualise.class_images import CLASS_VISUALISATION_MAX_STEPS

SECTIONS = {
    "settings",
    "test",
    "layers",
    "class_visualisation",
    "targeted_attack",
    "noise_transfer",
    "universal",
    "robustness",
    "seconds",
}


@pytest.fixture(scope="module")
def report(mnist_dir) -> dict:
    """``cnnviz report --json`` on real MNIST, default subsets except 40 FGSM/PGD digits.

    Computed once through the command, so the tests check exactly what it prints.
    """
    out, err = io.StringIO(), io.StringIO()
    argv = ["report", "--json", "--data-dir", str(mnist_dir), "--attack-digits", "40"]
    with redirect_stdout(out), redirect_stderr(err):
        assert main(argv) == 0
    progress = err.getvalue()
    assert "report: 100%" in progress and "7/7" in progress and "robustness" in progress
    return json.loads(out.getvalue())


def test_report_has_every_section_and_the_reports_numbers(report):
    assert set(report) == SECTIONS
    assert report["test"]["nobn"]["report"] == {"loss": 0.0461, "accuracy": 98.45}
    assert report["test"]["bn"]["report"] == {"loss": 0.0316, "accuracy": 98.97}
    for name in ("nobn", "bn"):
        ours = report["test"][name]["ours"]
        assert ours["accuracy"] >= 99.2 and 0 < ours["loss"] < 0.05
    assert report["settings"]["test_digits"] == 10_000
    assert report["settings"]["attack_digits"] == 40


def test_layer_counts_match_the_report_except_the_conv2_neurons(report):
    layers = report["layers"]
    assert all(row["report"] == row["ours"] for row in layers["parameters"].values())
    assert layers["totals"]["conv_parameters"] == {"report": 9568, "ours": 9568}
    assert layers["totals"]["fc_parameters"] == {"report": 789510, "ours": 789510}
    assert layers["neurons"]["conv2"] == {"report": 25088, "ours": 32 * 14 * 14}


def test_all_ten_class_images_reach_099_for_both_models(report):
    section = report["class_visualisation"]
    assert section["max_steps"] == CLASS_VISUALISATION_MAX_STEPS
    for name in ("nobn", "bn"):
        ours = section[name]["ours"]
        assert ours["reached"] == ours["of"] == 10
        assert min(ours["probabilities"]) >= 0.99
        assert max(ours["steps"]) == ours["max_steps_taken"] <= CLASS_VISUALISATION_MAX_STEPS
        assert 0.8 < ours["cost_linearity_r2"] <= 1  # the cost rises roughly linearly
    assert section["bn"]["report_procedure"]["reached"] == 8  # the old default's failure


def test_attack_numbers_are_sane(report):
    for name in ("nobn", "bn"):
        targeted = report["targeted_attack"][name]
        assert targeted["success_rate"] >= 0.95
        assert 0 < targeted["perturbation"]["linf"] <= 1 and targeted["perturbation"]["l2"] > 0
        transfer = report["noise_transfer"][name]
        for run in transfer.values():
            assert run["reached"] == 10 and len(run["fooling_rate"]) == 10
            assert 0 <= run["mean_fooling_rate"] <= 1
        universal = report["universal"][name]
        assert universal["fooling_rate_unseen"] >= 0.5  # the done-criterion
        assert universal["perturbation"]["linf"] == pytest.approx(0.3, abs=1e-3)
        robust = report["robustness"][name]
        assert robust["fgsm"][0] == robust["pgd20"][0] >= 95  # eps 0: clean accuracy
        assert robust["pgd20"] == sorted(robust["pgd20"], reverse=True)
        assert robust["fgsm"][-1] < robust["fgsm"][0]
        assert all(p <= f for p, f in zip(robust["pgd20"], robust["fgsm"], strict=True))


def test_the_reports_own_transfer_table_is_scored_like_ours():
    rates = report_transfer_rates()
    assert rates[1] == pytest.approx(0.8)  # noise -> 2 fooled 8 of 10 images
    assert rates[7] == pytest.approx(6 / 9)  # noise -> 8: 6 of the 9 images not already 8
    assert rates[0] == pytest.approx(0.5)  # noise -> 1: 4 of the 8 images not already 1
    assert sorted(range(10), key=lambda k: -rates[k])[:3] == [1, 7, 0]  # "2, 8, 1"


def test_text_report_puts_the_reports_numbers_beside_ours(report):
    text = format_report(report)
    assert "98.45 %" in text and "98.97 %" in text and "784500" in text
    lines = {line.split("  ")[0]: line for line in text.splitlines()}
    universal = next(line for key, line in lines.items() if key.startswith("universal noise"))
    assert universal.count("%") == 2
    assert f"added to {report['settings']['unseen_digits']} test digits they were not" in text


def test_a_partial_report_prints_only_its_sections():
    x, y = torch.zeros(10, 1, 28, 28), torch.arange(10)
    data = Splits(x, y, x, y, x, y)
    report = compute_report(data, sections=["test", "layers"])
    assert set(report) == {"settings", "test", "layers", "seconds"}
    quantities = [row[0] for row in report_rows(report)]
    assert quantities[0] == "test accuracy (R4)" and "parameters of fc1 (R7)" in quantities
    assert not any("FGSM" in quantity or "R12" in quantity for quantity in quantities)
    assert format_report(report).count("\n") == len(quantities) + 1  # header, rows, sentence
    with pytest.raises(ValueError, match="unknown sections \\['robustnes'\\]"):
        compute_report(data, sections=["robustnes"])
