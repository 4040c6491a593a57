"""In-memory task data: splits of texts (and text pairs) with labels, in ONE index space.

The ``train`` split is the active-learning pool: example ``i`` of the pool is id ``i`` everywhere
(labelled sets, queried ids, records, ``summary.json``). Subsets and wrappers only ever pass such
ids around, never positions within a subset.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Split:
    """One split. ``labels`` holds class ids (int64), regression targets (float32), or for the
    multi-label task an ``(n, labels)`` 0/1 matrix (int64)."""

    texts: list[str]
    labels: np.ndarray
    text_pairs: list[str] | None = None

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, indices: np.ndarray) -> Split:
        """The examples at ``indices`` (positions in this split), in that order."""
        indices = np.asarray(indices, dtype=np.int64)
        return Split(
            texts=[self.texts[i] for i in indices],
            labels=self.labels[indices],
            text_pairs=None if self.text_pairs is None else [self.text_pairs[i] for i in indices],
        )


@dataclass
class TaskData:
    """A dataset ready for training: its task type, label names, metrics and splits.

    Attributes:
        name: Built-in name or file path it was loaded from.
        task: ``classification``, ``multilabel`` or ``regression``.
        label_names: Class (or label) names in id order (``None`` for regression).
        metrics: Metric names to report.
        train: The pool / training split (the global index space).
        test: The evaluation split.
        validation: A labelled validation split when the dataset has one.
        eval_split: Which split ``test`` is ("test", or "validation" where there is no labelled test).
        source: Where the data came from (a folder, a file, or a hub id).
    """

    name: str
    task: str
    label_names: list[str] | None
    metrics: tuple[str, ...]
    train: Split
    test: Split
    validation: Split | None = None
    eval_split: str = "test"
    source: str = ""

    @property
    def num_labels(self) -> int:
        return 1 if self.task == "regression" else len(self.label_names or [])

    @property
    def is_pair(self) -> bool:
        return self.train.text_pairs is not None
