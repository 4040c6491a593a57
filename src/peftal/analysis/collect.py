"""Gather runs from several run folders, study folders or a parent folder into one results store.

``peftal report`` and ``peftal analyze`` compare anything that was stored: each run is named by
its folder (``runs/a`` → ``a``; a study's cells as ``study/cell``; below a parent folder by the
path under it) or by ``--name``, and copied with that name as its run id into one store that every
table, curve and analysis then reads as if it were one study. Reads stores only.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from peftal.errors import UsageError
from peftal.store.results import STORE_NAME, ResultsStore, copy_run

SINGLE_RUN_ID = "run"  # the run id of a `peftal run` folder (peftal.experiments.run_folder.RUN_ID)


def _stores_under(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a folder")
    if (folder / STORE_NAME).is_file():
        return [folder / STORE_NAME]
    stores = sorted(folder.rglob(STORE_NAME), key=lambda p: (len(p.relative_to(folder).parts), str(p)))
    if not stores:
        raise UsageError(f"{folder} holds no {STORE_NAME}, nor does any folder below it; give run "
                         "folders, study folders or a folder above them")
    return stores


def _run_ids(store_path: Path) -> list[str]:
    with ResultsStore(store_path) as store:
        return [run["run_id"] for run in store.runs()]


Found = list[tuple[Path, str, str, str]]


def collect_runs(paths: Sequence[Path], names: Sequence[str] = ()) -> Found:
    """``(store, run id in it, name, source)`` of every run in ``paths``, in the given order;
    ``source`` names the run's folder (a grid axis where they differ, so that runs of different
    folders are separate lines while a study's seeds are averaged).

    A ``peftal run`` folder's run is named by the folder (or its ``names`` entry), a study's runs
    ``<study>/<cell>``; folders found below a parent are named by their path under it.
    """
    if names and len(names) != len(paths):
        raise UsageError(f"--name given {len(names)} times for {len(paths)} folders; give one per folder")
    found: Found = []
    for index, path in enumerate(map(Path, paths)):
        for store_path in _stores_under(path):
            relative = store_path.parent.relative_to(path).as_posix()
            base = names[index] if names else (path.resolve().name if relative == "." else relative)
            if names and relative != ".":
                base = f"{names[index]}/{relative}"
            run_ids = _run_ids(store_path)
            for run_id in run_ids:
                single = run_ids == [SINGLE_RUN_ID]
                found.append((store_path, run_id, base if single else f"{base}/{run_id}", base))
    return _unique(found)


def _unique(found: Found) -> Found:
    seen: dict[str, int] = {}
    unique = []
    for store, run_id, name, source in found:
        seen[name] = seen.get(name, 0) + 1
        unique.append((store, run_id, name if seen[name] == 1 else f"{name}#{seen[name]}", source))
    return unique


def merge_runs(runs: Found, target: Path) -> Path:
    """Copy every run of :func:`collect_runs` into a new store ``target/results.sqlite``, renamed,
    with its ``source`` added to its config."""
    target.mkdir(parents=True, exist_ok=True)
    ResultsStore(target / STORE_NAME).close()  # the schema
    db = sqlite3.connect(target / STORE_NAME)
    try:
        for store_path, run_id, name, source in runs:
            db.execute("ATTACH DATABASE ? AS source", (str(store_path),))
            copy_run(db, run_id, name, source="source")
            (config,) = db.execute("SELECT config FROM main.runs WHERE run_id = ?", (name,)).fetchone()
            db.execute("UPDATE main.runs SET config = ? WHERE run_id = ?",
                       (json.dumps({**json.loads(config), "source": source}), name))
            db.commit()
            db.execute("DETACH DATABASE source")
    finally:
        db.close()
    return target / STORE_NAME


def common_parent(paths: Sequence[Path]) -> Path:
    """The deepest folder holding every one of ``paths`` (where a combined report goes)."""
    resolved = [Path(p).resolve() for p in paths]
    if len(resolved) == 1:
        return resolved[0]
    parts = zip(*(p.parts for p in resolved))
    common = [items[0] for items in parts if len(set(items)) == 1]
    return Path(*common) if common else Path.cwd()
