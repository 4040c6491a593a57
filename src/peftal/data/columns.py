"""Columns of a user's file: names, or 0-based positions for CSV/TSV files without a header row.

Many public datasets ship CSV files without a header (``6339,It was when I failed…,sadness``).
Read with a header, their first data row becomes the column names and every column lookup fails;
:func:`check_columns` recognises that case and names the option that reads such files.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from peftal.errors import UsageError

HEADERLESS_SUFFIXES = (".csv", ".tsv")
_NUMBER = re.compile(r"^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$")


def check_positions(columns: Sequence[str | None]) -> None:
    """With ``--no-header`` every column must be a 0-based position such as ``1``."""
    for option, column in zip(("--text-column", "--text-pair-column", "--label-column"), columns):
        if column is not None and not str(column).isdigit():
            raise UsageError(f"--no-header reads columns by 0-based position: give {option} a number "
                             f"(e.g. --text-column 1 --label-column 2 for id,text,label rows), got "
                             f"{column!r}")


def check_headerless(path: Path, header: bool) -> None:
    """Only CSV/TSV files can lack a header: other formats name their fields in every record."""
    if not header and not path.name.lower().endswith(HEADERLESS_SUFFIXES):
        raise UsageError(f"{path}: --no-header applies to CSV/TSV files only; this file names its "
                         "columns")


def looks_like_data(names: Sequence[Any]) -> bool:
    """Whether a header row reads like a data row: a number, or a sentence, among the names."""
    return any(_NUMBER.match(str(name)) or len(str(name).split()) >= 4 or len(str(name)) > 40
               for name in names)


def check_columns(name: str, split: str, records: list[dict[str, Any]],
                  columns: Sequence[str | None], *, no_header: bool = False) -> None:
    """Every named column is in ``records``; the error suggests ``--no-header`` where the first row
    looks like data or a column was given as a position."""
    present = list(records[0])
    missing = [c for c in columns if c is not None and c not in present]
    if not missing:
        return
    shown = ", ".join(_short(c) for c in present)
    split = "file" if split == "file" else f"{split} split"
    if no_header:
        raise UsageError(f"{name}: column position {missing[0]} is out of range in the {split}; "
                         f"its rows have {len(present)} columns (positions 0-{len(present) - 1}), the first: "
                         f"{', '.join(_short(v) for v in records[0].values())}")
    message = f"{name}: column {missing[0]!r} not found in the {split}; columns are: {shown}"
    positional = all(c is None or str(c).isdigit() for c in columns)
    if looks_like_data(present) or positional:
        message += (f". If the file has no header row, pass --no-header with 0-based column "
                    f"positions, e.g. {_suggest(present)}")
    raise UsageError(message)


def _short(value: Any, width: int = 30) -> str:
    text = str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _suggest(row: Sequence[Any]) -> str:
    """Options for a header-less file whose first row is ``row``: the longest value is the text,
    the last other column the label."""
    values = [str(v) for v in row]
    if len(values) < 2:
        return "--no-header --text-column 0 --label-column 1"
    text = max(range(len(values)), key=lambda i: len(values[i]))
    label = max(i for i in range(len(values)) if i != text)
    return f"--no-header --text-column {text} --label-column {label}"
