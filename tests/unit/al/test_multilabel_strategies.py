"""Multi-label strategies: scores of toy probabilities computed by hand, cross-checks against
small-text 2.0 on the same arrays, and which tasks each strategy applies to."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse import csr_matrix

from peftal.al.strategies import parse_strategy, strategies_for
from peftal.al.strategies.multilabel import (
    binary_entropy,
    cvirs,
    entropy_distance,
    label_cardinality_inconsistency,
    margin_ranking,
    max_loss_reduction,
    predict_counts,
)

PROBS = np.array([[0.9, 0.2], [0.6, 0.7], [0.1, 0.45]])
LABELS = np.array([[1, 0]])


class Fixed:
    task = "multilabel"

    def __init__(self, probs):
        self.probs = probs

    def predict_proba(self, indices):
        return self.probs[np.asarray(indices)]


def test_binary_relevance_entropy_by_hand():
    h = lambda p: -(p * np.log(p) + (1 - p) * np.log(1 - p))  # noqa: E731
    expected_mean = [(h(0.9) + h(0.2)) / 2, (h(0.6) + h(0.7)) / 2, (h(0.1) + h(0.45)) / 2]
    np.testing.assert_allclose(binary_entropy(PROBS).mean(1), expected_mean)
    clf = Fixed(PROBS)
    picked = parse_strategy("br_entropy_max").query(clf=clf, indices_unlabeled=np.arange(3),
                                                    indices_labeled=[], labels_labeled=None, n=1,
                                                    rng=np.random.default_rng(0))
    assert picked.tolist() == [2]  # h(0.45) = 0.688 beats h(0.6) = 0.673 and h(0.7) = 0.611


def test_label_cardinality_inconsistency_by_hand():
    labels = np.array([[1, 0], [1, 1]])  # mean 1.5 labels per labelled text
    # predicted counts (p > 0.5): 1, 2, 0
    assert label_cardinality_inconsistency(PROBS, labels).tolist() == [0.5, 0.5, 1.5]


def test_entropy_distance_by_hand():
    assert entropy_distance(np.array([[1, 0]]), LABELS).tolist() == [[0.0]]  # equal vectors
    assert entropy_distance(np.array([[0, 1]]), LABELS).tolist() == [[1.0]]  # disagree on every label
    # [1,1,0] vs [1,0,0]: a=1, b=0, c=1, d=1; H(y,y') = H(1/3) + 2/3 * H(1/2) = log2(3),
    # H(y) = H(y') = H(1/3)
    h13 = -(1 / 3) * np.log2(1 / 3) - (2 / 3) * np.log2(2 / 3)
    expected = (2 * np.log2(3) - 2 * h13) / np.log2(3)
    assert entropy_distance(np.array([[1, 1, 0]]), np.array([[1, 0, 0]]))[0, 0] == pytest.approx(expected)


def test_cvirs_by_hand():
    # margins |2p-1|: label 0 -> 0.8, 0.2, 0.8 (ranks 2, 1, 3: ties by position); label 1 -> 0.6, 0.4,
    # 0.1 (ranks 3, 2, 1). Ranking score sum_j (3 - r_j) / (2 * 2): 0.25, 0.75, 0.5
    np.testing.assert_allclose(margin_ranking(PROBS), [0.25, 0.75, 0.5])
    # predicted vectors [1,0], [1,1], [0,0] against the labelled [1,0]: distances 0, 1, 1
    np.testing.assert_allclose(cvirs(PROBS, LABELS), [0.0, 0.75, 0.5])
    picked = parse_strategy("cvirs").query(clf=Fixed(PROBS), indices_unlabeled=np.arange(3),
                                           indices_labeled=[7], labels_labeled=LABELS, n=2,
                                           rng=np.random.default_rng(0))
    assert picked.tolist() == [1, 2]


def test_max_loss_reduction_by_hand():
    # one label each: x0 predicts [+1,-1] with f = [0.8,-0.6] -> (0.2 + 0.4) / 2 = 0.3;
    # x1 predicts [-1,+1] with f = [0.2, 0.4] -> (1.2 + 0.6) / 2 = 0.9;
    # x2 predicts [-1,+1] with f = [-0.8, -0.1] -> (0.2 + 1.1) / 2 = 0.65
    np.testing.assert_allclose(max_loss_reduction(PROBS, np.array([1, 1, 1])), [0.3, 0.9, 0.65])
    # two labels for x0: y = [+1,+1] -> (0.2 + 1.6) / 2
    assert max_loss_reduction(PROBS[:1], np.array([2]))[0] == pytest.approx(0.9)
    # every labelled text has one label: the count model predicts 1 without a fit
    assert predict_counts(PROBS[:2], np.array([[1, 0], [0, 1]]), PROBS).tolist() == [1, 1, 1]


def test_mmc_counts_follow_the_labelled_cardinalities():
    rng = np.random.default_rng(0)
    labels = (rng.random((60, 5)) < 0.3).astype(int)
    probs = np.clip(labels * 0.8 + rng.random((60, 5)) * 0.2, 0, 1)  # true labels ranked first
    counts = predict_counts(probs, labels, probs)
    assert (counts == labels.sum(1)).mean() > 0.8


@pytest.fixture(scope="module")
def arrays():
    rng = np.random.default_rng(7)
    return rng.random((200, 6)), (rng.random((40, 6)) < 0.3).astype(np.int64)


def test_lci_equals_small_text(arrays):
    from small_text.query_strategies.multi_label import _label_cardinality_inconsistency

    probs, labels = arrays
    np.testing.assert_allclose(label_cardinality_inconsistency(probs, labels, 0.5),
                               _label_cardinality_inconsistency(probs, csr_matrix(labels), 0.5))


def test_cvirs_entropy_distance_equals_small_texts_formula(arrays):
    """small-text 2.0.0.dev4 computes the paper's entropy distance in ``_distance`` but returns the
    Hamming distance, and ranks with ``argsort`` positions rather than ranks, so its CVIRS scores
    differ from the paper's. The entropy terms it computes are the paper's; ours equal them."""
    from small_text.query_strategies.multi_label import CategoryVectorInconsistencyAndRanking

    probs, labels = arrays
    theirs = CategoryVectorInconsistencyAndRanking(epsilon=0.0)
    pred = (probs > 0.5).astype(int)
    q = probs.shape[1]
    a, b = pred @ labels.T, (1 - pred) @ labels.T
    c, d = pred @ (1 - labels).T, (1 - pred) @ (1 - labels).T
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = lambda x, y: np.nan_to_num(theirs._entropy(x, y))  # noqa: E731  (0 log 0 = 0)
        joint = (entropy(b + c, q) + entropy(a + d, q)
                 + (b + c) / q * (entropy(b, b + c) + entropy(c, b + c))
                 + (a + d) / q * (entropy(a, a + d) + entropy(d, a + d)))
        own = ((entropy(pred.sum(1), q) + entropy(q - pred.sum(1), q))[:, None]
               + (entropy(labels.sum(1), q) + entropy(q - labels.sum(1), q))[None, :])
        expected = np.where(joint > 0, (2 * joint - own) / joint, 0.0)
    expected[(b + c) == q] = 1.0
    np.testing.assert_allclose(entropy_distance(pred, labels), expected, atol=1e-12)
    # what small-text's CVIRS uses instead: summed Hamming distances over the pool size
    theirs.pbar = None
    hamming = (pred[:, None, :] != labels[None]).mean(2).sum(1) / len(pred)
    np.testing.assert_allclose(theirs._compute_vector_inconsistency(csr_matrix(labels), pred, q), hamming)


def test_multilabel_strategies_apply_to_multilabel_only():
    multilabel = {"br_entropy_mean", "br_entropy_max", "lci", "cvirs", "mmc"}
    assert multilabel <= set(strategies_for("multilabel"))
    assert not multilabel & set(strategies_for("classification"))
    assert not {"entropy", "margin", "bald", "badge"} & set(strategies_for("multilabel"))
