"""Uncertainty sampling from one probability array: entropy (Lewis & Gale 1994)."""

from __future__ import annotations

import numpy as np

from peftal.al.strategies.base import ScoringStrategy, register_strategy


def entropy(probs: np.ndarray) -> np.ndarray:
    """Predictive entropy (nats) of each row of ``(n, classes)`` probabilities."""
    clipped = np.clip(probs, 1e-12, 1.0)
    return -(probs * np.log(clipped)).sum(axis=1)


@register_strategy
class Entropy(ScoringStrategy):
    name = "entropy"
    description = "maximum predictive entropy"
    reference = "Lewis & Gale 1994"

    def score(self, probs: np.ndarray) -> np.ndarray:
        return entropy(probs)
