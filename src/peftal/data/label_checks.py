"""Label values of a user's file: which rows are unlabelled, and which classes look like mistakes.

Unlabelled rows (an empty label, ``-1`` in an otherwise non-negative integer column as in GLUE's
test files, or a value given with ``--unlabeled-value``) never become a class. A simulated
active-learning run reveals the gold label of every text it queries, so a text without one cannot
be in its pool: such training rows are left out with a warning, and a validation or test split
without any label is reported and not used. Label them with ``peftal label`` instead.

Before training, classes with one or two examples and near-duplicate names (same text up to case
and whitespace, or one edit apart) are listed in a warning with their counts; ``--min-class-count``
drops small classes explicitly.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from peftal.errors import UsageError

Records = list[dict[str, Any]]
RARE = 2  # classes with at most this many training examples are flagged
_MAX_PAIR_CHECK = 500  # classes beyond this are not compared pairwise (k² comparisons)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return str(value).strip()


def unlabeled_values(splits: dict[str, Records], label_col: str, task: str,
                     extra: Iterable[str] = ()) -> set[str]:
    """The label texts that mean "no label" in these splits: ``""``, ``extra``, and ``-1`` where
    every other classification label is a non-negative integer."""
    values = {"", *(str(v).strip() for v in extra)}
    if task != "classification":
        return values
    seen = {_text(r.get(label_col)) for records in splits.values() for r in records} - {None, ""}
    try:
        numbers = {int(v) for v in seen}
    except ValueError:
        return values
    if -1 in numbers and min(numbers - {-1}, default=0) >= 0:
        values.add("-1")
    return values


def drop_unlabeled(name: str, splits: dict[str, Records], label_col: str, task: str,
                   extra: Iterable[str] = ()) -> dict[str, Records]:
    """``splits`` without their unlabelled rows (a split left empty is dropped); warns for each."""
    missing = unlabeled_values(splits, label_col, task, extra)
    kept: dict[str, Records] = {}
    for split, records in splits.items():
        labelled = [r for r in records if _text(r.get(label_col)) not in missing and
                    _text(r.get(label_col)) is not None]
        dropped = len(records) - len(labelled)
        shown = ", ".join(repr(v) for v in sorted(missing)) + ", null"
        if split == "train" and dropped:
            if not labelled:
                raise UsageError(f"{name}: no training row has a label (values read as unlabelled: "
                                 f"{shown})")
            warnings.warn(f"{name}: {dropped} of {len(records)} training rows have no label ({shown}) "
                          "and are left out: a simulated run can only query texts whose label it "
                          "knows (label them with `peftal label`)", stacklevel=2)
        elif dropped == len(records):
            warnings.warn(f"{name}: the {split} split has no labels ({shown}); it is not used for "
                          "evaluation", stacklevel=2)
            continue
        elif dropped:
            warnings.warn(f"{name}: {dropped} of {len(records)} rows of the {split} split have no "
                          "label and are not evaluated", stacklevel=2)
        kept[split] = labelled
    return kept


def drop_small_classes(name: str, splits: dict[str, Records], label_col: str,
                       min_count: int) -> dict[str, Records]:
    """Remove every class with fewer than ``min_count`` training examples from all splits."""
    if min_count <= 1:
        return splits
    counts = Counter(str(r[label_col]).strip() for r in splits["train"])
    small = {label for label, n in counts.items() if n < min_count}
    if not small:
        return splits
    if len(counts) - len(small) < 2:
        raise UsageError(f"{name}: --min-class-count {min_count} would leave fewer than 2 classes")
    warnings.warn(f"{name}: --min-class-count {min_count} drops {len(small)} classes: "
                  f"{_listing(small, counts)}", stacklevel=2)
    return {split: [r for r in records if str(r[label_col]).strip() not in small]
            for split, records in splits.items()}


def within_one_edit(a: str, b: str) -> bool:
    """Whether ``a`` becomes ``b`` by at most one insertion, deletion or substitution."""
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    if len(a) == len(b):
        return a[i + 1:] == b[i + 1:]
    return a[i:] == b[i + 1:]


def _normal(label: str) -> str:
    return " ".join(label.lower().split())


def _is_number(label: str) -> bool:
    try:
        float(label)
    except ValueError:
        return False
    return True


def near_duplicates(labels: Sequence[str]) -> list[tuple[str, str]]:
    """Pairs of label names that are likely the same class: equal up to case and whitespace, or
    (both at least 4 characters, not numbers) one edit apart."""
    labels = sorted(labels)[:_MAX_PAIR_CHECK]
    pairs = []
    for i, a in enumerate(labels):
        for b in labels[i + 1:]:
            if _normal(a) == _normal(b):
                pairs.append((a, b))
            elif (min(len(a), len(b)) >= 4 and not (_is_number(a) or _is_number(b))
                  and within_one_edit(_normal(a), _normal(b))):
                pairs.append((a, b))
    return pairs


def _listing(labels: Iterable[str], counts: Counter) -> str:
    return ", ".join(f"{label!r} ({counts[label]})" for label in sorted(labels, key=lambda x: (counts[x], x)))


def warn_suspicious_labels(name: str, records: Records, label_col: str) -> None:
    """Warn about rare classes and near-duplicate names among the training labels, with counts."""
    counts = Counter(str(r[label_col]) for r in records)
    rare = [label for label, n in counts.items() if n <= RARE]
    pairs = near_duplicates(list(counts))
    parts = []
    if rare:
        parts.append(f"classes with 1-{RARE} training examples: {_listing(rare, counts)}")
    if pairs:
        parts.append("near-duplicate label names: " + ", ".join(
            f"{a!r} ({counts[a]}) ~ {b!r} ({counts[b]})" for a, b in pairs))
    if parts:
        smallest = min(counts[label] for pair in pairs for label in pair) if pairs else RARE
        warnings.warn(f"{name}: check the labels: {'; '.join(parts)}. Each name is its own class; "
                      f"fix the file, or drop small classes with --min-class-count "
                      f"{max(RARE, smallest) + 1}", stacklevel=2)
