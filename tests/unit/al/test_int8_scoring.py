"""int8 pool scoring: an ONNX Runtime int8 copy of the round's model gives probabilities close to
the PyTorch model's, leaves the round's model as it was, and runs inside ``peftal run``."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from peftal.al.int8 import Int8Classifier
from peftal.al.learner import ModelClassifier
from peftal.errors import UsageError
from peftal.peft import build_model, parse_method
from tests.conftest import random_encoded, tiny_encoder

pytest.importorskip("onnxruntime")


@pytest.mark.parametrize("method, task", [("lora", "classification"), ("houlsby", "classification"),
                                          ("lora", "multilabel")])
def test_int8_probabilities_are_close_to_the_models_and_the_model_is_untouched(method, task):
    model = build_model(tiny_encoder("bert"), parse_method(method), 3, seed=0).eval()
    encoded = random_encoded(40, seed=1, max_len=14)
    ids = np.arange(40)
    fp32 = ModelClassifier(model, encoded, task)
    int8 = Int8Classifier(model, encoded, task, batch_size=16)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    expected, got = fp32.predict_proba(ids), int8.predict_proba(ids)
    assert got.shape == expected.shape == (40, 3)
    assert np.abs(got - expected).max() < 0.05
    if task == "classification":
        np.testing.assert_allclose(got.sum(1), 1.0, atol=1e-5)
    assert all(torch.equal(p, before[name]) for name, p in model.named_parameters())  # merged a copy
    np.testing.assert_allclose(fp32.predict_proba(ids), expected, atol=1e-6)


def test_the_run_option_is_checked():
    from peftal.experiments.active_learning import RunConfig

    with pytest.raises(UsageError, match="--scoring-precision must be one of fp32, int8, got 'int4'"):
        RunConfig(scoring_precision="int4")


def test_a_run_scores_its_pool_in_int8(tiny_model_dir, toy_csv, tmp_path):
    from peftal.cli import main

    out = tmp_path / "run"
    assert main(["run", "--dataset", str(toy_csv), "--model", str(tiny_model_dir), "--method", "lora",
                 "--warm-start", "10", "--query-size", "5", "--budget", "20", "--epochs", "1",
                 "--max-length", "16", "--cka-probe-size", "0", "--scoring-precision", "int8",
                 "--out", str(out), "--no-progress"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["config"]["scoring_precision"] == "int8"
    assert [r["num_labeled"] for r in summary["rounds"]] == [10, 15, 20]
