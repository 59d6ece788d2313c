"""A sphinx-gallery image scraper for figures made without pyplot."""

from __future__ import annotations

from matplotlib.figure import Figure
from matplotlib.text import Text
from sphinx_gallery.scrapers import figure_rst

#: Resolution of the gallery's PNGs: one figure inch is 96 CSS pixels at full size.
DPI = 96
#: PNG text key holding the smallest text height of the figure, in image pixels.
SMALLEST_TEXT_KEY = "cnnviz-smallest-text-px"


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


class FigureScraper:
    """Show every :class:`~matplotlib.figure.Figure` an example cell left in its globals.

    cnnviz builds figures without pyplot (no global state), which the default scraper
    cannot see; this one keeps the figures it has shown so none is shown twice. Each PNG
    records its smallest text size under :data:`SMALLEST_TEXT_KEY`, so a test can check
    how large the text is as displayed.
    """

    def __init__(self) -> None:
        self.shown: list[Figure] = []

    def __repr__(self) -> str:  # stable, so Sphinx's environment cache stays valid
        return "FigureScraper"

    def __call__(self, block, block_vars, gallery_conf, **kwargs) -> str:
        new = [
            value
            for value in block_vars["example_globals"].values()
            if isinstance(value, Figure) and not any(value is seen for seen in self.shown)
        ]
        paths = []
        for figure, path in zip(new, block_vars["image_path_iterator"], strict=False):
            smallest = f"{smallest_text_px(figure):.2f}"
            figure.savefig(path, dpi=DPI, metadata={SMALLEST_TEXT_KEY: smallest})
            self.shown.append(figure)
            paths.append(path)
        return figure_rst(paths, gallery_conf["src_dir"])


#: The scraper conf.py names (by import path, so Sphinx can pickle its configuration).
scrape_figures = FigureScraper()
