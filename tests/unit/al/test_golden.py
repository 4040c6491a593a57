"""Hand-computed golden picks for the probability-scoring strategies (small-text / baal style)."""

from __future__ import annotations

import numpy as np
import pytest

from peftal.al.strategies import parse_strategy
from peftal.al.strategies.bayesian import bald, mean_entropy
from peftal.al.strategies.uncertainty import entropy, least_confidence, margin

# Global ids 10..13 hold rows A..D. Hand-computed:
#   A = (.50, .25, .25): entropy 1.0397, least confidence .50, margin gap .25
#   B = (.45, .45, .10): entropy 0.9489, least confidence .55, margin gap .00
#   C = (.80, .10, .10): entropy 0.6390, least confidence .20, margin gap .70
#   D = (.40, .30, .30): entropy 1.0889, least confidence .60, margin gap .10
PROBS = np.array([[0.50, 0.25, 0.25], [0.45, 0.45, 0.10], [0.80, 0.10, 0.10], [0.40, 0.30, 0.30]])
IDS = np.array([10, 11, 12, 13])


class ArrayClassifier:
    """Probabilities (and MC passes) given as arrays over the ids in ``IDS`` order."""

    task = "classification"

    def __init__(self, probs: np.ndarray, mc: np.ndarray | None = None) -> None:
        self.probs, self.mc = probs, mc

    def _rows(self, indices: np.ndarray) -> np.ndarray:
        return np.searchsorted(IDS, indices)

    def predict_proba(self, indices):
        return self.probs[self._rows(indices)]

    def mc_predict_proba(self, indices, passes, seed):
        assert passes == self.mc.shape[2]
        return self.mc[self._rows(indices)]


def test_scores_by_hand():
    np.testing.assert_allclose(entropy(PROBS), [1.0397, 0.9489, 0.6390, 1.0889], atol=1e-4)
    np.testing.assert_allclose(least_confidence(PROBS), [0.50, 0.55, 0.20, 0.60])
    np.testing.assert_allclose(margin(PROBS), [0.75, 1.00, 0.30, 0.90])


@pytest.mark.parametrize(("name", "expected"), [
    ("entropy", [13, 10, 11]),
    ("least_confidence", [13, 11, 10]),
    ("margin", [11, 13, 10]),
])
def test_golden_picks(name, expected):
    strategy = parse_strategy(name)
    picked = strategy.query(clf=ArrayClassifier(PROBS), labels_labeled=None, indices_unlabeled=IDS,
                            indices_labeled=np.array([0, 1]), n=3, rng=np.random.default_rng(0))
    assert picked.tolist() == expected
    assert np.all(np.diff(strategy.last_scores_) <= 0)  # scores of the picks, best first


def test_ties_go_to_the_smallest_id():
    flat = np.full((4, 3), 1 / 3)
    picked = parse_strategy("entropy").query(clf=ArrayClassifier(flat), labels_labeled=None,
                                             indices_unlabeled=IDS, indices_labeled=np.array([0]),
                                             n=2, rng=np.random.default_rng(0))
    assert picked.tolist() == [10, 11]


def _passes(*rows):
    """``(classes=2, passes)`` from a list of p(class 0) per pass."""
    p0 = np.array(rows)
    return np.stack([p0, 1 - p0])


# T = 4 passes of a 2-class model (baal's synthetic BALD case):
#   A: every pass (.5, .5)         aleatoric only:  mean entropy ln 2, BALD 0
#   B: passes (1,0),(0,1),...      pure disagreement: mean entropy ln 2, BALD ln 2
#   C: passes (.9,.1),(.1,.9),...  some of both: mean entropy ln 2, BALD ln 2 - H(.9, .1)
#   D: every pass (.9, .1)         confident:       mean entropy H(.9, .1), BALD 0
MC = np.stack([_passes(.5, .5, .5, .5), _passes(1, 0, 1, 0), _passes(.9, .1, .9, .1),
               _passes(.9, .9, .9, .9)])  # (4, 2, 4)
H_09 = -(0.9 * np.log(0.9) + 0.1 * np.log(0.1))


def test_bald_known_order():
    np.testing.assert_allclose(bald(MC), [0.0, np.log(2), np.log(2) - H_09, 0.0], atol=1e-9)
    np.testing.assert_allclose(mean_entropy(MC), [np.log(2)] * 3 + [H_09], atol=1e-9)
    clf = ArrayClassifier(MC.mean(axis=2), MC)
    picked = parse_strategy("bald[passes=4]").query(
        clf=clf, labels_labeled=None, indices_unlabeled=IDS, indices_labeled=np.array([0]), n=2,
        rng=np.random.default_rng(0))
    assert picked.tolist() == [11, 12]
    # Entropy of the mean cannot tell aleatoric from epistemic uncertainty: A, B, C tie.
    picked = parse_strategy("mc_dropout[passes=4]").query(
        clf=clf, labels_labeled=None, indices_unlabeled=IDS, indices_labeled=np.array([0]), n=3,
        rng=np.random.default_rng(0))
    assert picked.tolist() == [10, 11, 12]


def test_mc_passes_preset():
    assert parse_strategy("mc_dropout[passes=20]").config.passes == 20
    assert parse_strategy("mc_dropout[passes=20]").preset == "mc_dropout[passes=20]"
