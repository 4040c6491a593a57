"""Reading a user's file of records: JSON lines (optionally gzipped), a JSON list, CSV, TSV or
Parquet, whole (:func:`read_records`) or a record at a time (:func:`iter_records`)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from peftal.data.columns import check_headerless
from peftal.errors import UsageError

SUFFIXES = (".jsonl", ".jsonl.gz", ".json", ".csv", ".tsv", ".parquet")
Records = list[dict[str, Any]]


def read_records(path: Path, header: bool = True) -> Records:
    """Read a JSONL (optionally gzipped), JSON list, CSV, TSV or Parquet file into dicts.

    ``header=False`` reads a CSV/TSV file without a header row; its columns are named by their
    0-based positions ``"0"``, ``"1"``, ...
    """
    records = list(iter_records(path, header))
    if not records:
        raise UsageError(f"{path}: the file is empty")
    return records


def iter_records(path: Path, header: bool = True, chunk_rows: int = 10_000) -> Iterator[dict[str, Any]]:
    """The records of :func:`read_records`, one at a time: JSON lines line by line, CSV/TSV and
    Parquet ``chunk_rows`` rows at a time (a JSON list is read whole), so a file of a million texts
    is never held in memory. Yields nothing for an empty file; errors are one ``UsageError``."""
    name = path.name.lower()
    check_headerless(path, header)
    try:
        if name.endswith((".jsonl", ".jsonl.gz")):
            opener = gzip.open if name.endswith(".gz") else open
            with opener(path, "rt", encoding="utf-8") as handle:
                yield from (_json_line(line, path, n) for n, line in enumerate(handle, 1) if line.strip())
        elif name.endswith(".json"):
            with open(path, encoding="utf-8") as handle:
                records = json.load(handle)
            if not isinstance(records, list):
                raise UsageError(f"{path}: a .json file must hold a list of records")
            yield from records
        elif name.endswith((".csv", ".tsv")):
            yield from _read_csv(path, sep="\t" if name.endswith(".tsv") else ",", header=header,
                                 chunk_rows=chunk_rows)
        elif name.endswith(".parquet"):
            import pyarrow.parquet as pq

            for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_rows):
                yield from batch.to_pylist()
        else:
            raise UsageError(f"{path}: unsupported file type; use one of {', '.join(SUFFIXES)}")
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not valid UTF-8 text") from None
    except (OSError, EOFError) as error:
        raise UsageError(f"{path}: cannot read file ({error})") from None
    except UsageError:
        raise
    except Exception as error:  # pandas' parser errors have no common public base class
        if type(error).__name__ == "EmptyDataError":
            return  # an empty file: no records
        raise UsageError(f"{path}: cannot parse file ({type(error).__name__}: {error})") from None


def _read_csv(path: Path, sep: str, header: bool, chunk_rows: int) -> Iterator[dict[str, Any]]:
    """Every value as text (``dtype=str``, no NA guessing: an empty label stays ``""``); without a
    header the columns are named ``"0"``, ``"1"``, ...; read ``chunk_rows`` rows at a time."""
    import pandas as pd

    with pd.read_csv(path, sep=sep, encoding="utf-8", dtype=str, keep_default_na=False,
                     header="infer" if header else None, chunksize=chunk_rows) as chunks:
        for frame in chunks:
            frame.columns = [str(column) for column in frame.columns]
            yield from frame.to_dict(orient="records")


def _json_line(line: str, path: Path, number: int) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise UsageError(f"{path}: line {number} is not valid JSON ({error.msg})") from None
    if not isinstance(record, dict):
        raise UsageError(f"{path}: line {number} is not a JSON object")
    return record
