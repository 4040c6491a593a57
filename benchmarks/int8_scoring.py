"""int8 against fp32 pool scoring, from a study that runs the same cells both ways.

Reads a study made with ``configs/int8-scoring.yaml`` (or any active-learning study whose only
other axis is ``scoring_precision``), pairs each int8 cell with the fp32 cell of the same
dataset, method, strategy and seed, and prints per pair and on average: the AUC and the final
metric of both, their differences, the query phase's seconds (all rounds) and its ratio, and the
overlap of the queried ids (the share of the ids queried in a round by the fp32 cell that the
int8 cell also queried, in rounds whose labelled sets are still the same: the first query; and
over all rounds, whose labelled sets drift apart once one query differs).

    peftal study run configs/int8-scoring.yaml --out studies/int8-scoring --threads 1
    python benchmarks/int8_scoring.py studies/int8-scoring
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict

import numpy as np
from scipy import stats

from peftal.analysis.study_records import load_records

GOAL_POINTS = 1.0  # the issue: AUC and final accuracy within 1 point of fp32 on average


def queried_by_round(store, run_id: str) -> dict[int, set[int]]:
    """``{round: ids it queried}`` of one stored run."""
    rounds: dict[int, set[int]] = defaultdict(set)
    for round_index, example_id, _ in store.queries(run_id):
        rounds[round_index].add(int(example_id))
    return dict(rounds)


def mean_interval(values: list[float]) -> str:
    """``[low, high]`` of a 95 % t interval of the mean of ``values`` (at least two)."""
    low, high = stats.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=stats.sem(values))
    return f"[{low:+.2f}, {high:+.2f}]"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("study", help="study directory")
    args = parser.parse_args()
    records = load_records(args.study)
    runs = records.completed
    if runs.empty or "scoring_precision" not in runs:
        raise SystemExit(f"{args.study}: no completed cells with a scoring_precision axis")
    keys = [key for key in ("dataset", "method", "strategy", "seed") if key in runs]
    seconds = {run_id: sum(r["query_seconds"] for r in records.store.rounds(run_id))
               for run_id in runs["run_id"]}
    pairs = []
    for identity, group in runs.groupby(keys, dropna=False):
        by_precision = {row["scoring_precision"]: row for _, row in group.iterrows()}
        if {"fp32", "int8"} - set(by_precision):
            continue
        fp32, int8 = by_precision["fp32"], by_precision["int8"]
        first_fp32, first_int8 = (queried_by_round(records.store, row["run_id"]) for row in (fp32, int8))
        shared = sorted(set(first_fp32) & set(first_int8))
        overlaps = [len(first_fp32[r] & first_int8[r]) / max(1, len(first_fp32[r])) for r in shared]
        row = {**dict(zip(keys, identity if isinstance(identity, tuple) else (identity,), strict=True)),
               "metric": fp32["metric"], "auc_fp32": fp32["auc"], "auc_int8": int8["auc"],
               "final_fp32": fp32["final"], "final_int8": int8["final"],
               "converged": bool(fp32.get("converged")) and bool(int8.get("converged")),
               "overlap_first_query": overlaps[0] if overlaps else None,
               "overlap_all_queries": float(np.mean(overlaps)) if overlaps else None}
        row["query_s_fp32"], row["query_s_int8"] = seconds[fp32["run_id"]], seconds[int8["run_id"]]
        pairs.append(row)
        print(json.dumps({key: (round(value, 4) if isinstance(value, float) else value)
                          for key, value in row.items()}, default=str), flush=True)
    if not pairs:
        raise SystemExit(f"{args.study}: no cell was run both ways yet")
    header = ["dataset", "seed", "AUC fp32", "AUC int8", "final fp32", "final int8", "query s fp32",
              "query s int8", "overlap 1st query", "overlap all", "converged"]
    print("\n" + " | ".join(header))
    for row in pairs:
        print(" | ".join([str(row.get("dataset")), str(row.get("seed")),
                          *(f"{row[k]:.3f}" for k in ("auc_fp32", "auc_int8", "final_fp32", "final_int8")),
                          *(f"{row[k]:.1f}" for k in ("query_s_fp32", "query_s_int8")),
                          *("—" if row[k] is None else f"{row[k]:.2f}"
                            for k in ("overlap_first_query", "overlap_all_queries")),
                          "yes" if row["converged"] else "NO"]))
    auc_diffs = [100 * (row["auc_int8"] - row["auc_fp32"]) for row in pairs]
    final_diffs = [100 * (row["final_int8"] - row["final_fp32"]) for row in pairs]
    auc_gap, final_gap = float(np.mean(auc_diffs)), float(np.mean(final_diffs))
    unconverged = sum(not row["converged"] for row in pairs)
    met = "met" if max(abs(auc_gap), abs(final_gap)) <= GOAL_POINTS else "not met"
    trained = (f"{unconverged} pair(s) with a cell that did not converge" if unconverged
               else "every cell converged")
    print(f"\n{len(pairs)} pairs; int8 - fp32 on average: AUC {auc_gap:+.2f} points, final "
          f"{final_gap:+.2f} points (goal: within {GOAL_POINTS:g}: {met}); {trained}")
    if len(pairs) > 1:
        # the pairs' spread says how far a mean difference of this many pairs moves by chance: once
        # a query differs, the two cells label different texts and drift apart like two seeds
        print("95 % interval of the mean difference (t over pairs): AUC "
              f"{mean_interval(auc_diffs)}, final {mean_interval(final_diffs)} points")
    total_fp32 = sum(row["query_s_fp32"] for row in pairs)
    total_int8 = sum(row["query_s_int8"] for row in pairs)
    print(f"query phase, all pairs: fp32 {total_fp32:.1f} s, int8 {total_int8:.1f} s "
          f"({total_fp32 / total_int8:.2f}x; cells ran one after another, not side by side)")
    records.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
