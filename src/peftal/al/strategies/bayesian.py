"""Bayesian uncertainty from MC dropout: the entropy of the mean prediction, and BALD.

Both score a ``(n, classes, passes)`` array of probabilities from ``passes`` stochastic forward
passes with dropout on (Gal & Ghahramani 2016, "Dropout as a Bayesian approximation", ICML), which
:meth:`~peftal.al.strategies.base.Classifier.mc_predict_proba` provides. The dropout masks are seeded
from the strategy's ``rng``, so a run stays deterministic for its seed.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from peftal.al.strategies.base import Classifier, ScoringStrategy, register_strategy
from peftal.al.strategies.uncertainty import entropy


def mean_entropy(probs: np.ndarray) -> np.ndarray:
    """Entropy (nats) of the mean over passes of ``(n, classes, passes)`` probabilities."""
    return entropy(probs.mean(axis=2))


def bald(probs: np.ndarray) -> np.ndarray:
    """Mutual information between the prediction and the model parameters, per row.

    ``H[mean_t p_t] - mean_t H[p_t]`` of ``(n, classes, passes)`` probabilities, in nats: high when
    the passes are each confident but disagree with one another (epistemic uncertainty).
    """
    clipped = np.clip(probs, 1e-12, 1.0)
    expected_entropy = -(probs * np.log(clipped)).sum(axis=1).mean(axis=1)  # (n,)
    # Clip tiny negative values that floating point leaves when all passes agree exactly.
    return np.maximum(mean_entropy(probs) - expected_entropy, 0.0)


@dataclasses.dataclass(frozen=True)
class McConfig:
    """Settings of the MC-dropout strategies.

    Attributes:
        passes: Stochastic forward passes ``T`` per example (small-text's default is also 10).
    """

    passes: int = 10

    def __post_init__(self) -> None:
        if self.passes < 2:
            raise ValueError(f"passes must be >= 2, got {self.passes}")


class _McDropoutStrategy(ScoringStrategy):
    Config = McConfig

    def probabilities(self, clf: Classifier, indices: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        seed = int(rng.integers(2**31 - 1))
        return clf.mc_predict_proba(indices, passes=self.config.passes, seed=seed)


@register_strategy
class McDropout(_McDropoutStrategy):
    """Maximum entropy of the mean prediction over ``passes`` MC-dropout passes.

    Gal, Islam & Ghahramani (2017), "Deep Bayesian active learning with image data", ICML (the "Max
    Entropy" acquisition with MC dropout); used for PEFT by Jukić & Šnajder (2023).
    ``scores_queried`` holds the entropy of the mean in nats.
    """

    name = "mc_dropout"
    description = "entropy of the mean over T passes with dropout on (mc_dropout[passes=10])"
    reference = "Gal et al. 2017"

    def score(self, probs: np.ndarray) -> np.ndarray:
        return mean_entropy(probs)


@register_strategy
class Bald(_McDropoutStrategy):
    """Bayesian active learning by disagreement: mutual information over MC-dropout passes.

    Houlsby, Huszár, Ghahramani & Lengyel (2011), "Bayesian active learning for classification and
    preference learning", arXiv:1112.5745; with MC dropout as in Gal et al. (2017).
    ``scores_queried`` holds the mutual information in nats.
    """

    name = "bald"
    description = "mutual information between prediction and weights over MC-dropout passes"
    reference = "Houlsby et al. 2011"

    def score(self, probs: np.ndarray) -> np.ndarray:
        return bald(probs)
