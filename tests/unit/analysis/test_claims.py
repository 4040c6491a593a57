"""Claims judged on toy stored records whose t statistics are worked out by hand.

With 3 seeds (2 degrees of freedom) the t distribution has the closed form
``P(T > t) = (1 - t / sqrt(t² + 2)) / 2``, so every expected p below — raw and Holm-corrected — is
computed from the differences on paper, not by the code under test.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from peftal.analysis.claims import claims_table
from peftal.analysis.study_records import STUDY_FILE, load_records
from peftal.claims.judge import AT_CHANCE, FAILS, NOISE, NOT_JUDGED, NOT_KNOWN, WITHHELD
from peftal.records import RoundRecord
from peftal.reports.html import write_report
from peftal.store.results import STORE_NAME, ResultsStore


def t2_upper(t: float) -> float:
    """P(T > t) for Student's t with 2 degrees of freedom."""
    return (1 - t / math.sqrt(t * t + 2)) / 2


# dataset → method → final accuracy of seeds 0, 1, 2
FINALS = {
    "d1": {"a": [0.80, 0.82, 0.84], "b": [0.70, 0.62, 0.54]},  # a - b = 0.10, 0.20, 0.30
    "d2": {"a": [0.50, 0.52, 0.54], "b": [0.60, 0.72, 0.84]},  # a - b = -0.10, -0.20, -0.30
}
CLAIMS = [
    {"says": "a beats b", "check": "final(method=a) > final(method=b)", "per": ["dataset"],
     "paper": "+5 points"},
    {"check": "final(method=a, dataset=d1) > 0.95"},  # a - 0.95 = -0.15, -0.13, -0.11
    {"check": "final[metric=f1](method=a) < final[metric=f1](method=b)", "per": ["dataset"]},
]


def write_study(folder, claims=CLAIMS, finals=FINALS, strategies=(None,), unconverged=(),
                at_chance=()):
    """A supervised-looking study of ``finals``; with several ``strategies`` every (dataset, method,
    seed) cell is stored once per strategy, its value shifted by ``STRATEGY_SHIFT``."""
    folder.mkdir()
    cells = []
    with ResultsStore(folder / STORE_NAME) as store:
        for dataset, methods in finals.items():
            for method, values in methods.items():
                for seed, value in enumerate(values):
                    for strategy in strategies:
                        run_id = f"{dataset}-{method}-{seed}" + (f"-{strategy}" if strategy else "")
                        value_here = value + STRATEGY_SHIFT.get(strategy, 0.0)
                        config = {"dataset": dataset, "method": method, "seed": seed, "fraction": None}
                        if strategy:
                            config["strategy"] = strategy
                        metrics = {"accuracy": value_here, "f1": 1 - value_here}
                        store.begin_run(run_id, "supervised", config, {"seed": seed})
                        store.add_round(run_id, RoundRecord(
                            round=0, num_labeled=100, metrics=metrics, train_seconds=1.0 + seed,
                            converged=(dataset, method, seed) not in unconverged,
                            learned=(dataset, method, seed) not in at_chance))
                        store.finish_run(run_id, {"metric": "accuracy", "metrics": metrics,
                                                  "dataset": dataset, "method": method, "seed": seed,
                                                  "trainable_params": 10 if method == "a" else 20,
                                                  "total_params": 1000})
                        cells.append({"cell_id": run_id, "axes": {}, "config": config})
    manifest = {"name": "toy", "kind": "supervised", "spec": {"claims": claims}, "cells": cells}
    (folder / STUDY_FILE).write_text(json.dumps(manifest))
    return folder


STRATEGY_SHIFT = {"s1": 0.05, "s2": -0.05}


def table_of(folder):
    records = load_records(folder)
    try:
        return claims_table(records)
    finally:
        records.close()


