"""Write ``docs/api.rst`` from the package itself: one section a folder, one list a module.

The API page follows the folders (the README's "Where things live"): each section shows
the folder's docstring, then every public function and class of each of its modules, then
the module's documented constants (a ``#:`` comment above an upper-case name). Run it
after moving or adding a public name; ``--check`` (``tests/docs/test_layout.py``) fails
when the page is stale.

    python scripts/api_page.py           # write docs/api.rst
    python scripts/api_page.py --check   # exit 1 if docs/api.rst differs
"""

from __future__ import annotations

import argparse
import ast
import importlib
import inspect
import pkgutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "api.rst"
sys.path.insert(0, str(ROOT))  # this checkout's cnnviz, installed or not

#: The folders in the order a reader meets them (the README's table), with a title each.
SECTIONS = (
    ("core", "Any model: the contract, hooks, batching, noise"),
    ("data", "Data: MNIST, test digits, drawings, pictures"),
    ("models", "Models: the report's CNN, layer tables, checkpoints, your model"),
    ("training", "Training and evaluation"),
    ("inspect", "Looking inside: filters, maps, occlusion, saliency, one neuron"),
    ("visualise", "What a class or a channel looks for"),
    ("attacks", "Attacks and their evaluation"),
    ("fast", "Fast paths for the report's CNN"),
    ("report", "The report's numbers and figures"),
    ("plots", "Figures"),
    ("web", "The browser edition"),
)

INTRO = """\
API reference
=============

Plain functions over tensors, for any PyTorch image classifier: images are
``(N, C, H, W)`` floats in the model's input range (the report's CNN: ``(N, 1, 28, 28)``
in [-1, 1], pixel 0 is -1 and pixel 255 is 1); labels are ``int64``. ``import cnnviz``
gives the public names directly (``cnnviz.occlusion``, ``cnnviz.pgd``, ...; see
``cnnviz.__all__``); below, each is listed under the module that defines it, one section
a folder of the package. This page is written by ``scripts/api_page.py``.
"""


#: The folders whose ``__init__`` re-exports is their API (``cnnviz.plots.plot_x``): their
#: names are documented there, not again under the module that defines them.
RE_EXPORTING = ("cnnviz.plots",)


def re_exported(package: str) -> set[str]:
    """The names a folder's ``__init__`` re-exports as its API (none for most folders)."""
    if package not in RE_EXPORTING:
        return set()
    return set(importlib.import_module(package).__all__)


def public_objects(module_name: str) -> list[str]:
    """Public functions and classes of ``module_name`` in source order: those defined in it,
    or for a folder that re-exports, those it re-exports (then not listed again below)."""
    module = importlib.import_module(module_name)
    listed_above = (
        re_exported(module_name.rpartition(".")[0]) if module_name.count(".") > 1 else set()
    )
    own = re_exported(module_name) if module_name.count(".") == 1 else set()
    names = []
    for name, obj in vars(module).items():
        defined_here = getattr(obj, "__module__", None) == module_name
        if name.startswith("_") or name in listed_above or not (defined_here or name in own):
            continue
        plain = inspect.unwrap(obj)  # functools.lru_cache and friends
        if inspect.isfunction(plain) or inspect.isclass(plain):
            names.append((plain.__module__, inspect.getsourcelines(plain)[1], name))
    return [name for *_, name in sorted(names)]


def documented_constants(path: Path) -> list[tuple[str, bool]]:
    """``(name, long)`` of each public module-level name with a ``#:`` comment above it."""
    lines = path.read_text().splitlines()
    found = []
    for node in ast.parse("\n".join(lines)).body:
        target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
        if not isinstance(node, ast.Assign | ast.AnnAssign) or not isinstance(target, ast.Name):
            continue
        name = target.id
        if name.startswith("_"):
            continue
        if node.lineno >= 2 and lines[node.lineno - 2].lstrip().startswith("#:"):
            found.append((name, node.end_lineno - node.lineno > 2))
    return found


def module_block(module_name: str) -> str:
    """The autosummary of one module's public names and its documented constants."""
    path = Path(importlib.import_module(module_name).__file__)
    objects = public_objects(module_name)
    constants = documented_constants(path)
    if not objects and not constants and module_name.count(".") == 1:
        return ""  # a folder's __init__ that only describes its modules
    heading = f"``{module_name}``"
    package = module_name.count(".") == 1  # its docstring opens the section already
    parts = (
        []
        if package
        else [
            f"{heading}\n{'~' * len(heading)}\n",
            f".. automodule:: {module_name}\n   :no-members:\n",
        ]
    )
    if objects:
        entries = "".join(f"   {name}\n" for name in objects)
        parts.append(f".. autosummary::\n   :toctree: generated\n\n{entries}")
    for name, long in constants:
        options = "   :no-value:\n" if long else ""
        parts.append(f".. autodata:: {module_name}.{name}\n{options}")
    return "\n".join(parts)


def page() -> str:
    """The whole API page."""
    out = [INTRO]
    for package, title in SECTIONS:
        out.append(f"\n{title}\n{'-' * len(title)}\n")
        out.append(f".. automodule:: cnnviz.{package}\n   :no-members:\n")
        own = module_block(f"cnnviz.{package}")
        if own:
            out.append(own)
        folder = ROOT / "cnnviz" / package
        for info in pkgutil.iter_modules([str(folder)]):
            if not info.ispkg:
                block = module_block(f"cnnviz.{package}.{info.name}")
                if block:
                    out.append(block)
    return "\n".join(out).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/api.rst is stale")
    args = parser.parse_args(argv)
    text = page()
    if args.check:
        if PAGE.read_text() != text:
            print("docs/api.rst is stale: run python scripts/api_page.py", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
