"""``peftal analyze`` over hand-written results stores: a study store with several runs, and a tree
of single-run folders (fast: no model is loaded)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from peftal.analysis import analyze
from peftal.analysis.records import group_runs, group_summary
from peftal.cli import main
from peftal.experiments import ResultsStore
from peftal.records import RoundRecord


def _correct(rows: list[str]) -> np.ndarray:
    return np.array([[c == "1" for c in row] for row in rows], dtype=bool)


def _write_run(store: ResultsStore, run_id: str, method: str, seed: int, cka_top: float,
               every_round: bool = False) -> None:
    """Two rounds: ids 10, 11, 12 labelled at round 0 (warm start), 20, 21 queried for round 1."""
    store.begin_run(run_id, "active_learning", {"method": method, "strategy": "entropy", "seed": seed,
                                                "dataset": "toy"}, {})
    # Rows are epochs, columns examples. Round 0, columns 10, 11, 12: events 0, 1, 0.
    round0 = _correct(["110", "101", "111"])
    # Round 1, columns 10, 11, 12, 20, 21: 1111 → 0 events, 1100 → 1, 1010 → 2, 0000 → never
    # learned, 1111 → 0.
    round1 = _correct(["11101", "11001", "10101", "10001"])
    for r, (ids, added, correct) in enumerate([([10, 11, 12], [10, 11, 12], round0),
                                               ([10, 11, 12, 20, 21], [20, 21], round1)]):
        record = {"round": r, "num_labeled": len(ids), "metrics": {"accuracy": 0.5},
                  "train_seconds": 1.0, "query_seconds": 0.0, "indices_added": added,
                  "indices_queried": [20, 21] if r == 0 else [], "correct": correct,
                  "correct_ids": ids}
        if every_round or r == 1:
            per_layer = [1.0, 0.9, cka_top - 0.1 * (1 - r)]
            record["artifacts"] = {"cka": {"kernel": "linear", "per_layer": per_layer,
                                           "per_layer_rbf": per_layer, "probe_size": 4,
                                           "matrix": [[v] * 3 for v in per_layer]}}
        store.add_round(run_id, RoundRecord(**record))
    store.finish_run(run_id, {"method": method, "strategy": "entropy", "seed": seed, "dataset": "toy"})


@pytest.fixture
def study(tmp_path):
    with ResultsStore(tmp_path / "results.sqlite") as store:
        for seed in (0, 1):
            _write_run(store, f"lora-{seed}", "lora", seed, 0.8 + 0.02 * seed, every_round=True)
            _write_run(store, f"full-{seed}", "full", seed, 0.4 + 0.02 * seed, every_round=True)
    return tmp_path


def test_forgetting_statistics_per_round_acquisition_round_and_source(study):
    result = analyze(study)
    assert sorted(result["forgetting"]) == ["full-0", "full-1", "lora-0", "lora-1"]
    run = result["forgetting"]["lora-0"]
    assert (run["method"], run["strategy"], run["seed"], run["status"]) == ("lora", "entropy", 0, "completed")
    first, final = run["rounds"]
    assert (first["num_labeled"], first["num_epochs"], first["forgettable"], first["unforgettable"],
            first["never_learned"], first["histogram"]) == (3, 3, 1, 2, 0, [2, 1])
    assert final == run["final"]
    assert (final["num_examples"], final["forgettable"], final["unforgettable"], final["never_learned"]) \
        == (5, 2, 2, 1)
    assert final["histogram"] == [2, 1, 1] and final["mean_events"] == pytest.approx(3 / 4)
    by_round = final["by_acquisition_round"]
    assert (by_round["0"]["num_examples"], by_round["0"]["forgettable"]) == (3, 2)
    assert (by_round["1"]["num_examples"], by_round["1"]["never_learned"], by_round["1"]["unforgettable"]) \
        == (2, 1, 1)
    assert final["by_source"]["warm_start"] == by_round["0"]
    assert final["by_source"]["entropy"] == by_round["1"]


def test_cka_last_round_and_by_round(study):
    cka = analyze(study)["cka"]["full-1"]
    assert cka["round"] == 1 and cka["num_labeled"] == 5 and cka["probe_size"] == 4
    assert cka["per_layer"] == pytest.approx([1.0, 0.9, 0.42])
    assert [r["num_labeled"] for r in cka["by_round"]] == [3, 5]
    assert cka["by_round"][0]["per_layer"] == pytest.approx([1.0, 0.9, 0.32])


def test_tree_of_run_folders_is_keyed_by_path(tmp_path):
    for name, method in (("a", "lora"), ("b/c", "full")):
        with ResultsStore(tmp_path / name / "results.sqlite") as store:
            _write_run(store, "run", method, 0, 0.5)
    result = analyze(tmp_path)
    assert sorted(result["forgetting"]) == sorted(result["cka"]) == ["a/run", "b/c/run"]
    assert [r["round"] for r in result["cka"]["a/run"]["by_round"]] == [1]
    assert sorted(analyze(tmp_path / "a")["cka"]) == ["run"]


def test_cli_json_text_and_plots(study, capsys):
    assert main(["analyze", str(study), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(json.dumps(analyze(study)))
    assert main(["analyze", str(study), "--plots"]) == 0
    text = capsys.readouterr().out
    assert "forgettable" in text and "lora-1" in text and "L2" in text
    for name in ("cka_by_layer.png", "cka_by_labels.png", "forgetting_histogram.png"):
        assert (study / name).stat().st_size > 1000
        assert f"wrote {study / name}" in text


def test_cli_bad_folders(tmp_path, capsys):
    assert main(["analyze", str(tmp_path / "missing")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert main(["analyze", str(tmp_path)]) == 2
    assert "holds no results.sqlite" in capsys.readouterr().err


def test_analysis_never_imports_training():
    code = ("import sys, peftal.analysis, peftal.cli.analyze, peftal.reports.analysis_figures; "
            "bad = [m for m in sys.modules if m.startswith(('peftal.training', 'torch'))]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_group_summary_averages_completed_runs_per_method(study, capsys):
    with ResultsStore(study / "results.sqlite") as store:  # a third LoRA run, still going
        store.begin_run("lora-9", "active_learning", {"method": "lora", "strategy": "entropy", "seed": 9}, {})
        store.add_round("lora-9", RoundRecord(round=0, num_labeled=2, metrics={}, train_seconds=0.0,
                                              indices_added=[1, 2], correct_ids=[1, 2],
                                              correct=_correct(["00", "00"])))
    result = analyze(study)
    assert result["forgetting"]["lora-9"]["status"] == "running"
    rows = {row["group"]: row for row in group_summary(result)}
    assert list(rows) == ["full", "lora"] and rows["lora"]["runs"] == 2  # ordered by group label
    assert rows["lora"]["forgettable_share"] == pytest.approx((0.4, 0.0))
    assert rows["lora"]["never_learned_share"] == pytest.approx((0.2, 0.0))
    assert rows["lora"]["per_layer"][2] == pytest.approx((0.81, 0.01))
    assert rows["full"]["per_layer"][2] == pytest.approx((0.41, 0.01))
    assert main(["analyze", str(study)]) == 0
    text = capsys.readouterr().out
    assert "lora-9 (running)" in text and "0.810±0.010" in text and "40.0±0.0" in text


def test_groups_are_ordered_by_their_label_not_by_run_id():
    runs = {"a1": {"method": "lora", "dataset": "trec"}, "b2": {"method": "full", "dataset": "trec"},
            "c3": {"method": "full", "dataset": "subj"}, "d4": {"method": "lora", "dataset": "trec"}}
    groups = group_runs(runs)
    assert list(groups) == ["subj · full", "trec · full", "trec · lora"]
    assert [run["method"] for run in groups["trec · lora"]] == ["lora", "lora"]


def test_the_report_analyses_only_the_cells_of_the_current_spec(study):
    """Forgetting and CKA read the same runs as every other section: a cell dropped from the spec
    (still in the store) is left out of both, as it is of the curves."""
    from peftal.analysis.study_records import STUDY_FILE, load_records

    cells = [{"cell_id": f"lora-{seed}", "axes": {}, "config": {}} for seed in (0, 1)]
    (study / STUDY_FILE).write_text(json.dumps({"name": "toy", "kind": "active_learning",
                                                "cells": cells}))
    records = load_records(study)
    try:
        analysis = records.analysis()
        assert sorted(records.runs["run_id"]) == ["lora-0", "lora-1"]
        assert sorted(analysis["forgetting"]) == sorted(analysis["cka"]) == ["lora-0", "lora-1"]
        assert analysis["forgetting"]["lora-0"] == analyze(study)["forgetting"]["lora-0"]
    finally:
        records.close()
