"""The colours every figure shares: one per network, and the signed-value colour map.

A network has the same colour on every page, plot and app view
(:data:`~cnnviz.plots.colours.NETWORK_COLOURS`, looked up by name with
:func:`~cnnviz.plots.network_colour`); signed values (weights, noise, attributions) are drawn with
:data:`~cnnviz.plots.colours.DIVERGING`, blue negative, red positive, white zero.
"""

from __future__ import annotations

#: One colour per network, the same on every page, plot and app view (Okabe-Ito, told
#: apart with every common colour-vision deficiency, tested); ``"yours"`` is any other.
NETWORK_COLOURS: dict[str, str] = {
    "standard": "#0072B2",
    "batch norm": "#D55E00",
    "robust": "#009E73",
    "yours": "#CC79A7",
}
#: Names by which pages, histories and the app call the networks of
#: :data:`~cnnviz.plots.colours.NETWORK_COLOURS` (lower case, as
#: :func:`~cnnviz.plots.network_colour` compares them).
NETWORK_ALIASES: dict[str, str] = {
    "nobn": "standard",
    "no batch norm": "standard",
    "without batch norm": "standard",
    "bn": "batch norm",
    "with batch norm": "batch norm",
    "robust (adversarially trained)": "robust",
}
#: Colour map of signed values (blue negative, white zero, red positive).
DIVERGING = "RdBu_r"


def network_colour(name: str, other: str = NETWORK_COLOURS["yours"]) -> str:
    """The colour of the network a label names (:data:`~cnnviz.plots.colours.NETWORK_COLOURS`).

    ``name`` is a network's name, alias (:data:`~cnnviz.plots.colours.NETWORK_ALIASES`) or a
    history's ``variant``, optionally followed by a comma and more words (``"batch norm, FGSM"``);
    case is ignored. Any other name gets ``other``: by default the colour of a student's own
    network, ``"yours"`` (pass e.g. ``"black"`` for labels that may name no network).

    Examples
    --------
    >>> network_colour("no batch norm, PGD-40") == NETWORK_COLOURS["standard"]
    True
    >>> [network_colour(n) for n in ("bn", "Robust", "my net")] == [
    ...     NETWORK_COLOURS[k] for k in ("batch norm", "robust", "yours")
    ... ]
    True
    >>> network_colour("plain ascent", other="black")
    'black'
    """
    key = name.split(",")[0].strip().lower()
    return NETWORK_COLOURS.get(NETWORK_ALIASES.get(key, key), other)
