"""Forgetting events (Toneva et al. 2019, "An Empirical Study of Example Forgetting during Deep
Neural Network Learning").

The training loop records, for every epoch, whether each labelled example was classified correctly
when it was presented in its minibatch: a boolean matrix ``correct`` of shape
``(num_epochs, num_examples)``. From it:

- a *forgetting event* is a transition correct → incorrect between two consecutive epochs;
- an example is *never learned* when it is classified correctly in no epoch (reported apart: it
  has zero events but is the opposite of unforgettable);
- *unforgettable* examples are learned at some epoch and never forgotten (zero events);
- *forgettable* examples have at least one event.

Jukić & Šnajder (2023) use these counts to explain why PEFT beats full fine-tuning in low-resource
active learning: adapters forget fewer training examples. Pure functions over arrays; nothing here
reads models or trains.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


def _check(correct: np.ndarray) -> np.ndarray:
    correct = np.asarray(correct)
    if correct.ndim != 2:
        raise ValueError(f"correct must be a (num_epochs, num_examples) array, got shape {correct.shape}")
    if correct.dtype != bool:
        if not np.isin(correct, (0, 1)).all():
            raise ValueError("correct must hold booleans (or 0/1)")
        correct = correct.astype(bool)
    return correct


def forgetting_events(correct: np.ndarray) -> np.ndarray:
    """Number of forgetting events of every example.

    Args:
        correct: ``(num_epochs, num_examples)`` bool, ``correct[e, i]`` = example ``i`` was classified
            correctly in epoch ``e``.

    Returns:
        ``(num_examples,)`` int64: transitions correct → incorrect between consecutive epochs.
    """
    correct = _check(correct)
    # (num_epochs - 1, num_examples): correct at epoch e and wrong at epoch e + 1.
    return (correct[:-1] & ~correct[1:]).sum(axis=0).astype(np.int64)


def never_learned(correct: np.ndarray) -> np.ndarray:
    """``(num_examples,)`` bool: the examples classified correctly in no epoch."""
    return ~_check(correct).any(axis=0)


@dataclass(frozen=True)
class ForgettingStats:
    """Counts over one set of examples.

    Attributes:
        num_examples: Examples counted.
        forgettable: Learned examples with at least one forgetting event.
        unforgettable: Learned examples with no forgetting event.
        never_learned: Examples classified correctly in no epoch.
        mean_events: Mean number of events over the learned examples (0 when none was learned).
        histogram: ``histogram[k]`` = learned examples with exactly ``k`` events, for ``k`` up to the
            most that ``num_epochs`` allows (``num_epochs // 2``); sums to ``num_examples -
            never_learned``.
    """

    num_examples: int
    forgettable: int
    unforgettable: int
    never_learned: int
    mean_events: float
    histogram: list[int]

    def to_dict(self) -> dict:
        return asdict(self)


def forgetting_stats(correct: np.ndarray, columns: np.ndarray | None = None) -> ForgettingStats:
    """Summarise the examples ``columns`` (positions in ``correct``; all when ``None``).

    The histogram has ``num_epochs // 2 + 1`` bins whatever the examples, so that histograms of the
    same run (and of runs with the same epochs) line up bin by bin.
    """
    correct = _check(correct)
    if columns is not None:
        correct = correct[:, np.asarray(columns, dtype=np.int64)]
    events = forgetting_events(correct)
    learned = ~never_learned(correct)
    histogram = np.bincount(events[learned], minlength=correct.shape[0] // 2 + 1)
    return ForgettingStats(
        num_examples=int(correct.shape[1]),
        forgettable=int((learned & (events > 0)).sum()),
        unforgettable=int((learned & (events == 0)).sum()),
        never_learned=int((~learned).sum()),
        mean_events=float(events[learned].mean()) if learned.any() else 0.0,
        histogram=[int(n) for n in histogram],
    )
