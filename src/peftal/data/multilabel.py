"""Multi-label data: texts with any number of labels, stored as an ``(n, labels)`` 0/1 matrix.

A label column may hold lists (JSON lines, Parquet lists, or a JSON list written as text in a CSV
cell), strings of labels joined by ``label_separator`` (``"joy,love"``), or the labels may be one
0/1 column each (``label_columns``). A text with no label at all is a valid example (an all-zero
row): it is kept, counted and reported. A missing value (null, NaN) means "not labelled" and is left
out as in single-label data. The checks of single-label data apply per label: labels with 1-2
training texts and near-duplicate names are listed in one warning.

Each format is recognised only where asked for (``--task multilabel``); a list in a single-label
run, or single values in a multi-label run, stop with one line that names the option to use.
"""

from __future__ import annotations

import json
import warnings
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from peftal.data.dataset import Split, TaskData
from peftal.data.label_checks import RARE, near_duplicates
from peftal.errors import UsageError

Records = list[dict[str, Any]]
MULTILABEL_METRICS = ("f1_micro", "f1_macro", "f1_samples", "subset_accuracy", "hamming_loss")
_TRUE, _FALSE = {"1", "1.0", "true", "yes"}, {"0", "0.0", "false", "no", ""}


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float | np.floating) and bool(np.isnan(value)))


def is_list_value(value: Any) -> bool:
    """Whether a label cell holds several labels: a list/array, or text written as a JSON list."""
    if isinstance(value, list | tuple | np.ndarray):
        return True
    return isinstance(value, str) and value.strip().startswith("[") and value.strip().endswith("]")


def check_single_label(name: str, records: Records, label_col: str) -> None:
    """A single-label run whose label column holds lists stops here, before the label checks (which
    would list every combination of labels as its own class)."""
    for row, record in enumerate(records):
        if is_list_value(record.get(label_col)):
            raise UsageError(f"{name}: column {label_col!r} holds lists of labels (row {row + 1}: "
                             f"{_short(record.get(label_col))}); for several labels per text use "
                             "--task multilabel")


def label_set(value: Any, separator: str | None, *, name: str, column: str, row: int) -> list[str] | None:
    """The labels of one cell (``None`` where the cell is missing: not labelled)."""
    if _is_missing(value):
        return None
    if isinstance(value, str) and value.strip().startswith("["):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise UsageError(f"{name}: row {row + 1} of column {column!r} starts like a JSON list but "
                             f"is not one: {_short(value)}") from None
    if isinstance(value, list | tuple | np.ndarray):
        labels = [str(v).strip() for v in (value.tolist() if isinstance(value, np.ndarray) else value)]
    elif separator is not None and isinstance(value, str):
        labels = [part.strip() for part in value.split(separator)]
    else:
        raise UsageError(f"{name}: column {column!r} holds single labels (row {row + 1}: "
                         f"{_short(value)}), not lists; give --label-separator SEP if a cell joins "
                         "several labels with SEP, or --label-columns for one 0/1 column per label, "
                         "or leave out --task multilabel for one label per text")
    return sorted({label for label in labels if label})


def _flag(value: Any, *, name: str, column: str, row: int) -> bool | None:
    if _is_missing(value):
        return None
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise UsageError(f"{name}: --label-columns column {column!r} must hold 0/1 values, row {row + 1} "
                     f"holds {_short(value)}")


def to_label_sets(name: str, splits: dict[str, Records], label_col: str, *, separator: str | None = None,
                  label_columns: Sequence[str] = ()) -> dict[str, list[tuple[dict, list[str]]]]:
    """Each split's labelled records with their label sets; records without a label (a missing value)
    are left out with a warning, as in single-label data."""
    out = {}
    for split, records in splits.items():
        if label_columns:
            missing = [c for c in label_columns if c not in records[0]]
            if missing:
                raise UsageError(f"{name}: --label-columns column {missing[0]!r} not found in the {split} "
                                 f"split; columns are: {', '.join(map(str, records[0]))}")
        kept = []
        for row, record in enumerate(records):
            if label_columns:
                flags = [_flag(record.get(c), name=name, column=c, row=row) for c in label_columns]
                labels = None if any(f is None for f in flags) else [
                    c for c, f in zip(label_columns, flags) if f]
            else:
                labels = label_set(record.get(label_col), separator, name=name, column=label_col, row=row)
            if labels is not None:
                kept.append((record, labels))
        dropped = len(records) - len(kept)
        if dropped and kept:
            warnings.warn(f"{name}: {dropped} of {len(records)} rows of the {split} split have no "
                          "label value (null) and are left out", stacklevel=2)
        if kept:
            out[split] = kept
        elif split == "train":
            raise UsageError(f"{name}: no training row has a label value")
    return out


