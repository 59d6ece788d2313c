"""The cnnviz command."""

from __future__ import annotations

import json

import pytest
from conftest import write_idx_dataset

from cnnviz.checkpoint import load_checkpoint
from cnnviz.cli import main


def test_info_prints_the_report_counts(capsys):
    assert main(["info", "--variant", "nobn"]) == 0
    out = capsys.readouterr().out
    for number in ("320", "9248", "784500", "5010", "9568", "789510", "25088", "50176", "510"):
        assert number in out
    assert "shipped weights: cnn_nobn.safetensors, recipe fast" in out


def test_evaluate_json_on_real_mnist(capsys, mnist_dir):
    assert main(["evaluate", "--json", "--data-dir", str(mnist_dir)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {row["variant"] for row in rows} == {"bn", "nobn"}
    assert all(row["accuracy"] >= 99.2 and 0 < row["loss"] < 0.05 for row in rows)


def test_train_on_another_idx_dataset_writes_weights_and_history(tmp_path, capsys):
    data = write_idx_dataset(tmp_path / "data", n_train=100, n_test=20)
    argv = ["train", "--variant", "nobn", "--epochs", "1", "--dataset", "idx", "--no-progress"]
    assert main([*argv, "--data-dir", str(data), "--out-dir", str(tmp_path / "out")]) == 0
    assert "nobn: test loss" in capsys.readouterr().out
    model, meta = load_checkpoint(tmp_path / "out" / "cnn_nobn.safetensors")
    assert meta["epochs"] == "1" and not model.batchnorm
    assert (tmp_path / "out" / "cnn_nobn.history.json").is_file()


def test_bad_data_is_an_error_message_not_a_traceback(tmp_path, capsys):
    write_idx_dataset(tmp_path, size=20)
    assert main(["evaluate", "--dataset", "idx", "--data-dir", str(tmp_path)]) == 2
    assert "error: " in capsys.readouterr().err


def test_unknown_command_exits_with_usage():
    with pytest.raises(SystemExit) as error:
        main(["fly"])
    assert error.value.code == 2


def test_report_and_figures_are_commands(capsys):
    """The report's numbers are tested through the command in test_report.py."""
    with pytest.raises(SystemExit):
        main(["--help"])
    usage = capsys.readouterr().out
    assert "report" in usage and "figures" in usage
