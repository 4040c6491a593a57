"""Hand-made cases for the embedding strategies: coreset, kmeans, badge, dal, cal."""

from __future__ import annotations

import numpy as np
import pytest

from peftal.al.strategies import parse_strategy
from peftal.al.strategies.cal import contrastive_scores
from peftal.al.strategies.dal import sub_query_sizes
from peftal.al.strategies.diversity import gradient_embedding_sq_distances, greedy_k_centre


class PointsClassifier:
    """Embeddings (and probabilities) given per global id."""

    task = "classification"

    def __init__(self, vectors, probs=None):
        self.vectors = np.asarray(vectors, dtype=float)
        self.probs = None if probs is None else np.asarray(probs, dtype=float)

    def embed(self, indices):
        return self.vectors[np.asarray(indices)]

    def predict_proba(self, indices):
        return self.probs[np.asarray(indices)]

    def embed_proba(self, indices):
        return self.embed(indices), self.predict_proba(indices)


def _line(*xs):
    return np.array([[x, 0.0] for x in xs])


def test_greedy_k_centre_by_hand():
    # Labelled at 0; candidates at 1, 2, 5, 6. Farthest first: 6 (distance 6); then 2 (2, since 5 is
    # now 1 from 6); then 1 and 5 tie at 1 and the earlier position wins.
    positions, distances = greedy_k_centre(_line(1, 2, 5, 6), _line(0), 3)
    assert positions.tolist() == [3, 1, 0]
    np.testing.assert_allclose(distances, [6, 2, 1])


def test_coreset_maps_positions_to_ids():
    clf = PointsClassifier(_line(0, 1, 2, 5, 6))
    strategy = parse_strategy("coreset[normalize=false]")
    picked = strategy.query(clf=clf, labels_labeled=None, indices_unlabeled=np.array([1, 2, 3, 4]),
                            indices_labeled=np.array([0]), n=2, rng=np.random.default_rng(0))
    assert picked.tolist() == [4, 2]
    np.testing.assert_allclose(strategy.last_scores_, [6, 2])


def test_coreset_without_labels_starts_at_the_centre():
    positions, _ = greedy_k_centre(_line(-4, 0.5, 3), np.zeros((0, 2)), 2)
    assert positions.tolist() == [1, 0]  # nearest the mean (-1/6), then the farthest from it


def _blobs(rng, centres, per_blob=20, spread=0.05):
    return np.concatenate([rng.normal(c, spread, size=(per_blob, len(c))) for c in centres])


