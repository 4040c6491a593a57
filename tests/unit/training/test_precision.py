"""Precision (fp32 / bf16 autocast) and threads: correctness of the optimised paths."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from peftal.al.learner import ModelClassifier
from peftal.al.strategies import parse_strategy
from peftal.data.encoding import collate
from peftal.errors import UsageError
from peftal.experiments.active_learning import RunConfig
from peftal.peft import build_model, parse_method
from peftal.training import TrainConfig, predict, train
from peftal.training import precision as precision_module
from peftal.training.precision import resolve_precision, set_threads
from tests.conftest import random_encoded, tiny_encoder


def _model(method: str = "full", seed: int = 0):
    return build_model(tiny_encoder("bert"), parse_method(method), 3, seed=seed).eval()


def test_resolve_precision_names_and_auto(monkeypatch):
    assert resolve_precision("fp32") == "fp32"
    assert resolve_precision("bf16") == "bf16"
    monkeypatch.setattr(precision_module, "cpu_has_fast_bf16", lambda: True)
    assert resolve_precision("auto") == "bf16"
    monkeypatch.setattr(precision_module, "cpu_has_fast_bf16", lambda: False)
    assert resolve_precision("auto") == "fp32"
    with pytest.raises(UsageError, match="--precision"):
        resolve_precision("fp16")
    with pytest.raises(UsageError, match="--precision"):
        RunConfig(precision="half")


def test_predict_fp32_matches_unbatched_unsorted_path():
    """Length-sorted dynamic batches give the logits of one-example-at-a-time scoring."""
    model, encoded = _model(), random_encoded(40)
    ids = np.arange(40)[::-1].copy()
    fast = predict(model, encoded, ids, batch_size=16, precision="fp32")
    with torch.inference_mode():
        slow = np.concatenate([model(**collate(encoded, ids[i:i + 1])).numpy() for i in range(40)])
    np.testing.assert_allclose(fast, slow, atol=1e-5)


def test_entropy_query_same_ids_fp32_vs_unoptimised_path():
    model, encoded = _model(), random_encoded(60, seed=1)
    unlabeled = np.arange(10, 60)

    class Unoptimised:  # one example per forward pass, original order
        task = "classification"

        def predict_proba(self, indices):
            with torch.inference_mode():
                logits = torch.cat([model(**collate(encoded, np.array([i]))) for i in indices])
            return torch.softmax(logits, 1).numpy()

    def query(clf):
        return parse_strategy("entropy").query(clf=clf, labels_labeled=None, indices_unlabeled=unlabeled,
                                               indices_labeled=np.arange(10), n=8,
                                               rng=np.random.default_rng(0))

    fast = query(ModelClassifier(model, encoded, "classification", batch_size=16, precision="fp32"))
    np.testing.assert_array_equal(fast, query(Unoptimised()))


def test_bf16_logits_close_to_fp32():
    """bf16 autocast keeps logits within 0.05 (bf16 has an 8-bit mantissa) and the argmax."""
    model, encoded = _model("lora"), random_encoded(64, seed=2)
    ids = np.arange(64)
    fp32 = predict(model, encoded, ids, precision="fp32")
    bf16 = predict(model, encoded, ids, precision="bf16")
    assert bf16.dtype == np.float32
    assert np.abs(fp32 - bf16).max() < 0.05
    assert (fp32.argmax(1) == bf16.argmax(1)).mean() >= 0.95


def test_bf16_training_reaches_fp32_accuracy():
    """On a learnable toy task, bf16-autocast training ends within 10 points of fp32."""
    encoded = random_encoded(96, seed=3)
    # label: is token 7..40 present more often than 41..? -> a function of the ids a model can learn
    labels = np.array([int(np.isin(row, np.arange(5, 60)).mean() > 0.5) for row in encoded.input_ids])
    ids = np.arange(96)
    accuracy = {}
    for precision in ("fp32", "bf16"):
        model = build_model(tiny_encoder("bert"), parse_method("full"), 2, seed=0)
        torch.manual_seed(0)
        config = TrainConfig(epochs=8, batch_size=16, lr=3e-3, head_lr=3e-3, precision=precision)
        result = train(model, encoded, ids, labels, config, task="classification",
                       rng=np.random.default_rng(0))
        assert np.isfinite([e["loss"] for e in result.epochs]).all()
        accuracy[precision] = float((predict(model, encoded, ids).argmax(1) == labels).mean())
    assert accuracy["fp32"] > 0.75  # the task is learnt at all, so the comparison means something
    assert abs(accuracy["bf16"] - accuracy["fp32"]) <= 0.10


def test_set_threads():
    before = torch.get_num_threads()
    try:
        assert set_threads(1) == 1 and torch.get_num_threads() == 1
        assert set_threads(None) >= 1
    finally:
        torch.set_num_threads(before)
    with pytest.raises(UsageError, match="--threads"):
        set_threads(0)


@pytest.mark.parametrize(("flags", "fast"), [({"avx512f", "amx_bf16", "avx512_bf16"}, True),
                                             ({"avx512f", "avx512_bf16"}, False),
                                             ({"avx2"}, False)])
def test_only_amx_counts_as_fast_bf16(monkeypatch, flags, fast):
    """AVX512-BF16 without AMX ran bf16 matmuls at half the fp32 speed: auto keeps fp32 there."""
    monkeypatch.setattr(precision_module, "_cpu_flags", lambda: frozenset(flags))
    assert precision_module.cpu_has_fast_bf16() is fast