P_EDGE = t2_upper(2 * math.sqrt(3))  # d = ±(0.1, 0.2, 0.3): t = 2√3, p = 0.0371
P_FAR = t2_upper(6.5 * math.sqrt(3))  # d = -0.15, -0.13, -0.11: t = -0.13 / (0.02 / √3) = -6.5√3


def test_claims_table_pairs_runs_seed_by_seed_and_holm_corrects_the_table(tmp_path):
    table = table_of(write_study(tmp_path / "study"))
    assert table["claim"].tolist() == [1, 1, 2, 3, 3]
    first = table.iloc[0]
    assert (first["group"], first["comparison"]) == ("dataset=d1", "final(method=a) > final(method=b)")
    assert first["left_mean"] == pytest.approx(0.82) and first["left_std"] == pytest.approx(0.02)
    assert first["right_mean"] == pytest.approx(0.62) and first["right_std"] == pytest.approx(0.08)
    assert first["diff_mean"] == pytest.approx(0.2) and first["diff_std"] == pytest.approx(0.1)
    assert first["test"] == "paired t-test, one-sided, n=3 seeds" and first["paper"] == "+5 points"
    # raw p of the 5 rows, by hand: the claimed direction holds in rows 1 and 4, not in 2, 3, 5
    raw = [P_EDGE, 1 - P_EDGE, 1 - P_FAR, P_EDGE, 1 - P_EDGE]
    np.testing.assert_allclose(table["p"], raw)
    # Holm over 5 tests: the two 0.0371 are the smallest: 5 × and 4 ×, running maximum: 0.186
    assert table["p_holm"].iloc[0] == pytest.approx(5 * P_EDGE)
    assert table["p_holm"].iloc[3] == pytest.approx(5 * P_EDGE)
    # so no claim holds after the correction; the opposite of claim 2 (p = 0.0039, × 5 = 0.020)
    # still does; the opposites of rows 2 and 5 (0.0371 × 4 = 0.148) do not
    assert P_FAR * 5 < 0.05 < P_EDGE * 4
    assert table["verdict"].tolist() == [NOISE, NOISE, FAILS, NOISE, NOISE]
    assert table["paper_value"].tolist() == [NOT_KNOWN] * 5
    assert table["converged"].tolist() == [True] * 5


def test_runs_pooled_over_strategies_are_one_pair_per_seed(tmp_path):
    """Two strategies per seed are averaged before the test: n stays 3 (no pseudo-replication)."""
    claims = [{"check": "final(method=a) > final(method=b)", "per": ["dataset"]}]
    table = table_of(write_study(tmp_path / "study", claims=claims, strategies=("s1", "s2")))
    first = table.iloc[0]
    assert (first["n"], first["pairs"]) == (3, 6)
    assert first["test"].endswith("n=3 seeds")
    assert first["p"] == pytest.approx(P_EDGE)  # the shifts cancel within each seed
    assert first["left_mean"] == pytest.approx(0.82) and first["left_std"] == pytest.approx(0.02)


def test_a_row_with_an_unconverged_cell_is_withheld(tmp_path):
    claims = [{"check": "final(method=a) > final(method=b)", "per": ["dataset"]}]
    table = table_of(write_study(tmp_path / "study", claims=claims, unconverged={("d2", "b", 1)}))
    assert table["verdict"].tolist()[1] == WITHHELD and table["converged"].tolist() == [True, False]
    assert table["p"].iloc[1] == pytest.approx(1 - P_EDGE)  # the test is still shown


def test_a_row_with_a_cell_at_chance_is_withheld(tmp_path):
    """A converged cell whose model ends at chance withholds its row; convergence is named first."""
    claims = [{"check": "final(method=a) > final(method=b)", "per": ["dataset"]}]
    table = table_of(write_study(tmp_path / "study", claims=claims, at_chance={("d1", "b", 2)},
                                 unconverged={("d2", "a", 0)}))
    assert table["verdict"].tolist() == [AT_CHANCE, WITHHELD]
    assert table["learned"].tolist() == [False, True]
    assert table["p"].iloc[0] == pytest.approx(P_EDGE)  # the test is still run and shown


