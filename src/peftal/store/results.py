"""The results store: one SQLite database per run or study directory.

Tables hold what analysis needs and nothing derived: runs (config, provenance, status, summary),
rounds (metrics, timings), per-epoch records, queried ids with their scores, labelled ids with the
round each was acquired in, and per-epoch correctness of every labelled example (forgetting).
Only one process writes (the run itself, or a study's driver); WAL keeps readers unblocked.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from peftal.integrity import check_sqlite
from peftal.records import EpochRecord, RoundRecord

STORE_NAME = "results.sqlite"
SUPERSEDED_MARK = "@superseded-"  # a superseded run's id: <run id>@superseded-<n>
RUN_TABLES = ("runs", "rounds", "epochs", "queries", "labeled", "correctness", "artifacts")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,            -- running | completed | failed | superseded
    config TEXT NOT NULL,            -- merged config, JSON
    provenance TEXT NOT NULL,        -- versions, git hash, seed, JSON
    summary TEXT,                    -- summary.json content once completed
    error TEXT,
    started_at REAL NOT NULL,
    finished_at REAL
);
CREATE TABLE IF NOT EXISTS rounds (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    round INTEGER NOT NULL,
    num_labeled INTEGER NOT NULL,
    metrics TEXT NOT NULL,
    train_seconds REAL NOT NULL,
    query_seconds REAL NOT NULL,
    extra TEXT,                      -- anything else a round recorded, JSON
    converged INTEGER,               -- 1 / 0; NULL = unknown (stores written before it)
    PRIMARY KEY (run_id, round)
);
CREATE TABLE IF NOT EXISTS epochs (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    round INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    loss REAL,
    train_accuracy REAL,
    seconds REAL,
    PRIMARY KEY (run_id, round, epoch)
);
CREATE TABLE IF NOT EXISTS queries (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    round INTEGER NOT NULL,
    rank INTEGER NOT NULL,
    example_id INTEGER NOT NULL,
    score REAL,
    PRIMARY KEY (run_id, round, rank)
);
CREATE TABLE IF NOT EXISTS labeled (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    example_id INTEGER NOT NULL,
    round_acquired INTEGER NOT NULL,
    PRIMARY KEY (run_id, example_id)
);
CREATE TABLE IF NOT EXISTS correctness (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    round INTEGER NOT NULL,
    example_ids TEXT NOT NULL,       -- JSON list: column order of the matrix
    num_epochs INTEGER NOT NULL,
    matrix BLOB NOT NULL,            -- numpy.packbits of the (epochs, examples) bool matrix
    PRIMARY KEY (run_id, round)
);
CREATE TABLE IF NOT EXISTS artifacts (
    run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
    name TEXT NOT NULL,              -- e.g. "cka"
    round INTEGER NOT NULL DEFAULT -1,
    value TEXT NOT NULL,             -- JSON
    PRIMARY KEY (run_id, name, round)
);
"""


