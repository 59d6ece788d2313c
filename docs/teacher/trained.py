"""teachernet's networks trained once per machine (tests and shots).

``net_weights`` and ``colour_weights`` return a safetensors file in
``~/.cache/cnnviz/teacher/KEY/`` (or under ``$XDG_CACHE_HOME``),
trained there by ``teachernet.train_net`` / ``train_colour`` when
missing. ``KEY`` hashes teachernet.py's code (its syntax tree:
comments and layout aside) and torch's version: a changed recipe or
network trains again. Not what a teacher writes (the page prints
teachernet.py).
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

import torch

import teachernet
from cnnviz.data.mnist import default_cache_dir

SOURCE = Path(teachernet.__file__)


def cache_path(name: str) -> Path:
    """Where the trained file ``name`` of this teachernet.py lives.

    Examples
    --------
    >>> cache_path("net.safetensors").parent.parent.name
    'teacher'
    """
    tree = ast.parse(SOURCE.read_text(encoding="utf-8"))
    digest = hashlib.sha256(ast.dump(tree).encode())
    digest.update(torch.__version__.encode())
    key = digest.hexdigest()[:12]
    return default_cache_dir() / "teacher" / key / name


def net_weights(*, data: str | Path | None = None) -> Path:
    """``build()``'s weights (trained on MNIST if missing)."""
    path = cache_path("net.safetensors")
    if not path.is_file():
        teachernet.train_net(path, data=data)
    return path


def colour_weights(pictures: str | Path) -> Path:
    """``colour()``'s weights (trained on ``pictures`` if missing: a
    folder of ``teachernet.make_pictures()`` with its defaults)."""
    path = cache_path("colour.safetensors")
    if not path.is_file():
        teachernet.train_colour(path, pictures)
    return path