def test_paper_values_stand_beside_ours_with_their_source(tmp_path):
    claims = [
        {"check": "final(method=a) > final(method=b)", "per": ["dataset"],
         "paper_value": {"d1": 0.9}, "paper_source": "Table 1, base"},
        {"check": "final(method=a, dataset=d1) > 0.5", "paper_value": 0.88, "paper_source": "Fig. 2"},
        {"says": "comparable to DAPT", "check": "final(method=a) = final(dapt=true) within 0.02",
         "not_judged": "the study has no DAPT cells"},
    ]
    table = table_of(write_study(tmp_path / "study", claims=claims))
    assert table["paper_value"].tolist() == [0.9, NOT_KNOWN, 0.88, NOT_KNOWN]
    assert table["paper_source"].fillna("").tolist() == ["Table 1, base", "", "Fig. 2", ""]
    assert table["verdict"].iloc[3] == f"{NOT_JUDGED}: the study has no DAPT cells"


def test_a_paper_value_can_key_a_row_by_its_group_and_its_left_selector(tmp_path):
    """One claim over two methods and two datasets: each of its four rows has its own paper number."""
    finals = {d: {**FINALS[d], "c": FINALS[d]["a"]} for d in FINALS}
    claims = [{"check": "final(method=a|c) > final(method=b)", "per": ["dataset"],
               "paper_value": {"dataset=d1, method=a": 0.91, "dataset=d2, method=c": 0.52, "d1": 0.8},
               "paper_source": "Table 2"}]
    table = table_of(write_study(tmp_path / "study", claims=claims, finals=finals))
    assert table["group"].tolist() == ["dataset=d1", "dataset=d2"] * 2
    assert table["comparison"].str.startswith("final(method=a)").tolist() == [True, True, False, False]
    assert table["paper_value"].tolist() == [0.91, NOT_KNOWN, 0.8, 0.52]  # row keys first, then the group


def test_the_first_recorded_of_several_metrics_is_compared(tmp_path):
    finals = {"d1": FINALS["d1"]}
    claims = [{"check": "final[metric=mcc|f1](method=a) < final[metric=mcc|f1](method=b)"}]
    table = table_of(write_study(tmp_path / "study", claims=claims, finals=finals))
    assert table["diff_mean"].iloc[0] == pytest.approx(-0.2)  # f1 = 1 - accuracy; no run has mcc


def test_training_seconds_and_parameters_are_quantities(tmp_path):
    claims = [{"check": "train_seconds(method=a) < 5"},
              {"check": "trainable_params(method=a) < trainable_params(method=b)"}]
    table = table_of(write_study(tmp_path / "study", claims=claims))
    assert table["left_mean"].iloc[0] == pytest.approx(2.0)  # seeds 0, 1, 2 train 1, 2, 3 s
    assert table["diff_mean"].iloc[1] == pytest.approx(-10.0)  # 10 against 20, every seed


def test_report_prints_and_writes_the_claims_table(tmp_path):
    folder = write_study(tmp_path / "study")
    page = write_report(folder).read_text()
    assert "<h2>Claims</h2>" in page and page.index("<h2>Claims</h2>") < page.index("<h2>Runs</h2>")
    assert "0.820 ± 0.020" in page  # the left side's mean ± std over seeds
    csv = pd.read_csv(folder / "tables" / "claims.csv")
    assert csv["verdict"].tolist() == [NOISE, NOISE, FAILS, NOISE, NOISE]
    assert {"p", "p_holm", "paper_value", "paper_source", "converged"} <= set(csv.columns)
    assert np.isnan(csv["right_mean"].iloc[2])  # a constant has no spread


