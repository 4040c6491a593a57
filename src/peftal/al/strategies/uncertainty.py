"""Uncertainty sampling from one probability array ``(n, classes)``: entropy, least confidence, margin.

Every score is "higher = more informative", so the shared top-n of
:class:`~peftal.al.strategies.base.ScoringStrategy` applies to all of them.
"""

from __future__ import annotations

import numpy as np

from peftal.al.strategies.base import ScoringStrategy, register_strategy


def entropy(probs: np.ndarray) -> np.ndarray:
    """Predictive entropy (nats) of each row of ``(n, classes)`` probabilities."""
    clipped = np.clip(probs, 1e-12, 1.0)
    return -(probs * np.log(clipped)).sum(axis=1)


def least_confidence(probs: np.ndarray) -> np.ndarray:
    """``1 - max_c p(c)`` of each row of ``(n, classes)`` probabilities."""
    return 1.0 - probs.max(axis=1)


def margin(probs: np.ndarray) -> np.ndarray:
    """``1 - (p_top1 - p_top2)`` of each row: the smaller the gap, the higher the score."""
    if probs.shape[1] < 2:
        return np.zeros(len(probs))
    top2 = np.partition(probs, -2, axis=1)[:, -2:]  # (n, 2): second largest, largest
    return 1.0 - (top2[:, 1] - top2[:, 0])


@register_strategy
class Entropy(ScoringStrategy):
    """Maximum predictive entropy.

    Lewis & Gale (1994), "A sequential algorithm for training text classifiers", SIGIR.
    ``scores_queried`` holds the entropy in nats.
    """

    name = "entropy"
    description = "maximum predictive entropy"
    reference = "Lewis & Gale 1994"

    def score(self, probs: np.ndarray) -> np.ndarray:
        return entropy(probs)


@register_strategy
class LeastConfidence(ScoringStrategy):
    """Lowest probability of the predicted class.

    Culotta & McCallum (2005), "Reducing labeling effort for structured prediction tasks", AAAI.
    ``scores_queried`` holds ``1 - max p``.
    """

    name = "least_confidence"
    description = "lowest probability of the predicted class"
    reference = "Culotta & McCallum 2005"

    def score(self, probs: np.ndarray) -> np.ndarray:
        return least_confidence(probs)


@register_strategy
class Margin(ScoringStrategy):
    """Smallest gap between the two most probable classes ("breaking ties").

    Scheffer, Decomain & Wrobel (2001), "Active hidden Markov models for information extraction",
    IDA; Luo et al. (2005) call it breaking ties. ``scores_queried`` holds ``1 - (p1 - p2)``.
    """

    name = "margin"
    description = "smallest gap between the two most probable classes (breaking ties)"
    reference = "Scheffer et al. 2001"

    def score(self, probs: np.ndarray) -> np.ndarray:
        return margin(probs)
