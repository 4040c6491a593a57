"""A study's claims judged on its stored records: the per-run values each claim compares.

The grammar and the statistics are :mod:`peftal.claims`; this module reads what they need from a
study's records — each completed run's config, its value of a claim's quantity and whether its
trainings converged — and hands them to :func:`peftal.claims.judge.judge_claim`. Reads stored
records only.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from peftal.analysis.study_records import StudyRecords
from peftal.analysis.tables import ripl_runs
from peftal.claims.grammar import Side, metric_names, parse_claim
from peftal.claims.judge import claims_frame, judge_claim


def _configs(records: StudyRecords) -> dict[str, dict[str, Any]]:
    """Completed run id → its config as stored (typed JSON, ``None`` kept as ``None``)."""
    done = set(records.completed["run_id"]) if not records.runs.empty else set()
    return {run["run_id"]: run["config"] for run in records.store.runs() if run["run_id"] in done}


class _Values:
    """Per-run values of quantities, computed once per report (forgetting and CKA lazily)."""

    def __init__(self, records: StudyRecords) -> None:
        self.records = records
        self._analysis: dict[str, Any] | None = None

    def analysis(self) -> dict[str, Any]:
        if self._analysis is None:
            from peftal.analysis.records import analyze

            self._analysis = analyze(self.records.path)
        return self._analysis

    def of(self, side: Side) -> dict[str, float]:
        """Run id → the value of ``side``'s quantity (runs without one are left out)."""
        runs = self.records.completed
        name, options = side.quantity, side.options
        if name in ("final", "auc", "trainable_params") and not options.get("metric"):
            column = runs.set_index("run_id")[name] if name in runs else pd.Series(dtype=float)
            return {k: float(v) for k, v in column.items() if pd.notna(v)}
        if name == "final":
            return self._final_metric(metric_names(side))
        if name == "train_seconds":
            return self._train_seconds()
        if name == "ripl":
            paired = ripl_runs(self.records)
            return {} if paired.empty else dict(zip(paired["run_id"], paired["ripl"], strict=True))
        if name == "cka":
            return self._cka(options.get("layers"))
        return self._forgetting(name, options.get("of", "all"))

    def _final_metric(self, metrics: tuple[str, ...]) -> dict[str, float]:
        """Each run's last-round value of the first of ``metrics`` it recorded."""
        return {run_id: value for run_id, (_, value) in self.records.first_metric(metrics).items()}

    def _train_seconds(self) -> dict[str, float]:
        """Training wall time: the supervised summary's, or the sum over an AL run's rounds."""
        rounds, runs = self.records.rounds, self.records.completed
        values: dict[str, float] = {}
        if not rounds.empty and "train_seconds" in rounds:
            values.update(rounds.groupby("run_id")["train_seconds"].sum().to_dict())
        if "train_seconds" in runs:
            values.update({k: float(v) for k, v in zip(runs["run_id"], runs["train_seconds"],
                                                       strict=True) if pd.notna(v)})
        done = set(runs["run_id"])
        return {k: float(v) for k, v in values.items() if k in done}

    def _cka(self, layers: str | None) -> dict[str, float]:
        values = {}
        for run_id, entry in self.analysis()["cka"].items():
            per_layer = entry["per_layer"]
            first, _, last = (layers or f"0-{len(per_layer) - 1}").partition("-")
            chosen = [v for v in per_layer[int(first): int(last or first) + 1] if v is not None]
            if chosen:
                values[run_id] = float(np.mean(chosen))
        return values

    def _forgetting(self, field: str, of: str) -> dict[str, float]:
        values = {}
        for run_id, entry in self.analysis()["forgetting"].items():
            final = entry["final"]
            if of == "queried":
                final = final["by_source"].get(str(entry.get("strategy")))
                if final is None:
                    continue
            values[run_id] = final[field] / final["num_examples"] if final["num_examples"] else np.nan
        return {k: v for k, v in values.items() if not np.isnan(v)}


def claim_metrics(records: StudyRecords) -> tuple[str, ...]:
    """The metrics the spec's claims compare (``final[metric=mcc|f1|pearson]``) when every claim
    on a final metric names the same ones; empty otherwise (tables then use the primary metric)."""
    named = set()
    for index, item in enumerate((records.manifest.get("spec") or {}).get("claims") or [], start=1):
        claim = parse_claim(item, index)
        if claim.not_judged:
            continue
        named |= {metric_names(side) for side in (claim.left, claim.right)
                  if side is not None and side.quantity == "final"}
    return next(iter(named)) if len(named) == 1 else ()


def claims_table(records: StudyRecords) -> pd.DataFrame:
    """The claims of the study's spec judged on its completed runs (empty when it has none)."""
    raw = (records.manifest.get("spec") or {}).get("claims") or []
    if not raw:
        return pd.DataFrame()
    configs, values = _configs(records), _Values(records)
    runs = records.completed
    flags = {column: dict(zip(runs["run_id"], runs[column], strict=True)) if column in runs else {}
             for column in ("converged", "learned")}
    converged, learned = flags["converged"], flags["learned"]
    rows = []
    for index, item in enumerate(raw, start=1):
        claim = parse_claim(item, index)
        if claim.not_judged:
            rows.extend(judge_claim(claim, configs, {}, {}, converged, learned))
            continue
        left = values.of(claim.left)
        right = left if claim.right is None else values.of(claim.right)
        rows.extend(judge_claim(claim, configs, left, right, converged, learned))
    return claims_frame(rows)
