"""Sphinx configuration: offline, warnings are errors, gallery examples executed."""

from __future__ import annotations

import sys
from pathlib import Path

import cnnviz

sys.path.insert(0, str(Path(__file__).parent / "_ext"))  # figure_scraper, lab_embed

project = "cnnviz"
author = "the cnnviz developers"
copyright = "2026, the cnnviz developers"
release = version = cnnviz.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx_gallery.gen_gallery",
    "lab_embed",  # the browser lab, live in the pages (`.. lab::`)
]
templates_path = ["_templates"]
# sg_execution_times.rst: left over by builds that still wrote it (see sphinx_gallery_conf).
exclude_patterns = [
    "_build",
    "_generated/*.rst.txt",
    "sg_execution_times.rst",
    "auto_examples/sg_execution_times.rst",
]
html_theme = "pydata_sphinx_theme"
html_static_path = ["_static"]
html_css_files = ["cnnviz.css"]  # a wider article, so figures are readable on a projector
html_sidebars = {"auto_examples/plot_*": []}  # example pages: the article gets the width
html_title = "cnnviz"
html_theme_options = {
    "navigation_with_keys": False,
    "show_prev_next": True,
    "secondary_sidebar_items": ["page-toc"],
}
autosummary_generate = True
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented_params"
autodoc_typehints_format = "short"
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
    ("py:class", r"nn\..*"),
    ("py:exc", r"urllib\..*"),
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
    # Its pages load jQuery and DataTables from CDNs; the site must work offline, and each
    # example page already states its own running time.
    "write_computation_times": False,
}


def write_report_numbers(app) -> None:
    """Render the report-versus-ours table from :mod:`cnnviz.report.numbers`, at build time.

    Writes ``_generated/report.json`` (what ``cnnviz report --json`` prints) and the
    list-table ``_generated/report_numbers.rst.txt`` that ``reproducing.rst`` includes.
    """
    import json

    from cnnviz.data.mnist import load_splits
    from cnnviz.report.numbers import compute_report
    from cnnviz.report.table import report_rows, subsets_sentence

    report = compute_report(load_splits())
    generated = Path(app.srcdir) / "_generated"
    generated.mkdir(exist_ok=True)
    (generated / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    header = ("Quantity", "Report", "cnnviz, no batch norm", "cnnviz, batch norm")
    lines = [".. list-table::", "   :header-rows: 1", "   :widths: 46 22 16 16", ""]
    for row in (header, *report_rows(report)):
        cells = ["\\-" if cell == "-" else cell.strip().replace("*", "\\*") for cell in row]
        lines += [f"   * - {cells[0]}", *(f"     - {cell}" for cell in cells[1:])]
    lines += ["", subsets_sentence(report)]
    (generated / "report_numbers.rst.txt").write_text("\n".join(lines) + "\n")


def setup(app) -> None:
    app.connect("builder-inited", write_report_numbers)
