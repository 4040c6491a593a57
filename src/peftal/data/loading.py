"""Load a task from a built-in name (local folder or hub) or a user's CSV/TSV/JSONL/Parquet file.

Every loader ends in :func:`build_task`, which checks the data (columns, empty texts, labels that
occur only in the test split) and maps label names to ids, so all sources fail the same clear way.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from peftal.data.builtin import DATASETS
from peftal.data.columns import check_columns, check_positions
from peftal.data.dataset import Split, TaskData
from peftal.data.files import SUFFIXES, Records, read_records
from peftal.data.hub import DATA_DIR_ENV, read_hub
from peftal.data.label_checks import drop_small_classes, drop_unlabeled, warn_suspicious_labels
from peftal.data.multilabel import build_multilabel_task, check_single_label
from peftal.errors import UsageError

_SPLITS = ("train", "validation", "test")
_STEMS = {"train": ("train",), "validation": ("validation", "dev"), "test": ("test",)}  # file names


def data_dir() -> Path | None:
    """The local folder holding built-in datasets (``$PEFTAL_DATA_DIR``), if set."""
    value = os.environ.get(DATA_DIR_ENV)
    return Path(value).expanduser() if value else None


def local_folder(name: str) -> Path | None:
    """The local folder of built-in dataset ``name`` if one exists."""
    root = data_dir()
    if root is not None and (root / name).is_dir():
        return root / name
    return None


def load_task(
    name_or_path: str,
    *,
    text_column: str = "text",
    text_pair_column: str | None = None,
    label_column: str = "label",
    task: str | None = None,
    test_size: float = 0.2,
    seed: int = 0,
    no_header: bool = False,
    unlabeled_values: tuple[str, ...] = (),
    min_class_count: int = 0,
    label_separator: str | None = None,
    label_columns: tuple[str, ...] = (),
) -> TaskData:
    """Load a built-in dataset by name or a local file/folder by path.

    Args:
        name_or_path: A built-in name (``peftal datasets``) or a path to a file or folder.
        text_column: Column holding the text (files only; built-ins use their own).
        text_pair_column: Column holding the second text of a pair, if any (files only).
        label_column: Column holding the label (files only).
        task: ``classification`` or ``regression`` for files (default: classification).
        test_size: Share held out as test when a single file is given (seeded, stratified).
        seed: Seed of that split.
        no_header: CSV/TSV files have no header row; the columns are 0-based positions ("1").
        unlabeled_values: Label values that mean "no label", besides an empty label and ``-1`` in
            an otherwise non-negative integer column (see :mod:`peftal.data.label_checks`).
        min_class_count: Drop classes with fewer training examples than this (files only).
        label_separator: Multi-label files: the label cell joins several labels with this string.
        label_columns: Multi-label files: one 0/1 column per label (the label names).
    """
    path = Path(name_or_path).expanduser()
    multilabel = task == "multilabel" or (name_or_path in DATASETS and
                                          DATASETS.get(name_or_path).task == "multilabel")
    if (label_separator is not None or label_columns) and not multilabel:
        raise UsageError("--label-separator and --label-columns read multi-label data; add "
                         "--task multilabel")
    if name_or_path in DATASETS:
        spec = DATASETS.get(name_or_path)
        if spec.task == "qa":
            raise UsageError(f"dataset {spec.name!r} is a question-answering task; "
                             "active learning and classification training do not apply to it")
        if task is not None and "multilabel" in (task, spec.task) and task != spec.task:
            raise UsageError(f"dataset {spec.name!r} is a {spec.task} task; leave out --task {task}")
        folder = local_folder(spec.name)
        splits = _read_folder(folder) if folder else read_hub(spec)
        if spec.task == "multilabel":
            return build_multilabel_task(spec.name, splits, ("text", None, "labels"),
                                         label_names=spec.labels, min_class_count=min_class_count,
                                         source=str(folder or spec.hub_id))
        splits = drop_unlabeled(spec.name, splits, "label", spec.task, unlabeled_values)
        columns = ("text", "text_pair" if spec.text_pair else None, "label")
        return build_task(spec.name, spec.task, splits, columns, spec.metrics,
                          label_names=spec.labels, source=str(folder or spec.hub_id))
    if not path.exists():
        raise UsageError(
            f"unknown dataset {name_or_path!r}: not a built-in name ({', '.join(DATASETS.names())}) "
            "and no such file or folder"
        )
    columns = (text_column, text_pair_column, label_column)
    _check_distinct_columns(columns)
    if no_header:
        check_positions(columns)
    if multilabel:
        return _read_multilabel(path, columns, label_separator, label_columns, test_size, seed,
                                no_header=no_header, min_class_count=min_class_count)
    splits = _read_user_data(path, columns, task, test_size, seed, no_header=no_header,
                             unlabeled=unlabeled_values, min_class_count=min_class_count)
    task = task or "classification"
    metrics = ("pearson", "spearman", "mse") if task == "regression" else ("accuracy", "f1_macro")
    return build_task(str(path), task, splits, columns, metrics, source=str(path.resolve()))


def _read_splits(path: Path, *, no_header: bool) -> dict[str, Records]:
    """The records of a user's folder (one per split; ``train.*`` required) or of one file
    (``{"file": records}``)."""
    if not path.is_dir():
        return {"file": read_records(path, header=not no_header)}
    splits = _read_folder(path, header=not no_header)
    if "train" not in splits:
        raise UsageError(f"{path}: no training split found (train.*)")
    return splits


def _read_user_data(path: Path, columns: tuple[str, str | None, str], task: str | None,
                    test_size: float, seed: int, *, no_header: bool, unlabeled: tuple[str, ...],
                    min_class_count: int) -> dict[str, Records]:
    """A user's file or folder as checked splits: columns found, unlabelled rows left out, small
    classes dropped on request and suspicious labels warned about; a single file (or a folder whose
    evaluation splits hold no labels) gets a seeded test split."""
    label_column, kind = columns[2], task or "classification"
    named = [c for c in columns if c]
    splits = _read_splits(path, no_header=no_header)
    for split_name, records in splits.items():
        check_columns(str(path), split_name, records, columns, no_header=no_header)
        if kind == "classification":
            check_single_label(str(path), records, label_column)
    splits = drop_unlabeled(str(path), {("train" if k == "file" else k): v for k, v in splits.items()},
                            label_column, kind, unlabeled)
    if kind == "classification":
        splits = drop_small_classes(str(path), splits, label_column, min_class_count)
        warn_suspicious_labels(str(path), splits["train"], label_column)
    if path.is_file() or not {"test", "validation"} & set(splits):
        if path.is_dir():
            warnings.warn(f"{path}: no labelled test or validation split; holding out "
                          f"{test_size:.0%} of the training split as test", stacklevel=2)
        _check_records(str(path), "train", splits["train"], named)
        splits.update(_split_file(path, splits["train"], label_column, test_size, seed, task))
        if kind == "classification":  # a class too small to stratify stays in training, never only in test
            seen = {str(r[label_column]) for r in splits["train"]}
            splits["train"] += [r for r in splits["test"] if str(r[label_column]) not in seen]
            splits["test"] = [r for r in splits["test"] if str(r[label_column]) in seen]
    return splits


def _read_multilabel(path: Path, columns: tuple[str, str | None, str], separator: str | None,
                     label_columns: tuple[str, ...], test_size: float, seed: int, *, no_header: bool,
                     min_class_count: int) -> TaskData:
    """A user's multi-label file or folder (:mod:`peftal.data.multilabel`)."""
    splits = _read_splits(path, no_header=no_header)
    named = columns if not label_columns else (*columns[:2], None)
    for split_name, records in splits.items():
        check_columns(str(path), split_name, records, named, no_header=no_header)
    return build_multilabel_task(str(path), splits, columns, separator=separator,
                                 label_columns=label_columns, min_class_count=min_class_count,
                                 test_size=test_size, seed=seed, source=str(path.resolve()))


