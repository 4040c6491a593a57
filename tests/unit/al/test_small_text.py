"""Cross-checks against small-text 2.0 on the same arrays: the same ids must be picked.

small-text's strategies are called directly with a stand-in classifier that returns fixed arrays
(no small-text model is trained). Rows are Dirichlet/Gaussian draws, so no two scores tie: small-text
breaks ties in no specified order (``np.argpartition``) and peftal by the smaller id.
"""

from __future__ import annotations

import numpy as np
import pytest

from peftal.al.stopping import RoundState, parse_criterion
from peftal.al.strategies import parse_strategy

pytest.importorskip("small_text")

NUM_EXAMPLES, NUM_CLASSES, PASSES, N = 240, 5, 6, 12


@pytest.fixture(scope="module")
def arrays():
    rng = np.random.default_rng(42)
    mc = rng.dirichlet(np.ones(NUM_CLASSES) * 0.7, size=(NUM_EXAMPLES, PASSES))  # (N, T, C)
    return {
        "probs": rng.dirichlet(np.ones(NUM_CLASSES), size=NUM_EXAMPLES),  # (N, C)
        "mc": mc.transpose(0, 2, 1),  # peftal's layout (N, C, T)
        "vectors": rng.normal(size=(NUM_EXAMPLES, 16)),
        "unlabeled": np.sort(rng.choice(NUM_EXAMPLES, size=150, replace=False)),
    }


class Ours:
    task = "classification"

    def __init__(self, arrays):
        self.a = arrays

    def predict_proba(self, indices):
        return self.a["probs"][indices]

    def embed(self, indices):
        return self.a["vectors"][indices]

    def mc_predict_proba(self, indices, passes, seed):
        return self.a["mc"][indices]


class Theirs:
    """small-text calls ``predict_proba(dataset[, dropout_sampling])`` on the whole dataset."""

    def __init__(self, arrays):
        self.a = arrays

    def predict_proba(self, dataset, dropout_sampling=1):
        if dropout_sampling > 1:
            return self.a["mc"].transpose(0, 2, 1)[dataset]  # (N, T, C)
        return self.a["probs"][dataset]


def _ours(name, arrays, labeled):
    return parse_strategy(name).query(
        clf=Ours(arrays), labels_labeled=None, indices_unlabeled=arrays["unlabeled"],
        indices_labeled=labeled, n=N, rng=np.random.default_rng(0))


def _labeled(arrays):
    return np.setdiff1d(np.arange(NUM_EXAMPLES), arrays["unlabeled"])


@pytest.mark.parametrize(("ours", "theirs"), [
    ("entropy", "PredictionEntropy"), ("least_confidence", "LeastConfidence"),
    ("margin", "BreakingTies"), (f"bald[passes={PASSES}]", "BALD"),
])
def test_scoring_strategies_pick_the_same_ids(arrays, ours, theirs):
    import small_text.query_strategies as st

    strategy = getattr(st, theirs)(dropout_samples=PASSES) if theirs == "BALD" else getattr(st, theirs)()
    labeled = _labeled(arrays)
    expected = strategy.query(Theirs(arrays), np.arange(NUM_EXAMPLES), arrays["unlabeled"], labeled,
                              np.zeros(len(labeled), dtype=int), n=N)
    assert sorted(_ours(ours, arrays, labeled).tolist()) == sorted(expected.tolist())


def test_coreset_picks_the_same_ids_in_the_same_order(arrays):
    from small_text.query_strategies import GreedyCoreset

    labeled = _labeled(arrays)
    subset = np.concatenate([arrays["unlabeled"], labeled])  # small-text's own subset order
    expected = GreedyCoreset(distance_metric="euclidean", normalize=True).query(
        None, np.arange(NUM_EXAMPLES), arrays["unlabeled"], labeled,
        np.zeros(len(labeled), dtype=int), n=N, embeddings=arrays["vectors"][subset])
    assert _ours("coreset", arrays, labeled).tolist() == expected.tolist()


def test_coreset_without_normalisation(arrays):
    from small_text.query_strategies import GreedyCoreset

    labeled = _labeled(arrays)
    subset = np.concatenate([arrays["unlabeled"], labeled])
    expected = GreedyCoreset(distance_metric="euclidean", normalize=False).query(
        None, np.arange(NUM_EXAMPLES), arrays["unlabeled"], labeled,
        np.zeros(len(labeled), dtype=int), n=N, embeddings=arrays["vectors"][subset])
    assert _ours("coreset[normalize=false]", arrays, labeled).tolist() == expected.tolist()


def _prediction_sequence(rng, size=300):
    """Predictions that settle down: each round redraws a shrinking share of the labels, then none."""
    current = rng.integers(0, NUM_CLASSES, size=size)
    sequence = [current.copy()]
    for share in [0.3, 0.2, 0.1, 0.04, 0.02, 0.0, 0.0, 0.0]:
        flip = rng.random(size) < share
        current = np.where(flip, rng.integers(0, NUM_CLASSES, size=size), current)
        sequence.append(current.copy())
    return sequence


def _one_hot_probs(predictions):
    probs = np.full((len(predictions), NUM_CLASSES), 0.01)
    probs[np.arange(len(predictions)), predictions] = 1 - 0.01 * (NUM_CLASSES - 1)
    return probs


@pytest.mark.parametrize(("ours", "theirs", "kwargs"), [
    ("kappa_average", "KappaAverage", {}),
    ("kappa_average[threshold=0.9,window=2]", "KappaAverage", {"kappa": 0.9, "window_size": 2}),
    ("classification_change[threshold=0.05]", "ClassificationChange", {"threshold": 0.05}),
    ("classification_change", "ClassificationChange", {}),
])
def test_stopping_criteria_fire_at_the_same_round(ours, theirs, kwargs):
    import small_text.stopping_criteria as sc

    criterion, reference = parse_criterion(ours), getattr(sc, theirs)(NUM_CLASSES, **kwargs)
    decisions = []
    for round_index, predictions in enumerate(_prediction_sequence(np.random.default_rng(3))):
        state = RoundState(round_index=round_index, probs=_one_hot_probs(predictions))
        decisions.append(criterion.stop(state))
        assert decisions[-1] == reference.stop(predictions=predictions), round_index
    assert not decisions[1] and decisions[-1]  # the sequence does exercise both answers


def test_overall_uncertainty_matches(arrays):
    from small_text.stopping_criteria import OverallUncertainty

    probs = arrays["probs"]
    mask = np.zeros(NUM_EXAMPLES, dtype=bool)
    mask[arrays["unlabeled"]] = True
    decisions = set()
    for threshold in (0.5, 0.6, 0.7, 0.8, 0.9, 0.95):
        ours = parse_criterion(f"overall_uncertainty[threshold={threshold}]").stop(
            RoundState(round_index=0, probs=probs, unlabeled=mask))
        theirs = OverallUncertainty(NUM_CLASSES, threshold=threshold).stop(
            proba=probs, indices_stopping=arrays["unlabeled"])
        assert ours == theirs, threshold
        decisions.add(ours)
    assert decisions == {True, False}
