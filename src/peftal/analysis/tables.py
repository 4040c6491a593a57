"""The tables of a study report, computed from stored records (:mod:`peftal.analysis.study_records`).

Every table aggregates over seeds: ``mean``, ``std`` (sample standard deviation, ``ddof=1``; empty
for a single seed) and ``n`` (seeds). Rows are keyed by dataset, method, strategy and any other grid
axis, so a study that also varies, say, the budget gets one row per budget.

RIPL (relative improvement over passive learning) follows the issue's definition,
``(AUC_AL - AUC_random) / (1 - AUC_random)``, where the passive baseline is the ``random`` cell
with the *same* config otherwise (dataset, method, seed and every other option), so the
comparison is paired per seed before it is averaged.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from peftal.analysis.study_records import StudyRecords
from peftal.measures.curves import ripl
from peftal.records import all_converged

PASSIVE = "random"


def _aggregate(frame: pd.DataFrame, keys: list[str], value: str, prefix: str) -> pd.DataFrame:
    """Mean, std and count of ``value`` per group; ``converged`` when every run of the group
    converged (``False`` if one did not, empty where unknown)."""
    grouped = frame.groupby(keys, dropna=False, sort=True)
    table = grouped[value].agg(["mean", "std", "count"]).reset_index()
    if "converged" in frame.columns:
        flags = grouped["converged"].agg(lambda column: all_converged(list(column)))
        table["converged"] = flags.to_numpy()
    return table.rename(columns={"mean": f"{prefix}_mean", "std": f"{prefix}_std", "count": "n"})


def curve_table(records: StudyRecords, metrics: tuple[str, ...] = ()) -> pd.DataFrame:
    """Learning curves: per dataset, line (method × strategy × other axes) and label count, the
    mean and std over seeds of the primary metric, or with ``metrics`` of the first of them each
    run recorded (as :func:`metric_vs`)."""
    runs = records.completed
    if records.rounds.empty or runs.empty:
        return pd.DataFrame()
    keys = records.group_keys("dataset", "method", "strategy")
    chosen = {run_id: metric for run_id, (metric, _) in records.first_metric(metrics).items()}
    if chosen:
        runs = runs.assign(metric=[chosen.get(run_id, metric) for run_id, metric
                                   in zip(runs["run_id"], runs["metric"], strict=True)])
    merged = records.rounds.merge(runs[["run_id", "metric", *keys]], on="run_id")
    for metric in set(chosen.values()):  # each round's value of its run's metric
        merged["value"] = merged["value"].mask(merged["metric"] == metric, merged[metric])
    if "converged" in merged.columns:  # the curve's point is the round's, not the whole run's
        merged = merged.assign(converged=merged["converged"].astype(object))
    return _aggregate(merged, [*keys, "metric", "num_labeled"], "value", "value")


def auc_table(records: StudyRecords) -> pd.DataFrame:
    """Area under each learning curve (normalised to [0, 1]), mean and std over seeds."""
    runs = records.completed
    if runs.empty or "auc" not in runs or runs["auc"].isna().all():
        return pd.DataFrame()
    keys = records.group_keys("dataset", "method", "strategy")
    return _aggregate(runs[runs["auc"].notna()], [*keys, "metric"], "auc", "auc")


def ripl_runs(records: StudyRecords) -> pd.DataFrame:
    """One row per AL run with a passive baseline: its AUC, the baseline's AUC and the RIPL."""
    runs = records.completed
    if runs.empty or "strategy" not in runs or "auc" not in runs:
        return pd.DataFrame()
    others = [key for key in records.config_keys if key != "strategy" and key in runs.columns]
    identity = runs[others].map(repr).agg("|".join, axis=1) if others else pd.Series("", runs.index)
    runs = runs.assign(_identity=identity)
    baseline = runs[runs["strategy"] == PASSIVE].set_index("_identity")["auc"]
    baseline = baseline[~baseline.index.duplicated()]
    active = runs[(runs["strategy"] != PASSIVE) & runs["_identity"].isin(baseline.index)]
    if active.empty:
        return pd.DataFrame()
    auc_random = active["_identity"].map(baseline)
    values = [ripl(a, r) for a, r in zip(active["auc"], auc_random, strict=True)]
    return active.drop(columns="_identity").assign(auc_random=auc_random.to_numpy(), ripl=values)


def ripl_table(records: StudyRecords) -> pd.DataFrame:
    """RIPL of every non-random strategy, paired per seed with its random baseline, then averaged."""
    paired = ripl_runs(records)
    if paired.empty:
        return paired
    keys = records.group_keys("dataset", "method", "strategy")
    return _aggregate(paired, [*keys, "metric"], "ripl", "ripl")


def parameter_table(records: StudyRecords) -> pd.DataFrame:
    """Trainable and total parameters per dataset and method (the head's size depends on the
    dataset's label count), with the trainable share in percent."""
    runs = records.completed
    if runs.empty or runs["trainable_params"].isna().all():
        return pd.DataFrame()
    keys = [key for key in ("dataset", "model_name", "method") if key in runs.columns]
    table = (runs.dropna(subset=["trainable_params"])
             .groupby(keys, dropna=False, sort=True)[["trainable_params", "total_params"]]
             .first().reset_index().rename(columns={"model_name": "model"}))
    table["trainable_percent"] = 100.0 * table["trainable_params"] / table["total_params"]
    table[["trainable_params", "total_params"]] = table[["trainable_params", "total_params"]].astype(
        np.int64)
    return table


def metric_vs(records: StudyRecords, x: str, metrics: tuple[str, ...] = ()) -> pd.DataFrame:
    """Final test metric against option ``x`` (``fraction``, ``time_budget``, ``tapt``), mean/std over seeds;
    one line per method and every other axis. Empty unless ``x`` takes several values.

    The metric is each run's primary one, or with ``metrics`` the first of them the run recorded
    (e.g. the ones a study's claims compare: MCC for CoLA, F1 for MRPC, Pearson for STS-B)."""
    runs = records.completed
    if runs.empty or x not in runs.columns or runs[x].map(repr).nunique() < 2:
        return pd.DataFrame()
    keys = records.group_keys("dataset", "method", exclude=(x,))
    chosen = records.first_metric(metrics)
    if chosen:
        pairs = [chosen.get(run_id, (metric, final)) for run_id, metric, final
                 in zip(runs["run_id"], runs["metric"], runs["final"], strict=True)]
        runs = runs.assign(metric=[metric for metric, _ in pairs],
                           final=[value for _, value in pairs])
    frame = runs[runs["final"].notna()].copy()
    # None (no limit) sorts after every number and stays a group of its own.
    frame[x] = frame[x].astype(object)
    return _aggregate(frame, [*keys, "metric", x], "final", "value")
