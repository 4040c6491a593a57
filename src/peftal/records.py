"""The round record: one type that the AL loop yields, the results store writes and reads back,
the summary is built from and the analyses read.

A round of active learning, a supervised run (one round whose labelled set is its training set)
and a pretraining run (one round without labels) all produce a :class:`RoundRecord`. It is frozen
and has no catch-all field: a misspelt or renamed field is a ``TypeError`` where the record is
built, never a value that silently lands elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class EpochRecord:
    """One training epoch of a round.

    Attributes:
        epoch: 0-based epoch number.
        loss: Mean training loss over the epoch.
        train_accuracy: Accuracy on the labelled examples during the epoch (classification only).
        seconds: Wall time of the epoch.
    """

    epoch: int
    loss: float | None = None
    train_accuracy: float | None = None
    seconds: float | None = None

    @classmethod
    def of(cls, value: EpochRecord | Mapping[str, Any]) -> EpochRecord:
        """An epoch record from the trainer's per-epoch dict (unknown keys raise ``TypeError``)."""
        return value if isinstance(value, EpochRecord) else cls(**value)


@dataclass(frozen=True)
class RoundRecord:
    """What one round of a run measured and decided.

    Attributes:
        round: 0-based round number.
        num_labeled: Labelled examples the round's model trained on.
        metrics: Test (or evaluation-split) metrics of the round's model, name → value.
        train_seconds: Training wall time.
        query_seconds: Wall time of the query (0 when nothing was queried).
        eval_seconds: Wall time of the evaluation.
        indices_queried: Pool ids the strategy picked, in its order (labelled in the next round).
        scores_queried: The strategy's score of each queried id, where it has scores.
        epochs: Per-epoch training records.
        indices_added: Pool ids first labelled in this round (the warm start in round 0).
        correct: ``(epochs, len(correct_ids))`` bool matrix: was each labelled example predicted
            correctly after each epoch (for forgetting statistics); ``None`` if not tracked.
        correct_ids: Column ids of ``correct``.
        metrics_model: The method preset whose model ``metrics`` come from, where a run has more
            than one (``--acquisition-method``).
        steps: Optimiser steps taken.
        stopped_by_budget: Whether a time budget ended the training early.
        num_train_items: Training items where they are not the labelled examples (question-answering
            windows, masked-LM sequences).
        artifacts: Larger JSON values stored beside the round, name → value (``cka``,
            ``qa_predictions``).
        converged: Whether the round's training converged
            (:func:`peftal.training.convergence.converged`); ``None`` = unknown (not judged, or a
            store written before it was recorded).
        convergence: The criterion's reason, in words (the value it was judged on).
        learned: Whether the evaluated model beats chance on the evaluation split
            (:func:`peftal.training.metrics.above_chance`); ``None`` = unknown (QA, or a store
            written before it was recorded).
        chance: The chance check's reason, in words.
    """

    round: int
    num_labeled: int
    metrics: Mapping[str, float | None]
    train_seconds: float
    query_seconds: float = 0.0
    eval_seconds: float = 0.0
    indices_queried: tuple[int, ...] = ()
    scores_queried: tuple[float, ...] | None = None
    epochs: tuple[EpochRecord, ...] = ()
    indices_added: tuple[int, ...] = ()
    correct: np.ndarray | None = field(default=None, compare=False)
    correct_ids: tuple[int, ...] = ()
    metrics_model: str | None = None
    steps: int | None = None
    stopped_by_budget: bool | None = None
    num_train_items: int | None = None
    artifacts: Mapping[str, Any] = field(default_factory=dict)
    converged: bool | None = None
    convergence: str | None = None
    learned: bool | None = None
    chance: str | None = None

    def __post_init__(self) -> None:
        # Plain Python values throughout (ids arrive as numpy arrays), so records compare and
        # serialise the same way whether they were just measured or read back from a store.
        set_ = object.__setattr__
        set_(self, "round", int(self.round))
        set_(self, "num_labeled", int(self.num_labeled))
        set_(self, "metrics", {str(k): None if v is None else float(v) for k, v in self.metrics.items()})
        set_(self, "train_seconds", float(self.train_seconds))
        set_(self, "query_seconds", float(self.query_seconds))
        set_(self, "eval_seconds", float(self.eval_seconds))
        for name in ("indices_queried", "indices_added", "correct_ids"):
            set_(self, name, tuple(int(i) for i in getattr(self, name)))
        if self.scores_queried is not None:
            set_(self, "scores_queried", tuple(float(s) for s in self.scores_queried))
        set_(self, "epochs", tuple(EpochRecord.of(e) for e in self.epochs))
        if self.correct is not None:
            correct = np.asarray(self.correct, dtype=bool)
            if correct.size == 0:
                correct = None
            elif correct.ndim != 2 or correct.shape[1] != len(self.correct_ids):
                raise ValueError(f"correct has shape {correct.shape}; expected (epochs, "
                                 f"{len(self.correct_ids)}) for the correct_ids")
            set_(self, "correct", correct)
        set_(self, "artifacts", dict(self.artifacts))
        for name in ("converged", "learned"):
            if getattr(self, name) is not None:
                set_(self, name, bool(getattr(self, name)))

    def public(self) -> dict[str, Any]:
        """The fields ``summary.json`` lists per round."""
        return {"round": self.round, "num_labeled": self.num_labeled, "metrics": dict(self.metrics),
                "train_seconds": self.train_seconds, "query_seconds": self.query_seconds,
                "indices_queried": list(self.indices_queried),
                "scores_queried": None if self.scores_queried is None else list(self.scores_queried),
                "converged": self.converged, "convergence": self.convergence,
                "learned": self.learned, "chance": self.chance}

    def same_as(self, other: RoundRecord) -> bool:
        """Equal in every field, ``correct`` included (``==`` leaves the matrix out)."""
        if self != other:
            return False
        if self.correct is None or other.correct is None:
            return self.correct is None and other.correct is None
        return bool(np.array_equal(self.correct, other.correct))


def epochs_of(rows: Sequence[Mapping[str, Any]]) -> tuple[EpochRecord, ...]:
    """Epoch records from dicts (a trainer's ``TrainResult.epochs``)."""
    return tuple(EpochRecord.of(row) for row in rows)


def all_converged(flags: Sequence[bool | None]) -> bool | None:
    """One flag for several trainings (a run's rounds, a claim's cells): ``False`` if any did not
    converge, ``None`` if none failed but one is unknown (or there are none), else ``True``."""
    # numpy's and pandas' booleans and missing values (NaN, None) as the plain values they stand for
    flags = [None if flag is None or flag != flag else bool(flag) for flag in flags]
    if any(flag is False for flag in flags):
        return False
    if not flags or any(flag is None for flag in flags):
        return None
    return True
