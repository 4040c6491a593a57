"""The facts a model card gives about the run that trained it (rendered by peftal/peft/card.py).

The data is identified by the SHA-256 and size of its files, and the command keeps only the file
names of its paths: a card read on another machine names nothing of the machine that trained.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Any

from peftal.store.provenance import _LIBRARIES, _version


def card_facts(summary: dict[str, Any], source: str | None,
               argv: list[str] | None = None) -> dict[str, Any]:
    """``facts`` for :func:`peftal.peft.card.render_card`: the ``summary``, the data files under
    ``source`` (a file or a folder of split files), the command and the versions."""
    return {"summary": summary, "data": data_files(source), "command": portable_command(argv),
            "versions": {"peftal": _version("peftal"),
                         **{name: _version(name) for name in _LIBRARIES},
                         "python": sys.version.split()[0]}}


def data_files(source: str | None) -> list[dict[str, Any]]:
    """``[{name, sha256, bytes}]`` for the file ``source`` or each file in the folder ``source``."""
    if not source or not Path(source).exists():
        return []
    path = Path(source)
    files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    return [{"name": p.name, "sha256": _sha256(p), "bytes": p.stat().st_size} for p in files]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def portable_command(argv: list[str] | None = None) -> str:
    """The ``peftal`` command that ran, each path reduced to its file name (``--dataset
    /home/me/tickets.csv`` -> ``--dataset tickets.csv``); a run started from Python says so."""
    argv = sys.argv if argv is None else argv
    program = Path(argv[0]).name if argv else ""
    if program not in ("peftal", "__main__.py", "peftal.exe"):
        return "(started from Python)"
    return " ".join(["peftal", *(_file_name(arg) for arg in argv[1:])])


def _file_name(arg: str) -> str:
    if "=" in arg and arg.startswith("--"):
        key, value = arg.split("=", 1)
        return f"{key}={_file_name(value)}"
    if "/" in arg or "\\" in arg or Path(arg).exists():
        return Path(arg).name or arg
    return arg
