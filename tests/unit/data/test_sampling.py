"""Seeded, stratified training subsets for --fraction / --num-train."""

from __future__ import annotations

import numpy as np
import pytest

from peftal.data.sampling import sample_training_ids, stratified_sample, subset_size
from peftal.errors import UsageError


def _labels() -> np.ndarray:
    # 60 / 30 / 9 / 1 examples of four classes, shuffled.
    labels = np.repeat([0, 1, 2, 3], [60, 30, 9, 1])
    return np.random.default_rng(123).permutation(labels)


@pytest.mark.parametrize("size", [1, 7, 10, 33, 50, 99, 100])
def test_stratified_sample_keeps_class_shares(size):
    labels = _labels()
    ids = stratified_sample(labels, size, np.random.default_rng(0))
    assert len(ids) == size and len(np.unique(ids)) == size
    assert np.all(np.diff(ids) > 0)  # sorted
    counts = np.bincount(labels[ids], minlength=4)
    exact = size * np.bincount(labels, minlength=4) / len(labels)
    assert np.all(np.abs(counts - exact) < 1)


def test_stratified_sample_hand_case():
    # size 10 of 60/30/9/1: quotas 6, 3, 0.9, 0.1 -> 6, 3, 1 (largest remainder), 0.
    labels = _labels()
    ids = stratified_sample(labels, 10, np.random.default_rng(0))
    assert np.bincount(labels[ids], minlength=4).tolist() == [6, 3, 1, 0]


def test_stratified_sample_is_seeded():
    labels = _labels()
    first = stratified_sample(labels, 20, np.random.default_rng(5))
    again = stratified_sample(labels, 20, np.random.default_rng(5))
    other = stratified_sample(labels, 20, np.random.default_rng(6))
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_uniform_sample_without_labels_and_whole_split():
    ids = sample_training_ids(50, 10, np.random.default_rng(0))
    assert len(np.unique(ids)) == 10 and ids.max() < 50
    assert np.array_equal(sample_training_ids(50, 50, np.random.default_rng(0)), np.arange(50))


def test_subset_size():
    assert subset_size(3668, fraction=0.05, num_train=None) == 183
    assert subset_size(100, fraction=1.0, num_train=None) == 100
    assert subset_size(100, fraction=0.001, num_train=None) == 1
    assert subset_size(100, fraction=None, num_train=30) == 30
    assert subset_size(100, fraction=None, num_train=None) == 100


@pytest.mark.parametrize("fraction, num_train, message", [
    (0.0, None, "--fraction must lie in (0, 1]"),
    (1.5, None, "--fraction must lie in (0, 1]"),
    (-0.2, None, "--fraction must lie in (0, 1]"),
    (0.5, 10, "either --fraction or --num-train"),
    (None, 0, "--num-train must be >= 1"),
    (None, 101, "larger than the training split"),
])
def test_subset_size_rejects_bad_input(fraction, num_train, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace("]", r"\]")):
        subset_size(100, fraction=fraction, num_train=num_train)


def _goemotions_like(rng: np.random.Generator) -> np.ndarray:
    """4,000 texts, 28 labels, a few common and many rare ones (about 1.2 labels a text)."""
    rates = np.geomspace(0.3, 0.002, 28)
    return (rng.random((4000, 28)) < rates).astype(np.int64)


def test_a_multilabel_subset_keeps_each_labels_share_closer_than_uniform_draws():
    labels = _goemotions_like(np.random.default_rng(7))
    shares = labels.mean(axis=0)
    stratified, uniform = [], []
    for seed in range(5):
        ids = sample_training_ids(len(labels), 200, np.random.default_rng(seed), labels)
        assert len(ids) == len(set(ids)) == 200 and np.all(np.diff(ids) > 0)
        stratified.append(np.abs(labels[ids].mean(axis=0) - shares).sum())
        drawn = np.random.default_rng(seed).choice(len(labels), 200, replace=False)
        uniform.append(np.abs(labels[drawn].mean(axis=0) - shares).sum())
    assert np.mean(stratified) < 0.5 * np.mean(uniform)  # summed absolute share error per subset


def test_a_multilabel_subset_is_seeded_by_the_generator():
    labels = _goemotions_like(np.random.default_rng(1))
    first = sample_training_ids(len(labels), 300, np.random.default_rng(3), labels)
    again = sample_training_ids(len(labels), 300, np.random.default_rng(3), labels)
    other = sample_training_ids(len(labels), 300, np.random.default_rng(4), labels)
    assert np.array_equal(first, again) and not np.array_equal(first, other)


def test_a_multilabel_subset_of_goemotions_has_exactly_the_size_asked(data_dir):
    from peftal.data import load_task

    labels = load_task("goemotions").test.labels  # the splitter alone gives 198 of 200 here
    for size in (50, 200, 999):
        ids = sample_training_ids(len(labels), size, np.random.default_rng(0), labels)
        assert len(ids) == len(set(ids)) == size