def test_kmeans_takes_one_example_per_cluster_nearest_its_centre():
    rng = np.random.default_rng(0)
    centres = [(5.0, 0.0), (0.0, 5.0), (-5.0, -5.0)]
    vectors = _blobs(rng, centres)
    strategy = parse_strategy("kmeans[normalize=false]")
    picked = strategy.query(clf=PointsClassifier(vectors), labels_labeled=None,
                            indices_unlabeled=np.arange(60), indices_labeled=np.array([], dtype=int),
                            n=3, rng=np.random.default_rng(0))
    assert sorted(p // 20 for p in picked) == [0, 1, 2]
    for p in picked:
        blob = vectors[(p // 20) * 20 : (p // 20 + 1) * 20]
        nearest = np.argmin(((blob - blob.mean(0)) ** 2).sum(1))
        assert p == (p // 20) * 20 + nearest


def test_badge_gradient_distances_equal_the_explicit_outer_products():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(4), size=30)
    vectors = rng.normal(size=(30, 7))
    coef = probs.copy()
    coef[np.arange(30), probs.argmax(1)] -= 1
    explicit = np.einsum("nc,nh->nch", coef, vectors).reshape(30, -1)  # (n, classes * hidden)
    for j in (0, 11, 29):
        np.testing.assert_allclose(gradient_embedding_sq_distances(coef, vectors, j),
                                   ((explicit - explicit[j]) ** 2).sum(1), atol=1e-9)


def test_badge_first_pick_is_the_largest_gradient_and_duplicates_are_not_repeated():
    # Ids 0-3 uncertain, 4-9 confident: their gradient embeddings are all the zero vector, so once
    # one of them is a centre the others lie at distance 0 and cannot be drawn. Id 2 has the
    # largest gradient embedding.
    probs = np.array([[0.5, 0.5]] * 4 + [[1.0, 0.0]] * 6)
    vectors = np.array([[1, 0], [0, 1], [3, 3], [-1, 0]] + [[5, 5]] * 6, dtype=float)
    strategy = parse_strategy("badge")
    picked = strategy.query(clf=PointsClassifier(vectors, probs), labels_labeled=None,
                            indices_unlabeled=np.arange(10), indices_labeled=np.array([], dtype=int),
                            n=4, rng=np.random.default_rng(0))
    assert picked[0] == 2
    assert strategy.last_scores_[0] == pytest.approx(0.5 * 18)  # |p - onehot|² |h|² = 0.5 · 18
    assert np.isin(picked, [4, 5, 6, 7, 8, 9]).sum() <= 1
    for seed in range(5):  # whatever the draw, n distinct picks out of 5 distinct gradients
        picked = strategy.query(clf=PointsClassifier(vectors, probs), labels_labeled=None,
                                indices_unlabeled=np.arange(10),
                                indices_labeled=np.array([], dtype=int), n=5,
                                rng=np.random.default_rng(seed))
        assert sorted(picked[picked < 4].tolist()) == [0, 1, 2, 3] and len(set(picked)) == 5


def test_dal_queries_the_region_the_labelled_set_does_not_cover():
    rng = np.random.default_rng(0)
    labeled = rng.normal(0, 1, size=(30, 5))
    near = rng.normal(0, 1, size=(40, 5))
    far = rng.normal(4, 1, size=(40, 5))
    clf = PointsClassifier(np.concatenate([labeled, near, far]))  # ids 0-29, 30-69, 70-109
    strategy = parse_strategy("dal[iterations=2]")
    picked = strategy.query(clf=clf, labels_labeled=None, indices_unlabeled=np.arange(30, 110),
                            indices_labeled=np.arange(30), n=10, rng=np.random.default_rng(0))
    assert (picked >= 70).all()
    assert (strategy.last_scores_ > 0).all()  # log-odds of "unlabelled"


def test_dal_sub_query_sizes():
    assert sub_query_sizes(10, 4) == [3, 3, 2, 2]
    assert sub_query_sizes(3, 10) == [1, 1, 1]


def test_cal_scores_by_hand():
    # Labelled: x=0 predicted (.9, .1); x=10 predicted (.1, .9). With k = 1:
    #   x=1 (.9, .1): KL((.9,.1) || (.9,.1)) = 0
    #   x=2 (.5, .5): KL((.9,.1) || (.5,.5)) = .9 ln 1.8 + .1 ln .2 = 0.3681
    #   x=9 (.8, .2): KL((.1,.9) || (.8,.2)) = .1 ln .125 + .9 ln 4.5 = 1.1458
    labeled_probs = np.array([[0.9, 0.1], [0.1, 0.9]])
    probs = np.array([[0.9, 0.1], [0.5, 0.5], [0.8, 0.2]])
    scores = contrastive_scores(_line(1, 2, 9), probs, _line(0, 10), labeled_probs, k=1)
    np.testing.assert_allclose(scores, [0.0, 0.3681, 1.1458], atol=1e-4)
    clf = PointsClassifier(_line(0, 10, 1, 2, 9), np.concatenate([labeled_probs, probs]))
    strategy = parse_strategy("cal[k=1,normalize=false]")
    picked = strategy.query(clf=clf, labels_labeled=None, indices_unlabeled=np.array([2, 3, 4]),
                            indices_labeled=np.array([0, 1]), n=2, rng=np.random.default_rng(0))
    assert picked.tolist() == [4, 3]
    # k larger than the labelled set averages over all of it
    both = contrastive_scores(_line(2), probs[1:2], _line(0, 10), labeled_probs, k=10)
    np.testing.assert_allclose(both, [0.3681], atol=1e-4)  # KL to (.1,.9) is the same by symmetry
