"""The AL loop end to end on a tiny random model and a toy file (fast, offline)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from peftal.errors import UsageError
from peftal.experiments import ResultsStore
from peftal.experiments.active_learning import RunConfig, execute_run, run_active_learning


def _config(toy_csv, tiny_model_dir, **overrides):
    base = dict(dataset=str(toy_csv), model=str(tiny_model_dir), method="lora", strategy="entropy",
                warm_start=10, query_size=7, budget=31, epochs=2, max_length=16, seed=0, lr=3e-3)
    return RunConfig(**{**base, **overrides})


def test_rounds_and_queries(toy_csv, tiny_model_dir):
    records = []
    summary, _ = run_active_learning(_config(toy_csv, tiny_model_dir), on_round=records.append,
                                     progress=False)
    rounds = summary["rounds"]
    # 10 → 17 → 24 → 31: the last query is cut to what the budget leaves (7)
    assert [r["num_labeled"] for r in rounds] == [10, 17, 24, 31]
    assert rounds[-1]["indices_queried"] == []
    labeled = set(records[0].indices_added)
    assert len(labeled) == 10
    for record in records[:-1]:
        queried = record.indices_queried
        assert len(queried) == len(set(queried)) == 7
        assert not labeled & set(queried)
        assert set(queried) <= set(range(120))  # ids of the pool (80% of 150 rows)
        labeled |= set(queried)
        assert len(record.scores_queried) == 7
        assert list(record.scores_queried) == sorted(record.scores_queried, reverse=True)
    assert 0.0 <= summary["auc"] <= 1.0
    assert records[-1].correct.shape == (2, 31)


def test_same_seed_same_run(toy_csv, tiny_model_dir):
    a, _ = run_active_learning(_config(toy_csv, tiny_model_dir), progress=False)
    b, _ = run_active_learning(_config(toy_csv, tiny_model_dir), progress=False)
    c, _ = run_active_learning(_config(toy_csv, tiny_model_dir, seed=1), progress=False)
    strip = lambda s: [(r["indices_queried"], r["metrics"]) for r in s["rounds"]]  # noqa: E731
    assert strip(a) == strip(b)
    assert strip(a) != strip(c)


def test_pool_subsample_returns_global_ids(toy_csv, tiny_model_dir):
    records = []
    run_active_learning(_config(toy_csv, tiny_model_dir, strategy="random", pool_subsample=15,
                                budget=17), on_round=records.append, progress=False)
    queried = records[0].indices_queried
    assert len(set(queried)) == 7 and not set(queried) & set(records[0].indices_added)
    assert max(queried) >= 15  # ids of the whole pool, not positions 0..14 of the subsample


def test_max_eval_scores_a_sample_and_changes_nothing_else(toy_csv, tiny_model_dir):
    sampled, _ = run_active_learning(_config(toy_csv, tiny_model_dir, max_eval=12, budget=17),
                                     progress=False)
    whole, _ = run_active_learning(_config(toy_csv, tiny_model_dir, budget=17), progress=False)
    assert (sampled["num_eval"], whole["num_eval"]) == (12, 30)  # the toy file's 20 % test split
    for record in sampled["rounds"]:  # an accuracy over 12 examples
        assert abs(record["metrics"]["accuracy"] * 12 - round(record["metrics"]["accuracy"] * 12)) < 1e-9
    # the sample has its own random stream: training and queries are those of the whole-split run
    queried = [[r["indices_queried"] for r in run["rounds"]] for run in (sampled, whole)]
    assert queried[0] == queried[1]


def test_execute_run_writes_outputs(toy_csv, tiny_model_dir, tmp_path):
    out = tmp_path / "run"
    summary = execute_run(_config(toy_csv, tiny_model_dir), out, progress=False)
    assert json.loads((out / "summary.json").read_text()) == json.loads(json.dumps(summary))
    assert (out / "learning_curve.png").stat().st_size > 1000
    # the default method, lora, is built by peft: a standard peft adapter folder plus the head
    assert {p.name for p in (out / "model").iterdir()} >= {"adapter_config.json", "adapter_model.safetensors",
                                                          "head.safetensors", "peftal_model.json"}
    with ResultsStore(out / "results.sqlite") as store:
        assert store.runs()[0]["status"] == "completed"
        assert len(store.rounds("run")) == 4
        assert len(store.labeled("run")) == 31
        assert sorted(store.correctness("run")) == [0, 1, 2, 3]
    with pytest.raises(UsageError, match="already holds a completed run"):
        execute_run(_config(toy_csv, tiny_model_dir), out, progress=False)


def test_failed_run_leaves_no_summary(toy_csv, tiny_model_dir, tmp_path, monkeypatch):
    import peftal.al.engine as engine

    original = engine.query_pool
    calls = []

    def broken_query(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("strategy crashed")
        return original(*args, **kwargs)

    monkeypatch.setattr(engine, "query_pool", broken_query)
    out = tmp_path / "run"
    with pytest.raises(RuntimeError):
        execute_run(_config(toy_csv, tiny_model_dir), out, progress=False)
    assert not (out / "summary.json").exists()
    with ResultsStore(out / "results.sqlite") as store:
        run = store.runs()[0]
        assert run["status"] == "failed" and "strategy crashed" in run["error"]
        assert len(store.rounds("run")) == 1  # the round that finished is kept


def test_single_class_warm_start_warns(tmp_path, tiny_model_dir):
    rows = ["text,label"] + [f"common words here {i},major" for i in range(60)] + \
           [f"rare thing {i},minor" for i in range(4)]
    path = tmp_path / "skewed.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    with pytest.warns(UserWarning, match="single class"):
        run_active_learning(RunConfig(dataset=str(path), model=str(tiny_model_dir), warm_start=1,
                                      query_size=2, budget=3, epochs=1, max_length=16),
                            progress=False)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"budget": 10}, r"--budget \(10\) must be larger than --warm-start \(10\)"),
        ({"budget": 500}, r"--budget \(500\) is larger than the pool"),
        ({"method": "lorax"}, "unknown method 'lorax'; valid method names: "),
        ({"strategy": "entropyy"}, "unknown strategy 'entropyy'; valid strategy names: "),
        ({"method": "lora[rank=4]"}, "lora: unknown key 'rank'; valid keys: r, alpha"),
    ],
)
def test_bad_config(toy_csv, tiny_model_dir, overrides, message):
    with pytest.raises(UsageError, match=message):
        run_active_learning(_config(toy_csv, tiny_model_dir, **overrides), progress=False)


def test_labels_of_the_pool_are_never_read_before_they_are_queried(toy_csv, tiny_model_dir):
    """Simulated annotation: training only ever sees labels of labelled ids."""
    import peftal.peft.base as loop  # PeftMethod.fit calls the trainer there

    seen = []
    original = loop.train

    def spy(model, encoded, indices, targets, *args, **kwargs):
        seen.append(np.asarray(indices).copy())
        return original(model, encoded, indices, targets, *args, **kwargs)

    records = []
    loop.train = spy
    try:
        run_active_learning(_config(toy_csv, tiny_model_dir), on_round=records.append, progress=False)
    finally:
        loop.train = original
    labeled = set()
    for record, indices in zip(records, seen):
        labeled |= set(record.indices_added)
        assert set(indices.tolist()) == labeled


@pytest.mark.parametrize("method, measured", [("lora", True), ("head", False)])
def test_cka_is_measured_only_where_the_encoder_trains(toy_csv, tiny_model_dir, method, measured):
    # a frozen encoder's CKA against the pretrained one is 1 by construction: no probe passes
    records = []
    run_active_learning(_config(toy_csv, tiny_model_dir, method=method, budget=17, cka_probe_size=8),
                        on_round=records.append, progress=False)
    assert ("cka" in records[-1].artifacts) is measured
    if measured:
        assert len(records[-1].artifacts["cka"]["per_layer"]) >= 2


def test_every_round_records_its_convergence_by_the_criterion(toy_csv, tiny_model_dir):
    """The flag of each round is the criterion applied to what the round recorded (its epochs, the
    labels of its labelled ids, the last epoch's correctness); the summary's is all of them."""
    from peftal.data import load_task
    from peftal.training.convergence import converged

    config = _config(toy_csv, tiny_model_dir)
    records = []
    summary, _ = run_active_learning(config, on_round=records.append, progress=False)
    labels = load_task(config.dataset, seed=config.seed, **config.load_options()).train.labels
    flags = []
    for record, public in zip(records, summary["rounds"], strict=True):
        expected = converged(record.epochs, task="classification",
                             targets=labels[list(record.correct_ids)], correct_last=record.correct[-1])
        assert (record.converged, record.convergence) == expected
        assert public["converged"] == record.converged and record.converged is not None
        flags.append(record.converged)
    assert summary["converged"] is all(flags)
