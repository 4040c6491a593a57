"""The chance check: a model that predicts the majority class, or noise, has not learned."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import matthews_corrcoef

from peftal.training.metrics import CHANCE_Z, above_chance


def _logits(predicted: np.ndarray, classes: int) -> np.ndarray:
    return np.eye(classes)[predicted]


def test_the_majority_class_is_at_chance_whatever_its_accuracy():
    targets = np.array([1] * 69 + [0] * 31)  # CoLA's balance: 0.69 accuracy by always saying 1
    learned, reason = above_chance(targets, _logits(np.ones(100, dtype=int), 2), "classification")
    assert learned is False
    assert reason.startswith("MCC 0.000 on 100 evaluation examples within chance")


def test_the_band_is_two_over_root_n_of_sklearns_mcc():
    rng = np.random.default_rng(0)
    targets = rng.integers(0, 3, 400)
    predicted = np.where(rng.random(400) < 0.2, targets, rng.integers(0, 3, 400))
    value = matthews_corrcoef(targets, predicted)
    learned, reason = above_chance(targets, _logits(predicted, 3), "classification")
    assert learned is (value > CHANCE_Z / 20)  # sqrt(400) = 20
    assert f"MCC {value:.3f}" in reason and "> 0.100 needed" in reason
    assert value > 0.1 and learned  # 20 % of the answers copied from the targets is not chance


def test_noise_is_at_chance_and_a_fitted_regression_is_not():
    rng = np.random.default_rng(1)
    targets = rng.normal(size=500)
    assert above_chance(targets, rng.normal(size=(500, 1)), "regression")[0] is False
    fitted = (targets + rng.normal(scale=2.0, size=500))[:, None]  # r about 0.45
    learned, reason = above_chance(targets, fitted, "regression")
    assert learned is True and reason.startswith("Pearson r 0.4")


def test_multilabel_counts_every_decision_and_qa_is_not_judged():
    targets = np.zeros((50, 4), dtype=int)
    targets[np.arange(50), np.arange(50) % 4] = 1
    none_predicted = np.full((50, 4), -5.0)  # sigmoid < 0.5 everywhere: no label at all
    assert above_chance(targets, none_predicted, "multilabel")[0] is False
    assert above_chance(targets, np.where(targets == 1, 5.0, -5.0), "multilabel")[0] is True
    assert above_chance(np.zeros(50), np.zeros((50, 2)), "qa") == (None, None)


@pytest.mark.parametrize("n", [0, 9])
def test_too_few_examples_are_not_judged(n):
    assert above_chance(np.zeros(n, dtype=int), np.zeros((n, 2)), "classification") == (None, None)
