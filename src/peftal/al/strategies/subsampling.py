"""Pool subsampling: a wrapper that lets any strategy score a seeded random subset of the pool.

Scoring the whole pool every round is the cost that grows with the dataset; scoring a random subset
of it is the standard remedy (small-text's SubsamplingQueryStrategy; Jukić & Šnajder use it too).
The subset is a set of global ids, and so is what the wrapped strategy returns: no position within
the subset ever leaves this module (baal once queried the wrong examples by mixing the two).
"""

from __future__ import annotations

import numpy as np

from peftal.al.strategies.base import Classifier, QueryStrategy, check_pool


class PoolSubsampling:
    """Wraps ``strategy`` so it only sees ``size`` random unlabelled ids each call.

    Args:
        strategy: The strategy to wrap.
        size: How many unlabelled examples to score; at least ``n`` are drawn when ``n > size``,
            and the whole pool is passed when it holds no more than ``size``.
    """

    def __init__(self, strategy: QueryStrategy, size: int) -> None:
        if size < 1:
            raise ValueError(f"size must be >= 1, got {size}")
        self.strategy = strategy
        self.size = size
        self.indices_scored_: np.ndarray | None = None

    @property
    def name(self) -> str:
        return self.strategy.name

    @property
    def last_scores_(self) -> np.ndarray | None:
        return self.strategy.last_scores_

    def subsample(self, indices_unlabeled: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
        """The sorted global ids the wrapped strategy will score."""
        return subsample_pool(indices_unlabeled, max(self.size, n), rng)

    def query(self, *, clf: Classifier, indices_unlabeled: np.ndarray, indices_labeled: np.ndarray,
              labels_labeled: np.ndarray | None, n: int, rng: np.random.Generator) -> np.ndarray:
        """Draw the subset with ``rng``, then let the wrapped strategy pick ``n`` global ids from it."""
        indices_unlabeled = np.asarray(indices_unlabeled, dtype=np.int64)
        check_pool(indices_unlabeled, n)
        self.indices_scored_ = self.subsample(indices_unlabeled, n, rng)
        queried = np.asarray(self.strategy.query(
            clf=clf, indices_unlabeled=self.indices_scored_, indices_labeled=indices_labeled,
            labels_labeled=labels_labeled, n=n, rng=rng), dtype=np.int64)
        if not np.isin(queried, self.indices_scored_).all():
            raise RuntimeError(f"strategy {self.name!r} returned ids outside the subset it was given")
        return queried


def subsample_pool(indices_unlabeled: np.ndarray, size: int | None,
                   rng: np.random.Generator) -> np.ndarray:
    """A seeded random ``size`` of the unlabelled ids, sorted (all of them when ``size`` is
    ``None`` or not smaller)."""
    indices_unlabeled = np.asarray(indices_unlabeled, dtype=np.int64)
    if size is None or size >= len(indices_unlabeled):
        return indices_unlabeled
    return np.sort(rng.choice(indices_unlabeled, size=size, replace=False))
