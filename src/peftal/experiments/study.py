"""The study driver: validate a spec, run its missing cells, record every outcome, report status.

One study directory holds ``spec.yaml`` (the spec as given), ``study.json`` (the expanded cells and
their ids) and one results store, ``results.sqlite``, written by this driver only. A cell is
written to the store when its worker reports; it is ``completed`` only after all its rounds are
stored, so a run interrupted at any moment (Ctrl-C, ``kill -9``, a crashed worker) leaves no cell
that looks complete, and running the same command again skips exactly the completed cells.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from peftal.claims.grammar import check_claims, matches
from peftal.errors import UsageError
from peftal.experiments.executors import Executor
from peftal.experiments.spec import Cell, Spec, SpecError, expand, load_spec
from peftal.integrity import check_sqlite, check_writable_folder
from peftal.store.atomic import write_json_atomic, write_text_atomic
from peftal.store.results import STORE_NAME, ResultsStore

STUDY_FILE = "study.json"
SPEC_COPY = "spec.yaml"
_LOCK_FILE = ".lock"


def plan_study(path: str | Path) -> tuple[Spec, list[Cell]]:
    """Load the spec at ``path`` and check every cell; all problems are raised together."""
    from peftal.experiments.study_kinds import get_kind

    spec = load_spec(path)
    try:
        kind = get_kind(spec.kind)
    except UsageError as error:
        raise SpecError(spec.source, [str(error)]) from None
    problems: list[str] = []
    cells = expand(spec, kind.config_cls, problems=problems)
    if cells:
        problems.extend(kind.validate([cell.config for cell in cells]))
        problems.extend(check_claims(spec.raw.get("claims"), [cell.config_dict for cell in cells],
                                     spec.kind))
    if problems:
        raise SpecError(spec.source, list(dict.fromkeys(problems)))
    return spec, cells


@dataclass
class StudyStatus:
    """Where a study stands.

    Attributes:
        name: Study name.
        total: Cells in the current spec.
        done: Of those, cells completed.
        failed: Of those, cells whose last attempt failed.
        errors: Cell id → error of each failed cell.
        labels: Cell id → human label (``dataset=trec method=lora ...``).
        superseded: Earlier results of re-run cells kept in the store (``study run --rerun``).
    """

    name: str
    total: int
    done: int
    failed: int
    errors: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    superseded: int = 0

    @property
    def pending(self) -> int:
        return self.total - self.done - self.failed

    def counts(self) -> dict[str, int]:
        """The ``peftal study status --json`` object."""
        return {"total": self.total, "done": self.done, "failed": self.failed}


def _manifest(spec: Spec, cells: list[Cell]) -> dict[str, Any]:
    from peftal.version import __version__

    return {
        "name": spec.name,
        "kind": spec.kind,
        "description": spec.description,
        "spec": spec.raw,
        "spec_source": spec.source,
        "peftal": __version__,
        "created_at": time.time(),
        "cells": [{"cell_id": cell.cell_id, "axes": cell.axes, "config": cell.config_dict}
                  for cell in cells],
    }


def read_manifest(out: Path) -> dict[str, Any]:
    """The ``study.json`` of study directory ``out``."""
    path = Path(out) / STUDY_FILE
    if not path.is_file():
        raise UsageError(f"{out} is not a study directory (no {STUDY_FILE}); "
                         "create one with `peftal study run SPEC --out DIR`")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UsageError(f"{path} is damaged ({error}); restore it from a backup") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("cells"), list):
        raise UsageError(f"{path} is damaged (no list of cells); restore it from a backup")
    return manifest


def _check_or_write_manifest(out: Path, spec: Spec, cells: list[Cell], force: bool) -> None:
    """Refuse a changed spec for an existing study unless ``force``; then (re)write the manifest."""
    path = out / STUDY_FILE
    if path.exists():
        old = read_manifest(out)
        old_ids = {cell["cell_id"] for cell in old["cells"]}
        new_ids = {cell.cell_id for cell in cells}
        if (old_ids != new_ids or old.get("kind") != spec.kind) and not force:
            raise UsageError(
                f"{out} holds study {old.get('name')!r} run from a different spec "
                f"({len(new_ids - old_ids)} cells added, {len(old_ids - new_ids)} removed); "
                "use another --out, or --force to switch it to this spec (completed cells that "
                "are still in it are kept)")
        if old_ids == new_ids and old.get("spec") == spec.raw:
            return
    elif (out / STORE_NAME).exists():
        raise UsageError(f"{out} holds a results store that is not a study's; choose another --out")
    write_json_atomic(path, _manifest(spec, cells))
    if Path(spec.source).is_file():
        write_text_atomic(out / SPEC_COPY, Path(spec.source).read_text(encoding="utf-8"))


@contextlib.contextmanager
def _exclusive(out: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``out``: two drivers writing one study would run cells twice."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; one driver per study is the user's job
        yield
        return
    handle = open(out / _LOCK_FILE, "w")  # noqa: SIM115 — held for the whole run
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise UsageError(f"another `peftal study run` is writing to {out}") from None
        yield
    finally:
        handle.close()  # releases the lock (also released by the OS if we are killed)


def record_outcome(store: ResultsStore, cell: Cell, outcome: dict[str, Any], study: str) -> None:
    """Write one cell's outcome; ``completed`` is set last, after every round is stored."""
    provenance = {**outcome.get("provenance", {}), "study": study, "axes": cell.axes}
    # A cell runs in a worker and is written here once it is over: its row starts when it began.
    store.begin_run(cell.cell_id, cell.kind, cell.config_dict, provenance,
                    started_at=outcome.get("started_at"))
    if outcome["status"] == "completed":
        for record in outcome["records"]:
            store.add_round(cell.cell_id, record)
        store.finish_run(cell.cell_id, outcome["summary"])
    else:
        error = outcome.get("error") or "unknown error"
        if outcome.get("traceback"):
            error = f"{error}\n{outcome['traceback']}"
        store.fail_run(cell.cell_id, error)


