"""Stage the browser edition as a Hugging Face *static* Space (free on every account).

``cnnviz export-web build/web`` writes the site; this copies it into an empty folder with
a README whose front matter makes the Hub serve ``index.html`` as static files
(``sdk: static``), after checking that every file the page loads is there::

    python scripts/stage_web_space.py build/web build/web-space
    hf upload USER/cnnviz-lab build/web-space . --repo-type space

(``make web`` runs both steps.) The Hub stores the large files (the 14 MB wasm runtime,
the weights) with LFS/Xet itself on upload.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path, PurePosixPath

FRONT_MATTER = """---
title: cnnviz lab
emoji: 🔍
colorFrom: indigo
colorTo: gray
sdk: static
app_file: index.html
pinned: false
license: mit
short_description: Draw a digit; watch a CNN think, in your browser.
---
"""

BODY = """
# cnnviz lab

The browser edition of cnnviz: draw a digit and watch the report's MNIST network
read it, see what it looks at (occlusion, saliency), its feature
maps and filters, the computation of any unit, attacks on your drawing and class images,
on a standard, a batch-norm and an adversarially trained network. Everything runs in
your browser (ONNX Runtime Web, WebAssembly); this Space only serves static files.

Made with `cnnviz export-web`. ONNX Runtime Web is by Microsoft (MIT licence). MNIST is
by Yann LeCun, Corinna Cortes and Christopher J.C. Burges, shared under CC BY-SA 3.0.
"""

#: ``src``/``href`` attributes of the page.
_HTML_LINK = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")
_FILE = r"[\w./-]+\.(?:m?js|css|wasm|onnx|bin|json)"
#: In JavaScript: module paths (``"./x.js"``, imported or listed), files of the site's
#: root (``new URL("manifest.json", base)``) and, in the vendored runtime, its siblings.
_JS_RELATIVE = re.compile(rf"""["'](\.{{1,2}}/{_FILE})["']""")
_JS_ROOT = re.compile(rf"""new URL\(\s*["']({_FILE})["']\s*,\s*(?!import\.meta)""")
_JS_SIBLING = re.compile(r"""["']([\w.-]+\.(?:mjs|wasm))["']""")


def _normal(path: PurePosixPath) -> str:
    """``a/./b/../c`` -> ``a/c``."""
    parts: list[str] = []
    for part in path.parts:
        if part == "..":
            parts = parts[:-1]
        elif part != ".":
            parts.append(part)
    return "/".join(parts)


def _loaded_by_script(site: Path, name: str) -> list[str]:
    """Files the script ``name`` loads or imports, relative to the site."""
    text = (site / name).read_text()
    folder = PurePosixPath(name).parent
    found = [_normal(folder / url) for url in _JS_RELATIVE.findall(text)]
    found += [_normal(PurePosixPath(url)) for url in _JS_ROOT.findall(text)]
    if folder.name == "ort":
        found += [_normal(folder / url) for url in _JS_SIBLING.findall(text)]
    return found


def referenced_files(site: Path) -> set[str]:
    """Every file the page loads: index.html's links, the JS imports, the manifest's files.

    Paths are relative to ``site`` (POSIX). Scripts are followed: their module imports
    (``./x.js``), the files they fetch from the site's root (``new URL("manifest.json",
    base)``), and the vendored runtime's own files; then the manifest's model files and
    digits.
    """
    found: set[str] = set()
    html = (site / "index.html").read_text()
    pending = [
        _normal(PurePosixPath(url))
        for url in _HTML_LINK.findall(html)
        if not re.match(r"^([a-z]+:|//|#)", url)
    ]
    while pending:
        name = pending.pop().split("#")[0].split("?")[0]
        if name in found:
            continue
        found.add(name)
        if name.endswith((".js", ".mjs")) and (site / name).is_file():
            pending += _loaded_by_script(site, name)
    manifest = json.loads((site / "manifest.json").read_text())
    for model in manifest["models"]:
        keys = ("forward", "logits", "gradient", "weights", "history")
        found.update(model[key] for key in keys if model.get(key))
    found.update((manifest["digits"]["images"], "manifest.json"))
    return found


def stage(site: Path, destination: Path) -> list[str]:
    """Copy ``site`` into ``destination`` (new or empty) with the static Space's README.

    Returns
    -------
    list of str
        The files the page loads, all checked to be present.

    Raises
    ------
    FileNotFoundError
        A file the page loads is missing from the site (named).
    FileExistsError
        ``destination`` is not empty.
    """
    if not (site / "index.html").is_file():
        raise FileNotFoundError(f"{site} has no index.html: run cnnviz export-web {site} first")
    wanted = sorted(referenced_files(site))
    missing = [name for name in wanted if not (site / name).is_file()]
    if missing:
        raise FileNotFoundError(f"the page loads files the site lacks: {', '.join(missing)}")
    if destination.exists() and any(destination.iterdir()):
        raise FileExistsError(f"{destination} is not empty; stage into an empty folder")
    shutil.copytree(site, destination, dirs_exist_ok=True)
    (destination / "README.md").write_text(FRONT_MATTER + BODY)
    return wanted


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", type=Path, help="the folder cnnviz export-web wrote")
    parser.add_argument("destination", type=Path, help="an empty (or new) folder")
    args = parser.parse_args(argv)
    try:
        files = stage(args.site, args.destination)
    except (FileExistsError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    size = sum(path.stat().st_size for path in args.destination.rglob("*") if path.is_file())
    print(
        f"staged a static Space in {args.destination} ({size / 1e6:.1f} MB; "
        f"{len(files)} files the page loads, all present)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
