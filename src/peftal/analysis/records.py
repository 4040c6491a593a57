"""Forgetting and CKA summaries of stored runs: what ``peftal analyze`` prints and reports plot.

Reads results stores only (per-epoch correctness, labelled ids with their acquisition round, the
``cka`` artifacts written by the run's representation probe); never loads a model or trains.
A folder may hold one run (``results.sqlite`` with run id ``run``), a study (one store, many runs)
or any tree of such folders.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from peftal.analysis.forgetting import forgetting_stats
from peftal.errors import UsageError
from peftal.store.results import STORE_NAME, ResultsStore

WARM_START = "warm_start"  # source of the examples labelled before the first query
_GROUP_FIELDS = ("dataset", "method", "strategy")


def find_stores(folder: str | Path) -> list[Path]:
    """Every results store in ``folder`` and below it, in a stable order.

    Raises:
        UsageError: ``folder`` is missing or holds no store.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a folder")
    stores = sorted(folder.rglob(STORE_NAME), key=lambda p: (len(p.relative_to(folder).parts), str(p)))
    if not stores:
        raise UsageError(f"{folder} holds no {STORE_NAME} (run `peftal run --out {folder}` first)")
    return stores


def _run_key(folder: Path, store_path: Path, run_id: str) -> str:
    """``run`` for a single run folder, ``sub/dir/run`` below it, a study's own ids at its root."""
    relative = store_path.parent.relative_to(folder)
    return "/".join([*relative.parts, run_id])


def _run_info(run: dict[str, Any]) -> dict[str, Any]:
    """Who a run is: dataset, model, method, strategy, seed (from its summary, else its config)."""
    summary, config = run.get("summary") or {}, run.get("config") or {}
    info = {key: summary.get(key, config.get(key)) for key in
            ("dataset", "model", "method", "strategy", "seed")}
    info["status"] = run["status"]
    return info


def run_forgetting(store: ResultsStore, run_id: str, strategy: str | None = None) -> dict[str, Any] | None:
    """Forgetting statistics of every round of ``run_id`` (``None`` when it stored no correctness).

    Each round (a model retrained from the pretrained weights on all ids labelled so far) gives
    its overall :class:`~peftal.analysis.forgetting.ForgettingStats` plus the same split by the
    round each example was acquired in and by its source (``warm_start`` or the run's strategy).
    ``final`` is the last round: all labelled examples.
    """
    matrices = store.correctness(run_id)
    if not matrices:
        return None
    acquired = store.labeled(run_id)
    num_labeled = {r["round"]: r["num_labeled"] for r in store.rounds(run_id)}
    rounds = []
    for round_index, (ids, correct) in sorted(matrices.items()):
        when = np.array([acquired.get(i, -1) for i in ids])
        entry = {"round": round_index, "num_labeled": num_labeled.get(round_index, len(ids)),
                 "num_epochs": int(correct.shape[0]), **forgetting_stats(correct).to_dict()}
        entry["by_acquisition_round"] = {
            str(a): forgetting_stats(correct, np.flatnonzero(when == a)).to_dict()
            for a in np.unique(when)
        }
        sources = np.where(when == 0, WARM_START, strategy or "queried")
        entry["by_source"] = {
            str(s): forgetting_stats(correct, np.flatnonzero(sources == s)).to_dict()
            for s in np.unique(sources)
        }
        rounds.append(entry)
    return {"final": rounds[-1], "rounds": rounds}


def run_cka(store: ResultsStore, run_id: str) -> dict[str, Any] | None:
    """Layer-wise CKA of ``run_id`` against the base model (``None`` when it stored none).

    The top level is the last measured round (``per_layer``, ``per_layer_rbf``, the layer × layer
    ``matrix``; ``None`` where a layer is constant over the probe); ``by_round`` lists every
    measured round, for CKA against the labelled-set size.
    """
    measured = store.artifacts(run_id, "cka")
    if not measured:
        return None
    num_labeled = {r["round"]: r["num_labeled"] for r in store.rounds(run_id)}
    by_round = [
        {"round": r, "num_labeled": num_labeled.get(r),
         "per_layer": value["per_layer"], "per_layer_rbf": value.get("per_layer_rbf")}
        for r, value in sorted(measured.items())
    ]
    last_round = max(measured)
    last = measured[last_round]
    return {"round": last_round, "num_labeled": num_labeled.get(last_round),
            "kernel": last.get("kernel", "linear"), "pooling": last.get("pooling"),
            "probe_size": last.get("probe_size"),
            "per_layer": last["per_layer"], "per_layer_rbf": last.get("per_layer_rbf"),
            "matrix": last.get("matrix"), "by_round": by_round}


