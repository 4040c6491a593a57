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


# How far from chance a model must be to count as having learned: a correlation between predictions
# and targets (MCC, Pearson's r) whose null spread is about 1 / sqrt(n) (exact for the binary MCC,
# where n * MCC^2 is chi-squared with one degree of freedom), so 2 / sqrt(n) is about a one-sided
# 2.3 % test. A rule, not a per-claim test: it asks only whether a side trained at all.
CHANCE_Z = 2.0


def above_chance(y_true: np.ndarray, outputs: np.ndarray, task: str,
                 thresholds: np.ndarray | None = None) -> tuple[bool | None, str | None]:
    """``(learned, reason)``: whether predictions from ``outputs`` beat chance on these targets.

    Classification: Matthews' correlation (a constant or a random predictor scores 0 whatever the
    class balance, so a model that predicts the majority class has not learned); multi-label: MCC of
    all (text, label) decisions; regression: Pearson's r. Learned when the correlation exceeds
    ``CHANCE_Z / sqrt(n)``. ``(None, None)`` for tasks without such a measure (QA) and for fewer than
    ten examples.
    """
    if task not in ("classification", "multilabel", "regression") or len(y_true) < 10:
        return None, None
    y_pred = decisions(outputs, task, thresholds)
    if task == "regression":
        value, name = pearson(np.asarray(y_true, dtype=np.float64), y_pred), "Pearson r"
    else:
        value, name = mcc(np.ravel(y_true), np.ravel(y_pred)), "MCC"
    band = CHANCE_Z / float(np.sqrt(len(y_true)))
    learned = bool(value > band)
    return learned, (f"{name} {value:.3f} on {len(y_true)} evaluation examples "
                     f"{'above' if learned else 'within'} chance (> {band:.3f} needed)")


def primary_metric(names: tuple[str, ...]) -> str:
    """The metric a learning curve is drawn with: accuracy, else the first listed."""
    return "accuracy" if "accuracy" in names else names[0]
