"""Sphinx configuration: offline, warnings are errors, gallery examples executed."""

from __future__ import annotations

import sys
from pathlib import Path

import cnnviz

sys.path.insert(0, str(Path(__file__).parent / "_ext"))  # figure_scraper

project = "cnnviz"
author = "the cnnviz developers"
copyright = "2026, the cnnviz developers"
release = version = cnnviz.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx_gallery.gen_gallery",
]
templates_path = ["_templates"]
exclude_patterns = ["_build", "_generated/*.rst.txt"]
html_theme = "pydata_sphinx_theme"
html_static_path = ["_static"]
html_title = "cnnviz"
html_theme_options = {
    "navigation_with_keys": False,
    "show_prev_next": False,
    "secondary_sidebar_items": ["page-toc"],
}
autosummary_generate = True
autodoc_typehints = "none"
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True}
napoleon_numpy_docstring = True
napoleon_google_docstring = False
napoleon_use_rtype = False
nitpicky = True
# No intersphinx (the build is offline): names from other libraries are plain text.
nitpick_ignore_regex = [
    ("py:class", r"(torch|numpy|np|matplotlib|pathlib|collections|typing|PIL|optional)\b.*"),
    ("py:class", r"(Path|Figure|Tensor|Image|Callable|Sequence|Iterator|Recipe|History)"),
    ("py:class", r"(int|float|str|bool|dict|list|tuple|object|None)\b.*"),
    ("py:class", r".*(shape|optional|default|or |of ).*"),
    ("py:class", r"argparse\..*"),
]


sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "image_scrapers": ("figure_scraper.scrape_figures",),
    "doc_module": ("cnnviz",),
    "backreferences_dir": "gen_modules/backreferences",
    "reference_url": {"cnnviz": None},
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "show_memory": False,
    "abort_on_example_error": True,
    "plot_gallery": "True",
}


def write_report_numbers(app) -> None:
    """Generate the report-versus-ours table from the shipped models, at build time."""
    from cnnviz.checkpoint import pretrained
    from cnnviz.data import load_splits
    from cnnviz.model import CNN, layer_summary, totals
    from cnnviz.train import evaluate

    data = load_splits()
    rows = [
        ("Test accuracy, no batch norm (R4)", "98.45 %"),
        ("Test loss, no batch norm", "0.0461"),
    ]
    rows += [("Test accuracy, batch norm (R4)", "98.97 %"), ("Test loss, batch norm", "0.0316")]
    ours = []
    for batchnorm in (False, True):
        loss, accuracy = evaluate(pretrained(batchnorm), data.test_x, data.test_y)
        ours += [f"{accuracy:.2f} %", f"{loss:.4f}"]
    layers = layer_summary(CNN())
    total = totals(layers)
    by_name = {row.name: row for row in layers}
    for name, report in (("conv1", 320), ("conv2", 9248), ("fc1", 784500), ("fc2", 5010)):
        rows.append((f"Parameters of {name} (R7)", str(report)))
        ours.append(str(by_name[name].parameters))
    rows += [("Parameters, conv layers", "9568"), ("Parameters, fc layers", "789510")]
    ours += [str(total["conv_parameters"]), str(total["fc_parameters"])]
    rows += [("Neurons, conv layers", "50176"), ("Neurons, fc layers", "510")]
    ours += [str(total["conv_neurons"]), str(total["fc_neurons"])]
    lines = [
        ".. list-table::",
        "   :header-rows: 1",
        "",
        "   * - Quantity",
        "     - Report",
        "     - cnnviz (computed by this build)",
    ]
    for (quantity, report), value in zip(rows, ours, strict=True):
        lines += [f"   * - {quantity}", f"     - {report}", f"     - {value}"]
    target = Path(app.srcdir) / "_generated" / "report_numbers.rst.txt"
    target.parent.mkdir(exist_ok=True)
    target.write_text("\n".join(lines) + "\n")


def setup(app) -> None:
    app.connect("builder-inited", write_report_numbers)
