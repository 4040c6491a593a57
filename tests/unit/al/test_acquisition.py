"""Runs with a frozen-encoder method (``head``) and with ``--acquisition-method``, on a tiny random
model and a toy file: the cached embeddings give the forward pass's numbers, and an acquisition run
queries exactly what a run of the acquisition method alone queries."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from peftal.data.encoding import encode
from peftal.errors import UsageError
from peftal.experiments.active_learning import RunConfig, prepare, run_active_learning
from peftal.models.backbone import load_backbone
from peftal.models.heads import TextClassifier
from peftal.training import compute_metrics, embed


def _config(toy_csv, tiny_model_dir, **overrides):
    base = dict(dataset=str(toy_csv), model=str(tiny_model_dir), method="head", strategy="entropy",
                warm_start=10, query_size=7, budget=31, epochs=1, max_length=16, seed=0, cka_probe_size=0)
    return RunConfig(**{**base, **overrides})


def test_a_head_run_equals_scikit_learn_on_the_encoders_embeddings(toy_csv, tiny_model_dir):
    config = _config(toy_csv, tiny_model_dir)
    records = []
    summary, model = run_active_learning(config, on_round=records.append, progress=False)
    assert [r["num_labeled"] for r in summary["rounds"]] == [10, 17, 24, 31]
    assert summary["trainable_params"] == model.head.weight.numel() + model.head.bias.numel()
    # recomputed without the run's cache: the pretrained encoder's embeddings, scikit-learn's fit
    task, _, _ = prepare(config)
    encoder, tokenizer = load_backbone(str(tiny_model_dir))
    base = TextClassifier(encoder, task.num_labels)
    labeled = np.asarray(records[-1].correct_ids)
    fitted = LogisticRegression(max_iter=1000).fit(
        embed(base, encode(tokenizer, task.train, 16), labeled), task.train.labels[labeled])
    probs = fitted.predict_proba(embed(base, encode(tokenizer, task.test, 16), np.arange(len(task.test))))
    expected = compute_metrics(task.metrics, task.test.labels, np.log(probs), task.task)
    assert summary["rounds"][-1]["metrics"] == pytest.approx(expected)


def test_acquisition_run_queries_what_the_acquisition_method_queries(toy_csv, tiny_model_dir):
    head, _ = run_active_learning(_config(toy_csv, tiny_model_dir), progress=False)
    records = []
    mixed, _ = run_active_learning(_config(toy_csv, tiny_model_dir, method="lora", lr=3e-3,
                                           acquisition_method="head", acquisition_every=2),
                                   on_round=records.append, progress=False)
    assert [r["indices_queried"] for r in mixed["rounds"]] == [r["indices_queried"] for r in head["rounds"]]
    assert [r.metrics_model for r in records] == ["head", "lora", "head", "lora"]
    # where the main model did not train, the round's metrics are the acquisition model's
    assert [r["metrics"] for r in mixed["rounds"]][::2] == [r["metrics"] for r in head["rounds"]][::2]
    assert mixed["method"] == "lora" and mixed["trainable_params"] > head["trainable_params"]


@pytest.mark.parametrize(("overrides", "message"), [
    ({"acquisition_every": 2}, "--acquisition-every needs --acquisition-method"),
    ({"acquisition_method": "head", "acquisition_every": 0}, "--acquisition-every must be >= 1"),
    ({"acquisition_method": "head", "stop": ("max_rounds[rounds=2]",)}, "--stop does not combine"),
])
def test_bad_acquisition_settings(toy_csv, tiny_model_dir, overrides, message):
    with pytest.raises(UsageError, match=message):
        _config(toy_csv, tiny_model_dir, method="lora", **overrides)


def test_unknown_acquisition_method_is_one_line(toy_csv, tiny_model_dir):
    with pytest.raises(UsageError, match="unknown method 'hed'"):
        prepare(_config(toy_csv, tiny_model_dir, method="lora", acquisition_method="hed"))
