"""What ``peftal predict`` writes: rows that join back to the input, as JSONL, CSV or TSV.

Each row holds the input's id (its ``--id-column``, ``id`` where the input has one) or else its
0-based ``row`` number, the columns named with ``--keep``, and the prediction: ``label`` and one
``prob_<label>`` per class for classification, ``value`` for regression. The format follows the
output's suffix: ``.csv`` / ``.tsv``, anything else JSON lines.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from peftal.errors import UsageError

Row = dict[str, Any]


def key_columns(records: list[Row], id_column: str | None, keep: Sequence[str],
                source: Path) -> tuple[str | None, list[str]]:
    """The input's id column (``--id-column``, else ``id`` where present, else none) and the
    ``--keep`` columns, each checked against the input."""
    present = list(records[0])
    for option, column in [("--id-column", id_column), *[("--keep", c) for c in keep]]:
        if column is not None and column not in present:
            raise UsageError(f"{source}: {option} column {column!r} not found; columns are: "
                             f"{', '.join(map(str, present))}")
    if id_column is None and "id" in present:
        id_column = "id"
    return id_column, [c for c in dict.fromkeys(keep) if c != id_column]


def prediction_rows(records: list[Row], id_column: str | None, keep: list[str], outputs: np.ndarray,
                    label_names: list[str] | None, probabilities: np.ndarray | None,
                    multilabel: np.ndarray | None = None) -> list[Row]:
    """One row per record: its id (or 0-based ``row``), kept columns, then ``label`` and one
    ``prob_<label>`` per class, or ``value`` for regression; for a multi-label model (``multilabel``
    its ``(n, labels)`` 0/1 decisions) ``labels`` (a list) and one sigmoid ``prob_<label>`` each."""
    rows = []
    for n, record in enumerate(records):
        # a header-less input's id column is a position ("0"): written as "id"
        row: Row = ({("id" if id_column.isdigit() else id_column): record[id_column]} if id_column
                    else {"row": n})
        row.update({column: record[column] for column in keep})
        if label_names is None:
            row["value"] = float(outputs[n][0])
        elif multilabel is not None:  # every label at or above its threshold, in label order
            probs = probabilities[n]
            row["labels"] = [name for name, chosen in zip(label_names, multilabel[n]) if chosen]
            row.update({f"prob_{name}": round(float(p), 6) for name, p in zip(label_names, probs)})
        else:
            probs = probabilities[n]
            row["label"] = label_names[int(probs.argmax())]
            row.update({f"prob_{name}": round(float(p), 6) for name, p in zip(label_names, probs)})
        rows.append(row)
    return rows


def write_rows(path: Path, rows: list[Row]) -> None:
    """Write ``rows`` to ``path`` (CSV/TSV by suffix, else JSONL) atomically: an error part-way
    leaves neither a half-written output nor its temporary file."""
    from peftal.store.atomic import atomic_path

    suffix = path.suffix.lower()
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as handle:
        if suffix in (".csv", ".tsv"):
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else [],
                                    delimiter="\t" if suffix == ".tsv" else ",")
            writer.writeheader()
            writer.writerows(rows)
        else:
            for row in rows:
                handle.write(json.dumps(row, default=_plain) + "\n")


def _plain(value: Any) -> Any:
    """numpy scalars (from Parquet input) as Python values."""
    return value.item() if hasattr(value, "item") else str(value)