def _check_distinct_columns(columns: tuple[str, str | None, str]) -> None:
    """The text, pair and label columns must be three different columns."""
    options = ("--text-column", "--text-pair-column", "--label-column")
    named = [(option, column) for option, column in zip(options, columns) if column is not None]
    for i, (option, column) in enumerate(named):
        for other, other_column in named[i + 1:]:
            if column == other_column:
                raise UsageError(f"{option} and {other} name the same column {column!r}; "
                                 "they must be different columns")


def build_task(
    name: str,
    task: str,
    splits: dict[str, Records],
    columns: tuple[str, str | None, str],
    metrics: tuple[str, ...],
    *,
    label_names: tuple[str, ...] | None = None,
    source: str = "",
) -> TaskData:
    """Check raw records and turn them into a :class:`TaskData`."""
    if task not in ("classification", "regression"):
        raise UsageError(f"unknown task {task!r}; valid tasks: classification, regression, multilabel")
    if "train" not in splits:
        raise UsageError(f"{name}: no training split found")
    if "test" in splits:
        eval_name = "test"
    elif "validation" in splits:
        eval_name = "validation"
    else:
        raise UsageError(f"{name}: no test or validation split found")
    text_col, pair_col, label_col = columns
    for split_name, records in splits.items():
        _check_records(name, split_name, records, [c for c in columns if c])
    if task == "classification":
        names = list(label_names) if label_names else sorted({str(r[label_col]) for r in splits["train"]})
        _check_labels(name, splits, label_col, names)
    else:
        names = None
    built = {
        split_name: _to_split(name, split_name, records, columns, names)
        for split_name, records in splits.items()
    }
    return TaskData(
        name=name, task=task, label_names=names, metrics=metrics, train=built["train"],
        test=built[eval_name], validation=built.get("validation") if eval_name == "test" else None,
        eval_split=eval_name, source=source,
    )


