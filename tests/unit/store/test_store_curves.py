"""The SQLite results store and learning-curve summaries."""

from __future__ import annotations

import numpy as np
import pytest

from peftal.analysis import learning_curve_auc, ripl
from peftal.experiments import ResultsStore
from peftal.records import RoundRecord


def test_store_round_trip(tmp_path):
    correct = np.array([[True, False, True], [True, True, False]])
    with ResultsStore(tmp_path / "r.sqlite") as store:
        store.begin_run("a", "active_learning", {"seed": 1}, {"seed": 1})
        store.add_round("a", RoundRecord(
            round=0, num_labeled=3, metrics={"accuracy": 0.5}, train_seconds=1.0,
            query_seconds=0.5, indices_queried=[7, 4], scores_queried=[0.9, 0.8],
            epochs=[{"epoch": 0, "loss": 1.0, "train_accuracy": 0.3, "seconds": 0.1}],
            indices_added=[0, 2, 5], correct=correct, correct_ids=[0, 2, 5],
        ))
        store.finish_run("a", {"auc": 0.5})
        assert store.runs()[0]["status"] == "completed"
        assert store.rounds("a")[0]["metrics"] == {"accuracy": 0.5}
        assert store.queries("a") == [(0, 7, 0.9), (0, 4, 0.8)]
        assert store.labeled("a") == {0: 0, 2: 0, 5: 0}
        ids, matrix = store.correctness("a")[0]
        assert ids == [0, 2, 5] and (matrix == correct).all()
        store.begin_run("a", "active_learning", {}, {})  # a restart drops the earlier records
        assert store.rounds("a") == [] and store.runs()[0]["status"] == "running"


def test_auc_is_normalised_trapezoid():
    assert learning_curve_auc([0.5]) == 0.5
    assert learning_curve_auc([0.0, 1.0]) == pytest.approx(0.5)
    assert learning_curve_auc([0.6, 0.8, 0.9]) == pytest.approx(((0.6 + 0.8) / 2 + (0.8 + 0.9) / 2) / 2)
    assert learning_curve_auc([1.0, 1.0, 1.0]) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        learning_curve_auc([])


def test_ripl():
    assert ripl(0.8, 0.6) == pytest.approx(0.5)
    assert ripl(0.6, 0.6) == 0.0
    assert ripl(0.5, 0.6) < 0
