"""Claims judged on toy stored records whose t statistics are worked out by hand.

With 3 pairs (2 degrees of freedom) the t distribution has the closed form
``P(T > t) = (1 - t / sqrt(t² + 2)) / 2``, so every expected p below is computed from the
differences on paper, not by the code under test.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from peftal.analysis.claims import FAILS, HOLDS, NOISE, NOT_JUDGED, claims_table, verdict
from peftal.analysis.study_records import STUDY_FILE, load_records
from peftal.records import RoundRecord
from peftal.reports.html import write_report
from peftal.store.results import STORE_NAME, ResultsStore


def t2_upper(t: float) -> float:
    """P(T > t) for Student's t with 2 degrees of freedom."""
    return (1 - t / math.sqrt(t * t + 2)) / 2


def test_paired_t_verdicts_match_the_closed_form():
    # d = 0.1, 0.2, 0.3: mean 0.2, sd 0.1, t = 0.2 / (0.1 / √3) = 2√3
    outcome, p = verdict([0.1, 0.2, 0.3], ">")
    assert outcome == HOLDS and p == pytest.approx(t2_upper(2 * math.sqrt(3)))  # 0.0371
    outcome, p = verdict([-0.1, -0.2, -0.3], ">")
    assert outcome == FAILS and p == pytest.approx(1 - t2_upper(2 * math.sqrt(3)))
    assert verdict([-0.1, -0.2, -0.3], "<")[0] == HOLDS
    # d = 0.1, -0.1, 0.3: mean 0.1, sd 0.2, t = √3 / 2: p = 0.19, either way within noise
    outcome, p = verdict([0.1, -0.1, 0.3], ">")
    assert outcome == NOISE and p == pytest.approx(t2_upper(math.sqrt(3) / 2))
    assert verdict([0.5], ">")[0] == NOT_JUDGED


def test_equivalence_is_two_one_sided_tests():
    # d = 0.01, -0.01, 0: sd 0.01; against ±0.05 each side has t = 0.05 / (0.01 / √3) = 5√3
    outcome, p = verdict([0.01, -0.01, 0.0], "=", margin=0.05)
    assert outcome == HOLDS and p == pytest.approx(t2_upper(5 * math.sqrt(3)))
    # d = 0.20, 0.21, 0.22 against ±0.05: far above the band
    assert verdict([0.20, 0.21, 0.22], "=", margin=0.05)[0] == FAILS
    # d = 0.04, -0.06, 0.05: inside on average, too spread to tell
    assert verdict([0.04, -0.06, 0.05], "=", margin=0.05)[0] == NOISE


def test_wilcoxon_cannot_reach_005_with_three_pairs():
    outcome, p = verdict([0.1, 0.2, 0.3], ">", test="wilcoxon")
    assert p == pytest.approx(1 / 8) and outcome == NOISE  # 1 of the 2³ sign patterns
    diffs = [0.1, 0.2, 0.3, 0.4, -0.05, 0.6]
    expected = stats.wilcoxon(diffs, alternative="greater").pvalue
    assert verdict(diffs, ">", test="wilcoxon") == (HOLDS, pytest.approx(expected))


# dataset → method → final accuracy of seeds 0, 1, 2
FINALS = {
    "d1": {"a": [0.80, 0.82, 0.84], "b": [0.70, 0.62, 0.54]},  # a - b = 0.10, 0.20, 0.30
    "d2": {"a": [0.50, 0.52, 0.54], "b": [0.60, 0.72, 0.84]},  # a - b = -0.10, -0.20, -0.30
}
CLAIMS = [
    {"says": "a beats b", "check": "final(method=a) > final(method=b)", "per": ["dataset"],
     "paper": "+5 points"},
    {"check": "final(method=a, dataset=d1) > 0.9"},  # a - 0.9 = -0.10, -0.08, -0.06
    {"check": "final[metric=f1](method=a) < final[metric=f1](method=b)", "per": ["dataset"]},
]


def write_study(folder, claims=CLAIMS):
    folder.mkdir()
    cells = []
    with ResultsStore(folder / STORE_NAME) as store:
        for dataset, methods in FINALS.items():
            for method, values in methods.items():
                for seed, value in enumerate(values):
                    run_id = f"{dataset}-{method}-{seed}"
                    config = {"dataset": dataset, "method": method, "seed": seed, "fraction": None}
                    metrics = {"accuracy": value, "f1": 1 - value}
                    store.begin_run(run_id, "supervised", config, {"seed": seed})
                    store.add_round(run_id, RoundRecord(round=0, num_labeled=100, metrics=metrics,
                                                        train_seconds=1.0))
                    store.finish_run(run_id, {"metric": "accuracy", "metrics": metrics,
                                              "dataset": dataset, "method": method, "seed": seed})
                    cells.append({"cell_id": run_id, "axes": {}, "config": config})
    manifest = {"name": "toy", "kind": "supervised", "spec": {"claims": claims}, "cells": cells}
    (folder / STUDY_FILE).write_text(json.dumps(manifest))
    return folder


def test_claims_table_pairs_runs_seed_by_seed(tmp_path):
    records = load_records(write_study(tmp_path / "study"))
    try:
        table = claims_table(records)
    finally:
        records.close()
    assert table["claim"].tolist() == [1, 1, 2, 3, 3]
    first = table.iloc[0]
    assert (first["group"], first["comparison"]) == ("dataset=d1", "final(method=a) > final(method=b)")
    assert first["left_mean"] == pytest.approx(0.82) and first["left_std"] == pytest.approx(0.02)
    assert first["right_mean"] == pytest.approx(0.62) and first["right_std"] == pytest.approx(0.08)
    assert first["diff_mean"] == pytest.approx(0.2) and first["diff_std"] == pytest.approx(0.1)
    assert first["p"] == pytest.approx(t2_upper(2 * math.sqrt(3)))
    assert (first["verdict"], first["n"], first["paper"]) == (HOLDS, 3, "+5 points")
    assert first["test"] == "paired t-test, one-sided, n=3"
    assert table.iloc[1]["verdict"] == FAILS  # d2: b is better
    constant = table.iloc[2]  # a - 0.9 = -0.10, -0.08, -0.06: mean -0.08, sd 0.02, t = -4√3
    assert constant["p"] == pytest.approx(1 - t2_upper(4 * math.sqrt(3)))
    assert constant["verdict"] == FAILS and constant["test"] == "vs 0.9 t-test, one-sided, n=3"
    # f1 = 1 - accuracy: the claim that a's F1 is lower holds where a's accuracy was higher
    assert table.iloc[3]["verdict"] == HOLDS and table.iloc[4]["verdict"] == FAILS
    assert table.iloc[3]["diff_mean"] == pytest.approx(-0.2)


def test_report_prints_and_writes_the_claims_table(tmp_path):
    folder = write_study(tmp_path / "study")
    page = write_report(folder).read_text()
    assert "<h2>Claims</h2>" in page and page.index("<h2>Claims</h2>") < page.index("<h2>Runs</h2>")
    assert "0.820 ± 0.020" in page  # the left side's mean ± std over seeds
    csv = pd.read_csv(folder / "tables" / "claims.csv")
    assert csv["verdict"].tolist() == [HOLDS, FAILS, FAILS, HOLDS, FAILS]
    assert np.isnan(csv["right_mean"].iloc[2])  # a constant has no spread


def test_a_study_without_claims_has_no_claims_section(tmp_path):
    folder = write_study(tmp_path / "study", claims=[])
    assert "<h2>Claims</h2>" not in write_report(folder).read_text()
    assert not (folder / "tables" / "claims.csv").exists()
