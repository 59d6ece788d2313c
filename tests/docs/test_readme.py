"""The README stays true: its commands are the ones CI runs, its numbers the shipped ones."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import torch

import cnnviz
from cnnviz.models.checkpoint import pretrained_history, pretrained_metadata
from tests.foreign_models import ColourNet, colour_images

ROOT = Path(__file__).parents[2]
README = (ROOT / "README.md").read_text()
MAKEFILE = (ROOT / "Makefile").read_text()
CI_LINES = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]


def bash_blocks() -> list[str]:
    return [b.strip() for b in re.findall(r"```bash\n(.*?)```", README, flags=re.S)]


def recipe(target: str) -> list[str]:
    """The recipe lines of a Makefile target."""
    block = re.search(rf"^{re.escape(target)}:.*\n((?:\t.*\n)+)", MAKEFILE, flags=re.M)
    assert block, f"no target {target!r} in the Makefile"
    return [line.strip() for line in block.group(1).splitlines()]


def test_two_commands_run_the_app_and_the_tests_and_ci_runs_the_second():
    assert bash_blocks()[:2] == ["make demo", "make test"]
    commands = [line.split()[:3] for line in CI_LINES]
    assert ["make", "test", "<"] in commands  # no stdin
    assert ["setsid", "make", "demo"] in commands  # served in the background, then stopped


def test_every_install_pins_torch_2_13_0():
    assert "TORCH_VERSION := 2.13.0" in MAKEFILE
    installs = [
        line for line in MAKEFILE.splitlines() if line.startswith("\t") and "pip install" in line
    ]
    assert len(installs) == 2  # torch from the CPU index, then the package
    assert all("torch==$(TORCH_VERSION)" in line for line in installs)
    assert "--extra-index-url $(TORCH_INDEX)" in installs[0]
    assert "TORCH_INDEX ?= https://download.pytorch.org/whl/cpu" in MAKEFILE
    assert "pip install" not in (ROOT / ".ci" / "run").read_text()  # CI installs through make


def test_make_test_lints_builds_the_docs_and_runs_every_test():
    prerequisites = re.search(r"^test: (.*?)(##|$)", MAKEFILE, flags=re.M).group(1).split()
    assert {"browser", "docs", "lint"} <= set(prerequisites)
    steps = recipe("test")
    assert '$(PYTHON) -m pytest -m "not space"' in steps
    assert recipe("test-space") == ["$(PYTHON) -m pytest -m space"]
    screenshots, docs, *_ = recipe("docs/_build/html/.built")
    assert "scripts/app_screenshots.py --check ||" in screenshots  # stale ones taken again
    every_example_runs = "rm -rf docs/_build docs/auto_examples docs/generated && "
    assert docs.startswith(every_example_runs)
    assert " -W " in docs and " -n " in docs


def test_docs_build_time_is_the_same_in_readme_and_docs():
    words = " ".join(README.split())
    quoted = re.search(r"every example is executed, offline; (the build takes [^)]+)\)", words)
    assert quoted, "the README says how long the docs build takes"
    getting_started = " ".join((ROOT / "docs" / "getting_started.rst").read_text().split())
    assert quoted.group(1) in getting_started


#: The folder each deploy block's make target stages: a static Space (free), a Gradio Space.
STAGED = {"web": "build/web-space", "space": "build/space"}


def deploy_blocks() -> dict[str, list[str]]:
    """The README's deploy blocks, by the make target that stages what they upload."""
    blocks = [block.splitlines() for block in bash_blocks() if "hf upload" in block]
    return {block[0].removeprefix("make "): block for block in blocks}