class ResultsStore:
    """A SQLite results store at ``path`` (created with its schema if new)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        check_sqlite(self.path)  # name a damaged file now, not at the first query that reads it
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=60)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        """Bring a store written by an older peftal up to the schema: columns added since are
        added, empty (``NULL``: unknown)."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(rounds)")}
        if "converged" not in columns:
            with self._db:
                self._db.execute("ALTER TABLE rounds ADD COLUMN converged INTEGER")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._db:
            yield self._db

    # -- writing -------------------------------------------------------------------------------
    def begin_run(self, run_id: str, kind: str, config: dict, provenance: dict, *,
                  started_at: float | None = None) -> None:
        """Start (or restart, dropping any earlier partial records of) run ``run_id``; ``started_at``
        (Unix time, default: now) is when its computation began, for runs recorded after they ran
        (study cells)."""
        with self.transaction() as db:
            db.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))
            db.execute(
                "INSERT INTO runs (run_id, kind, status, config, provenance, started_at) "
                "VALUES (?, ?, 'running', ?, ?, ?)",
                (run_id, kind, json.dumps(config), json.dumps(provenance),
                 time.time() if started_at is None else started_at),
            )

    def add_round(self, run_id: str, record: RoundRecord) -> None:
        """Store one round: its metrics, epochs, queried ids, newly labelled ids and correctness;
        ``record.artifacts`` (name → JSON value, e.g. ``cka``) go to the artifacts table."""
        if not isinstance(record, RoundRecord):
            raise TypeError(f"add_round takes a RoundRecord, not {type(record).__name__}")
        r = record.round
        extra = {name: getattr(record, name) for name in _EXTRA_FIELDS}
        with self.transaction() as db:
            db.execute(
                "INSERT INTO rounds (run_id, round, num_labeled, metrics, train_seconds, "
                "query_seconds, extra, converged) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, r, record.num_labeled, json.dumps(dict(record.metrics)),
                 record.train_seconds, record.query_seconds, json.dumps(extra),
                 None if record.converged is None else int(record.converged)),
            )
            db.executemany(
                "INSERT INTO epochs VALUES (?, ?, ?, ?, ?, ?)",
                [(run_id, r, e.epoch, e.loss, e.train_accuracy, e.seconds) for e in record.epochs],
            )
            scores = record.scores_queried or [None] * len(record.indices_queried)
            db.executemany(
                "INSERT INTO queries VALUES (?, ?, ?, ?, ?)",
                [(run_id, r, rank, i, s)
                 for rank, (i, s) in enumerate(zip(record.indices_queried, scores))],
            )
            db.executemany(
                "INSERT INTO labeled VALUES (?, ?, ?)",
                [(run_id, i, r) for i in record.indices_added],
            )
            if record.correct is not None:
                db.execute(
                    "INSERT INTO correctness VALUES (?, ?, ?, ?, ?)",
                    (run_id, r, json.dumps(list(record.correct_ids)), record.correct.shape[0],
                     np.packbits(record.correct).tobytes()),
                )
            db.executemany(
                "INSERT OR REPLACE INTO artifacts VALUES (?, ?, ?, ?)",
                [(run_id, name, r, json.dumps(value)) for name, value in record.artifacts.items()],
            )

    def add_artifact(self, run_id: str, name: str, value: Any, round: int = -1) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO artifacts VALUES (?, ?, ?, ?)",
                       (run_id, name, round, json.dumps(value)))

    def finish_run(self, run_id: str, summary: dict) -> None:
        with self.transaction() as db:
            db.execute("UPDATE runs SET status='completed', summary=?, finished_at=? WHERE run_id=?",
                       (json.dumps(summary), time.time(), run_id))

    def fail_run(self, run_id: str, error: str) -> None:
        with self.transaction() as db:
            db.execute("UPDATE runs SET status='failed', error=?, finished_at=? WHERE run_id=?",
                       (error, time.time(), run_id))

    def supersede(self, run_id: str) -> str:
        """Keep run ``run_id`` and all its records under a new id, ``<run_id>@superseded-<n>``, with
        status ``superseded`` (and ``superseded_at`` in its provenance), freeing ``run_id`` for a
        re-run; returns the new id. Nothing is deleted: a re-run after a fix keeps what came before.
        """
        with self.transaction() as db:
            if db.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone() is None:
                raise KeyError(run_id)
            prefix = f"{run_id}{SUPERSEDED_MARK}"
            taken = {row[0] for row in db.execute(
                "SELECT run_id FROM runs WHERE substr(run_id, 1, ?) = ?", (len(prefix), prefix))}
            n = 1
            while f"{run_id}{SUPERSEDED_MARK}{n}" in taken:
                n += 1
            new_id = f"{run_id}{SUPERSEDED_MARK}{n}"
            copy_run(db, run_id, new_id)
            db.execute("UPDATE runs SET status = 'superseded', "
                       "provenance = json_set(provenance, '$.superseded_at', ?) WHERE run_id = ?",
                       (time.time(), new_id))
            db.execute("DELETE FROM runs WHERE run_id = ?", (run_id,))  # cascades to its records
        return new_id

    # -- reading -------------------------------------------------------------------------------
    def runs(self, status: str | None = None) -> list[dict[str, Any]]:
        """All current runs (or those with ``status``), config/provenance/summary decoded;
        ``started_at`` and ``finished_at`` are Unix times (``finished_at`` is ``None`` while a run is
        not over). Superseded runs (:meth:`supersede`) are left out unless ``status`` is
        ``"superseded"``."""
        query = ("SELECT run_id, kind, status, config, provenance, summary, error, started_at, "
                 "finished_at FROM runs")
        rows = self._db.execute(
            query + (" WHERE status = ?" if status else " WHERE status != 'superseded'"),
            (status,) if status else ()).fetchall()
        return [
            {"run_id": run_id, "kind": kind, "status": st, "config": json.loads(config),
             "provenance": json.loads(provenance), "summary": json.loads(summary) if summary else None,
             "error": error, "started_at": started, "finished_at": finished}
            for run_id, kind, st, config, provenance, summary, error, started, finished in rows
        ]

    def rounds(self, run_id: str) -> list[dict[str, Any]]:
        """The summary fields of each round (:meth:`RoundRecord.public` without the queries and
        the convergence reason); ``converged`` and ``learned`` are ``None`` where unknown."""
        rows = self._db.execute(
            "SELECT round, num_labeled, metrics, train_seconds, query_seconds, converged, extra "
            "FROM rounds WHERE run_id = ? ORDER BY round", (run_id,)).fetchall()
        return [{"round": r, "num_labeled": n, "metrics": json.loads(m), "train_seconds": t,
                 "query_seconds": q, "converged": None if c is None else bool(c),
                 "learned": json.loads(extra or "{}").get("learned")}
                for r, n, m, t, q, c, extra in rows]

    def round_records(self, run_id: str) -> list[RoundRecord]:
        """Every round of ``run_id`` as it was added: the records :meth:`add_round` stored."""
        epochs: dict[int, list[EpochRecord]] = {}
        for r, epoch, loss, accuracy, seconds in self._db.execute(
                "SELECT round, epoch, loss, train_accuracy, seconds FROM epochs WHERE run_id = ? "
                "ORDER BY round, epoch", (run_id,)):
            epochs.setdefault(r, []).append(EpochRecord(epoch, loss, accuracy, seconds))
        queries: dict[int, list[tuple[int, float | None]]] = {}
        for r, example_id, score in self.queries(run_id):
            queries.setdefault(r, []).append((example_id, score))
        added: dict[int, list[int]] = {}
        for example_id, r in self._db.execute(
                "SELECT example_id, round_acquired FROM labeled WHERE run_id = ? ORDER BY example_id",
                (run_id,)):
            added.setdefault(r, []).append(example_id)
        correctness = self.correctness(run_id)
        artifacts: dict[int, dict[str, Any]] = {}
        for name, r, value in self._db.execute(
                "SELECT name, round, value FROM artifacts WHERE run_id = ?", (run_id,)):
            artifacts.setdefault(r, {})[name] = json.loads(value)
        records = []
        for r, n, metrics, train_seconds, query_seconds, extra, converged in self._db.execute(
                "SELECT round, num_labeled, metrics, train_seconds, query_seconds, extra, converged "
                "FROM rounds WHERE run_id = ? ORDER BY round", (run_id,)):
            fields, round_artifacts = _stored_extra(json.loads(extra or "{}"), artifacts.get(r, {}))
            picked = queries.get(r, [])
            scores = [s for _, s in picked]
            ids, correct = correctness.get(r, ((), None))
            records.append(RoundRecord(
                round=r, num_labeled=n, metrics=json.loads(metrics), train_seconds=train_seconds,
                query_seconds=query_seconds, indices_queried=[i for i, _ in picked],
                scores_queried=None if not picked or any(s is None for s in scores) else scores,
                epochs=epochs.get(r, ()), indices_added=added.get(r, ()), correct=correct,
                correct_ids=ids, artifacts=round_artifacts,
                converged=None if converged is None else bool(converged), **fields))
        return records

    def labeled(self, run_id: str) -> dict[int, int]:
        """Labelled id → round it was acquired in."""
        rows = self._db.execute("SELECT example_id, round_acquired FROM labeled WHERE run_id = ?",
                                (run_id,)).fetchall()
        return dict(rows)

    def queries(self, run_id: str) -> list[tuple[int, int, float | None]]:
        """``(round, example_id, score)`` in query order."""
        return self._db.execute("SELECT round, example_id, score FROM queries WHERE run_id = ? "
                                "ORDER BY round, rank", (run_id,)).fetchall()

    def correctness(self, run_id: str) -> dict[int, tuple[list[int], np.ndarray]]:
        """Round → (example ids, ``(epochs, examples)`` bool matrix)."""
        result = {}
        for r, ids, epochs, blob in self._db.execute(
            "SELECT round, example_ids, num_epochs, matrix FROM correctness WHERE run_id = ? "
            "ORDER BY round", (run_id,)
        ):
            ids = json.loads(ids)
            bits = np.unpackbits(np.frombuffer(blob, dtype=np.uint8))[: epochs * len(ids)]
            result[r] = (ids, bits.reshape(epochs, len(ids)).astype(bool))
        return result

    def artifacts(self, run_id: str, name: str) -> dict[int, Any]:
        rows = self._db.execute("SELECT round, value FROM artifacts WHERE run_id = ? AND name = ?",
                                (run_id, name)).fetchall()
        return {r: json.loads(v) for r, v in rows}


