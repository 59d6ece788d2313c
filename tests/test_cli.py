"""The cnnviz command."""

from __future__ import annotations

import json
import subprocess
import sys
import types

import pytest
import torch

from cnnviz.cli import main
from cnnviz.models.checkpoint import load_checkpoint
from tests.conftest import write_idx_dataset


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
    argv += ["--device", "cpu"]
    assert main([*argv, "--data-dir", str(data), "--out-dir", str(tmp_path / "out")]) == 0
    assert "samples/s on cpu)" in capsys.readouterr().out
    model, meta = load_checkpoint(tmp_path / "out" / "cnn_nobn.safetensors")
    assert meta["epochs"] == "1" and not model.batchnorm
    assert (tmp_path / "out" / "cnn_nobn.history.json").is_file()


def test_bad_data_is_an_error_message_not_a_traceback(tmp_path, capsys):
    write_idx_dataset(tmp_path, size=20)
    assert main(["evaluate", "--dataset", "idx", "--data-dir", str(tmp_path)]) == 2
    assert "error: the report's CNN takes 1x28x28 images; this data set has 1x20x20" in (
        capsys.readouterr().err
    )


def test_evaluate_runs_on_the_chosen_device(tmp_path, capsys):
    write_idx_dataset(tmp_path, n_test=30)
    argv = ["evaluate", "--dataset", "idx", "--data-dir", str(tmp_path), "--json"]
    assert main([*argv, "--variant", "bn", "--device", "cpu"]) == 0
    assert [row["variant"] for row in json.loads(capsys.readouterr().out)] == ["bn"]
    assert main([*argv, "--device", "nowhere"]) == 2
    assert "error: unknown device 'nowhere'" in capsys.readouterr().err


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_evaluate_on_cuda(tmp_path, capsys):
    write_idx_dataset(tmp_path, n_test=30)
    argv = ["evaluate", "--dataset", "idx", "--data-dir", str(tmp_path), "--device", "cuda"]
    assert main(argv) == 0


def test_demo_without_gradio_says_how_to_install_the_extra():
    """With gradio blocked, ``cnnviz demo`` exits 2 with one line; no server is started."""
    code = (
        "import sys; sys.modules['gradio'] = None\n"
        "from cnnviz.cli import main\n"
        "sys.exit(main(['demo', '--port', '1']))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        'cnnviz demo: error: the app needs gradio: install the extra with pip install "cnnviz[app]"'
    ]


def test_demo_serves_the_packaged_app_with_host_and_port(monkeypatch):
    """``cnnviz.app.main`` is called with the options (a stand-in app: no gradio, no server)."""
    calls = []
    app = types.ModuleType("cnnviz.app")
    app.main = lambda **kwargs: calls.append(kwargs)
    monkeypatch.setitem(sys.modules, "cnnviz.app", app)
    assert main(["demo", "--host", "0.0.0.0", "--port", "7999"]) == 0
    assert calls == [{"host": "0.0.0.0", "port": 7999}]


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
