"""Judge claims on per-run values: pair runs, average within seeds, test, correct, give verdicts.

Inputs are plain values (run id → config, run id → number, run id → converged), so this module
reads no store; :func:`peftal.analysis.claims.claims_table` computes them from a study's records.

One claim gives one row per value of its left selector and of its ``per`` keys. A row pairs every
left run with its partner (same config but for the right side's keys; or a constant). Pairs that
share a seed are averaged first — cells pooled over strategies or TAPT are not independent
replicates — so ``n`` is the number of seeds (pseudo-replication, Hurlbert 1984). Each row is
tested by :mod:`peftal.claims.statistics`; the p-values of one study's table are then
Holm-corrected together, and the verdict reads the corrected p:

- **holds**: the claimed direction (or TOST's band) is significant at the claim's alpha;
- **does not hold**: the opposite is (also Holm-corrected);
- **within noise**: neither;
- **withheld: under-trained cells**: a run entering the row did not converge (its p is still
  shown; a comparison with a side that did not train is no finding);
- **withheld: cells at chance**: every run converged, but one entering the row ends at chance on
  the evaluation split (:func:`peftal.training.metrics.above_chance`: a model that predicts the
  majority class fits its training loss and still learned nothing the claim could be about);
- **not judged**: fewer than 2 seeds, or the claim says why the study cannot test it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from peftal.claims.grammar import PASSIVE, Claim, Side, identity, matches
from peftal.claims.statistics import claim_p_values, holm
from peftal.records import all_converged

HOLDS, FAILS, NOISE, NOT_JUDGED = "holds", "does not hold", "within noise", "not judged"
WITHHELD = "withheld: under-trained cells"
AT_CHANCE = "withheld: cells at chance"
NOT_KNOWN = "not known"
TEST_NAMES = {"t": "t-test", "wilcoxon": "Wilcoxon signed-rank"}
COLUMNS = ["claim", "says", "group", "comparison", "left_mean", "left_std", "right_mean",
           "right_std", "diff_mean", "diff_std", "n", "pairs", "test", "p", "p_holm", "verdict",
           "converged", "learned", "paper_value", "paper_source", "paper"]

RunConfigs = Mapping[str, Mapping[str, Any]]

METHOD_TEXT = (
    "<p>Each finding, quoted, as the study's spec checks it, judged on the completed runs. A row "
    "pairs every run on the left with the run of the same config but for the right side's keys, "
    "or with a constant; the runs of one seed that differ in nothing else the claim names "
    "(strategies, TAPT) are averaged first, so <i>n</i> counts seeds, not cells. <b>Beats</b> "
    "(&gt; / &lt;) is a one-sided paired test; <b>matches</b> (= … ± m) is TOST, two one-sided "
    "tests that the difference lies inside ± m, so an underpowered comparison is never called "
    "equivalent. <i>p</i> is the claim's p-value, <i>p_holm</i> the same Holm-corrected over every "
    "row of this table; verdicts read p_holm at the claim's alpha (default 0.05): <b>holds</b>, "
    "<b>does not hold</b> (the opposite is significant), <b>within noise</b>. A row with a cell "
    "whose training did not converge, or whose model ends at chance on the evaluation split "
    "(Matthews' correlation or Pearson's r within 2 / &radic;n of 0), is <b>withheld</b>; fewer "
    "than 2 seeds are not judged. "
    "<i>paper_value</i> is the paper's number for the left side, with its source, or "
    "\"not known\".</p>")


def _combinations(select: Mapping[str, tuple[Any, ...]]) -> list[dict[str, tuple[Any, ...]]]:
    """One selector per combination of listed values (``method=a|b`` → ``method=a``, ``method=b``)."""
    keys = list(select)
    return [{k: (v,) for k, v in zip(keys, values, strict=True)}
            for values in itertools.product(*(select[k] for k in keys))]


def _spread(values: list[float]) -> tuple[float, float]:
    """Mean and sample std, summed exactly (``math.fsum``) so that the same runs give the same
    digits whatever order they come in."""
    mean = math.fsum(values) / len(values)
    if len(values) < 2:
        return mean, float("nan")
    return mean, math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1))


def judge_claim(claim: Claim, configs: RunConfigs, left_values: Mapping[str, float],
                right_values: Mapping[str, float], converged: Mapping[str, bool | None],
                learned: Mapping[str, bool | None] | None = None) -> list[dict]:
    """The rows of one claim (before the study-wide Holm correction of :func:`claims_frame`);
    ``converged`` and ``learned`` (run id → flag, ``None`` unknown) decide the withheld rows."""
    learned = learned or {}
    if claim.not_judged:
        return [_base(claim, claim.left, {}, 0) | {"verdict": f"{NOT_JUDGED}: {claim.not_judged}",
                                                   "pairs": 0, "test": ""}]
    right_keys = list(claim.right.select) if claim.right else []
    partners = {} if claim.right is None else {
        identity(config, right_keys): run_id for run_id, config in configs.items()
        if matches(config, claim.right.select)}
    # RIPL rests on the paired random run as well: its training counts for the row's convergence
    passive = {} if claim.left.quantity != "ripl" else {
        identity(config, ["strategy"]): run_id for run_id, config in configs.items()
        if config.get("strategy") == PASSIVE}
    rows = []
    for select in _combinations(claim.left.select):
        chosen = {run_id: config for run_id, config in configs.items() if matches(config, select)
                  and run_id in left_values
                  and not (claim.left.quantity == "ripl" and config.get("strategy") == PASSIVE)}
        groups: dict[tuple, list[str]] = {}
        for run_id, config in chosen.items():
            groups.setdefault(tuple(str(config.get(key)) for key in claim.per), []).append(run_id)
        for group, run_ids in sorted(groups.items()) or [((), [])]:
            units: dict[str, list[tuple[float, float]]] = {}  # seed → its (left, right) pairs
            used: list[str] = []
            for run_id in sorted(run_ids):
                entering = [run_id]
                if claim.right is None:
                    right = claim.number
                else:
                    partner = partners.get(identity(configs[run_id], right_keys))
                    if partner not in right_values:
                        continue
                    right = right_values[partner]
                    entering.append(partner)
                used += entering + [passive[key] for key in
                                    (identity(configs[r], ["strategy"]) for r in entering)
                                    if key in passive]
                seed = configs[run_id].get("seed", run_id)
                units.setdefault(str(seed), []).append((left_values[run_id], right))
            rows.append(_row(claim, select, dict(zip(claim.per, group, strict=False)), units,
                             all_converged([converged.get(run_id) for run_id in used]),
                             # the same rule for the chance check: False if any run is at chance
                             all_converged([learned.get(run_id) for run_id in used])))
    return rows


def _base(claim: Claim, side: Side, group: dict, n: int) -> dict[str, Any]:
    left = Side(side.quantity, side.options, side.select)
    group_text = ", ".join(f"{k}={v}" for k, v in group.items())
    value = claim.paper_value
    if isinstance(value, Mapping):
        # keyed by the row as written (its group, then the left side's selector: "dataset=trec,
        # method=lora"), by the group, or by one of their values; the most specific key first
        row_text = ", ".join([*(f"{k}={v}" for k, v in group.items()),
                              *(f"{k}={v[0]}" for k, v in side.select.items())])
        keys = [row_text, group_text, *map(str, group.values()), *(str(v[0]) for v in side.select.values())]
        value = next((value[k] for k in keys if k in value), None)
    return {"claim": claim.index, "says": claim.says, "group": group_text,
            "comparison": f"{left.label} {claim.op} "
                          f"{claim.right.label if claim.right else f'{claim.number:g}'}"
                          + (f" ± {claim.margin:g}" if claim.op == "=" else ""),
            "n": n, "paper": claim.paper,
            "paper_value": NOT_KNOWN if value is None else value,
            "paper_source": claim.paper_source if value is not None else ""}


def _row(claim: Claim, select: dict, group: dict, units: dict[str, list[tuple[float, float]]],
         converged: bool | None, learned: bool | None = None) -> dict:
    side = Side(claim.left.quantity, claim.left.options, select)
    row = _base(claim, side, group, len(units))
    row.update(pairs=sum(len(pairs) for pairs in units.values()), converged=converged,
               learned=learned)
    if not units:
        return {**row, "verdict": "no runs", "test": ""}
    # one pair per seed: the means of the seed's runs on each side
    lefts = [math.fsum(left for left, _ in pairs) / len(pairs) for _, pairs in sorted(units.items())]
    rights = [math.fsum(right for _, right in pairs) / len(pairs) for _, pairs in sorted(units.items())]
    diffs = list(np.asarray(lefts) - np.asarray(rights))
    (lm, ls), (dm, ds) = _spread(lefts), _spread(diffs)
    row.update(left_mean=lm, left_std=ls, diff_mean=dm, diff_std=ds,
               test=_test_name(claim, len(units)))
    if claim.right is not None:
        row["right_mean"], row["right_std"] = _spread(rights)
    if len(units) < 2:
        return {**row, "verdict": NOT_JUDGED, "p": float("nan")}
    p, p_against = claim_p_values(lefts, rights, claim.op, margin=claim.margin, test=claim.test)
    return {**row, "p": p, "_p_against": p_against, "_alpha": claim.alpha}


def _test_name(claim: Claim, n: int) -> str:
    kind = "paired" if claim.right is not None else f"vs {claim.number:g}"
    how = f"TOST ±{claim.margin:g}" if claim.op == "=" else "one-sided"
    return f"{kind} {TEST_NAMES[claim.test]}, {how}, n={n} seeds"


def claims_frame(rows: list[dict]) -> pd.DataFrame:
    """The claims table of one study: Holm-corrected p (``p_holm``) and the verdicts.

    The family is every row with a p-value (withheld rows included: they are tests that were run).
    """
    if not rows:
        return pd.DataFrame()
    p = [row.get("p", float("nan")) for row in rows]
    against = [row.get("_p_against", float("nan")) for row in rows]
    p_holm, against_holm = holm(p), holm(against)
    for row, adjusted, adjusted_against in zip(rows, p_holm, against_holm, strict=True):
        if "verdict" in row:
            continue
        row["p_holm"] = float(adjusted)
        alpha = row["_alpha"]
        if row["converged"] is False:
            row["verdict"] = WITHHELD
        elif row.get("learned") is False:
            row["verdict"] = AT_CHANCE
        elif adjusted < alpha:
            row["verdict"] = HOLDS
        elif adjusted_against < alpha:
            row["verdict"] = FAILS
        else:
            row["verdict"] = NOISE
    table = pd.DataFrame([{k: v for k, v in row.items() if not k.startswith("_")} for row in rows])
    return table[[c for c in COLUMNS if c in table.columns]]