def analyze(folder: str | Path) -> dict[str, Any]:
    """Forgetting and CKA of every run stored in ``folder`` (a run, a study or a tree of them).

    Returns:
        ``{"forgetting": {run: {...}}, "cka": {run: {...}}}``, runs keyed by
        folder path and run id; each entry also names the run's dataset, model, method, strategy,
        seed and status. Runs without the records in question are left out of that section.
    """
    folder = Path(folder)
    result: dict[str, Any] = {"forgetting": {}, "cka": {}}
    for path in find_stores(folder):
        with ResultsStore(path) as store:
            part = analyze_runs(store, store.runs(), key=lambda run_id, path=path: _run_key(folder, path,
                                                                                             run_id))
        for section in result:
            result[section].update(part[section])
    return result


def analyze_runs(store: ResultsStore, runs: list[dict[str, Any]],
                 key: Callable[[str], str] | None = None) -> dict[str, Any]:
    """:func:`analyze` for the given ``runs`` (rows of ``store.runs()``) of one store, keyed by
    ``key(run_id)`` (default: the run id)."""
    result: dict[str, Any] = {"forgetting": {}, "cka": {}}
    for run in runs:
        name, info = (key or str)(run["run_id"]), _run_info(run)
        forgetting = run_forgetting(store, run["run_id"], info["strategy"])
        if forgetting is not None:
            result["forgetting"][name] = {**info, **forgetting}
        cka = run_cka(store, run["run_id"])
        if cka is not None:
            result["cka"][name] = {**info, **cka}
    return result


def group_runs(runs: Mapping[str, Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """Runs (key → entry of :func:`analyze`) grouped under a label made of the identifying fields
    that vary between them: always the method, plus the dataset and strategy where they differ.
    Seeds are what a group averages over."""
    varying = [f for f in _GROUP_FIELDS if len({str(r.get(f)) for r in runs.values()}) > 1]
    fields = varying if "method" in varying else ["method", *varying]
    groups: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for key in sorted(runs):
        groups[" · ".join(str(runs[key].get(f)) for f in fields)].append(runs[key])
    return dict(sorted(groups.items()))  # by label (dataset · method · ...), not by run id


def completed(runs: Mapping[str, Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """The completed runs only: a run still going (or failed) has not reached its last round, and
    averaging it with finished ones would mix labelled-set sizes."""
    return {key: run for key, run in runs.items() if run.get("status") == "completed"}


def group_summary(result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per group of :func:`group_runs` (completed runs only), mean and std over its runs of the last
    round's forgetting shares (of the labelled examples) and of the per-layer CKA."""
    rows = []
    forgetting, cka = completed(result.get("forgetting", {})), completed(result.get("cka", {}))
    forgetting_groups, cka_groups = group_runs(forgetting), group_runs(cka)
    for label in dict.fromkeys([*forgetting_groups, *cka_groups]):
        row: dict[str, Any] = {"group": label}
        finals = [run["final"] for run in forgetting_groups.get(label, [])]
        if finals:
            row["runs"] = len(finals)
            for field in ("forgettable", "unforgettable", "never_learned"):
                shares = [f[field] / max(1, f["num_examples"]) for f in finals]
                row[f"{field}_share"] = (float(np.mean(shares)), float(np.std(shares)))
        layers = [run["per_layer"] for run in cka_groups.get(label, [])]
        if layers and len({len(values) for values in layers}) == 1:
            table = np.array([[np.nan if v is None else v for v in values] for values in layers])
            row["cka_runs"] = len(layers)
            row["per_layer"] = [(float(m), float(s)) for m, s in
                                zip(table.mean(axis=0), table.std(axis=0), strict=True)]
        rows.append(row)
    return rows
