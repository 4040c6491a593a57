"""Diversity sampling on embeddings: greedy core-set, k-means centres, and BADGE.

Embeddings are the current model's pooled last-layer representations
(:meth:`~peftal.al.strategies.base.Classifier.embed`: the masked mean of the last hidden states by
default, see :mod:`peftal.models.heads`). ``coreset`` and ``kmeans`` need no class probabilities, so
they apply to regression tasks too; ``badge`` needs them for its gradient embeddings.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from sklearn.metrics import pairwise_distances_chunked
from sklearn.metrics.pairwise import euclidean_distances
from sklearn.preprocessing import normalize as l2_normalize

from peftal.al.strategies.base import (
    Classifier,
    QueryStrategy,
    check_pool,
    embed_pool_and_labeled,
    register_strategy,
)


@dataclasses.dataclass(frozen=True)
class EmbeddingConfig:
    """Settings of the embedding-based strategies.

    Attributes:
        normalize: L2-normalise embeddings first, so Euclidean distance ranks like cosine distance
            (all-MiniLM-L6-v2 was trained for cosine similarity; small-text's default too).
    """

    normalize: bool = True


def _prepare(vectors: np.ndarray, normalize: bool) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float64)
    return l2_normalize(vectors) if normalize and len(vectors) else vectors


def greedy_k_centre(unlabeled: np.ndarray, labeled: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Greedy k-centre (Sener & Savarese 2018, Algorithm 1): repeatedly take the example farthest
    from everything labelled or already taken.

    Args:
        unlabeled: ``(u, d)`` candidate embeddings.
        labeled: ``(l, d)`` embeddings of the labelled set (may be empty).
        n: How many to take.

    Returns:
        ``(positions, distances)``: positions in ``unlabeled`` in the order taken, and each one's
        distance to its nearest centre when it was taken. Ties go to the earlier position. With no
        labelled examples the first centre is the example nearest the pool mean.
    """
    positions: list[int] = []
    distances: list[float] = []
    if len(labeled):
        # Chunked so that a large pool × labelled set never holds its full distance matrix.
        min_dist = np.concatenate(list(pairwise_distances_chunked(
            unlabeled, labeled, reduce_func=lambda chunk, start: chunk.min(axis=1))))
    else:
        to_mean = euclidean_distances(unlabeled, unlabeled.mean(axis=0, keepdims=True)).ravel()
        first = int(np.argmin(to_mean))
        positions.append(first)
        distances.append(float(to_mean[first]))
        min_dist = euclidean_distances(unlabeled, unlabeled[first : first + 1]).ravel()
        min_dist[first] = -np.inf
    while len(positions) < n:
        best = int(np.argmax(min_dist))  # the first maximum: ties go to the earlier position
        positions.append(best)
        distances.append(float(min_dist[best]))
        to_best = euclidean_distances(unlabeled, unlabeled[best : best + 1]).ravel()  # (u,)
        min_dist = np.minimum(min_dist, to_best)
        min_dist[best] = -np.inf
    return np.asarray(positions, dtype=np.int64), np.asarray(distances)


@register_strategy
class Coreset(QueryStrategy):
    """Greedy k-centre core-set on embeddings.

    Sener & Savarese (2018), "Active learning for convolutional neural networks: a core-set
    approach", ICLR. ``scores_queried`` holds each pick's distance to its nearest centre.
    """

    name = "coreset"
    description = "greedy k-centre core-set on embeddings"
    reference = "Sener & Savarese 2018"
    Config = EmbeddingConfig
    needs_probabilities = False

    def query(self, *, clf: Classifier, indices_unlabeled: np.ndarray, indices_labeled: np.ndarray,
              labels_labeled: np.ndarray | None, n: int, rng: np.random.Generator) -> np.ndarray:
        indices_unlabeled = np.asarray(indices_unlabeled, dtype=np.int64)
        check_pool(indices_unlabeled, n)
        unlabeled, labeled = (_prepare(vectors, self.config.normalize) for vectors in
                              embed_pool_and_labeled(clf, indices_unlabeled, indices_labeled))
        positions, self.last_scores_ = greedy_k_centre(unlabeled, labeled, n)
        return indices_unlabeled[positions]


@dataclasses.dataclass(frozen=True)
class KMeansConfig(EmbeddingConfig):
    """Settings of ``kmeans``.

    Attributes:
        normalize: L2-normalise embeddings first (as in :class:`EmbeddingConfig`).
        n_init: k-means restarts (scikit-learn's ``n_init``); the best inertia wins.
    """

    n_init: int = 1

    def __post_init__(self) -> None:
        if self.n_init < 1:
            raise ValueError(f"n_init must be >= 1, got {self.n_init}")


@register_strategy
class KMeansSampling(QueryStrategy):
    """The example nearest each centre of a k-means clustering (k = n) of the unlabelled embeddings.

    In the spirit of BERT-KM (Yuan, Lin & Boyd-Graber 2020, "Cold-start active learning through
    self-supervised language modeling", EMNLP); like small-text's EmbeddingKMeans, when one example
    is nearest several centres the later centres take their nearest example not yet taken.
    ``scores_queried`` holds each pick's distance to its centre (lower = more central).
    """

    name = "kmeans"
    description = "the example nearest each k-means centre of the embeddings (k = query size)"
    reference = "Yuan et al. 2020"
    Config = KMeansConfig
    needs_probabilities = False

    def query(self, *, clf: Classifier, indices_unlabeled: np.ndarray, indices_labeled: np.ndarray,
              labels_labeled: np.ndarray | None, n: int, rng: np.random.Generator) -> np.ndarray:
        from sklearn.cluster import KMeans

        indices_unlabeled = np.asarray(indices_unlabeled, dtype=np.int64)
        check_pool(indices_unlabeled, n)
        vectors = _prepare(clf.embed(indices_unlabeled), self.config.normalize)
        kmeans = KMeans(n_clusters=n, n_init=self.config.n_init,
                        random_state=int(rng.integers(2**31 - 1))).fit(vectors)
        distances = euclidean_distances(kmeans.cluster_centers_, vectors)  # (n, u)
        positions, scores = [], []
        for row in distances:
            row = row.copy()
            row[positions] = np.inf
            best = int(np.argmin(row))
            positions.append(best)
            scores.append(float(row[best]))
        self.last_scores_ = np.asarray(scores)
        return indices_unlabeled[np.asarray(positions, dtype=np.int64)]


def gradient_embedding_sq_distances(grad_coef: np.ndarray, vectors: np.ndarray,
                                    j: int) -> np.ndarray:
    """Squared distances from every gradient embedding to the ``j``-th one, without building them.

    The gradient embedding of example i is the outer product ``g_i = a_i ⊗ h_i`` with
    ``a_i = p_i - onehot(argmax p_i)`` ``(classes,)`` and ``h_i`` the embedding ``(hidden,)``.
    ``<g_i, g_j> = (a_i·a_j)(h_i·h_j)``, so ``|g_i - g_j|² = |a_i|²|h_i|² + |a_j|²|h_j|² -
    2(a_i·a_j)(h_i·h_j)``: ``O(classes + hidden)`` memory per example instead of their product.
    """
    sq_norm = (grad_coef**2).sum(1) * (vectors**2).sum(1)  # (u,)
    cross = (grad_coef @ grad_coef[j]) * (vectors @ vectors[j])  # (u,)
    return np.maximum(sq_norm + sq_norm[j] - 2.0 * cross, 0.0)


def kmeans_plus_plus(grad_coef: np.ndarray, vectors: np.ndarray, n: int,
                     rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """k-means++ seeding (Arthur & Vassilvitskii 2007) on gradient embeddings, as BADGE does.

    The first centre is the largest gradient embedding (BADGE's reference code); each next one is
    drawn with probability proportional to its squared distance to the nearest centre chosen so far.

    Returns:
        ``(positions, sq_distances)``: positions in the order chosen, and each one's squared
        distance to its nearest earlier centre when chosen (for the first: its squared norm).
    """
    sq_norm = (grad_coef**2).sum(1) * (vectors**2).sum(1)
    first = int(np.argmax(sq_norm))
    positions, scores = [first], [float(sq_norm[first])]
    d2 = gradient_embedding_sq_distances(grad_coef, vectors, first)
    d2[first] = 0.0
    for _ in range(n - 1):
        total = d2.sum()
        if total > 0:
            nxt = int(rng.choice(len(d2), p=d2 / total))
        else:  # every remaining example duplicates a centre: take one uniformly
            remaining = np.setdiff1d(np.arange(len(d2)), positions)
            nxt = int(rng.choice(remaining))
        positions.append(nxt)
        scores.append(float(d2[nxt]))
        d2 = np.minimum(d2, gradient_embedding_sq_distances(grad_coef, vectors, nxt))
        d2[positions] = 0.0
    return np.asarray(positions, dtype=np.int64), np.asarray(scores)


@register_strategy
class Badge(QueryStrategy):
    """Batch active learning by diverse gradient embeddings.

    Ash, Zhang, Krishnamurthy, Langford & Agarwal (2020), "Deep batch active learning by diverse,
    uncertain gradient lower bounds", ICLR. The gradient of the cross-entropy loss with respect to
    the head's weights, under the hallucinated label ``argmax p``, is ``(p - onehot(argmax p)) ⊗ h``:
    its norm measures uncertainty and its direction diversity; k-means++ seeding trades them off.
    The head's bias is left out, as in the paper. ``scores_queried`` holds each pick's squared
    distance to its nearest earlier pick (the first: its squared norm).
    """

    name = "badge"
    description = "k-means++ seeding on gradient embeddings of the head"
    reference = "Ash et al. 2020"

    def query(self, *, clf: Classifier, indices_unlabeled: np.ndarray, indices_labeled: np.ndarray,
              labels_labeled: np.ndarray | None, n: int, rng: np.random.Generator) -> np.ndarray:
        indices_unlabeled = np.asarray(indices_unlabeled, dtype=np.int64)
        check_pool(indices_unlabeled, n)
        vectors, probs = clf.embed_proba(indices_unlabeled)
        vectors, probs = np.asarray(vectors, dtype=np.float64), np.asarray(probs, dtype=np.float64)
        grad_coef = probs.copy()  # (u, classes)
        grad_coef[np.arange(len(probs)), probs.argmax(1)] -= 1.0
        positions, self.last_scores_ = kmeans_plus_plus(grad_coef, vectors, n, rng)
        return indices_unlabeled[positions]
