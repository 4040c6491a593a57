"""The typed round record: one schema, through SQLite and back unchanged; a wrong field fails."""

from __future__ import annotations

import dataclasses
import json
import sqlite3

import numpy as np
import pytest

from peftal.experiments import ResultsStore
from peftal.records import EpochRecord, RoundRecord

GOLDEN = [
    RoundRecord(round=0, num_labeled=3, metrics={"accuracy": 0.5, "f1_macro": 0.25},
                train_seconds=1.5, query_seconds=0.25, eval_seconds=0.125,
                indices_queried=np.array([7, 4]), scores_queried=[0.9, 0.8],
                epochs=[{"epoch": 0, "loss": 1.0, "train_accuracy": 0.5, "seconds": 0.1},
                        {"epoch": 1, "loss": 0.5, "train_accuracy": 1.0, "seconds": 0.1}],
                indices_added=[0, 2, 5], correct=[[True, False, True], [True, True, True]],
                correct_ids=[0, 2, 5], metrics_model="head", steps=2,
                artifacts={"cka": {"per_layer": [1.0, 0.5]}}, converged=True,
                convergence="training accuracy 1.000"),
    RoundRecord(round=1, num_labeled=5, metrics={"accuracy": 0.75, "f1_macro": 0.5},
                train_seconds=2.0, eval_seconds=0.5, epochs=[EpochRecord(0, loss=0.25)],
                indices_added=[4, 7], metrics_model="lora", steps=1, stopped_by_budget=True,
                num_train_items=9, converged=False, convergence="unstable"),
]


def test_every_field_survives_the_store(tmp_path):
    with ResultsStore(tmp_path / "r.sqlite") as store:
        store.begin_run("a", "active_learning", {}, {})
        for record in GOLDEN:
            store.add_round("a", record)
    with ResultsStore(tmp_path / "r.sqlite") as store:
        back = store.round_records("a")
    assert len(back) == 2 and all(a.same_as(b) for a, b in zip(GOLDEN, back))
    # spelled out, not through the code under test: what the first round reads back as
    first = back[0]
    assert first.indices_queried == (7, 4) and first.scores_queried == (0.9, 0.8)
    assert first.epochs[1] == EpochRecord(epoch=1, loss=0.5, train_accuracy=1.0, seconds=0.1)
    assert first.correct.tolist() == [[True, False, True], [True, True, True]]
    assert first.artifacts == {"cka": {"per_layer": [1.0, 0.5]}} and back[1].artifacts == {}
    assert (back[1].scores_queried, back[1].correct, back[1].num_train_items) == (None, None, 9)
    assert (first.converged, back[1].converged, back[1].convergence) == (True, False, "unstable")


def test_a_wrong_field_fails_where_the_record_is_made(tmp_path):
    with pytest.raises(TypeError, match="num_labelled"):
        RoundRecord(round=0, num_labelled=3, metrics={}, train_seconds=0.0)
    with pytest.raises(TypeError, match="accuracy"):
        RoundRecord(round=0, num_labeled=1, metrics={}, train_seconds=0.0,
                    epochs=[{"epoch": 0, "accuracy": 0.5}])
    with pytest.raises(ValueError, match="correct has shape"):
        RoundRecord(round=0, num_labeled=2, metrics={}, train_seconds=0.0, correct=[[True]],
                    correct_ids=[1, 2])
    with ResultsStore(tmp_path / "r.sqlite") as store:
        store.begin_run("a", "active_learning", {}, {})
        with pytest.raises(TypeError, match="RoundRecord"):
            store.add_round("a", {"round": 0, "num_labeled": 1, "metrics": {}, "train_seconds": 0.0,
                                  "query_seconds": 0.0})


def test_a_stored_field_no_record_has_is_an_error_not_dropped(tmp_path):
    path = tmp_path / "r.sqlite"
    with ResultsStore(path) as store:
        store.begin_run("a", "active_learning", {}, {})
        store.add_round("a", GOLDEN[1])
    with sqlite3.connect(path) as db:
        db.execute("UPDATE rounds SET extra = ?", (json.dumps({"eval_secs": 1.0}),))
    with ResultsStore(path) as store, pytest.raises(ValueError, match="eval_secs"):
        store.round_records("a")


def test_older_stores_read_into_the_record(tmp_path):
    """Stores written before the record was a type kept a few values under other names."""
    path = tmp_path / "r.sqlite"
    with ResultsStore(path) as store:
        store.begin_run("a", "supervised", {}, {})
        store.add_round("a", GOLDEN[1])
    with sqlite3.connect(path) as db:
        db.execute("UPDATE rounds SET extra = ?", (json.dumps(
            {"eval_seconds": 0.5, "num_train_features": 12, "qa_predictions": {"q1": "Paris"}}),))
    with ResultsStore(path) as store:
        [record] = store.round_records("a")
    assert record.num_train_items == 12 and record.artifacts == {"qa_predictions": {"q1": "Paris"}}
    assert [f.name for f in dataclasses.fields(RoundRecord)][:4] == ["round", "num_labeled", "metrics",
                                                                  "train_seconds"]


def test_a_store_from_before_convergence_is_migrated_and_reads_unknown(tmp_path):
    """A rounds table without the ``converged`` column gains it on open; its rounds read ``None``."""
    path = tmp_path / "r.sqlite"
    with ResultsStore(path) as store:
        store.begin_run("a", "supervised", {}, {})
        store.add_round("a", GOLDEN[1])
    with sqlite3.connect(path) as db:  # the table as older versions created it
        db.execute("ALTER TABLE rounds DROP COLUMN converged")
        db.execute("UPDATE rounds SET extra = ?", (json.dumps({"eval_seconds": 0.5}),))
        assert "converged" not in {row[1] for row in db.execute("PRAGMA table_info(rounds)")}
    with ResultsStore(path) as store:
        [record] = store.round_records("a")
        assert store.rounds("a")[0]["converged"] is None
        store.add_round("a", GOLDEN[0])  # round 0, converged
        assert [r["converged"] for r in store.rounds("a")] == [True, None]
    assert record.converged is None and record.convergence is None


def test_a_store_from_before_convergence_merges_into_a_report_store(tmp_path):
    """``peftal report DIR DIR``: a store without the column merges; its rounds read unknown."""
    from peftal.analysis.collect import merge_runs

    old, new = tmp_path / "old.sqlite", tmp_path / "new.sqlite"
    for path in (old, new):
        with ResultsStore(path) as store:
            store.begin_run("run", "supervised", {}, {})
            store.add_round("run", GOLDEN[0])
    with sqlite3.connect(old) as db:
        db.execute("ALTER TABLE rounds DROP COLUMN converged")
    merged = merge_runs([(old, "run", "a", "old"), (new, "run", "b", "new")], tmp_path / "merged")
    with sqlite3.connect(old) as db:  # the source is read, not changed
        assert "converged" not in {row[1] for row in db.execute("PRAGMA table_info(rounds)")}
    with ResultsStore(merged) as store:
        assert [store.rounds(name)[0]["converged"] for name in ("a", "b")] == [None, True]
