"""Fitting a linear head in closed form (ridge) or by L-BFGS (logistic regression; one binary one per
label for the multi-label task) on pooled embeddings: the ``head`` method's whole training, and the
linear-probe start of LP-FT (``TrainConfig.linear_probe_init``) for every gradient method.

Kept apart from :mod:`peftal.peft.head` (the method) so that the method contract in
:mod:`peftal.peft.base` can use it without importing a method that is itself built on that contract.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from peftal.models.heads import TextClassifier
from peftal.training.trainer import TrainResult

# Logit given to classes that no labelled example has yet, below every fitted logit on the labelled
# set (a fresh label of that class then moves it up at the next fit).
_ABSENT_MARGIN = 10.0


@dataclass(frozen=True)
class HeadConfig:
    """Linear-probe hyper-parameters.

    Attributes:
        c: Inverse L2 strength of the logistic regression (scikit-learn's ``C``).
        alpha: L2 strength of the ridge regression (regression tasks).
        max_iter: L-BFGS iterations at most.
    """

    c: float = 1.0
    alpha: float = 1.0
    max_iter: int = 1000

    def __post_init__(self) -> None:
        if not self.c > 0:
            raise ValueError(f"c must be > 0, got {self.c}")
        if not self.alpha >= 0:
            raise ValueError(f"alpha must be >= 0, got {self.alpha}")
        if self.max_iter < 1:
            raise ValueError(f"max_iter must be >= 1, got {self.max_iter}")


def _logistic(vectors: np.ndarray, targets: np.ndarray, num_classes: int,
              config: HeadConfig) -> tuple[np.ndarray, np.ndarray]:
    """``(weight (classes, hidden), bias (classes,))`` of a multinomial logistic regression whose
    softmax equals scikit-learn's ``predict_proba`` on the classes present."""
    from sklearn.linear_model import LogisticRegression

    hidden = vectors.shape[1]
    weight = np.zeros((num_classes, hidden), dtype=np.float64)
    bias = np.zeros(num_classes, dtype=np.float64)
    present = np.unique(targets)
    if len(present) == 1:  # nothing to separate yet: predict the one class seen
        bias[:] = -_ABSENT_MARGIN
        bias[present[0]] = 0.0
        return weight, bias
    fitted = LogisticRegression(C=config.c, max_iter=config.max_iter).fit(vectors, targets)
    coef, intercept = fitted.coef_, fitted.intercept_
    if len(present) == 2:  # one logit w·x + b for the second class; softmax([-z/2, z/2]) = sigmoid(z)
        coef = np.stack([-coef[0] / 2, coef[0] / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
    weight[fitted.classes_] = coef
    bias[fitted.classes_] = intercept
    absent = np.setdiff1d(np.arange(num_classes), present)
    if len(absent):
        floor = float((vectors @ coef.T + intercept).min())
        bias[absent] = floor - _ABSENT_MARGIN
    return weight, bias


def _one_vs_rest(vectors: np.ndarray, targets: np.ndarray,
                 config: HeadConfig) -> tuple[np.ndarray, np.ndarray]:
    """``(weight (labels, hidden), bias (labels,))``: one binary logistic regression per label, whose
    sigmoid equals scikit-learn's ``predict_proba[:, 1]``; a label that all labelled texts have (or
    none has) gets a constant logit of +-``_ABSENT_MARGIN``."""
    from sklearn.linear_model import LogisticRegression

    weight = np.zeros((targets.shape[1], vectors.shape[1]), dtype=np.float64)
    bias = np.zeros(targets.shape[1], dtype=np.float64)
    for label in range(targets.shape[1]):
        column = targets[:, label]
        if column.min() == column.max():
            bias[label] = _ABSENT_MARGIN if column[0] else -_ABSENT_MARGIN
            continue
        fitted = LogisticRegression(C=config.c, max_iter=config.max_iter).fit(vectors, column)
        weight[label], bias[label] = fitted.coef_[0], fitted.intercept_[0]
    return weight, bias


def fit_linear_head(model: TextClassifier, vectors: np.ndarray, targets: np.ndarray, *, task: str,
                    config: HeadConfig) -> TrainResult:
    """Fit ``model.head`` on pooled embeddings ``(n, hidden)`` with ``targets``; the result is shaped
    like the gradient trainer's (one "epoch", one "step")."""
    start = time.perf_counter()
    vectors = np.asarray(vectors, dtype=np.float64)
    targets = np.asarray(targets)
    if task == "regression":
        from sklearn.linear_model import Ridge

        fitted = Ridge(alpha=config.alpha).fit(vectors, targets.astype(np.float64))
        weight, bias = fitted.coef_[None, :], np.atleast_1d(fitted.intercept_)
    elif task == "multilabel":
        weight, bias = _one_vs_rest(vectors, targets.astype(np.int64), config)
    else:
        weight, bias = _logistic(vectors, targets.astype(np.int64), model.head.out_features, config)
    with torch.no_grad():
        model.head.weight.copy_(torch.as_tensor(weight, dtype=model.head.weight.dtype))
        model.head.bias.copy_(torch.as_tensor(bias, dtype=model.head.bias.dtype))
    outputs = vectors @ weight.T + bias  # (n, outputs)
    record: dict = {"epoch": 0}
    result = TrainResult(steps=1)
    if task == "regression":
        record["loss"] = float(np.mean((outputs[:, 0] - targets) ** 2))
    elif task == "multilabel":  # binary cross-entropy; correct = every label right (subset accuracy)
        record["loss"] = float(np.mean(np.logaddexp(0.0, outputs) - targets * outputs))
        correct = ((outputs >= 0) == (targets == 1)).all(axis=1)
        record["train_accuracy"] = float(correct.mean())
        result.correct = correct[None, :]
    else:
        shifted = outputs - outputs.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        record["loss"] = float(-log_probs[np.arange(len(targets)), targets.astype(np.int64)].mean())
        correct = outputs.argmax(1) == targets
        record["train_accuracy"] = float(correct.mean())
        result.correct = correct[None, :]  # (1, n): one presentation of each example
    result.seconds = result.max_step_seconds = time.perf_counter() - start
    record["seconds"] = result.seconds
    result.epochs = [record]
    return result