def warn_multilabel(name: str, train: list[tuple[dict, list[str]]], label_names: Sequence[str]) -> None:
    """One warning for labels with 1-2 training texts and near-duplicate names; texts without any
    label are counted and reported (they are valid examples: every label is negative)."""
    counts = Counter(label for _, labels in train for label in labels)
    rare = sorted((label for label in label_names if 0 < counts[label] <= RARE), key=lambda x: (counts[x], x))
    parts = []
    if rare:
        parts.append(f"labels with 1-{RARE} training texts: "
                     + ", ".join(f"{label!r} ({counts[label]})" for label in rare))
    pairs = near_duplicates(list(label_names))
    if pairs:
        parts.append("near-duplicate label names: " + ", ".join(
            f"{a!r} ({counts[a]}) ~ {b!r} ({counts[b]})" for a, b in pairs))
    if parts:
        warnings.warn(f"{name}: check the labels: {'; '.join(parts)}. Each name is its own label; fix "
                      f"the file, or drop rare labels with --min-class-count {RARE + 1}", stacklevel=2)
    empty = sum(1 for _, labels in train if not labels)
    if empty:
        warnings.warn(f"{name}: {empty} of {len(train)} training texts have no label at all; they are "
                      "kept as examples of none of the labels", stacklevel=2)


def build_multilabel_task(name: str, splits: dict[str, Records], columns: tuple[str, str | None, str], *,
                          separator: str | None = None, label_columns: Sequence[str] = (),
                          label_names: Sequence[str] | None = None, min_class_count: int = 0,
                          test_size: float = 0.2, seed: int = 0, source: str = "") -> TaskData:
    """Check multi-label records and build a :class:`TaskData` whose labels are ``(n, labels)`` 0/1.

    Label names are ``label_names`` (a built-in's fixed list), else the ``label_columns``, else every
    label of the training split, sorted. A single ``file`` split gets a seeded test split.
    """
    text_col, pair_col, label_col = columns
    sets = to_label_sets(name, splits, label_col, separator=separator, label_columns=label_columns)
    if "file" in sets:
        sets = _split(name, sets.pop("file"), test_size, seed)
    if "train" not in sets:
        raise UsageError(f"{name}: no training split found")
    train_labels = sorted({label for _, labels in sets["train"] for label in labels})
    names = list(label_names or label_columns or train_labels)
    for split, pairs in sets.items():
        unknown = sorted({label for _, labels in pairs for label in labels} - set(names))
        if unknown:
            where = ("never in the training split" if not label_names
                     else f"not a known label ({', '.join(names)})")
            raise UsageError(f"{name}: label {unknown[0]!r} occurs in the {split} split but is {where}")
    counts = Counter(label for _, labels in sets["train"] for label in labels)
    if min_class_count > 1:
        small = [label for label in names if counts[label] < min_class_count]
        if small:
            warnings.warn(f"{name}: --min-class-count {min_class_count} drops {len(small)} labels: "
                          + ", ".join(f"{label!r} ({counts[label]})" for label in small), stacklevel=2)
            names = [label for label in names if label not in small]
    if len([label for label in names if counts[label]]) < 2:
        raise UsageError(f"{name}: the training split holds fewer than 2 labels; a multi-label task "
                         "needs at least 2 (for one yes/no label use the classification task)")
    warn_multilabel(name, sets["train"], names)
    eval_name = "test" if "test" in sets else "validation" if "validation" in sets else None
    if eval_name is None:
        raise UsageError(f"{name}: no test or validation split found")
    built = {split: _to_split(name, split, pairs, text_col, pair_col, names) for split, pairs in sets.items()}
    return TaskData(name=name, task="multilabel", label_names=names, metrics=MULTILABEL_METRICS,
                    train=built["train"], test=built[eval_name],
                    validation=built.get("validation") if eval_name == "test" else None,
                    eval_split=eval_name, source=source)


def _split(name: str, pairs: list, test_size: float, seed: int) -> dict[str, list]:
    """A seeded random train/test split of one file; texts with a label seen in no other training
    text stay in training, so that no label occurs only in test."""
    from sklearn.model_selection import train_test_split

    if len(pairs) < 4:
        raise UsageError(f"{name}: needs at least 4 rows to split into train and test, has {len(pairs)}")
    train, test = train_test_split(pairs, test_size=test_size, random_state=seed)
    seen = {label for _, labels in train for label in labels}
    moved = [p for p in test if set(p[1]) - seen]
    return {"train": list(train) + moved, "test": [p for p in test if not set(p[1]) - seen]}


def _to_split(name: str, split: str, pairs: list, text_col: str, pair_col: str | None,
              names: list[str]) -> Split:
    index = {label: i for i, label in enumerate(names)}
    labels = np.zeros((len(pairs), len(names)), dtype=np.int64)
    texts, text_pairs = [], []
    for row, (record, label_list) in enumerate(pairs):
        for column in filter(None, (text_col, pair_col)):
            value = record.get(column)
            if not (isinstance(value, str) and value.strip()):
                raise UsageError(f"{name}: empty or non-text value in column {column!r}, {split} row "
                                 f"{row + 1}")
        texts.append(record[text_col])
        if pair_col:
            text_pairs.append(record[pair_col])
        for label in label_list:
            if label in index:
                labels[row, index[label]] = 1
    return Split(texts=texts, labels=labels, text_pairs=text_pairs if pair_col else None)


def _short(value: Any) -> str:
    text = repr(value.tolist() if isinstance(value, np.ndarray) else value)
    return text if len(text) <= 40 else text[:37] + "..."
