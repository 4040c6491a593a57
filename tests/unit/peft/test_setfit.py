"""SetFit's pair sampling counted by hand, and its head checked against scikit-learn on the
fine-tuned encoder's embeddings computed without peftal's batching."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from peftal.errors import UsageError
from peftal.peft import build_model, parse_method
from peftal.peft.setfit import sentence_pairs
from peftal.training import TrainConfig, predict, softmax
from tests.conftest import random_encoded, tiny_encoder
from tests.unit.peft.test_head import _mean_pooled


def test_pairs_are_one_positive_and_one_negative_per_example_and_iteration():
    targets = np.array([0, 0, 1, 1, 1, 2])
    left, right, label = sentence_pairs(targets, num_iterations=3, max_pairs=10_000,
                                        rng=np.random.default_rng(0))
    assert len(left) == 2 * 3 * len(targets)
    same = targets[left] == targets[right]
    assert np.array_equal(same, label == 1.0)
    assert np.array_equal(np.bincount(left), np.full(len(targets), 6))  # 3 positives + 3 negatives each
    again = sentence_pairs(targets, 3, 10_000, np.random.default_rng(0))
    assert all(np.array_equal(a, b) for a, b in zip((left, right, label), again, strict=True))
    capped = sentence_pairs(targets, 3, 7, np.random.default_rng(0))
    assert len(capped[0]) == 7
    one_class = sentence_pairs(np.zeros(4, dtype=np.int64), 2, 100, np.random.default_rng(0))
    assert len(one_class[0]) == 8 and (one_class[2] == 1.0).all()  # no negatives to draw


def test_multilabel_pairs_are_a_positive_per_label_and_one_negative_sharing_no_label():
    targets = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1], [0, 0, 0]])
    left, right, label = sentence_pairs(targets, num_iterations=4, max_pairs=10_000,
                                        rng=np.random.default_rng(0))
    shared = (targets[left] * targets[right]).sum(axis=1)
    assert (shared[label == 1.0] > 0).all() and (shared[label == 0.0] == 0).all()
    assert not (left == right)[label == 0.0].any()
    # per iteration: one positive per label of the example, one negative where one exists
    positives = np.bincount(left[label == 1.0], minlength=5)
    negatives = np.bincount(left[label == 0.0], minlength=5)
    assert positives.tolist() == [4 * n for n in targets.sum(axis=1)]
    assert negatives.tolist() == [4] * 5
    # the text with no label is paired only against texts that have one
    assert targets[right[left == 4]].any(axis=1).all()
    assert len(sentence_pairs(targets, 4, 9, np.random.default_rng(0))[0]) == 9


def test_setfit_trains_multilabel_with_one_logistic_regression_per_label():
    encoder = tiny_encoder("bert")
    encoded = random_encoded(24, seed=5, max_len=10)
    targets = np.stack([np.arange(24) % 2, (np.arange(24) // 2) % 2], axis=1)
    spec = parse_method("setfit[num_iterations=1]")
    spec.check_task("multilabel")
    model = build_model(encoder, spec, 2, seed=0)
    result = spec.fit(model, encoded, np.arange(24), targets, TrainConfig(batch_size=8, lr=1e-3),
                      task="multilabel", rng=np.random.default_rng(0))
    vectors = _mean_pooled(model.encoder, encoded)
    logits = predict(model, encoded, np.arange(24))
    for column in range(2):
        expected = LogisticRegression(max_iter=1000).fit(vectors, targets[:, column])
        np.testing.assert_allclose(1 / (1 + np.exp(-logits[:, column])),
                                   expected.predict_proba(vectors)[:, 1], atol=1e-4)
    assert result.correct.shape == (1, 24)


def test_setfit_trains_the_body_then_fits_a_logistic_head_on_its_embeddings():
    encoder = tiny_encoder("bert")
    encoded = random_encoded(24, seed=5, max_len=10)
    targets = np.arange(24) % 3
    spec = parse_method("setfit[num_iterations=2,c=0.7]")
    model = build_model(encoder, spec, 3, seed=0)
    before = {k: p.detach().clone() for k, p in model.encoder.named_parameters()}
    torch.manual_seed(0)
    config = TrainConfig(batch_size=8, lr=1e-3)
    result = spec.fit(model, encoded, np.arange(24), targets, config, task="classification",
                      rng=np.random.default_rng(0))
    assert result.steps == spec.num_steps(24, config) == 12  # 96 pairs in batches of 8
    assert any(not torch.equal(p, before[k]) for k, p in model.encoder.named_parameters())
    vectors = _mean_pooled(model.encoder, encoded)  # the fine-tuned encoder, one example at a time
    expected = LogisticRegression(C=0.7, max_iter=1000).fit(vectors, targets).predict_proba(vectors)
    np.testing.assert_allclose(softmax(predict(model, encoded, np.arange(24))), expected, atol=1e-4)


def test_setfit_refuses_regression_in_one_line():
    with pytest.raises(UsageError, match="'setfit' does not apply to the regression task"):
        parse_method("setfit").check_task("regression")
