"""A sphinx-gallery image scraper for figures made without pyplot."""

from __future__ import annotations

from matplotlib.figure import Figure
from sphinx_gallery.scrapers import figure_rst


class FigureScraper:
    """Show every :class:`~matplotlib.figure.Figure` an example cell left in its globals.

    cnnviz builds figures without pyplot (no global state), which the default scraper
    cannot see; this one keeps the figures it has shown so none is shown twice.
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
            figure.savefig(path, dpi=96)
            self.shown.append(figure)
            paths.append(path)
        return figure_rst(paths, gallery_conf["src_dir"])


#: The scraper conf.py names (by import path, so Sphinx can pickle its configuration).
scrape_figures = FigureScraper()
