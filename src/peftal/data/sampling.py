"""Seeded subsets of a training split: a fraction or a number of examples, stratified by class.

Used by ``peftal train --fraction F`` / ``--num-train N`` (the data-fraction experiments of the
BitFit study, Doering et al. 2024). Returned ids are positions in the training split, i.e. ids in
the dataset's one global index space, sorted.
"""

from __future__ import annotations

import numpy as np

from peftal.errors import UsageError


def subset_size(num_available: int, *, fraction: float | None, num_train: int | None) -> int:
    """How many training examples ``--fraction`` or ``--num-train`` asks for (all when neither).

    A fraction rounds to the nearest count and never below one example.
    """
    if fraction is not None and num_train is not None:
        raise UsageError("give either --fraction or --num-train, not both")
    if fraction is not None:
        if not 0 < fraction <= 1:
            raise UsageError(f"--fraction must lie in (0, 1], got {fraction}")
        return max(1, int(round(fraction * num_available)))
    if num_train is not None:
        if num_train < 1:
            raise UsageError(f"--num-train must be >= 1, got {num_train}")
        if num_train > num_available:
            raise UsageError(f"--num-train ({num_train}) is larger than the training split "
                             f"({num_available} examples)")
        return num_train
    return num_available


def multilabel_stratified_sample(labels: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` ids whose label shares follow those of the multi-label matrix ``labels``.

    Iterative stratification (Sechidis et al. 2011, with Szymański & Kajdanowicz's 2017 extension
    to label pairs) from the ``iterative-stratification`` package: it assigns the examples of the
    rarest labels first, so a rare label is neither missing from a small subset nor over-drawn, as
    happens with uniform draws. Seeded from ``rng`` (the package takes an integer seed).

    Args:
        labels: ``(n, labels)`` 0/1 matrix of the whole training split.
        size: Number of ids to return, ``1 <= size < n``.
        rng: The only source of randomness.

    Returns:
        Sorted ``(size,)`` int64 ids into ``labels``.
    """
    from iterstrat.ml_stratifiers import MultilabelStratifiedShuffleSplit

    labels = np.asarray(labels)
    if not 1 <= size < len(labels):
        raise ValueError(f"size must lie in [1, {len(labels) - 1}], got {size}")
    split = MultilabelStratifiedShuffleSplit(n_splits=1, train_size=size, test_size=len(labels) - size,
                                             random_state=int(rng.integers(2**31 - 1)))
    chosen, rest = next(split.split(np.zeros((len(labels), 1)), labels))
    # the splitter hits the size only approximately (198 of 200 on GoEmotions): exactly ``size``
    if len(chosen) < size:
        chosen = np.concatenate([chosen, rng.choice(rest, size - len(chosen), replace=False)])
    elif len(chosen) > size:
        chosen = rng.choice(chosen, size, replace=False)
    return np.sort(chosen).astype(np.int64)


def stratified_sample(labels: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` ids drawn without replacement so that each class keeps its share of ``labels``.

    Each class gets ``floor(size · share)`` examples; the examples left over go to the classes with
    the largest remainders (ties to the smaller class id), so counts differ from the exact shares by
    less than one. Within a class the examples are drawn uniformly with ``rng``.

    Args:
        labels: ``(n,)`` class ids of the whole training split.
        size: Number of ids to return, ``1 <= size <= n``.
        rng: The only source of randomness.

    Returns:
        Sorted ``(size,)`` int64 ids into ``labels``.
    """
    labels = np.asarray(labels)
    if not 1 <= size <= len(labels):
        raise ValueError(f"size must lie in [1, {len(labels)}], got {size}")
    classes, counts = np.unique(labels, return_counts=True)
    quotas = size * counts / counts.sum()
    take = np.floor(quotas).astype(np.int64)
    leftover = size - int(take.sum())
    # Largest remainder first; a stable sort keeps the smaller class id first among equal ones.
    order = np.argsort(-(quotas - take), kind="stable")
    take[order[:leftover]] += 1
    picked = [rng.choice(np.flatnonzero(labels == label), size=k, replace=False)
              for label, k in zip(classes, take, strict=True) if k > 0]
    return np.sort(np.concatenate(picked)).astype(np.int64)


def sample_training_ids(num_available: int, size: int, rng: np.random.Generator,
                        labels: np.ndarray | None = None) -> np.ndarray:
    """Sorted ids of a seeded training subset: stratified by ``labels`` when given (class ids, or a
    multi-label ``(n, labels)`` 0/1 matrix: :func:`multilabel_stratified_sample`), else uniform.

    Regression targets and QA questions have no classes, so they are sampled uniformly.
    """
    if size >= num_available:
        return np.arange(num_available, dtype=np.int64)
    if labels is not None and np.ndim(labels) == 2:
        return multilabel_stratified_sample(labels, size, rng)
    if labels is not None:
        return stratified_sample(labels, size, rng)
    return np.sort(rng.choice(num_available, size=size, replace=False)).astype(np.int64)
