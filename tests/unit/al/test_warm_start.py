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


def test_a_stratified_multilabel_warm_start_keeps_every_labels_share():
    from peftal.al.warm_start import draw_warm_start

    rng = np.random.default_rng(0)
    labels = (rng.random((2000, 10)) < np.geomspace(0.4, 0.01, 10)).astype(np.int64)
    ids = draw_warm_start(labels, 100, np.random.default_rng(5), stratified=True)
    assert len(ids) == len(set(ids)) == 100
    expected = labels.mean(axis=0) * 100  # label counts a share-keeping sample of 100 holds
    assert np.all(np.abs(labels[ids].sum(axis=0) - expected) <= 1.5)
