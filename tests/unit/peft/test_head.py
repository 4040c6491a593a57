"""The ``head`` linear probe against scikit-learn fitted directly on embeddings computed by hand, and
the cached embeddings of a frozen encoder against the model's own forward pass."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression, Ridge

from peftal.al.learner import ModelClassifier
from peftal.peft import build_model, parse_method
from peftal.training import TrainConfig, predict, softmax
from peftal.training.features import PooledFeatures
from tests.conftest import random_encoded, tiny_encoder

NUM = 40


@pytest.fixture(scope="module")
def encoder():
    return tiny_encoder("bert")


@pytest.fixture(scope="module")
def encoded():
    return random_encoded(NUM, seed=3, max_len=16)


@torch.no_grad()
def _mean_pooled(encoder, encoded) -> np.ndarray:
    """Masked mean of the last hidden states, one unpadded example at a time (no batching code)."""
    rows = []
    for ids, types in zip(encoded.input_ids, encoded.token_type_ids, strict=True):
        hidden = encoder(input_ids=torch.as_tensor(ids)[None], token_type_ids=torch.as_tensor(types)[None],
                         attention_mask=torch.ones(1, len(ids), dtype=torch.long)).last_hidden_state
        rows.append(hidden[0].mean(0).numpy())
    return np.stack(rows).astype(np.float64)


def _fit(encoder, encoded, targets, num_outputs, preset="head", task="classification"):
    spec = parse_method(preset)
    model = build_model(encoder, spec, num_outputs, seed=0)
    result = spec.fit(model, encoded, np.arange(NUM), targets, TrainConfig(), task=task,
                      rng=np.random.default_rng(0))
    return model, result


@pytest.mark.parametrize("num_classes", [2, 3])
def test_head_equals_sklearn_logistic_regression(encoder, encoded, num_classes):
    targets = np.random.default_rng(1).integers(0, num_classes, NUM)
    model, result = _fit(encoder, encoded, targets, num_classes, preset="head[c=0.5]")
    expected = LogisticRegression(C=0.5, max_iter=1000).fit(_mean_pooled(encoder, encoded), targets)
    probs = softmax(predict(model, encoded, np.arange(NUM)))  # through the encoder, in batches
    np.testing.assert_allclose(probs, expected.predict_proba(_mean_pooled(encoder, encoded)), atol=1e-4)
    assert result.steps == 1 and result.correct.shape == (1, NUM)
    assert result.epochs[0]["train_accuracy"] == pytest.approx(
        float((expected.predict(_mean_pooled(encoder, encoded)) == targets).mean()))
    assert all(not p.requires_grad for p in model.encoder.parameters())


def test_classes_without_labels_are_never_predicted(encoder, encoded):
    targets = np.arange(NUM) % 2  # classes 0 and 1 of 4
    model, _ = _fit(encoder, encoded, targets, 4)
    probs = softmax(predict(model, encoded, np.arange(NUM)))
    assert probs[:, 2:].max() < 1e-4 and set(probs.argmax(1)) <= {0, 1}
    one_class, _ = _fit(encoder, encoded, np.zeros(NUM, dtype=np.int64), 4)
    assert (predict(one_class, encoded, np.arange(NUM)).argmax(1) == 0).all()


def test_regression_equals_sklearn_ridge(encoder, encoded):
    targets = np.random.default_rng(2).uniform(0, 5, NUM)
    model, result = _fit(encoder, encoded, targets, 1, preset="head[alpha=0.1]", task="regression")
    expected = Ridge(alpha=0.1).fit(_mean_pooled(encoder, encoded), targets)
    np.testing.assert_allclose(predict(model, encoded, np.arange(NUM))[:, 0],
                               expected.predict(_mean_pooled(encoder, encoded)), atol=1e-4)
    assert result.correct.size == 0


def test_cached_embeddings_equal_the_forward_pass_and_are_computed_once(encoder, encoded):
    spec = parse_method("head")
    features = spec.method.inputs(encoder, encoded)
    assert isinstance(features, PooledFeatures) and features.num_computed == 0
    targets = np.arange(NUM) % 3
    model = build_model(encoder, spec, 3, seed=0)
    spec.fit(model, features, np.arange(0, NUM, 2), targets[::2], TrainConfig(), task="classification",
             rng=np.random.default_rng(0))
    assert features.num_computed == NUM // 2  # only the labelled examples so far
    np.testing.assert_allclose(features.vectors(np.arange(NUM)), _mean_pooled(encoder, encoded), atol=1e-5)
    np.testing.assert_allclose(predict(model, features, np.arange(NUM)),
                               predict(model, encoded, np.arange(NUM)), atol=1e-5)
    cached, direct = ModelClassifier(model, features, "classification"), ModelClassifier(model, encoded,
                                                                                          "classification")
    for a, b in zip(cached.embed_proba(np.arange(5, 15)), direct.embed_proba(np.arange(5, 15)), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert cached.mc_predict_proba(np.arange(4), passes=3, seed=0).shape == (4, 3, 3)
    # a method that trains the encoder gets the token ids as they are
    assert parse_method("lora").method.inputs(encoder, encoded) is encoded


def test_bad_preset_is_one_line():
    from peftal.errors import UsageError

    with pytest.raises(UsageError, match="c must be > 0"):
        parse_method("head[c=0]")
