"""Contrastive active learning: query examples whose prediction differs most from their labelled
neighbours' in embedding space."""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.special import rel_entr

from peftal.al.strategies.base import Classifier, QueryStrategy, check_pool, register_strategy, top_n


@dataclasses.dataclass(frozen=True)
class CalConfig:
    """Settings of ``cal``.

    Attributes:
        k: Labelled neighbours per candidate (the paper's default; fewer when fewer are labelled).
        normalize: L2-normalise embeddings before the neighbour search (cosine neighbours; the
            sentence encoder was trained for cosine similarity; small-text's default too).
    """

    k: int = 10
    normalize: bool = True

    def __post_init__(self) -> None:
        if self.k < 1:
            raise ValueError(f"k must be >= 1, got {self.k}")


def contrastive_scores(unlabeled: np.ndarray, unlabeled_probs: np.ndarray, labeled: np.ndarray,
                       labeled_probs: np.ndarray, k: int) -> np.ndarray:
    """Mean ``KL(p(y|x_l) || p(y|x_u))`` over the ``k`` nearest labelled ``x_l`` of each candidate.

    Args:
        unlabeled: ``(u, d)`` candidate embeddings.
        unlabeled_probs: ``(u, classes)`` their predicted probabilities.
        labeled: ``(l, d)`` labelled embeddings (``l >= 1``).
        labeled_probs: ``(l, classes)`` the model's predicted probabilities for them (the paper uses
            the model's predictions, not the gold labels).
        k: Neighbours per candidate (capped at ``l``).

    Returns:
        ``(u,)`` scores in nats; higher = more contrastive.
    """
    from sklearn.neighbors import NearestNeighbors

    k = min(k, len(labeled))
    neighbours = NearestNeighbors(n_neighbors=k).fit(labeled).kneighbors(
        unlabeled, return_distance=False)  # (u, k)
    p_neighbours = labeled_probs[neighbours]  # (u, k, classes)
    p_candidate = np.clip(unlabeled_probs, 1e-12, 1.0)[:, None, :]  # (u, 1, classes)
    return rel_entr(p_neighbours, p_candidate).sum(axis=2).mean(axis=1)


@register_strategy
class Cal(QueryStrategy):
    """Contrastive active learning.

    Margatina, Vernikos, Barrault & Aletras (2021), "Active learning by acquiring contrastive
    examples", EMNLP. Each candidate's score is the mean KL divergence between the predictions for
    its ``k`` nearest labelled neighbours and its own prediction: similar inputs, different
    predictions. Neighbours are searched among the labelled set only, as in the paper (small-text
    2.0 searches all embeddings passed, so its picks differ). ``scores_queried`` holds the mean KL.
    With nothing labelled it falls back to maximum entropy.
    """

    name = "cal"
    description = "contrastive: mean KL divergence to the k nearest labelled neighbours' predictions"
    reference = "Margatina et al. 2021"
    Config = CalConfig

    def query(self, *, clf: Classifier, indices_unlabeled: np.ndarray, indices_labeled: np.ndarray,
              labels_labeled: np.ndarray | None, n: int, rng: np.random.Generator) -> np.ndarray:
        from sklearn.preprocessing import normalize

        from peftal.al.strategies.uncertainty import entropy

        indices_unlabeled = np.asarray(indices_unlabeled, dtype=np.int64)
        check_pool(indices_unlabeled, n)
        indices_labeled = np.asarray(indices_labeled, dtype=np.int64)
        unlabeled, unlabeled_probs = clf.embed_proba(indices_unlabeled)
        if len(indices_labeled) == 0:
            scores = entropy(unlabeled_probs)
        else:
            labeled, labeled_probs = clf.embed_proba(indices_labeled)
            if self.config.normalize:
                unlabeled, labeled = normalize(unlabeled), normalize(labeled)
            scores = contrastive_scores(unlabeled, unlabeled_probs, labeled, labeled_probs,
                                        self.config.k)
        picked = top_n(scores, n)
        self.last_scores_ = scores[picked]
        return indices_unlabeled[picked]
