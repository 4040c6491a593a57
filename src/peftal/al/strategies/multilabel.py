"""Strategies for multi-label pools, from ``(n, labels)`` sigmoid probabilities (rows need not sum to 1).

They apply to the multi-label task only (``tasks = ("multilabel",)``); of the single-label strategies,
those that need no class probabilities (``random``, ``coreset``, ``kmeans``, ``dal``) apply too.
Scores are "higher = more informative"; ties go to the earlier pool position. The maths are pure
functions of probability arrays and label matrices, each checked by hand and, where small-text has
the strategy, against small-text on the same arrays (tests/unit/al/test_multilabel_strategies.py).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from peftal.al.strategies.base import (
    Classifier,
    QueryStrategy,
    ScoringStrategy,
    check_pool,
    register_strategy,
    top_n,
)
from peftal.errors import UsageError


def binary_entropy(probs: np.ndarray) -> np.ndarray:
    """``(n, labels)`` entropy (nats) of each label's Bernoulli ``p``."""
    p = np.clip(np.asarray(probs, dtype=np.float64), 1e-12, 1 - 1e-12)
    return -(p * np.log(p) + (1 - p) * np.log(1 - p))


def label_cardinality_inconsistency(probs: np.ndarray, labels_labeled: np.ndarray,
                                    threshold: float = 0.5) -> np.ndarray:
    """``|#{j: p_j > threshold} - mean labels per labelled text|`` per row (Li & Guo 2013)."""
    if len(labels_labeled) == 0:
        raise ValueError("label cardinality inconsistency needs labelled texts")
    expected = float(np.asarray(labels_labeled).sum(axis=1).mean())
    return np.abs((np.asarray(probs) > threshold).sum(axis=1) - expected)


def _h(fraction: np.ndarray) -> np.ndarray:
    """``-x log2 x`` with ``0 log 0 = 0``."""
    fraction = np.asarray(fraction, dtype=np.float64)
    safe = np.where(fraction > 0, fraction, 1.0)
    return -fraction * np.log2(safe)


def _entropy2(count: np.ndarray, total: np.ndarray) -> np.ndarray:
    """Entropy (bits) of a two-valued split ``count`` / ``total - count`` (0 where ``total`` is 0)."""
    total = np.asarray(total, dtype=np.float64)
    denominator = np.where(total > 0, total, 1.0)
    return np.where(total > 0, _h(count / denominator) + _h((total - count) / denominator), 0.0)


def entropy_distance(predicted: np.ndarray, labeled: np.ndarray) -> np.ndarray:
    """``(u, l)`` normalised entropy distance between binary label vectors (Reyes et al. 2018, eq. 6):
    ``(2 H(y, y') - H(y) - H(y')) / H(y, y')`` from the contingency counts a, b, c, d of each pair;
    1 where the vectors disagree on every label, 0 where they are equal."""
    pred = np.asarray(predicted).astype(np.float64)
    gold = np.asarray(labeled).astype(np.float64)
    q = pred.shape[1]
    a, b = pred @ gold.T, (1 - pred) @ gold.T
    c, d = pred @ (1 - gold).T, (1 - pred) @ (1 - gold).T
    joint = (_entropy2(b + c, q) + (b + c) / q * _entropy2(b, b + c) + (a + d) / q * _entropy2(a, a + d))
    own = _entropy2(pred.sum(1), q)[:, None] + _entropy2(gold.sum(1), q)[None, :]
    distance = np.where(joint > 0, (2 * joint - own) / np.where(joint > 0, joint, 1.0), 0.0)
    return np.where(b + c == q, 1.0, distance)


def margin_ranking(probs: np.ndarray) -> np.ndarray:
    """``(n,)`` CVIRS uncertainty (Reyes et al. 2018, eq. 3): per label, rank the rows by the margin
    ``|p - (1 - p)|`` ascending (rank 1 = most uncertain; ties by position); the score is
    ``sum_j (n - rank_j) / (labels * (n - 1))``, 1 for the most uncertain row on every label."""
    probs = np.asarray(probs, dtype=np.float64)
    n, q = probs.shape
    if n == 1:
        return np.ones(1)
    order = np.argsort(np.abs(2 * probs - 1), axis=0, kind="stable")  # (n, labels) rows by margin
    ranks = np.empty_like(order)
    ranks[order, np.arange(q)[None, :]] = np.arange(1, n + 1)[:, None]
    return (n - ranks).sum(axis=1) / (q * (n - 1))


