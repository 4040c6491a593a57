"""Judge a study's claims on its stored runs: paired comparisons over seeds, with a verdict.

Each claim of the spec (:mod:`peftal.experiments.claims`, kept in ``study.json``) becomes one row
per value of its left selector and of its ``per`` keys. A row pairs every left run with its
partner (same config but for the right side's keys; or a constant) and tests the differences
``d = left - right`` one-sided, in the claimed direction and against it:

- ``>``: holds when ``d > 0`` is significant at ``alpha``; does not hold when ``d < 0`` is;
  otherwise it is within noise. ``<`` mirrors it.
- ``= … within m``: two one-sided tests (TOST, Schuirmann 1987): holds when ``-m < d < m`` is
  significant (both ``d > -m`` and ``d < m``); does not hold when ``d > m`` or ``d < -m`` is;
  otherwise within noise.

The test is the paired t-test (``scipy.stats.ttest_1samp`` of the differences) or the Wilcoxon
signed-rank test (``scipy.stats.wilcoxon``; with n = 3 pairs its smallest one-sided p is 0.125, so
it cannot reach 0.05 before n = 5). Fewer than 2 pairs are not judged. Reads stored records only.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from peftal.analysis.study_records import StudyRecords
from peftal.analysis.tables import ripl_runs
from peftal.experiments.claims import PASSIVE, Claim, Side, identity, matches, parse_claim

HOLDS, FAILS, NOISE, NOT_JUDGED = "holds", "does not hold", "within noise", "not judged"
TEST_NAMES = {"t": "t-test", "wilcoxon": "Wilcoxon signed-rank"}


def one_sided_p(x: np.ndarray, alternative: str, test: str = "t") -> float:
    """p-value of "the mean (t) or the median (Wilcoxon) of ``x`` is > 0" (``greater``) or "< 0".

    Every value equal (no spread) gives 0 when they all lie on the claimed side of 0, else 1: the
    t statistic is infinite there and SciPy returns NaN.
    """
    x = np.asarray(x, dtype=float)
    if np.ptp(x) == 0:
        return 0.0 if (x[0] > 0 if alternative == "greater" else x[0] < 0) else 1.0
    if test == "wilcoxon":
        return float(stats.wilcoxon(x, alternative=alternative).pvalue)
    return float(stats.ttest_1samp(x, 0.0, alternative=alternative).pvalue)


def verdict(diffs: np.ndarray, op: str, *, margin: float = 0.0, test: str = "t",
            alpha: float = 0.05) -> tuple[str, float]:
    """``(verdict, p)`` of the claim ``left op right`` from paired differences ``left - right``;
    ``p`` is that of the claim (the larger of the two TOST p-values for ``=``)."""
    d = np.asarray(diffs, dtype=float)
    if d.size < 2:
        return NOT_JUDGED, float("nan")
    if op == "=":
        p_claim = max(one_sided_p(d + margin, "greater", test), one_sided_p(d - margin, "less", test))
        p_against = min(one_sided_p(d - margin, "greater", test), one_sided_p(d + margin, "less", test))
    else:
        direction, opposite = ("greater", "less") if op == ">" else ("less", "greater")
        p_claim, p_against = one_sided_p(d, direction, test), one_sided_p(d, opposite, test)
    if p_claim < alpha:
        return HOLDS, p_claim
    if p_against < alpha:
        return FAILS, p_claim
    return NOISE, p_claim


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
        if name in ("final", "auc") and not options.get("metric"):
            column = runs.set_index("run_id")[name] if name in runs else pd.Series(dtype=float)
            return {k: float(v) for k, v in column.items() if pd.notna(v)}
        if name == "final":
            return self._final_metric(options["metric"])
        if name == "ripl":
            paired = ripl_runs(self.records)
            return {} if paired.empty else dict(zip(paired["run_id"], paired["ripl"], strict=True))
        if name == "cka":
            return self._cka(options.get("layers"))
        return self._forgetting(name, options.get("of", "all"))

    def _final_metric(self, metric: str) -> dict[str, float]:
        rounds = self.records.rounds
        if rounds.empty or metric not in rounds:
            return {}
        last = rounds.sort_values("round").groupby("run_id").last()[metric]
        return {k: float(v) for k, v in last.items() if pd.notna(v)}

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


def _combinations(select: Mapping[str, tuple[Any, ...]]) -> list[dict[str, tuple[Any, ...]]]:
    """One selector per combination of listed values (``method=a|b`` → ``method=a``, ``method=b``)."""
    keys = list(select)
    return [{k: (v,) for k, v in zip(keys, values, strict=True)}
            for values in itertools.product(*(select[k] for k in keys))]


def _spread(values: list[float]) -> tuple[float, float]:
    """Mean and sample std, summed exactly (``math.fsum``) so that the same runs give the same
    digits whatever order their pairs come in."""
    mean = math.fsum(values) / len(values)
    if len(values) < 2:
        return mean, float("nan")
    return mean, math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1))


def _test_name(claim: Claim, n: int) -> str:
    kind = "paired" if claim.right is not None else f"vs {claim.number:g}"
    how = "TOST" if claim.op == "=" else "one-sided"
    return f"{kind} {TEST_NAMES[claim.test]}, {how}, n={n}"


def judge_claim(claim: Claim, configs: dict[str, dict[str, Any]], values: _Values) -> list[dict]:
    """The rows of one claim: one per left value combination and ``per`` group."""
    left_values = values.of(claim.left)
    right_values = left_values if claim.right is None else values.of(claim.right)
    right_keys = list(claim.right.select) if claim.right else []
    partners = {} if claim.right is None else {
        identity(config, right_keys): run_id for run_id, config in configs.items()
        if matches(config, claim.right.select)}
    rows = []
    for select in _combinations(claim.left.select):
        chosen = {run_id: config for run_id, config in configs.items() if matches(config, select)
                  and run_id in left_values
                  and not (claim.left.quantity == "ripl" and config.get("strategy") == PASSIVE)}
        groups: dict[tuple, list[str]] = {}
        for run_id, config in chosen.items():
            groups.setdefault(tuple(str(config.get(key)) for key in claim.per), []).append(run_id)
        for group, run_ids in sorted(groups.items()) or [((), [])]:
            lefts, rights = [], []
            for run_id in sorted(run_ids):
                if claim.right is None:
                    lefts.append(left_values[run_id])
                    rights.append(claim.number)
                    continue
                partner = partners.get(identity(configs[run_id], right_keys))
                if partner in right_values:
                    lefts.append(left_values[run_id])
                    rights.append(right_values[partner])
            rows.append(_row(claim, select, dict(zip(claim.per, group, strict=False)), lefts, rights))
    return rows


def _row(claim: Claim, select: dict, group: dict, lefts: list[float], rights: list[float]) -> dict:
    side = Side(claim.left.quantity, claim.left.options, select)
    row: dict[str, Any] = {
        "claim": claim.index, "says": claim.says,
        "group": ", ".join(f"{k}={v}" for k, v in group.items()),
        "comparison": f"{side.label} {claim.op} "
                      f"{claim.right.label if claim.right else f'{claim.number:g}'}"
                      + (f" ± {claim.margin:g}" if claim.op == "=" else ""),
        "n": len(lefts)}
    if not lefts:
        return {**row, "verdict": "no runs", "test": "", "paper": claim.paper}
    diffs = np.asarray(lefts) - np.asarray(rights)
    outcome, p = verdict(diffs, claim.op, margin=claim.margin, test=claim.test, alpha=claim.alpha)
    (lm, ls), (dm, ds) = _spread(lefts), _spread(list(diffs))
    row.update(left_mean=lm, left_std=ls)
    if claim.right is not None:
        row["right_mean"], row["right_std"] = _spread(rights)
    row.update(diff_mean=dm, diff_std=ds, p=p, verdict=outcome, test=_test_name(claim, len(lefts)),
               paper=claim.paper)
    return row


def claims_table(records: StudyRecords) -> pd.DataFrame:
    """The claims of the study's spec judged on its completed runs (empty when it has none)."""
    raw = (records.manifest.get("spec") or {}).get("claims") or []
    if not raw:
        return pd.DataFrame()
    configs, values = _configs(records), _Values(records)
    rows = []
    for index, item in enumerate(raw, start=1):
        rows.extend(judge_claim(parse_claim(item, index), configs, values))
    columns = ["claim", "says", "group", "comparison", "left_mean", "left_std", "right_mean",
               "right_std", "diff_mean", "diff_std", "n", "test", "p", "verdict", "paper"]
    table = pd.DataFrame(rows)
    return table[[c for c in columns if c in table.columns]]
