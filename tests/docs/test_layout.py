"""The package's folders are its architecture, and the README, the API page and the tests say so.

A newcomer finds a feature from the folder names (the README's table), then the module
from the folder's docstring; ``import cnnviz`` stays the one flat public namespace.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import cnnviz
from tests.docs.test_docstrings import library_modules

ROOT = Path(__file__).parents[2]
PACKAGE = ROOT / "cnnviz"
#: Subpackages whose ``__init__`` re-exports: ``cnnviz.plots.plot_x`` is the figures' API,
#: the app and the browser edition are entry points of their own.
WITH_CODE = {"plots", "app", "web"}


def subpackages() -> list[str]:
    return sorted(info.name for info in pkgutil.iter_modules(cnnviz.__path__) if info.ispkg)


def test_the_readme_table_names_every_folder_once():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Where things live", 1)[1].split("\n## ", 1)[0]
    named = re.findall(r"`cnnviz/(\w+)/`", section)
    assert sorted(named) == subpackages()
    for name in named:
        assert (PACKAGE / name / "__init__.py").is_file()


def test_each_folder_docstring_names_each_of_its_modules():
    for package in subpackages():
        if package in {"app"}:
            continue
        doc = importlib.import_module(f"cnnviz.{package}").__doc__ or ""
        modules = [
            info.name for info in pkgutil.iter_modules([str(PACKAGE / package)]) if not info.ispkg
        ]
        missing = [m for m in modules if f"cnnviz.{package}.{m}" not in doc]
        assert not missing, f"cnnviz/{package}/__init__.py does not name {missing}"


def test_folders_group_without_re_exporting():
    """``cnnviz.attacks.pgd`` is a module, ``cnnviz.pgd`` the function: no name is shadowed."""
    for package in subpackages():
        if package in WITH_CODE:
            continue
        tree = ast.parse((PACKAGE / package / "__init__.py").read_text())
        assert len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr), package


def test_every_library_module_says_its_one_job():
    for name in library_modules():
        doc = importlib.import_module(name).__doc__
        assert doc and len(doc.strip().splitlines()[0]) > 20, name


def test_the_flat_namespace_reaches_every_public_name():
    for name in cnnviz.__all__:
        assert hasattr(cnnviz, name), name
    assert "attacks" not in cnnviz.__all__  # folders are not API names


def test_tests_mirror_the_package():
    for package in subpackages():
        folder = ROOT / "tests" / package
        assert folder.is_dir() and any(folder.glob("test_*.py")), f"no tests/{package}/"


def test_the_api_page_is_written_from_the_package():
    """``docs/api.rst`` lists every public name under its module: ``scripts/api_page.py``."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "api_page.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