def _check_records(name: str, split: str, records: Records, columns: list[str]) -> None:
    if not records:
        raise UsageError(f"{name}: the {split} split is empty")
    missing = [c for c in columns if c not in records[0]]
    if missing:
        raise UsageError(
            f"{name}: column {missing[0]!r} not found in the {split} split; "
            f"columns are: {', '.join(map(str, records[0]))}"
        )
    text_columns = columns[:-1]
    for row, record in enumerate(records):
        for column in text_columns:
            _check_text(name, split, row, column, record.get(column))
        problem = label_problem(record.get(columns[-1]))
        if problem:
            raise UsageError(f"{name}: {problem} in column {columns[-1]!r}, {split} row {row + 1}")


def _check_text(name: str, split: str, row: int, column: str, value: Any) -> None:
    if isinstance(value, str) and value.strip():
        return
    if value is None or isinstance(value, str) or _is_nan(value):
        raise UsageError(f"{name}: empty text in column {column!r}, {split} row {row + 1}")
    raise UsageError(f"{name}: column {column!r} holds {type(value).__name__} values, not text "
                     f"({split} row {row + 1}: {_short(value)}); is it the right column?")


def label_problem(value: Any) -> str | None:
    """Why ``value`` cannot be a label (missing, NaN, empty, a list or a mapping), or ``None``."""
    if value is None or _is_nan(value):
        return "missing label"
    if isinstance(value, str) and not value.strip():
        return "empty label"
    if isinstance(value, bool | int | float | str | np.integer | np.floating | np.bool_):
        return None
    kind = "list" if isinstance(value, np.ndarray | list | tuple) else type(value).__name__
    return f"label {_short(value)} is a {kind}, not a single value"


def _is_nan(value: Any) -> bool:
    return isinstance(value, float | np.floating) and bool(np.isnan(value))


def _short(value: Any) -> str:
    text = repr(value.tolist() if isinstance(value, np.ndarray) else value)
    return text if len(text) <= 40 else text[:37] + "..."


def _check_labels(name: str, splits: dict[str, Records], label_col: str, names: list[str]) -> None:
    known = set(names)
    train_labels = {str(r[label_col]) for r in splits["train"]}
    if len(train_labels) < 2:
        raise UsageError(f"{name}: the training split holds a single class ({next(iter(train_labels))!r})")
    for split_name, records in splits.items():
        seen = {str(r[label_col]) for r in records}
        if split_name != "train" and (seen - train_labels):
            label = sorted(seen - train_labels)[0]
            raise UsageError(f"{name}: label {label!r} occurs in the {split_name} split but never "
                             "in the training split")
        unknown = sorted(seen - known)
        if unknown:
            raise UsageError(f"{name}: label {unknown[0]!r} of the {split_name} split is not a known "
                             f"label ({', '.join(names)})")


def _to_split(name: str, split: str, records: Records, columns: tuple[str, str | None, str],
              names: list[str] | None) -> Split:
    text_col, pair_col, label_col = columns
    if names is None:
        try:
            labels = np.array([float(r[label_col]) for r in records], dtype=np.float32)
        except (TypeError, ValueError):
            raise UsageError(f"{name}: regression labels must be numbers ({split} split)") from None
    else:
        index = {label: i for i, label in enumerate(names)}
        labels = np.array([index[str(r[label_col])] for r in records], dtype=np.int64)
    return Split(
        texts=[r[text_col] for r in records],
        labels=labels,
        text_pairs=[r[pair_col] for r in records] if pair_col else None,
    )


def _read_folder(folder: Path, header: bool = True) -> dict[str, Records]:
    splits = {}
    for split in _SPLITS:
        files = [folder / f"{stem}{suffix}" for stem in _STEMS[split] for suffix in SUFFIXES
                 if (folder / f"{stem}{suffix}").exists()]
        if files:
            splits[split] = read_records(files[0], header=header)
    if not splits:
        raise UsageError(f"{folder}: no train/validation/test files ({', '.join(SUFFIXES)}) found")
    return splits


def _split_file(path: Path, records: Records, label_column: str, test_size: float, seed: int,
                task: str | None) -> dict[str, Records]:
    """Split one file's records into train and test, seeded, stratified by label where possible."""
    from sklearn.model_selection import train_test_split

    if len(records) < 4:
        raise UsageError(f"{path}: needs at least 4 rows to split into train and test, has {len(records)}")
    labels = [str(r[label_column]) for r in records]
    counts = {label: labels.count(label) for label in set(labels)}
    num_test = int(np.ceil(test_size * len(records)))
    stratifiable = min(counts.values()) >= 2 and len(counts) <= min(num_test, len(records) - num_test)
    stratify = labels if task != "regression" and stratifiable else None
    train, test = train_test_split(records, test_size=test_size, random_state=seed, stratify=stratify)
    return {"train": list(train), "test": list(test)}
