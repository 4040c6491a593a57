"""Layers only point down: no module of ``src/peftal`` imports from a layer above its own.

data < training, models < peft < al < claims < experiments < analysis < reports < label < export
< serve < cli. Modules
outside these packages (errors, registry, seeding, measures, records, …) are the base: they import
only each other. ``__main__``, ``api`` and the package's ``__init__`` (the public API) sit on top.
"""

from __future__ import annotations

import ast
from pathlib import Path

import peftal

LAYERS = {"data": 1, "training": 2, "models": 2, "peft": 3, "al": 4, "claims": 5, "experiments": 6,
          "analysis": 7, "reports": 8, "label": 9, "export": 10, "serve": 11, "cli": 12}
TOP = 13  # peftal/__init__.py and peftal/__main__.py
SOURCE = Path(peftal.__file__).parent


def layer_of(module: str) -> int:
    """The layer of a dotted module name inside peftal."""
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in ("__main__", "api"):
        return TOP
    return LAYERS.get(parts[1], 0)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SOURCE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def upward_imports(module: str, source: str) -> list[str]:
    """``"a -> b (line n)"`` for each import in ``source`` (the text of ``module``) of a higher layer."""
    own = layer_of(module)
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            targets = [node.module]
        elif isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            continue
        for target in targets:
            if target.split(".")[0] == "peftal" and layer_of(target) > own:
                found.append(f"{module} -> {target} (line {node.lineno})")
    return found


def test_no_module_imports_from_a_layer_above_it():
    problems = [problem for path in sorted(SOURCE.rglob("*.py"))
                for problem in upward_imports(module_name(path), path.read_text())]
    assert problems == []


def test_the_check_finds_an_upward_import():
    # the forms the check must see: top-level, function-local, `import x.y`
    assert upward_imports("peftal.al.engine", "from peftal.analysis.records import analyze") == [
        "peftal.al.engine -> peftal.analysis.records (line 1)"]
    assert upward_imports("peftal.models.backbone", "def f():\n    import peftal.peft.base\n") == [
        "peftal.models.backbone -> peftal.peft.base (line 2)"]
    assert upward_imports("peftal.errors", "from peftal.data import load_task") != []
    assert upward_imports("peftal.cli.run", "from peftal.experiments.active_learning import RunConfig") == []
    assert upward_imports("peftal.training.trainer", "from peftal.models.heads import POOLINGS") == []


def test_modules_and_functions_stay_small():
    """No module over 400 lines; no function over 60 lines where the run logic lives."""
    long_modules, long_functions = [], []
    for path in sorted(SOURCE.rglob("*.py")):
        text = path.read_text()
        if len(text.splitlines()) > 400:
            long_modules.append(module_name(path))
        if module_name(path).split(".")[1:2] in (["al"], ["experiments"], ["label"]):
            long_functions += [f"{module_name(path)}.{node.name}" for node in ast.walk(ast.parse(text))
                               if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
                               and node.end_lineno - node.lineno >= 60]
    assert (long_modules, long_functions) == ([], [])
