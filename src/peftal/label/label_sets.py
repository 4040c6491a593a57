"""Multi-label projects: the set of labels an annotator gives a text, as one stored value.

A multi-label project (``peftal label start --multi-label``) stores each annotation's label set in
the ``labels.label`` column as the JSON list of its names in the project's label order (``[]``:
none of the labels applies). One canonical string per set means that everything that compares
single labels — one live annotation per annotator, a retried request, the majority and tie of
:func:`peftal.label.annotations.resolve`, the reviewer's list of disagreements — compares whole
sets with no change: two annotators agree on a text when they gave it the same set.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from peftal.label.errors import LabelError


def encode(names: Any, labels: Sequence[str], field: str = "labels") -> str:
    """The stored value of the label set ``names`` (a list from a request), checked.

    Raises:
        LabelError: ``names`` is not a list of the project's label names, or repeats one.
    """
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise LabelError(f"\"{field}\" must be a list of label names (an empty list: none applies), "
                         f"got {names!r}")
    unknown = [name for name in names if name not in labels]
    if unknown:
        raise LabelError(f"unknown label {unknown[0]!r}; valid labels: {', '.join(labels)}")
    if len(set(names)) != len(names):
        raise LabelError(f"\"{field}\" names a label twice: {names!r}")
    chosen = set(names)
    return json.dumps([label for label in labels if label in chosen], ensure_ascii=False)


def decode(value: str) -> list[str]:
    """The label names of a stored label set."""
    return json.loads(value)


def multi_hot(values: Iterable[str], labels: Sequence[str]) -> np.ndarray:
    """``(texts, labels)`` 0/1 float matrix of stored label sets (the multi-label targets)."""
    index = {label: k for k, label in enumerate(labels)}
    values = list(values)
    matrix = np.zeros((len(values), len(labels)), dtype=np.float32)
    for row, value in enumerate(values):
        for name in decode(value):
            matrix[row, index[name]] = 1.0
    return matrix


def from_row(decided: np.ndarray, labels: Sequence[str]) -> str:
    """The stored value of one row of 0/1 decisions (a suggestion)."""
    return json.dumps([label for label, on in zip(labels, decided, strict=True) if on],
                      ensure_ascii=False)


def confidence(probs: np.ndarray) -> np.ndarray:
    """How sure a multi-label model is of each row's whole set: the product over labels of the
    probability of its decision (``p`` where it says yes, ``1 - p`` where no), so that one unsure
    label makes the set unsure — what a single label's top probability says for one label."""
    probs = np.asarray(probs, dtype=np.float64)
    return np.prod(np.where(probs >= 0.5, probs, 1.0 - probs), axis=1)


def expand(annotations: Iterable[tuple[int, str, str]], labels: Sequence[str]) -> list[tuple[Any, str, str]]:
    """Each ``(text, annotator, label set)`` as one ``((text, label), annotator, "yes" | "no")`` per
    project label: the binary judgements agreement is measured on in a multi-label project."""
    rows = []
    for example_id, annotator, value in annotations:
        chosen = set(decode(value))
        rows.extend(((example_id, label), annotator, "yes" if label in chosen else "no")
                    for label in labels)
    return rows
