"""No import circle among the modules of ``src/peftal``.

Every import counts, module-level and function-level alike: a function-local import only delays a
circle to the first call, and the two modules still cannot be understood (or moved) one without the
other. An edge goes to the module named: ``from a.b import c`` points at ``a.b.c`` when that is a
module, else at ``a.b``. The implicit import of a parent package (``import a.b`` runs
``a/__init__.py``) is not an edge: a package's ``__init__`` that imports its own families would
otherwise make every family "import itself".
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

import peftal

SOURCE = Path(peftal.__file__).parent


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SOURCE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(module: str, source: str, known: set[str]) -> set[str]:
    """The ``known`` modules that ``source`` (the text of ``module``) imports, anywhere in it."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{module}: relative import (the project imports absolutely)"
            base = node.module or ""
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return {name for name in found if name in known and name != module}


def import_graph(sources: dict[str, str]) -> nx.DiGraph:
    """Module -> imported module, for ``sources`` (module name -> text)."""
    graph = nx.DiGraph()
    known = set(sources)
    graph.add_nodes_from(known)
    for module, text in sources.items():
        graph.add_edges_from((module, target) for target in imported_modules(module, text, known))
    return graph


def import_cycles(sources: dict[str, str]) -> list[list[str]]:
    """Each set of modules that import one another (directly or through others), sorted."""
    graph = import_graph(sources)
    return sorted(sorted(group) for group in nx.strongly_connected_components(graph) if len(group) > 1)


def test_no_import_cycle_in_peftal():
    sources = {module_name(path): path.read_text() for path in sorted(SOURCE.rglob("*.py"))}
    assert import_cycles(sources) == []


def test_the_check_finds_a_cycle():
    # a circle through a function-local import, and one through `from package import module`
    sources = {
        "peftal.x": "",
        "peftal.x.a": "from peftal.x.b import thing\n",
        "peftal.x.b": "def f():\n    from peftal.x.c import other\n",
        "peftal.x.c": "from peftal.x import a\n",
        "peftal.y": "import peftal.x.a\n",  # imports into the circle, is not part of it
        "peftal.z": "from peftal.z import w\n",  # a package importing its own module: no edge back
        "peftal.z.w": "from peftal.errors import UsageError\n",
    }
    assert import_cycles(sources) == [["peftal.x.a", "peftal.x.b", "peftal.x.c"]]
    del sources["peftal.x.c"]
    assert import_cycles(sources) == []
