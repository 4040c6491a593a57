"""The contract every registered strategy keeps, parametrised from the registry (none can skip it)."""

from __future__ import annotations

import numpy as np
import pytest

from peftal.al.strategies import STRATEGIES, PoolSubsampling, parse_strategy, strategies_for
from peftal.al.strategies.uncertainty import entropy
from peftal.errors import UsageError
from tests.unit.al.fakes import FakeClassifier

NAMES = STRATEGIES.names()
POOL = 600
# Positions and ids differ on purpose: the labelled set is every third id, the pool the rest.
LABELED = np.arange(0, POOL, 3)
UNLABELED = np.setdiff1d(np.arange(POOL), LABELED)


# Multi-label strategies score sigmoid outputs and read the labelled texts' label matrix.
LABEL_MATRIX = (np.random.default_rng(9).random((len(LABELED), 4)) < 0.3).astype(np.int64)


def _fake(name: str) -> FakeClassifier:
    multilabel = "multilabel" in (STRATEGIES.get(name).tasks or ())
    return FakeClassifier(POOL, task="multilabel" if multilabel else "classification")


def _labels(strategy):
    inner = getattr(strategy, "strategy", strategy)  # a PoolSubsampling wrapper's strategy
    return LABEL_MATRIX if "multilabel" in (inner.tasks or ()) else None


def _query(strategy, clf, n=10, seed=0, unlabeled=UNLABELED, labeled=LABELED):
    return strategy.query(clf=clf, labels_labeled=_labels(strategy), indices_unlabeled=unlabeled,
                          indices_labeled=labeled, n=n, rng=np.random.default_rng(seed))


def test_all_sixteen_are_registered():
    assert set(NAMES) == {"random", "entropy", "least_confidence", "margin", "mc_dropout", "bald",
                          "coreset", "dal", "badge", "cal", "kmeans",
                          "br_entropy_mean", "br_entropy_max", "lci", "cvirs", "mmc"}
    for _, cls in STRATEGIES.items():
        assert cls.description and cls.__doc__


@pytest.mark.parametrize("name", NAMES)
def test_n_unique_unlabeled_ids(name):
    strategy = parse_strategy(name)
    picked = _query(strategy, _fake(name), n=17)
    assert picked.dtype.kind == "i" and len(picked) == 17 and len(np.unique(picked)) == 17
    assert np.isin(picked, UNLABELED).all()
    if strategy.last_scores_ is not None:
        assert len(strategy.last_scores_) == 17 and np.isfinite(strategy.last_scores_).all()


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_for_a_seed(name):
    clf = _fake(name)
    first, second = _query(parse_strategy(name), clf, seed=5), _query(parse_strategy(name), clf, seed=5)
    assert first.tolist() == second.tolist()


@pytest.mark.parametrize("name", NAMES)
def test_whole_pool_and_exhausted_pool(name):
    small = UNLABELED[:6]
    assert sorted(_query(parse_strategy(name), _fake(name), n=6, unlabeled=small).tolist()) \
        == small.tolist()
    with pytest.raises(UsageError, match="pool holds only 6"):
        _query(parse_strategy(name), _fake(name), n=7, unlabeled=small)
    with pytest.raises(UsageError, match="pool holds only 6"):
        _query(PoolSubsampling(parse_strategy(name), 3), _fake(name), n=7, unlabeled=small)


@pytest.mark.parametrize("name", NAMES)
def test_pool_subsampling_returns_global_ids_of_the_subsample(name):
    clf = _fake(name)
    wrapped = PoolSubsampling(parse_strategy(name), size=50)
    rng = np.random.default_rng(11)
    picked = wrapped.query(clf=clf, labels_labeled=_labels(wrapped), indices_unlabeled=UNLABELED,
                           indices_labeled=LABELED, n=8, rng=rng)
    # The same draw by hand: the subsample is a sorted uniform sample of the unlabelled ids ...
    rng_by_hand = np.random.default_rng(11)
    subset = np.sort(rng_by_hand.choice(UNLABELED, size=50, replace=False))
    assert wrapped.indices_scored_.tolist() == subset.tolist()
    assert np.isin(picked, subset).all()
    # ... and the strategy run on it directly (same generator state) picks the very same ids.
    direct = parse_strategy(name).query(clf=clf, labels_labeled=_labels(wrapped), indices_unlabeled=subset,
                                        indices_labeled=LABELED, n=8, rng=rng_by_hand)
    assert picked.tolist() == direct.tolist()


def test_pool_subsampling_which_ids_by_hand():
    """Entropy over a subsample: the top ids by entropy of the subsampled global ids, not positions."""
    clf = FakeClassifier(POOL)
    picked = PoolSubsampling(parse_strategy("entropy"), size=40).query(
        clf=clf, labels_labeled=None, indices_unlabeled=UNLABELED, indices_labeled=LABELED, n=5,
        rng=np.random.default_rng(3))
    subset = np.sort(np.random.default_rng(3).choice(UNLABELED, size=40, replace=False))
    expected = subset[np.argsort(-entropy(clf.probs[subset]))[:5]]
    assert picked.tolist() == expected.tolist()
    assert not np.isin(picked, LABELED).any()


def test_pool_subsampling_smaller_than_n_and_larger_than_pool():
    clf = FakeClassifier(POOL)
    wrapped = PoolSubsampling(parse_strategy("random"), size=3)
    assert len(_query(wrapped, clf, n=9)) == 9 and len(wrapped.indices_scored_) == 9
    wrapped = PoolSubsampling(parse_strategy("entropy"), size=10_000)
    _query(wrapped, clf, n=4)
    assert wrapped.indices_scored_.tolist() == UNLABELED.tolist()


@pytest.mark.parametrize("name", strategies_for("regression"))
def test_strategies_for_regression_need_no_probabilities(name):
    picked = _query(parse_strategy(name), FakeClassifier(POOL, task="regression"), n=5)
    assert len(np.unique(picked)) == 5


def test_regression_strategies():
    assert set(strategies_for("regression")) == {"random", "coreset", "kmeans", "dal"}
    assert strategies_for("classification") == NAMES[:11]
    assert strategies_for("multilabel") == ["random", "coreset", "kmeans", "dal", "br_entropy_mean",
                                            "br_entropy_max", "lci", "cvirs", "mmc"]


def test_mc_strategies_draw_their_dropout_seed_from_rng():
    clf = FakeClassifier(POOL)
    _query(parse_strategy("bald"), clf, seed=1)
    _query(parse_strategy("bald"), clf, seed=1)
    _query(parse_strategy("bald"), clf, seed=2)
    assert clf.mc_calls[0] == clf.mc_calls[1] != clf.mc_calls[2]


@pytest.mark.parametrize("preset", ["nope", "entropy[x=1]", "mc_dropout[passes=1]", "cal[k=0]",
                                    "dal[iterations=0]", "coreset[normalize=3]"])
def test_bad_presets(preset):
    with pytest.raises(UsageError):
        parse_strategy(preset)