def parse_rerun(options: Sequence[str]) -> dict[str, list[Any]]:
    """``--rerun KEY=VALUE[,VALUE...]`` options as key → accepted values, each read as a spec
    value is (``true``, ``0.3``, ``1e-3``, ``lora``)."""
    import yaml

    def value(text: str) -> Any:
        parsed = yaml.safe_load(text)
        with contextlib.suppress(ValueError):  # YAML 1.1 reads 1e-3 as a string; a spec's lr is a float
            return float(parsed) if isinstance(parsed, str) else parsed
        return parsed

    filters: dict[str, list[Any]] = {}
    for option in options:
        key, sep, values = option.partition("=")
        key = key.strip()
        if not sep or not key or not values.strip():
            raise UsageError(f"--rerun takes KEY=VALUE (e.g. method=lora or seed=0,1), got {option!r}")
        try:
            filters.setdefault(key, []).extend(value(v.strip()) for v in values.split(",") if v.strip())
        except yaml.YAMLError:
            raise UsageError(f"--rerun {option!r}: a value is not a plain value") from None
    return filters


def select_cells(cells: Sequence[Cell], filters: Mapping[str, Sequence[Any]]) -> list[Cell]:
    """The cells whose config has, for every key of ``filters``, one of its values (compared as
    claims compare them: :func:`peftal.claims.grammar.matches`).

    Raises:
        UsageError: a key no cell has, or filters that select no cell.
    """
    configs = [cell.config_dict for cell in cells]
    unknown = sorted(set(filters) - {key for config in configs for key in config})
    if unknown:
        axes = sorted({key for cell in cells for key in cell.axes})
        raise UsageError(f"--rerun: no option {', '.join(unknown)} in this study's cells "
                         f"(its axes: {', '.join(axes) or 'none'})")
    chosen = [cell for cell, config in zip(cells, configs) if matches(config, filters)]
    if filters and not chosen:
        wanted = " ".join(f"{key}={','.join(map(str, values))}" for key, values in filters.items())
        raise UsageError(f"--rerun {wanted} selects no cell of the spec")
    return chosen


