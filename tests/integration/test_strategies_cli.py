"""Every registered strategy, and the stopping/warm-start options, through ``peftal run``.

The CLI entry point runs in this process (``peftal.cli.main``), which saves an interpreter start
and a torch import per strategy; everything after argument parsing is the real run. The pool is the
whole of TREC's training split (the ids are TREC's); each round evaluates on its first 100 test
questions, not all 500 (the tests check what is queried, not how well the model does).
"""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest

from peftal.al.strategies import strategies_for
from peftal.cli import main
from tests.conftest import trec_slice

pytestmark = pytest.mark.integration

TINY = ["--method", "lora", "--warm-start", "20", "--query-size", "10",
        "--epochs", "1", "--pool-subsample", "200", "--max-length", "32", "--seed", "0",
        "--cka-probe-size", "0", "--no-progress"]  # CKA: tests/integration/test_analyze_cli.py


@pytest.fixture(scope="module")
def trec(tmp_path_factory) -> list[str]:
    """``--dataset``: TREC's training split and 100 of its test questions."""
    return ["--dataset", str(trec_slice(tmp_path_factory.mktemp("trec-100-test"), None, 100))]


def _labeled_by_round(out) -> dict[int, set[int]]:
    with sqlite3.connect(out / "results.sqlite") as db:
        rows = db.execute("SELECT example_id, round_acquired FROM labeled").fetchall()
    by_round: dict[int, set[int]] = {}
    for example_id, round_acquired in rows:
        by_round.setdefault(round_acquired, set()).add(example_id)
    return by_round


# the multi-label strategies run on GoEmotions in test_multilabel_cli
@pytest.mark.parametrize("strategy", strategies_for("classification"))
def test_every_strategy_queries_unique_unlabelled_ids(strategy, tmp_path, trec):
    out = tmp_path / strategy
    assert main(["run", *trec, *TINY, "--strategy", strategy, "--budget", "30", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["strategy"] == strategy and len(summary["rounds"]) == 2
    queried = summary["rounds"][0]["indices_queried"]
    warm_start = _labeled_by_round(out)[0]
    assert len(queried) == 10 and len(set(queried)) == 10
    assert len(warm_start) == 20 and not set(queried) & warm_start
    assert all(0 <= i < 5452 for i in queried)  # ids of TREC's training pool
    assert _labeled_by_round(out)[1] == set(queried)
    scores = summary["rounds"][0]["scores_queried"]
    assert scores is None if strategy == "random" else (len(scores) == 10
                                                        and np.isfinite(scores).all())
    assert summary["stopped_by"] is None and summary["stopped_at_round"] is None


def test_stop_with_stratified_warm_start_and_warm_restart(tmp_path, trec, data_dir, monkeypatch):
    from peftal.al import rounds
    from peftal.data import load_task

    original, built = rounds.build_model, []

    def counting_build_model(*args, **kwargs):
        built.append(kwargs.get("seed"))
        return original(*args, **kwargs)

    monkeypatch.setattr(rounds, "build_model", counting_build_model)
    out = tmp_path / "stop"
    assert main(["run", *trec, *TINY, "--strategy", "entropy", "--budget", "60", "--out", str(out),
                 "--stratified-warm-start", "--warm-restart",
                 "--stop", "kappa_average", "--stop", "max_rounds[rounds=2]"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    # The budget allows 5 rounds; max_rounds ends it after round 1, which then queries nothing.
    assert summary["stopped_by"] == "max_rounds[rounds=2]" and summary["stopped_at_round"] == 1
    assert [r["num_labeled"] for r in summary["rounds"]] == [20, 30]
    assert summary["rounds"][1]["indices_queried"] == []
    assert summary["config"]["stop"] == ["kappa_average", "max_rounds[rounds=2]"]
    assert len(built) == 1  # --warm-restart: one model, continued from round to round
    labels = load_task("trec").train.labels
    counts = np.bincount(labels[sorted(_labeled_by_round(out)[0])], minlength=6)
    assert sorted(counts.tolist()) == [3, 3, 3, 3, 4, 4]  # 20 over 6 classes
