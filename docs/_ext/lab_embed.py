"""The browser lab, live inside the docs: a reader draws right on the page.

At the start of an HTML build the browser edition (:func:`cnnviz.web.export_site`: the
shipped networks as ONNX graphs, ONNX Runtime Web, the JS front end) is written into the
site's ``lab/`` folder, and the ``lab`` directive embeds it in a page as an iframe that
opens one view (``draw``, ``inside``, ``attack`` or ``classes``)::

    .. lab::
       :view: draw
       :height: 620

In a sphinx-gallery example the directive goes in a text block (``# .. lab::``). The
page stays static: everything is computed in the reader's browser, from files of the site.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar
from urllib.parse import urlencode

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

LAB_FOLDER = "lab"
VIEWS = ("draw", "inside", "attack", "classes")
DEFAULT_HEIGHT = {"draw": 880, "inside": 900, "attack": 820, "classes": 720}  # px, laptop
TITLES = {
    "draw": "Draw a digit: prediction, what the model sees, occlusion and saliency",
    "inside": "Inside the network: feature maps, filters and one unit's computation",
    "attack": "FGSM and PGD on your drawing",
    "classes": "Class images grown from noise",
}

logger = logging.getLogger(__name__)


def lab_address(docname: str, *, view: str, model: str | None, digit: int | None) -> str:
    """The embedded lab's address relative to the page ``docname`` (``a/b`` -> ``../lab``).

    Examples
    --------
    >>> lab_address("auto_examples/plot_06", view="draw", model=None, digit=None)
    '../lab/index.html?view=draw&embed=1'
    >>> lab_address("index", view="inside", model="robust", digit=17)
    'lab/index.html?view=inside&embed=1&model=robust&digit=17'
    """
    query = {"view": view, "embed": 1}
    if model:
        query["model"] = model
    if digit is not None:
        query["digit"] = digit
    return "../" * docname.count("/") + f"{LAB_FOLDER}/index.html?{urlencode(query)}"


class LabDirective(SphinxDirective):
    """``.. lab::`` with ``:view:``, optional ``:model:``, ``:digit:`` and ``:height:``."""

    has_content = False
    option_spec: ClassVar[dict] = {
        "view": lambda value: directives.choice(value, VIEWS),
        "model": directives.unchanged,
        "digit": directives.nonnegative_int,
        "height": directives.positive_int,
    }

    def run(self) -> list[nodes.Node]:
        view = self.options.get("view", "draw")
        height = self.options.get("height", DEFAULT_HEIGHT[view])
        address = lab_address(
            self.env.docname,
            view=view,
            model=self.options.get("model"),
            digit=self.options.get("digit"),
        )
        full_page = address.replace("&embed=1", "")
        html = (
            f'<figure class="cnnviz-lab">'
            f'<iframe src="{address}" title="Live lab: {TITLES[view]}" loading="lazy" '
            f'style="height: {height}px"></iframe>'
            f"<figcaption>Live: this runs in your browser (ONNX Runtime Web), on the "
            f'shipped networks. <a href="{full_page}">Open the whole lab</a>.</figcaption>'
            f"</figure>"
        )
        return [nodes.raw("", html, format="html")]


def export_lab(app) -> None:
    """Write the browser edition into the HTML output's ``lab/`` folder (graphs cached)."""
    if app.builder.format != "html":
        return
    from cnnviz.web.export import default_graph_cache
    from cnnviz.web.site import export_site

    out = Path(app.outdir) / LAB_FOLDER
    result = export_site(out, cache=default_graph_cache(), progress=logger.info)
    logger.info(f"browser lab written to {result.index}")


def setup(app) -> dict:
    app.add_directive("lab", LabDirective)
    app.connect("builder-inited", export_lab)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