def cvirs(probs: np.ndarray, labels_labeled: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Category vector inconsistency and ranking of scores (Reyes et al. 2018): the margin ranking
    times the mean entropy distance of the predicted label vector (``p > threshold``) to the
    labelled texts' label vectors."""
    if len(labels_labeled) == 0:
        raise ValueError("CVIRS needs labelled texts")
    inconsistency = entropy_distance(np.asarray(probs) > threshold, labels_labeled).mean(axis=1)
    return margin_ranking(probs) * inconsistency


def max_loss_reduction(probs: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """MMC's expected loss reduction (Yang et al. 2009, eq. 8) with outputs ``f = 2p - 1``: the
    ``counts[i]`` most probable labels of row ``i`` are its predicted labels ``y = +1``, the rest
    ``-1``; the score is ``sum_j (1 - y_j f_j) / 2``."""
    f = 2 * np.asarray(probs, dtype=np.float64) - 1
    ranks = np.argsort(np.argsort(-f, axis=1, kind="stable"), axis=1, kind="stable")  # 0 = most probable
    y = np.where(ranks < np.asarray(counts)[:, None], 1.0, -1.0)
    return ((1 - y * f) / 2).sum(axis=1)


def predict_counts(probs_labeled: np.ndarray, labels_labeled: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """MMC's label-count model: a logistic regression from the sorted probabilities of a text to its
    number of labels, fitted on the labelled texts (the model's probabilities, their true counts)."""
    from sklearn.linear_model import LogisticRegression

    counts = np.asarray(labels_labeled).sum(axis=1)
    features = -np.sort(-np.asarray(probs_labeled, dtype=np.float64), axis=1)
    if len(np.unique(counts)) == 1:
        return np.full(len(probs), counts[0])
    fitted = LogisticRegression(max_iter=1000).fit(features, counts)
    return fitted.predict(-np.sort(-np.asarray(probs, dtype=np.float64), axis=1))


class _MultiLabel:
    tasks: ClassVar[tuple[str, ...]] = ("multilabel",)


@register_strategy
class BinaryRelevanceEntropy(_MultiLabel, ScoringStrategy):
    """Binary-relevance uncertainty: each label's Bernoulli entropy, averaged over labels (the joint
    entropy of independent labels divided by their number). ``scores_queried`` in nats."""

    name = "br_entropy_mean"
    description = "multi-label: mean over labels of each label's binary entropy"
    reference = "binary relevance uncertainty (Brinker 2006)"

    def score(self, probs: np.ndarray) -> np.ndarray:
        return binary_entropy(probs).mean(axis=1)


@register_strategy
class BinaryRelevanceMaxEntropy(_MultiLabel, ScoringStrategy):
    """Binary-relevance uncertainty: the most uncertain label's binary entropy (nats)."""

    name = "br_entropy_max"
    description = "multi-label: highest binary entropy of any one label"
    reference = "binary relevance uncertainty (Brinker 2006)"

    def score(self, probs: np.ndarray) -> np.ndarray:
        return binary_entropy(probs).max(axis=1)


@dataclasses.dataclass(frozen=True)
class CutConfig:
    """Attributes:
        threshold: A label counts as predicted where its probability exceeds this.
    """

    threshold: float = 0.5

    def __post_init__(self) -> None:
        if not 0 < self.threshold < 1:
            raise ValueError(f"threshold must be in (0, 1), got {self.threshold}")


class _LabelledSetStrategy(_MultiLabel, QueryStrategy):
    """Scores that also read the labelled texts' label matrix."""

    def scores(self, clf: Classifier, indices_unlabeled: np.ndarray, indices_labeled: np.ndarray,
               labels_labeled: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def query(self, *, clf: Classifier, indices_unlabeled: np.ndarray, indices_labeled: np.ndarray,
              labels_labeled: np.ndarray | None, n: int, rng: np.random.Generator) -> np.ndarray:
        indices_unlabeled = np.asarray(indices_unlabeled, dtype=np.int64)
        check_pool(indices_unlabeled, n)
        if labels_labeled is None or np.ndim(labels_labeled) != 2 or len(labels_labeled) == 0:
            raise UsageError(f"strategy {self.name!r} needs the labelled texts' label matrix")
        scores = self.scores(clf, indices_unlabeled, np.asarray(indices_labeled, dtype=np.int64),
                             np.asarray(labels_labeled))
        picked = top_n(scores, n)
        self.last_scores_ = scores[picked]
        return indices_unlabeled[picked]


@register_strategy
class LabelCardinalityInconsistency(_LabelledSetStrategy):
    """Texts whose predicted number of labels is furthest from the labelled set's mean number."""

    name = "lci"
    description = "multi-label: predicted label count furthest from the labelled mean"
    reference = "Li & Guo 2013 (label cardinality inconsistency)"
    Config = CutConfig

    def scores(self, clf, indices_unlabeled, indices_labeled, labels_labeled):
        return label_cardinality_inconsistency(clf.predict_proba(indices_unlabeled), labels_labeled,
                                               self.config.threshold)


@register_strategy
class CategoryVectorInconsistencyRanking(_LabelledSetStrategy):
    """CVIRS: per-label margin ranking times the predicted label vector's entropy distance to the
    labelled label vectors."""

    name = "cvirs"
    description = "multi-label: margin ranking x label-vector inconsistency with the labelled set"
    reference = "Reyes, Morell & Ventura 2018 (CVIRS)"
    Config = CutConfig

    def scores(self, clf, indices_unlabeled, indices_labeled, labels_labeled):
        return cvirs(clf.predict_proba(indices_unlabeled), labels_labeled, self.config.threshold)


@register_strategy
class MaxLossReduction(_LabelledSetStrategy):
    """MMC: the expected reduction of the model's loss with maximal-confidence label vectors, the
    number of labels of each text predicted from its sorted probabilities."""

    name = "mmc"
    description = "multi-label: maximum loss reduction with maximal confidence"
    reference = "Yang et al. 2009 (MMC)"

    def scores(self, clf, indices_unlabeled, indices_labeled, labels_labeled):
        probs = clf.predict_proba(np.concatenate([indices_unlabeled, indices_labeled]))
        pool, labelled = probs[: len(indices_unlabeled)], probs[len(indices_unlabeled):]
        return max_loss_reduction(pool, predict_counts(labelled, labels_labeled, pool))
