"""Copy exactly the files the Hugging Face Space receives into an empty folder.

The Space runs ``demo/app.py`` (the README's front matter says so) after installing the
root ``requirements.txt``; that entry runs :mod:`cnnviz.app` from the ``cnnviz`` beside
it. So the Space gets the README (front matter included), ``requirements.txt``, the entry
and the package (the app included) with its shipped weights and bundled MNIST sample, and
nothing else::

    python scripts/stage_space.py build/space
    hf upload USER/SPACE build/space . --repo-type space

The upload goes through the Hub's HTTP API, which stores the binary files (weights,
sample) with LFS/Xet itself: no ``git lfs`` is involved.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Glob patterns, relative to the repository root, of every file the Space receives.
SPACE_FILES: tuple[str, ...] = (
    "README.md",
    "requirements.txt",
    "demo/*.py",
    "cnnviz/**/*.py",
    "cnnviz/app/*.js",
    "cnnviz/web/static/*.html",
    "cnnviz/web/static/lab/*",
    "cnnviz/weights/*.safetensors",
    "cnnviz/weights/*.json",
    "cnnviz/samples/*.npz",
)


def space_files(root: Path = ROOT) -> list[Path]:
    """The files the Space receives, relative to ``root``, sorted.

    Raises
    ------
    FileNotFoundError
        If a pattern of :data:`SPACE_FILES` matches nothing (weights or sample missing).
    """
    found: list[Path] = []
    for pattern in SPACE_FILES:
        matches = sorted(path.relative_to(root) for path in root.glob(pattern) if path.is_file())
        if not matches:
            raise FileNotFoundError(f"nothing matches {pattern!r} in {root}")
        found.extend(matches)
    return sorted(found)


def stage(destination: Path, root: Path = ROOT) -> list[Path]:
    """Copy :func:`space_files` of ``root`` into ``destination``, which must be empty.

    Returns
    -------
    list of Path
        The staged files, relative to ``destination``.
    """
    destination.mkdir(parents=True, exist_ok=True)
    if any(destination.iterdir()):
        raise FileExistsError(f"{destination} is not empty; stage into an empty folder")
    files = space_files(root)
    for relative in files:
        (destination / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / relative, destination / relative)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("destination", type=Path, help="an empty (or new) folder")
    args = parser.parse_args(argv)
    try:
        files = stage(args.destination)
    except (FileExistsError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    size = sum((args.destination / path).stat().st_size for path in files)
    print(f"staged {len(files)} files ({size / 1e6:.1f} MB) in {args.destination}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
