"""Plug-ins: modules that register their own query strategies, methods or study kinds.

A plug-in is a Python module whose import registers things (``@register_strategy``,
``@register_method``). peftal imports, before it parses a command or runs a study cell:

* every entry point of the group ``peftal.plugins`` of the installed packages (a package declares
  ``[project.entry-points."peftal.plugins"] name = "package.module"``), and
* each item of the ``PEFTAL_PLUGINS`` environment variable (``os.pathsep``-separated): a module
  name, or the path of a ``.py`` file.

Study workers on other processes or machines (Ray) import them too, from the same variable.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from importlib.metadata import entry_points
from pathlib import Path

from peftal.errors import UsageError

_loaded: set[str] = set()


def load_plugins() -> list[str]:
    """Import every plug-in not imported yet; returns the names imported now."""
    names = [f"entry point {point.name}" for point in entry_points(group="peftal.plugins")
             if _once(point.value, point.load)]
    for item in filter(None, os.environ.get("PEFTAL_PLUGINS", "").split(os.pathsep)):
        if _once(item, lambda item=item: _import(item)):
            names.append(item)
    return names


def _once(key: str, load) -> bool:
    if key in _loaded:
        return False
    load()
    _loaded.add(key)
    return True


def _import(item: str) -> None:
    path = Path(item).expanduser()
    if item.endswith(".py"):
        if not path.is_file():
            raise UsageError(f"PEFTAL_PLUGINS: no such file {item}")
        name = f"peftal_plugin_{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses and pickling look the module up by name
        spec.loader.exec_module(module)
        return
    try:
        importlib.import_module(item)
    except ModuleNotFoundError as error:
        raise UsageError(f"PEFTAL_PLUGINS: cannot import {item!r}: {error}") from None
