"""A sphinx-gallery image scraper for figures made without pyplot, with their words.

Every figure an example shows must carry a description (:func:`cnnviz.plots.describe`):
its alt text goes on the image, its caption (naming the report figure it re-creates)
under it. A figure without one fails the build, naming the example and the figure.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.text import Text
from sphinx_gallery.scrapers import _as_relative_rst_path

from cnnviz.plots import description

#: Resolution of the gallery's PNGs: one figure inch is 96 CSS pixels at full size.
DPI = 96
#: Margin around the drawn content (inches): the PNG is cropped to the figure's ink, so
#: no text is cut off at an edge.
PAD = 0.08
#: PNG text key holding the smallest text height of the figure, in image pixels.
SMALLEST_TEXT_KEY = "cnnviz-smallest-text-px"
#: CSS class of a gallery figure (the caption styles and the tests find it by it).
FIGURE_CLASS = "cnnviz-figure"

#: One gallery figure. The image links to its PNG, so a tap on a phone opens the figure
#: at full size; Sphinx copies both to ``_images/`` under the same name.
FIGURE_RST = """
.. figure:: /{path}
   :alt: {alt}
   :class: sphx-glr-single-img
   :figclass: {figclass}
   :target: ../_images/{name}

   {caption}
"""


class UndescribedFigureError(ValueError):
    """An example shows a figure that has no alt text and caption."""


def smallest_text_px(figure: Figure, dpi: float = DPI) -> float:
    """Font size, in pixels at ``dpi``, of the smallest visible text of ``figure``.

    Lays the figure out first (tick labels exist only then); texts that are empty or
    hidden do not count.
    """
    figure.draw_without_rendering()
    sizes = [
        text.get_fontsize()
        for text in figure.findobj(Text)
        if text.get_visible() and text.get_text().strip()
    ]
    return min(sizes) * dpi / 72


def _one_line(text: str) -> str:
    return " ".join(text.split())


class FigureScraper:
    """Show every :class:`~matplotlib.figure.Figure` an example cell left in its globals.

    cnnviz builds figures without pyplot (no global state), which the default scraper
    cannot see; this one keeps the figures it has shown so none is shown twice. Each PNG
    is cropped to its content plus :data:`PAD` and records its smallest text size under
    :data:`SMALLEST_TEXT_KEY`, so a test can check how large the text is as displayed.
    """

    def __init__(self) -> None:
        self.shown: list[Figure] = []

    def __repr__(self) -> str:  # stable, so Sphinx's environment cache stays valid
        return "FigureScraper"

    def __call__(self, block, block_vars, gallery_conf, **kwargs) -> str:
        new = {}  # id -> (a name, figure): a figure bound to two names is shown once
        for name, value in block_vars["example_globals"].items():
            if isinstance(value, Figure) and not any(value is seen for seen in self.shown):
                new.setdefault(id(value), (name, value))
        rst = []
        for (name, figure), path in zip(
            new.values(), block_vars["image_path_iterator"], strict=False
        ):
            words = description(figure)
            if words is None:
                raise UndescribedFigureError(
                    f"{Path(block_vars['src_file']).name}: figure `{name}` has no alt text and "
                    "caption: call cnnviz.plots.describe(fig, alt=..., caption=..., "
                    "report_figure=...)"
                )
            smallest = f"{smallest_text_px(figure):.2f}"
            figure.savefig(
                path,
                dpi=DPI,
                bbox_inches="tight",
                pad_inches=PAD,
                metadata={SMALLEST_TEXT_KEY: smallest, "Description": words.alt},
            )
            self.shown.append(figure)
            rst.append(
                FIGURE_RST.format(
                    path=_as_relative_rst_path(path, gallery_conf["src_dir"]),
                    name=Path(path).name,
                    alt=_one_line(words.alt),
                    figclass=FIGURE_CLASS,
                    caption=_one_line(words.full_caption),
                )
            )
        return "".join(rst)


#: The scraper conf.py names (by import path, so Sphinx can pickle its configuration).
scrape_figures = FigureScraper()
