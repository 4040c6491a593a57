"""The warm start: the labelled set an active-learning run begins from."""

from __future__ import annotations

import numpy as np


def random_warm_start(pool_size: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted global ids of ``size`` examples drawn uniformly without replacement."""
    return np.sort(rng.choice(pool_size, size=size, replace=False))


def stratified_warm_start(labels: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted global ids of a class-balanced sample of ``size`` examples.

    Classes are visited round-robin in a random order, each giving its next example (in a random
    order) per turn, so every class gets ``size // classes`` or one more; a class with fewer
    examples gives all it has and the others fill its share.

    Args:
        labels: ``(pool,)`` class ids of the whole pool, indexed by global id.
        size: How many to draw (at most the pool size).
        rng: The run's generator.
    """
    labels = np.asarray(labels)
    if size > len(labels):
        raise ValueError(f"cannot draw {size} examples from a pool of {len(labels)}")
    classes = rng.permutation(np.unique(labels))
    queues = [rng.permutation(np.flatnonzero(labels == c)) for c in classes]
    taken: list[int] = []
    turn = 0
    while len(taken) < size:
        for queue in queues:
            if turn < len(queue) and len(taken) < size:
                taken.append(int(queue[turn]))
        turn += 1
    return np.sort(np.asarray(taken, dtype=np.int64))


def draw_warm_start(labels: np.ndarray, size: int, rng: np.random.Generator, *,
                    stratified: bool = False) -> np.ndarray:
    """The labelled ids before the first round of a pool whose labels are ``labels``: uniform, or
    when ``stratified`` class-balanced (a multi-label ``(pool, labels)`` matrix: every label at its
    share of the pool, by iterative stratification)."""
    if stratified and np.ndim(labels) == 2:
        from peftal.data.sampling import multilabel_stratified_sample

        return multilabel_stratified_sample(labels, size, rng)
    if stratified:
        return stratified_warm_start(labels, size, rng)
    return random_warm_start(len(labels), size, rng)
