"""Discriminative active learning: query what a classifier finds least like the labelled set."""

from __future__ import annotations

import dataclasses

import numpy as np

from peftal.al.strategies.base import (
    Classifier,
    QueryStrategy,
    check_pool,
    embed_pool_and_labeled,
    register_strategy,
    top_n,
)


@dataclasses.dataclass(frozen=True)
class DalConfig:
    """Settings of ``dal``.

    Attributes:
        iterations: The query is split into this many sub-queries (at most ``n``); after each, the
            picked examples count as labelled and the discriminator is refit, so one batch does not
            pile into a single unexplored region (Gissin & Shalev-Shwartz, section 3).
        unlabeled_factor: The discriminator trains on at most this many unlabelled examples per
            labelled one (small-text's default), drawn at random, which keeps each fit cheap.
        c: Inverse L2 regularisation strength of the logistic-regression discriminator. It sees a
            few hundred examples in a few hundred dimensions, which it separates perfectly at
            scikit-learn's default of 1.0, so it is regularised ten times more by default.
    """

    iterations: int = 10
    unlabeled_factor: int = 10
    c: float = 0.1

    def __post_init__(self) -> None:
        if self.iterations < 1:
            raise ValueError(f"iterations must be >= 1, got {self.iterations}")
        if self.unlabeled_factor < 1:
            raise ValueError(f"unlabeled_factor must be >= 1, got {self.unlabeled_factor}")
        if not self.c > 0:
            raise ValueError(f"c must be > 0, got {self.c}")


def sub_query_sizes(n: int, iterations: int) -> list[int]:
    """Split ``n`` into ``min(iterations, n)`` near-equal positive parts, larger ones first."""
    parts = min(iterations, n)
    base, extra = divmod(n, parts)
    return [base + (i < extra) for i in range(parts)]


def discriminate(labeled: np.ndarray, unlabeled: np.ndarray, n: int, config: DalConfig,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Pick ``n`` rows of ``unlabeled`` that a labelled-vs-unlabelled classifier finds most unlabelled.

    Args:
        labeled: ``(l, d)`` embeddings of the labelled set.
        unlabeled: ``(u, d)`` embeddings of the candidates.
        n: How many to pick.
        config: Sub-queries, sampling factor, regularisation.
        rng: Draws the unlabelled training sample of each fit.

    Returns:
        ``(positions, log_odds)``: positions in ``unlabeled`` and each one's predicted log-odds of
        being unlabelled when it was picked. Log-odds rank like the probability but do not saturate
        at 1.0 in floating point, where a separable discriminator would leave only ties.
    """
    # A linear discriminator on the frozen embeddings rather than the paper's MLP: it fits in well
    # under a second on CPU and the embeddings are already the model's learned representation.
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    taken = np.zeros(len(unlabeled), dtype=bool)
    positions, scores = [], []
    for size in sub_query_sizes(n, config.iterations):
        remaining = np.flatnonzero(~taken)
        positives = np.concatenate([labeled, unlabeled[taken]])  # "labelled" class 0
        num_sample = min(max(1, len(positives)) * config.unlabeled_factor, len(remaining))
        sample = np.sort(rng.choice(remaining, size=num_sample, replace=False))
        x = np.concatenate([positives, unlabeled[sample]])
        y = np.concatenate([np.zeros(len(positives)), np.ones(num_sample)])
        if len(positives) == 0:  # nothing labelled yet: every candidate looks equally unlabelled
            log_odds = np.zeros(len(remaining))
        else:
            model = make_pipeline(StandardScaler(), LogisticRegression(
                C=config.c, class_weight="balanced", max_iter=1000))
            log_odds = model.fit(x, y).decision_function(unlabeled[remaining])  # (remaining,)
        picked = top_n(log_odds, size)
        positions.extend(remaining[picked].tolist())
        scores.extend(log_odds[picked].tolist())
        taken[remaining[picked]] = True
    return np.asarray(positions, dtype=np.int64), np.asarray(scores)


@register_strategy
class Dal(QueryStrategy):
    """Discriminative active learning on embeddings.

    Gissin & Shalev-Shwartz (2019), "Discriminative active learning", arXiv:1907.06347. A binary
    classifier learns to tell labelled from unlabelled embeddings; the unlabelled examples it is
    most sure are unlabelled are the ones least represented by the labelled set. Needs no class
    probabilities, so it applies to regression too. ``scores_queried`` holds the discriminator's
    log-odds of "unlabelled" for each pick.
    """

    name = "dal"
    description = "a classifier labelled-vs-unlabelled on embeddings; query the most 'unlabelled'"
    reference = "Gissin & Shalev-Shwartz 2019"
    Config = DalConfig
    needs_probabilities = False

    def query(self, *, clf: Classifier, indices_unlabeled: np.ndarray, indices_labeled: np.ndarray,
              labels_labeled: np.ndarray | None, n: int, rng: np.random.Generator) -> np.ndarray:
        indices_unlabeled = np.asarray(indices_unlabeled, dtype=np.int64)
        check_pool(indices_unlabeled, n)
        unlabeled, labeled = embed_pool_and_labeled(clf, indices_unlabeled, indices_labeled)
        positions, self.last_scores_ = discriminate(labeled, unlabeled, n, self.config, rng)
        return indices_unlabeled[positions]
