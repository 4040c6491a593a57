"""Read a study's (or a single run's) stored records into tables; the input of every analysis.

Reads the results store and, for a study, its ``study.json``: only the cells of the study's current
spec count. Never imports training code: everything here is derived from what the runs recorded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from peftal.records import all_converged
from peftal.store.results import STORE_NAME, ResultsStore

STUDY_FILE = "study.json"  # written by peftal.experiments.study (kept in sync by a test)
# Config keys that name a cell's setting but never split a table by themselves.
NOT_AN_AXIS = ("seed",)


@dataclass
class StudyRecords:
    """A study's stored records as tables.

    Attributes:
        path: The study (or run) directory.
        name: Study name (the folder name for a single run).
        kind: ``active_learning``, ``supervised`` or ``mixed``.
        runs: One row per run: ``run_id``, ``kind``, ``status``, ``error``, every config key,
            ``metric`` (the primary metric), ``final`` (its last value), ``auc`` (AL),
            ``trainable_params``, ``total_params``, ``wall_seconds``, ``peak_memory_mb``, ``code``
            (short git commit of the code that ran it, ``+dirty`` for a changed tree; ``None``
            outside a git checkout), ``converged`` (every round's training converged; ``None``
            where unknown, e.g. a store written before convergence was recorded), ``learned``
            (the last round's model beat chance on the evaluation split,
            :func:`peftal.training.metrics.above_chance`; ``None`` where unknown).
        rounds: One row per finished AL round (of any run, stopped ones included): ``run_id``,
            ``round``, ``num_labeled``, ``value`` (the primary metric), ``converged``,
            ``train_seconds`` and one column per recorded metric.
        axes: Config keys whose value differs between runs (the study's grid axes), seed included.
        config_keys: Every config key of the runs (the columns that identify a cell).
        store: The open results store, for analyses that need raw records (forgetting, CKA).
        manifest: The study's ``study.json`` (empty for a single run).
        stored_runs: The store's rows of exactly the runs in ``runs`` (cells removed from the spec
            left out), for :meth:`analysis`.
    """

    path: Path
    name: str
    kind: str
    runs: pd.DataFrame
    rounds: pd.DataFrame
    axes: list[str]
    config_keys: list[str]
    store: ResultsStore
    manifest: dict[str, Any] = field(default_factory=dict)
    stored_runs: list[dict[str, Any]] = field(default_factory=list)
    _analysis: dict[str, Any] | None = field(default=None, repr=False)

    def analysis(self) -> dict[str, Any]:
        """Forgetting and CKA (:func:`peftal.analysis.records.analyze_runs`) of the same runs as
        every other table here, read from the same store (computed once per object)."""
        from peftal.analysis.records import analyze_runs

        if self._analysis is None:
            self._analysis = analyze_runs(self.store, self.stored_runs)
        return self._analysis

    @property
    def completed(self) -> pd.DataFrame:
        return self.runs[self.runs["status"] == "completed"]

    def group_keys(self, *leading: str, exclude: tuple[str, ...] = ()) -> list[str]:
        """``leading`` keys, then every other grid axis, minus seeds and ``exclude``."""
        keys = [key for key in leading if key in self.runs.columns]
        keys += [axis for axis in self.axes if axis not in keys and axis not in NOT_AN_AXIS]
        return [key for key in keys if key not in exclude]

    def first_metric(self, metrics: tuple[str, ...]) -> dict[str, tuple[str, float]]:
        """Run id → (metric, value): the run's last-round value of the first of ``metrics`` it
        recorded (runs that recorded none of them are left out)."""
        present = [metric for metric in metrics if metric in self.rounds]
        if self.rounds.empty or not present:
            return {}
        last = self.rounds.sort_values("round").groupby("run_id").last()
        values: dict[str, tuple[str, float]] = {}
        for metric in reversed(present):  # the first listed wins
            values.update({k: (metric, float(v)) for k, v in last[metric].items() if pd.notna(v)})
        return values

    def close(self) -> None:
        self.store.close()


def primary_metric(summary: dict[str, Any]) -> str | None:
    """The metric a run's curve is drawn with: the summary's own choice, else accuracy, else the
    first metric recorded (the rule of ``peftal.training.metrics.primary_metric``, restated here
    because analysis reads records and does not import training)."""
    if summary.get("metric"):
        return summary["metric"]
    metrics = summary.get("metrics") or (summary.get("rounds") or [{}])[-1].get("metrics") or {}
    if not metrics:
        return None
    return "accuracy" if "accuracy" in metrics else next(iter(metrics))


def load_records(path: str | Path) -> StudyRecords:
    """Open the study or run directory ``path`` (holding ``results.sqlite``)."""
    from peftal.errors import UsageError

    path = Path(path)
    if not (path / STORE_NAME).is_file():
        raise UsageError(f"{path} holds no results store ({STORE_NAME}); "
                         "give a study directory or a `peftal run` output folder")
    manifest = json.loads((path / STUDY_FILE).read_text()) if (path / STUDY_FILE).is_file() else {}
    store = ResultsStore(path / STORE_NAME)
    runs = store.runs()
    if manifest:
        current = {cell["cell_id"] for cell in manifest["cells"]}
        runs = [run for run in runs if run["run_id"] in current]
    run_rows, round_rows = [], []
    for run in runs:
        row, rounds = _run_row(store, run)
        run_rows.append(row)
        round_rows.extend(rounds)
    frame = pd.DataFrame(run_rows)
    rounds_frame = pd.DataFrame(round_rows, columns=None if round_rows else
                                ["run_id", "round", "num_labeled", "value"])
    config_keys = sorted({key for run in runs for key in run["config"]})
    kinds = sorted({run["kind"] for run in runs}) or [manifest.get("kind", "active_learning")]
    return StudyRecords(
        path=path,
        name=manifest.get("name") or path.resolve().name,
        kind=kinds[0] if len(kinds) == 1 else "mixed",
        runs=frame if len(frame) else pd.DataFrame(columns=["run_id", "kind", "status", "error"]),
        rounds=rounds_frame,
        axes=_varying(frame, config_keys),
        config_keys=config_keys,
        store=store,
        manifest=manifest,
        stored_runs=runs,
    )


def _run_row(store: ResultsStore, run: dict[str, Any]) -> tuple[dict[str, Any], list[dict]]:
    summary = run["summary"] or {}
    provenance = run["provenance"] or {}
    metric = primary_metric(summary) if summary else None
    row: dict[str, Any] = {"run_id": run["run_id"], "kind": run["kind"], "status": run["status"],
                           "error": (run["error"] or "").split("\n", 1)[0] or None}
    row.update({key: _hashable(value) for key, value in run["config"].items()})
    for key in ("fraction", "num_train", "time_budget", "train_seconds", "epochs_completed"):
        if key in summary and key not in row:
            row[key] = summary[key]
    row.update(metric=metric, auc=summary.get("auc"), model_name=summary.get("model"),
               trainable_params=summary.get("trainable_params"),
               total_params=summary.get("total_params"),
               wall_seconds=provenance.get("wall_seconds"),
               peak_memory_mb=provenance.get("peak_memory_mb"),
               code=_code_version(provenance))
    rounds = []  # a stopped or failed run keeps the rounds it finished (tables use completed runs)
    stored = []
    if run["kind"] == "active_learning" or run["status"] == "completed":
        stored = store.rounds(run["run_id"])
        if metric is None and stored:  # no summary: the rule applied to the last finished round
            metric = primary_metric({"metrics": stored[-1]["metrics"]})
            row["metric"] = metric
        for record in stored:
            rounds.append({"run_id": run["run_id"], "round": record["round"],
                           "num_labeled": record["num_labeled"],
                           "value": record["metrics"].get(metric), "converged": record["converged"],
                           "train_seconds": record["train_seconds"],
                           **record["metrics"]})
    row["converged"] = all_converged([record["converged"] for record in stored])
    # the last model's chance check (the model whose number is the run's final one)
    row["learned"] = stored[-1].get("learned") if stored else None
    final_metrics = summary.get("metrics") or (rounds[-1] if rounds else {})
    row["final"] = final_metrics.get(metric) if metric else None
    return row, rounds


def _code_version(provenance: dict[str, Any]) -> str | None:
    """The cell's code version: the short git commit, ``+dirty`` when the tree had changes."""
    commit = provenance.get("git_commit")
    if not commit:
        return None
    return commit[:7] + ("+dirty" if provenance.get("git_dirty") else "")


def _hashable(value: Any) -> Any:
    """Lists (e.g. target modules) as tuples so that they can be grouped on."""
    return tuple(value) if isinstance(value, list) else value


def _varying(frame: pd.DataFrame, keys: list[str]) -> list[str]:
    if not len(frame):
        return []
    varying = []
    for key in keys:
        if key in frame.columns and frame[key].map(repr).nunique() > 1:
            varying.append(key)
    return varying
