"""The gallery's lecture notes stay true: their shape, their sources and both numeric paths.

Each example opens with its question and ends with a takeaway and an exercise; the papers
it names are linked; what it quotes from the report is in the report; no cell replaces a
figure before the page shows it. Claims about a run are guarded by checks inside the
examples (``assert condition, "the sentence"``), so the docs build fails when a run does
not show them; the build runs the default precision (bf16 on a CPU with native bf16),
and the last test here runs the examples whose training depends on it once more with
``CNNVIZ_PRECISION=fp32``, the path of every CPU without bf16.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from cnnviz.data.mnist import Splits
from cnnviz.training.cache import _training_key
from cnnviz.training.device import resolve_precision
from cnnviz.training.recipe import RECIPES

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("plot_*.py"))
REPORT_TEXT = ROOT.parent / "shared" / "seed" / "report.txt"

#: The examples that train with a recipe whose precision is "auto": their numbers differ
#: between a CPU with native bf16 and one without.
PRECISION_DEPENDENT = (
    "plot_02_training.py",
    "plot_03_batch_norm.py",
    "plot_12_your_own_model.py",
)

#: Papers the pages cite, by a name that appears in the prose, and the link each needs.
PAPERS = {
    "Goodfellow": "arxiv.org/abs/1412.6572",
    "Madry": "arxiv.org/abs/1706.06083",
    "Zeiler": "arxiv.org/abs/1311.2901",
    "Simonyan": "arxiv.org/abs/1312.6034",
    "Ioffe": "arxiv.org/abs/1502.03167",
    "Moosavi-Dezfooli": "arxiv.org/abs/1610.08401",
    "Galloway": "arxiv.org/abs/1905.02161",
    "Tsipras": "arxiv.org/abs/1805.12152",
    "Smilkov": "arxiv.org/abs/1706.03825",
    "Olah": "distill.pub/2017/feature-visualization",
}


def docstring(path: Path) -> str:
    """The example's opening text (its title, question and introduction)."""
    return ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""


def prose(path: Path) -> str:
    """Everything a reader reads: the opening text and every comment line, unprefixed."""
    comments = [
        line.strip()[1:].strip()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip().startswith("#")
    ]
    return docstring(path) + "\n" + "\n".join(comments)


def cells(path: Path) -> list[str]:
    """The example's code cells, as sphinx-gallery splits them (at ``# %%``)."""
    return re.split(r"^# %%.*$", path.read_text(encoding="utf-8"), flags=re.MULTILINE)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.stem)
def test_each_page_opens_with_its_question(path):
    lines = [line for line in docstring(path).splitlines() if line.strip()]
    opening = " ".join(lines[2:4])  # after the title and its underline
    assert re.search(r"\*\*[^*]+\?\*\*", opening), f"{path.name} opens without a question"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.stem)
def test_each_page_ends_with_a_takeaway_and_an_exercise(path):
    text = path.read_text(encoding="utf-8")
    takeaway = re.search(r"^# Takeaway\n# -{8}$", text, flags=re.MULTILINE)
    assert takeaway, f"{path.name} has no 'Takeaway' section"
    exercise = text.find("# **Exercise.**", takeaway.end())
    assert exercise > 0, f"{path.name} has no exercise after its takeaway"
    assert len(text[exercise:].split()) > 20, f"{path.name}: the exercise says too little"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.stem)
def test_cited_papers_are_linked(path):
    text = prose(path)
    for author, link in PAPERS.items():
        if re.search(rf"\b{author}\b", text):
            assert link in text, f"{path.name} cites {author} without linking {link}"


def normalised(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.stem)
def test_what_a_page_quotes_from_the_report_is_in_the_report(path):
    if not REPORT_TEXT.is_file():
        pytest.skip(f"the report's text is not beside this clone ({REPORT_TEXT})")
    report = normalised(REPORT_TEXT.read_text(encoding="utf-8"))
    text = " ".join(prose(path).split())
    quotes = [
        found.group(1)
        for found in re.finditer(r"\"([^\"]*)\"", text)  # quotation marks in pairs
        if "report" in text[max(0, found.start() - 80) : found.start()]
        and len(found.group(1).split()) > 4  # not a page title
    ]
    for quote in quotes:
        assert normalised(quote) in report, f"{path.name} quotes the report: {quote!r}"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.stem)
def test_no_cell_replaces_a_figure_before_it_is_shown(path):
    for number, cell in enumerate(cells(path)):
        figures = [
            target.id
            for node in ast.walk(ast.parse(cell))
            if isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Call)
            and "plot_" in ast.unparse(node.value.func)
            for target in node.targets
            if isinstance(target, ast.Name)
        ]
        twice = {name for name in figures if figures.count(name) > 1}
        assert not twice, f"{path.name}, cell {number}: {twice} replaced before it is shown"


def test_cnnviz_precision_fp32_forces_the_fp32_path(monkeypatch):
    x, y = torch.zeros(12, 1, 28, 28), torch.arange(12) % 10
    data = Splits(x[:8], y[:8], x[8:10], y[8:10], x[10:], y[10:])
    native = "bf16" if torch.ops.mkldnn._is_mkldnn_bf16_supported() else "fp32"
    monkeypatch.delenv("CNNVIZ_PRECISION", raising=False)
    assert resolve_precision("auto") == native
    default_key = _training_key(RECIPES["fast"], data)
    monkeypatch.setenv("CNNVIZ_PRECISION", "fp32")
    assert resolve_precision("auto") == "fp32"
    assert resolve_precision("bf16") == "bf16"  # an explicit choice is kept
    # a cached training of the other precision is never returned for this one
    assert (_training_key(RECIPES["fast"], data) == default_key) == (native == "fp32")
    monkeypatch.setenv("CNNVIZ_PRECISION", "fp16")
    with pytest.raises(ValueError, match="CNNVIZ_PRECISION must be 'fp32' or 'auto'"):
        resolve_precision("auto")


def test_the_precision_dependent_examples_are_all_listed():
    trains_auto = {
        path.name
        for path in EXAMPLES
        if re.search(r"(cached_train|cnnviz\.train)\(", path.read_text(encoding="utf-8"))
        and re.search(r"\"fast\"", path.read_text(encoding="utf-8"))
    }
    assert trains_auto == set(PRECISION_DEPENDENT)


@pytest.mark.parametrize("name", PRECISION_DEPENDENT)
def test_precision_dependent_examples_hold_their_claims_in_fp32(name, mnist_dir):
    env = {**os.environ, "CNNVIZ_PRECISION": "fp32", "MPLBACKEND": "Agg"}
    env["CNNVIZ_DATA"] = str(mnist_dir)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    run = subprocess.run(
        [sys.executable, name],
        cwd=ROOT / "examples",
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert run.returncode == 0, f"{name} in fp32:\n{run.stdout[-2000:]}\n{run.stderr[-3000:]}"
    assert re.search(r"\bfp32\b", run.stdout) and "bf16" not in run.stdout, run.stdout[-2000:]


def test_every_measured_readme_table_names_its_cpu_kind():
    blocks = re.split(r"\n\s*\n", (ROOT / "README.md").read_text(encoding="utf-8"))
    for earlier, before, block in zip(blocks, blocks[1:], blocks[2:], strict=False):
        if block.startswith("|") and "benchmarks/" in before:
            # the paragraph before the table, or before its command block
            text = before if not before.startswith("```") else earlier + before
            kind = re.search(r"AVX2|AVX-512|fp32", text + block)
            assert kind, f"a README table measured by a benchmark names no CPU kind:\n{text}"