# Fields of a RoundRecord with no column of their own: the rounds table's JSON ``extra`` column.
_EXTRA_FIELDS = ("eval_seconds", "metrics_model", "steps", "stopped_by_budget", "num_train_items",
                 "convergence", "learned", "chance")
# Keys that stores written before the typed record hold in ``extra``, and where they belong now.
_OLD_COUNTS = ("num_sequences", "num_train_features")


def _stored_extra(extra: dict[str, Any], artifacts: dict[str, Any]) -> tuple[dict[str, Any], dict]:
    """``(RoundRecord fields, artifacts)`` from a stored ``extra``; an unknown key raises."""
    fields = {name: extra.pop(name) for name in _EXTRA_FIELDS if name in extra}
    for key in _OLD_COUNTS:
        if key in extra:
            fields["num_train_items"] = extra.pop(key)
    if "qa_predictions" in extra:  # a study's QA cell kept its answers here
        artifacts = {**artifacts, "qa_predictions": extra.pop("qa_predictions")}
    if extra:
        raise ValueError(f"stored round has fields no RoundRecord has: {', '.join(sorted(extra))}")
    return fields, artifacts


def copy_run(db: sqlite3.Connection, run_id: str, new_id: str, *, source: str = "main") -> None:
    """Copy run ``run_id`` and every record of it from schema ``source`` of ``db`` (``main``, or
    a store attached under that name) into ``main`` as run ``new_id``. Columns the source lacks
    (a store written by an older peftal, e.g. ``rounds.converged``) stay empty (unknown)."""
    for table in RUN_TABLES:
        present = {row[1] for row in db.execute(f"PRAGMA {source}.table_info({table})")}
        columns = ", ".join(row[1] for row in db.execute(f"PRAGMA main.table_info({table})")
                            if row[1] != "run_id" and row[1] in present)
        db.execute(f"INSERT INTO main.{table} (run_id, {columns}) "  # noqa: S608 (fixed names)
                   f"SELECT ?, {columns} FROM {source}.{table} WHERE run_id = ?", (new_id, run_id))