def run_study(spec_path: str | Path, out: str | Path, executor: Executor, *, force: bool = False,
              progress: bool = True, planned: tuple[Spec, list[Cell]] | None = None,
              rerun: Mapping[str, Sequence[str]] | None = None) -> StudyStatus:
    """Run every cell of the spec that is not completed in ``out`` yet; returns the final status.

    Args:
        spec_path: The study spec (YAML).
        out: The study directory (created if new).
        executor: Where cells run (:class:`~peftal.experiments.executors.LocalExecutor`, Ray).
        force: Switch an existing directory to a changed spec.
        progress: Show a progress bar over cells.
        planned: The result of :func:`plan_study` if the caller already ran it.
        rerun: Config key → values (:func:`parse_rerun`): the completed cells matching all of
            them run again; their earlier results stay in the store as superseded runs
            (:meth:`~peftal.store.results.ResultsStore.supersede`), out of every report.
    """
    from tqdm.auto import tqdm

    spec, cells = planned or plan_study(spec_path)
    again = select_cells(cells, rerun) if rerun else []  # a bad filter is named before any work
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} exists and is not a folder")
    check_writable_folder(out, "--out")
    check_sqlite(out / STORE_NAME)  # a damaged store is named before any cell is resumed
    out.mkdir(parents=True, exist_ok=True)
    with _exclusive(out):
        _check_or_write_manifest(out, spec, cells, force)
        with ResultsStore(out / STORE_NAME) as store:
            completed = {run["run_id"] for run in store.runs("completed")}
            for cell in again:
                if cell.cell_id in completed:
                    store.supersede(cell.cell_id)
                    completed.discard(cell.cell_id)
            todo = [cell for cell in cells if cell.cell_id not in completed]
            bar = tqdm(total=len(cells), initial=len(cells) - len(todo), unit="cell",
                       desc=spec.name, disable=None if progress else True, dynamic_ncols=True)
            try:
                with contextlib.closing(executor.run(todo)) as outcomes:
                    for cell, outcome in outcomes:
                        record_outcome(store, cell, outcome, spec.name)
                        if outcome["status"] != "completed":
                            first_line = (outcome.get("error") or "").splitlines()[:1]
                            bar.write(f"peftal: cell {cell.cell_id} ({cell.label}) failed: "
                                      f"{first_line[0] if first_line else 'unknown error'}")
                        bar.update(1)
            finally:
                bar.close()
    return study_status(out)


def study_status(out: str | Path) -> StudyStatus:
    """Counts of the cells of the study in ``out`` (only cells of its current spec count)."""
    out = Path(out)
    manifest = read_manifest(out)
    ids = [cell["cell_id"] for cell in manifest["cells"]]
    labels = {cell["cell_id"]: " ".join(f"{k}={v}" for k, v in cell["axes"].items())
              for cell in manifest["cells"]}
    runs: dict[str, dict[str, Any]] = {}
    superseded = 0
    if (out / STORE_NAME).exists():
        with ResultsStore(out / STORE_NAME) as store:
            runs = {run["run_id"]: run for run in store.runs()}
            superseded = len(store.runs("superseded"))
    current = [runs[i] for i in ids if i in runs]
    errors = {run["run_id"]: run["error"] or "" for run in current if run["status"] == "failed"}
    return StudyStatus(
        name=manifest["name"],
        total=len(ids),
        done=sum(run["status"] == "completed" for run in current),
        failed=len(errors),
        errors=errors,
        labels=labels,
        superseded=superseded,
    )