def test_findings_md_quotes_each_finding_once_beside_its_rows(tmp_path):
    claims = [{**CLAIMS[0], "paper_value": {"d1": 0.9}, "paper_source": "Table 1, base"}, *CLAIMS[1:]]
    folder = write_study(tmp_path / "study", claims=claims)
    write_report(folder)
    csv = pd.read_csv(folder / "tables" / "claims.csv")
    lines = (folder / "tables" / "findings.md").read_text().splitlines()
    rows = [line.split(" | ") for line in lines if line.startswith("| ") and not line.startswith("| #")]
    assert len(rows) == len(csv) == 5
    assert rows[0][1] == "“a beats b”" and rows[1][1] == ""  # claim 1's two groups, quoted once
    assert [row[-1].rstrip(" |") for row in rows] == csv["verdict"].tolist()
    assert rows[0][4] == "0.820 ± 0.020 vs 0.620 ± 0.080"  # d1: a over seeds vs b over seeds
    assert rows[0][5] == "0.9 (Table 1, base)" and rows[1][5] == "not known"
    assert rows[0][6] == f"{csv['p_holm'].iloc[0]:.3g}"


def test_findings_md_names_each_comparison_of_a_claim_over_several_methods(tmp_path):
    """A check over ``method=a|c`` expands into one comparison per method: each one's first row
    shows it, so no row leaves its reader guessing which method it is about."""
    finals = {d: {**FINALS[d], "c": FINALS[d]["a"]} for d in FINALS}
    claims = [{"says": "a and c beat b", "check": "final(method=a|c) > final(method=b)",
               "per": ["dataset"]}]
    folder = write_study(tmp_path / "study", claims=claims, finals=finals)
    write_report(folder)
    lines = (folder / "tables" / "findings.md").read_text().splitlines()
    rows = [line.split(" | ") for line in lines if line.startswith("| ") and not line.startswith("| #")]
    checks = [row[2] for row in rows]
    assert checks[0].startswith("`final(method=a)") and checks[1] == ""
    assert checks[2].startswith("`final(method=c)") and checks[3] == ""


def test_a_study_without_claims_has_no_claims_section(tmp_path):
    folder = write_study(tmp_path / "study", claims=[])
    assert "<h2>Claims</h2>" not in write_report(folder).read_text()
    assert not (folder / "tables" / "claims.csv").exists()


def test_report_tables_use_the_metric_the_claims_compare(tmp_path):
    """Every claim on a final metric names ``f1``: the curves and the metric-by-option tables show
    each run's F1 (stored as 1 - accuracy here), not its primary metric (accuracy)."""
    from peftal.analysis.claims import claim_metrics
    from peftal.analysis.tables import curve_table, metric_vs

    f1_only = [CLAIMS[2], {"check": "final[metric=f1](method=a, dataset=d1) > 0.1"}]
    records = load_records(write_study(tmp_path / "f1", claims=f1_only))
    try:
        assert claim_metrics(records) == ("f1",)
        curves = curve_table(records, claim_metrics(records))
        assert set(curves["metric"]) == {"f1"}
        row = curves[(curves["dataset"] == "d1") & (curves["method"] == "a")].iloc[0]
        assert row["value_mean"] == pytest.approx(1 - 0.82)
        assert set(curve_table(records)["metric"]) == {"accuracy"}
        runs = records.runs
        records.runs = runs.assign(tapt=[seed % 2 == 0 for seed in runs["seed"]])  # an axis to vary
        by_tapt = metric_vs(records, "tapt", ("f1",))
        assert set(by_tapt["metric"]) == {"f1"}
        first = by_tapt[(by_tapt["dataset"] == "d1") & (by_tapt["method"] == "a")
                        & (by_tapt["tapt"] == True)].iloc[0]  # noqa: E712 (a pandas mask)
        assert first["value_mean"] == pytest.approx(np.mean([1 - 0.80, 1 - 0.84]))  # seeds 0, 2
    finally:
        records.close()
    mixed = load_records(write_study(tmp_path / "mixed"))  # final() and final[metric=f1]
    try:
        assert claim_metrics(mixed) == ()
    finally:
        mixed.close()
