"""Forgetting events on hand-made correctness sequences with known counts."""

from __future__ import annotations

import numpy as np
import pytest

from peftal.analysis import forgetting_events, forgetting_stats, never_learned

# Columns are examples, rows epochs (1 = classified correctly when presented).
SEQUENCES = {
    "always_correct": ([1, 1, 1, 1, 1], 0, False),
    "never_learned": ([0, 0, 0, 0, 0], 0, True),
    "learned_late": ([0, 0, 0, 1, 1], 0, False),
    "forgotten_once_at_the_end": ([1, 1, 1, 1, 0], 1, False),
    "forgotten_once_relearned": ([0, 1, 0, 1, 1], 1, False),
    "oscillating": ([1, 0, 1, 0, 1], 2, False),
    "oscillating_from_wrong": ([0, 1, 0, 1, 0], 2, False),
    "correct_only_first": ([1, 0, 0, 0, 0], 1, False),
}


def matrix() -> np.ndarray:
    return np.array([seq for seq, _, _ in SEQUENCES.values()], dtype=bool).T  # (epochs, examples)


def test_known_counts():
    expected = np.array([events for _, events, _ in SEQUENCES.values()])
    np.testing.assert_array_equal(forgetting_events(matrix()), expected)
    assert forgetting_events(matrix()).dtype == np.int64


def test_never_learned():
    expected = np.array([flag for _, _, flag in SEQUENCES.values()])
    np.testing.assert_array_equal(never_learned(matrix()), expected)


def test_stats():
    stats = forgetting_stats(matrix())
    assert stats.num_examples == 8
    assert stats.never_learned == 1
    assert stats.unforgettable == 2  # always_correct, learned_late
    assert stats.forgettable == 5
    # 5 epochs allow at most 2 events: bins 0, 1, 2 over the 7 learned examples.
    assert stats.histogram == [2, 3, 2]
    assert stats.mean_events == pytest.approx((0 + 0 + 1 + 1 + 2 + 2 + 1) / 7)


def test_stats_of_a_subset_keep_the_bins():
    names = list(SEQUENCES)
    columns = [names.index("never_learned"), names.index("always_correct")]
    stats = forgetting_stats(matrix(), columns)
    assert (stats.num_examples, stats.never_learned, stats.unforgettable, stats.forgettable) == (2, 1, 1, 0)
    assert stats.histogram == [1, 0, 0]
    empty = forgetting_stats(matrix(), [])
    assert (empty.num_examples, empty.mean_events, empty.histogram) == (0, 0.0, [0, 0, 0])


def test_single_epoch_has_no_events():
    correct = np.array([[True, False, True]])
    np.testing.assert_array_equal(forgetting_events(correct), [0, 0, 0])
    np.testing.assert_array_equal(never_learned(correct), [False, True, False])


def test_integer_matrices_accepted_and_bad_shapes_rejected():
    np.testing.assert_array_equal(forgetting_events(matrix().astype(int)), forgetting_events(matrix()))
    with pytest.raises(ValueError, match="num_epochs, num_examples"):
        forgetting_events(np.ones(4, dtype=bool))
    with pytest.raises(ValueError, match="booleans"):
        forgetting_events(np.full((2, 2), 3))
