"""Evaluation metrics, computed with scikit-learn and SciPy (no hub-fetched metric scripts)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from peftal.registry import Registry

# scikit-learn and SciPy are imported where a metric is computed, not with this module: every
# `peftal` command imports the metric registry, and the two libraries cost over a second to import.

METRICS: Registry[Callable[[np.ndarray, np.ndarray], float]] = Registry("metric")


def _metric(name: str):
    return METRICS.register(name)


@_metric("accuracy")
def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    from sklearn import metrics as skm

    return float(skm.accuracy_score(y_true, y_pred))


@_metric("f1_macro")
def f1_macro(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    from sklearn import metrics as skm

    return float(skm.f1_score(y_true, y_pred, average="macro", zero_division=0))


@_metric("f1_micro")
def f1_micro(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    from sklearn import metrics as skm

    return float(skm.f1_score(y_true, y_pred, average="micro", zero_division=0))


@_metric("f1_samples")
def f1_samples(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Multi-label: the F1 of each text's predicted label set, averaged over texts."""
    from sklearn import metrics as skm

    return float(skm.f1_score(y_true, y_pred, average="samples", zero_division=0))


@_metric("subset_accuracy")
def subset_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Multi-label: the share of texts whose whole label set is right (exact match)."""
    from sklearn import metrics as skm

    return float(skm.accuracy_score(y_true, y_pred))


@_metric("hamming_loss")
def hamming_loss(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Multi-label: the share of (text, label) decisions that are wrong (lower is better)."""
    from sklearn import metrics as skm

    return float(skm.hamming_loss(y_true, y_pred))


@_metric("f1")
def f1_positive(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """F1 of the positive class (label id 1), as GLUE reports it for MRPC."""
    from sklearn import metrics as skm

    return float(skm.f1_score(y_true, y_pred, pos_label=1, average="binary", zero_division=0))


@_metric("mcc")
def mcc(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    from sklearn import metrics as skm

    return float(skm.matthews_corrcoef(y_true, y_pred))


@_metric("pearson")
def pearson(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    from scipy import stats

    if np.std(y_pred) == 0:
        return 0.0
    return float(stats.pearsonr(y_true, y_pred).statistic)


@_metric("spearman")
def spearman(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    from scipy import stats

    if np.std(y_pred) == 0:
        return 0.0
    return float(stats.spearmanr(y_true, y_pred).statistic)


@_metric("mse")
def mse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    from sklearn import metrics as skm

    return float(skm.mean_squared_error(y_true, y_pred))


def decisions(outputs: np.ndarray, task: str, thresholds: np.ndarray | None = None) -> np.ndarray:
    """Predictions from model outputs: the value (regression), the argmax class, or for the
    multi-label task the ``(n, labels)`` 0/1 matrix ``sigmoid(logit) >= threshold`` per label
    (0.5 where no thresholds are given)."""
    if task == "regression":
        return outputs[:, 0]
    if task == "multilabel":
        limits = 0.5 if thresholds is None else np.asarray(thresholds, dtype=np.float64)
        return (sigmoid(outputs) >= limits).astype(np.int64)
    return outputs.argmax(axis=1)


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """Element-wise logistic function in float64 (probabilities of the multi-label task)."""
    return 1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=np.float64)))


def compute_metrics(names: tuple[str, ...], y_true: np.ndarray, outputs: np.ndarray,
                    task: str, thresholds: np.ndarray | None = None) -> dict[str, float]:
    """Metrics ``names`` from model outputs ``(n, classes)`` (logits) or ``(n, 1)`` (regression);
    multi-label logits are cut at ``thresholds`` (:func:`decisions`)."""
    y_pred = decisions(outputs, task, thresholds)
    return {name: METRICS.get(name)(y_true, y_pred) for name in names}


def primary_metric(names: tuple[str, ...]) -> str:
    """The metric a learning curve is drawn with: accuracy, else the first listed."""
    return "accuracy" if "accuracy" in names else names[0]
