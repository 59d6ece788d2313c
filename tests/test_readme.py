"""The README stays true: its commands are the ones CI runs, its numbers the shipped ones."""

from __future__ import annotations

import re
from pathlib import Path

import cnnviz
from cnnviz.checkpoint import pretrained_metadata

ROOT = Path(__file__).parents[1]
README = (ROOT / "README.md").read_text()


def bash_blocks() -> list[str]:
    return [b.strip() for b in re.findall(r"```bash\n(.*?)```", README, flags=re.S)]


def test_install_main_and_test_commands_are_what_ci_runs():
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    install, main_job, tests = bash_blocks()[:3]
    assert "torch==2.13.0" in install
    for command in (install, main_job, tests):  # the app runs in the background in CI
        assert any(line == command or line.startswith(f"{command} ") for line in ci_lines)


def test_docs_build_command_is_what_ci_runs():
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    docs = next(block for block in bash_blocks() if "sphinx" in block)
    assert docs in ci_lines and "-W" in docs and "-n" in docs


def test_python_example_names_exist():
    snippet = re.search(r"```python\n(.*?)```", README, flags=re.S).group(1)
    for name in re.findall(r"cnnviz\.(\w+)\(", snippet):
        assert callable(getattr(cnnviz, name))


def test_accuracy_table_matches_shipped_weights():
    for variant, batchnorm in (("no batch norm", False), ("batch norm", True)):
        row = next(line for line in README.splitlines() if line.startswith(f"| {variant} |"))
        meta = pretrained_metadata(batchnorm)
        assert f"{float(meta['test_accuracy']):.2f} %" in row
        assert f"loss {float(meta['test_loss']):.4f}" in row
