"""Every public function and class of the library documents itself with a runnable example.

pytest runs the examples (``--doctest-modules``); this test makes sure none is missing, so
a new public name without one fails CI instead of quietly lowering the bar.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import cnnviz

#: The app and the command line are entry points, documented by their help and pages.
NOT_LIBRARY = ("cnnviz.app", "cnnviz.cli")


def library_modules() -> list[str]:
    """Every module of the library, in its folders (the app and the command line aside)."""
    infos = pkgutil.walk_packages(cnnviz.__path__, prefix="cnnviz.")
    return [info.name for info in infos if not info.name.startswith(NOT_LIBRARY)]


def public_names_without_examples() -> list[str]:
    missing = []
    for module_name in library_modules():
        module = importlib.import_module(module_name)
        for name, obj in vars(module).items():
            defined_here = getattr(obj, "__module__", None) == module.__name__
            if name.startswith("_") or not defined_here:
                continue
            obj = inspect.unwrap(obj) if callable(obj) else obj  # functools.lru_cache
            if not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue
            if "Examples\n" not in (obj.__doc__ or "") or ">>> " not in obj.__doc__:
                missing.append(f"{module_name}.{name}")
    return missing


def test_every_public_function_and_class_has_a_doctest_example():
    assert len(library_modules()) > 40  # the walk reaches into the folders
    assert public_names_without_examples() == []


def test_every_exported_name_is_documented_with_an_example():
    for name in cnnviz.__all__:
        obj = getattr(cnnviz, name)
        if inspect.isfunction(obj) or inspect.isclass(obj):
            assert ">>> " in (obj.__doc__ or ""), name
