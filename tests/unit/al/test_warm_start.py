"""Uniform and class-balanced warm starts."""

from __future__ import annotations

import numpy as np

from peftal.al.warm_start import random_warm_start, stratified_warm_start


def test_stratified_is_balanced_and_deterministic():
    labels = np.repeat([0, 1, 2, 3], [500, 300, 150, 50])
    picked = stratified_warm_start(labels, 40, np.random.default_rng(0))
    assert len(np.unique(picked)) == 40 and np.all(np.diff(picked) > 0)
    assert np.bincount(labels[picked]).tolist() == [10, 10, 10, 10]
    assert picked.tolist() == stratified_warm_start(labels, 40, np.random.default_rng(0)).tolist()
    counts = np.bincount(labels[stratified_warm_start(labels, 42, np.random.default_rng(1))])
    assert sorted(counts.tolist()) == [10, 10, 11, 11]


def test_a_small_class_gives_all_it_has():
    labels = np.array([0] * 50 + [1] * 50 + [2] * 2)
    counts = np.bincount(labels[stratified_warm_start(labels, 30, np.random.default_rng(0))])
    assert counts[2] == 2 and sorted(counts[:2].tolist()) == [14, 14]


def test_random_warm_start():
    picked = random_warm_start(100, 10, np.random.default_rng(0))
    assert len(np.unique(picked)) == 10 and np.all(np.diff(picked) > 0)
