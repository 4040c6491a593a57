"""Random sampling: the passive-learning baseline every AL strategy is compared with."""

from __future__ import annotations

import numpy as np

from peftal.al.strategies.base import Classifier, QueryStrategy, check_pool, register_strategy


@register_strategy
class RandomSampling(QueryStrategy):
    """Uniform random sampling: the passive-learning baseline every strategy is compared with."""

    name = "random"
    description = "passive learning: a seeded uniform sample of the unlabelled pool"
    needs_probabilities = False

    def query(self, *, clf: Classifier, indices_unlabeled: np.ndarray, indices_labeled: np.ndarray,
              labels_labeled: np.ndarray | None, n: int, rng: np.random.Generator) -> np.ndarray:
        indices_unlabeled = np.asarray(indices_unlabeled, dtype=np.int64)
        check_pool(indices_unlabeled, n)
        self.last_scores_ = None
        return rng.choice(indices_unlabeled, size=n, replace=False)
