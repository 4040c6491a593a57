"""The multi-label model: one-vs-rest ``head`` against scikit-learn, binary cross-entropy in the
gradient trainer against torch's own formula, thresholds picked on out-of-fold probabilities."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

from peftal.al.rounds import fit_round
from peftal.peft import build_model, parse_method
from peftal.training import TrainConfig, compute_metrics, predict
from peftal.training.metrics import sigmoid
from peftal.training.thresholds import best_thresholds
from peftal.training.trainer import supervised_loss
from tests.conftest import random_encoded, tiny_encoder
from tests.unit.peft.test_head import _mean_pooled

NUM, LABELS = 40, 3


@pytest.fixture(scope="module")
def encoder():
    return tiny_encoder("bert")


@pytest.fixture(scope="module")
def encoded():
    return random_encoded(NUM, seed=3, max_len=16)


def _targets() -> np.ndarray:
    targets = (np.random.default_rng(1).random((NUM, LABELS)) < 0.4).astype(np.int64)
    targets[:, 2] = 0  # a label no text has yet
    return targets


def test_head_is_one_logistic_regression_per_label(encoder, encoded):
    targets = _targets()
    spec = parse_method("head[c=0.5]")
    model = build_model(encoder, spec, LABELS, seed=0)
    result = spec.fit(model, encoded, np.arange(NUM), targets, TrainConfig(), task="multilabel",
                      rng=np.random.default_rng(0))
    vectors = _mean_pooled(encoder, encoded)
    probs = sigmoid(predict(model, encoded, np.arange(NUM)))
    for label in range(2):
        expected = LogisticRegression(C=0.5, max_iter=1000).fit(vectors, targets[:, label])
        np.testing.assert_allclose(probs[:, label], expected.predict_proba(vectors)[:, 1], atol=1e-4)
    assert probs[:, 2].max() < 1e-4  # absent label: never predicted
    predicted = probs >= 0.5
    assert result.epochs[0]["train_accuracy"] == pytest.approx(float((predicted == targets).all(1).mean()))
    assert result.correct.shape == (1, NUM)


def test_trainer_loss_is_binary_cross_entropy(encoder, encoded):
    targets = _targets()
    model = build_model(encoder, parse_method("lora"), LABELS, seed=0).eval()
    loss = supervised_loss(targets, "multilabel")
    rows = encoded.input_ids[:4]
    batch = {"input_ids": torch.as_tensor(np.stack([np.pad(ids, (0, 16 - len(ids))) for ids in rows])),
             "attention_mask": torch.as_tensor(np.stack([
                 np.pad(np.ones(len(ids), dtype=np.int64), (0, 16 - len(ids))) for ids in rows]))}
    value, hits = loss(model, batch, np.arange(4))
    with torch.no_grad():
        logits = model(**batch).double().numpy()
    p = sigmoid(logits)
    y = targets[:4]
    by_hand = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert float(value.detach()) == pytest.approx(by_hand, rel=1e-5)
    assert np.array_equal(hits, ((p >= 0.5) == y).all(1))


def test_thresholds_by_hand():
    probs = np.array([[0.9, 0.3, 0.1], [0.6, 0.2, 0.2], [0.4, 0.25, 0.3], [0.2, 0.1, 0.05]])
    targets = np.array([[1, 1, 0], [1, 0, 0], [0, 1, 0], [0, 0, 0]])
    # label 0: any cut in (0.4, 0.6] separates perfectly -> the one closest to 0.5; label 1: only
    # (0.2, 0.25] does -> 0.25; label 2 has no positive -> 0.5
    assert best_thresholds(probs, targets).tolist() == [0.5, 0.25, 0.5]


def test_metrics_cut_at_the_thresholds():
    targets = np.array([[1, 0], [0, 1], [1, 1]])
    logits = np.log(np.array([[0.7, 0.2], [0.3, 0.4], [0.6, 0.35]]) / (1 - np.array([[0.7, 0.2], [0.3, 0.4],
                                                                                     [0.6, 0.35]])))
    at_half = compute_metrics(("f1_micro", "subset_accuracy", "hamming_loss"), targets, logits, "multilabel")
    # at 0.5: predictions [[1,0],[0,0],[1,0]]: tp 2, fp 0, fn 2
    assert at_half == pytest.approx({"f1_micro": 2 * 2 / (2 * 2 + 2), "subset_accuracy": 1 / 3,
                                     "hamming_loss": 2 / 6})
    cut = compute_metrics(("f1_micro", "f1_macro", "f1_samples"), targets, logits, "multilabel",
                          np.array([0.5, 0.3]))
    predicted = np.array([[1, 0], [0, 1], [1, 1]])
    assert cut["f1_micro"] == 1.0 and cut["f1_samples"] == f1_score(targets, predicted, average="samples")


def test_fit_round_cross_validates_thresholds_on_the_labelled_set(encoder, encoded):
    targets = _targets()
    labeled = np.arange(0, NUM, 2)
    fit = dict(task="multilabel", num_outputs=LABELS, pooling="mean", seed=5, device="cpu")
    head = parse_method("head")
    model, _ = fit_round(head, encoder, encoded, labeled, targets[labeled], TrainConfig(), **fit)
    assert model.thresholds.shape == (LABELS,) and model.thresholds[2] == 0.5
    # the same thresholds from the out-of-fold probabilities computed here with the same folds, whose
    # split and models are seeded from the threshold_fold stream of the round's seed (the seed plan)
    from sklearn.model_selection import KFold

    from peftal.seeding import stream_seed

    oof = np.zeros((len(labeled), LABELS))
    folds = KFold(3, shuffle=True, random_state=stream_seed(5, "threshold_fold")).split(labeled)
    for fold, (fit_at, held_at) in enumerate(folds):
        fold_seed = stream_seed(5, "threshold_fold", fold)
        fold_model, _ = fit_round(head, encoder, encoded, labeled[fit_at], targets[labeled][fit_at],
                                  TrainConfig(), **{**fit, "seed": fold_seed}, threshold=0.5)
        oof[held_at] = sigmoid(predict(fold_model, encoded, labeled[held_at]))
    np.testing.assert_array_equal(model.thresholds, best_thresholds(oof, targets[labeled]))
    fixed, _ = fit_round(head, encoder, encoded, labeled, targets[labeled], TrainConfig(),
                         **fit, threshold=0.4)
    assert fixed.thresholds.tolist() == [0.4] * LABELS