def test_deploy_commands_stage_and_upload_the_same_folder():
    deploy = deploy_blocks()
    assert list(deploy) == ["web", "space"]  # the free one first
    assert "$(PYTHON) scripts/stage_space.py build/space" in recipe("space")
    assert "$(PYTHON) scripts/stage_web_space.py build/web build/web-space" in recipe("web")
    for target, block in deploy.items():
        upload = next(line for line in block if line.startswith("hf upload "))
        assert upload.split()[3:5] == [STAGED[target], "."]
        create = next(line for line in block if line.startswith("hf repos create "))
        assert create.split()[3] == upload.split()[2]  # the Space created is the one uploaded to
        assert ("--space-sdk static" in create) == (target == "web")


def test_deploy_commands_use_options_the_hf_cli_has():
    for line in (line for block in deploy_blocks().values() for line in block):
        words = line.split()
        if words[0] != "hf":
            continue
        command = [word for word in words[:3] if not word.startswith("-") and "/" not in word]
        options = [word for word in words if word.startswith("--")]
        helped = subprocess.run(
            [*command, "--help"], capture_output=True, text=True, timeout=60, check=True
        ).stdout
        for option in options:
            assert option in helped, f"{' '.join(command)} has no {option}"


def test_no_user_is_told_about_a_folder_outside_the_clone():
    assert "shared/data" not in README


def test_mnist_is_credited():
    words = " ".join(README.split())
    for name in ("Yann LeCun", "Corinna Cortes", "Christopher J.C. Burges", "CC BY-SA 3.0"):
        assert name in words


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README, flags=re.S)


def test_python_example_names_exist():
    for snippet in python_blocks():
        for name in re.findall(r"cnnviz\.(\w+)\(", snippet):
            assert callable(getattr(cnnviz, name)), name


def test_your_own_model_snippet_runs_on_a_foreign_model(capsys):
    """The README's ten lines, as written, on a 3x32x32 CNN with random weights."""
    snippet = python_blocks()[1]
    assert "## Your own model" in README.split(snippet)[0].rsplit("```python", 1)[0][-700:]
    labels = torch.tensor([0, 3, 6, 2])
    scope = {"net": ColourNet(), "xs": colour_images(4), "labels": labels}
    exec(snippet, scope)
    assert scope["heat"].shape == (32, 32) and scope["grads"].shape == (4, 3, 32, 32)
    assert scope["maps"]["block.0"].shape == (4, 8, 32, 32)
    change = (scope["attack"].images - scope["xs"]).abs().max()
    assert change <= 8 / 255 + 1e-6 and "torch.Size([4, 3, 32, 32])" in capsys.readouterr().out


def test_accuracy_table_matches_shipped_weights():
    for variant, batchnorm in (("no batch norm", False), ("batch norm", True)):
        row = next(line for line in README.splitlines() if line.startswith(f"| {variant} |"))
        meta = pretrained_metadata(batchnorm)
        assert f"{float(meta['test_accuracy']):.2f} %" in row
        assert f"loss {float(meta['test_loss']):.4f}" in row


def test_robust_table_and_training_time_match_the_shipped_robust_weights():
    meta = pretrained_metadata(variant="robust")
    header = "| clean test set | PGD-40, eps 0.3 | PGD-100 x 10 restarts |"
    lines = README.splitlines()
    row = lines[lines.index(next(line for line in lines if line.startswith(header))) + 2]
    keys = ["clean_test_acc", "pgd40_eps0.3", "pgd100x10_eps0.3", "fgsm_eps0.3", "pgd40_eps0.5"]
    expected = [
        f"{float(meta[f'robust_{key}']):.{2 if key.startswith('clean') else 1}f} %" for key in keys
    ]
    expected.append(f"{meta['robust_class_images_read']} of 10")  # benchmarks/robust_eval.py
    assert [cell.strip() for cell in row.strip("|").split("|")] == expected
    minutes = pretrained_history(variant="robust").train_seconds / 60
    prose = " ".join(README.split())
    assert f"it trained in {minutes:.1f} minutes" in prose
    assert f"it reads {float(meta['robust_class_images_read_mean5']):.1f} on average" in prose
