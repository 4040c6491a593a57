"""The project store: one SQLite file in WAL mode holding texts, labels, leases and the ranking.

Every write is one ``BEGIN IMMEDIATE`` transaction committed with ``synchronous=FULL`` before the
server answers, so an acknowledged label survives a SIGKILL (and a power cut) of the server. WAL
lets the page, ``peftal label export`` and the background trainer (another process) read while
a label is written.

Who labels what (leases, annotations, several annotators per text, the label a text trains
with) is :mod:`peftal.label.annotations`; the schema and the upgrade of older projects are
:mod:`peftal.label.schema`. This module holds the connections, the texts, the settings and status
records (``meta``) and the ranking.

Ids are positions in the imported data file: the project's one global index space.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from peftal.label.annotations import Annotations, utc_now
from peftal.label.errors import NotFound
from peftal.label.schema import SCHEMA, SCHEMA_VERSION, overlap_order, upgrade

__all__ = ["STORE_NAME", "LabelStore", "utc_now"]

STORE_NAME = "project.sqlite"


class LabelStore(Annotations):
    """Access to one project's SQLite file; safe to share between the server's threads.

    Each thread gets its own connection (``sqlite3`` connections must not cross threads); writes
    take the database's write lock at ``BEGIN IMMEDIATE`` and wait up to ``busy_timeout`` for it.

    Args:
        path: The SQLite file (created with the schema if missing).
        busy_timeout: Seconds a writer waits for another writer before failing.
    """

    def __init__(self, path: Path, busy_timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        self._num_examples: int | None = None
        db = self._connection()
        db.executescript(SCHEMA)
        row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is not None and json.loads(row[0]) != SCHEMA_VERSION:
            with self.write() as db:
                upgrade(db)  # made by another version: upgraded in place once, or refused

    # -- connections and transactions ------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, so a transaction is exactly
            # the block of `write()` and nothing is committed implicitly.
            db = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None,
                                 check_same_thread=True)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            # FULL: the WAL is fsynced at every commit, so an acknowledged label survives a power
            # cut too (NORMAL would survive a process kill only).
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA foreign_keys=ON")
            self._local.db = db
        return db

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: committed when the block ends, rolled back if it raises."""
        db = self._connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: one consistent snapshot for several queries."""
        db = self._connection()
        db.execute("BEGIN")
        try:
            yield db
        finally:
            db.execute("COMMIT")

    def close(self) -> None:
        """Close this thread's connection."""
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    # -- project set-up --------------------------------------------------------------------

    def initialise(self, settings: dict[str, Any], examples: Iterable[tuple[str, str | None]],
                   chunk_rows: int = 10_000) -> int:
        """Import the examples, streamed ``chunk_rows`` at a time, then their seeded cold-start
        and overlap orders, in one transaction (all or nothing); returns how many there were.

        The orders need the number of texts, known only at the end of the file, so they are set
        by a second pass over the stored ids rather than by holding the file in memory."""
        with self.write() as db:
            count = 0
            for chunk in _chunks(examples, chunk_rows):
                # cold_position is set below, once the number of texts is known
                db.executemany("INSERT INTO examples (id, text, text_pair, cold_position) "
                               "VALUES (?, ?, ?, -1)",
                               ((count + k, text, pair) for k, (text, pair) in enumerate(chunk)))
                count += len(chunk)
            cold = np.argsort(np.random.default_rng(int(settings.get("seed", 0))).permutation(count))
            overlap = overlap_order(int(settings.get("seed", 0)), count)
            for start in range(0, count, chunk_rows):
                ids = range(start, min(start + chunk_rows, count))
                db.executemany("UPDATE examples SET cold_position = ?, overlap_rank = ? WHERE id = ?",
                               ((int(cold[i]), int(overlap[i]), i) for i in ids))
            self._set_meta(db, "schema_version", SCHEMA_VERSION)
            self._set_meta(db, "settings", settings)
            self._set_meta(db, "model", {"generation": 0, "status": "none", "cold_start": "random"})
        return count

    @staticmethod
    def _set_meta(db: sqlite3.Connection, key: str, value: Any) -> None:
        db.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                   "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, json.dumps(value)))

    def get_meta(self, key: str, default: Any = None) -> Any:
        with self.read() as db:
            row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row["value"])

    def set_meta(self, key: str, value: Any) -> None:
        with self.write() as db:
            self._set_meta(db, key, value)

    def update_model(self, **changes: Any) -> dict[str, Any]:
        """Merge ``changes`` into the model status record (read-modify-write in one transaction)."""
        with self.write() as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'model'").fetchone()
            status = json.loads(row["value"]) if row else {}
            status.update(changes)
            self._set_meta(db, "model", status)
        return status

    def add_accuracy_point(self, point: dict[str, Any], keep: int = 5000) -> bool:
        """Append ``point`` (``{"model": "probe" | "model", "labels", "accuracy", ...}``) to the
        cross-validated accuracy history (meta ``accuracy_history``, the model view's curve), unless
        the last point of that model was made on as many labels; at most ``keep`` points, the
        oldest dropped. Returns whether it was added."""

        def known(history: list[dict[str, Any]]) -> bool:
            last = next((p for p in reversed(history) if p.get("model") == point.get("model")), None)
            return last is not None and (last.get("labels"), last.get("generation")) == (
                point.get("labels"), point.get("generation"))

        if known(self.get_meta("accuracy_history", [])):
            return False  # the usual case of a page read again: no write lock taken
        with self.write() as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'accuracy_history'").fetchone()
            history = json.loads(row["value"]) if row else []
            if known(history):
                return False
            history.append({**point, "at": point.get("at") or utc_now()})
            self._set_meta(db, "accuracy_history", history[-keep:])
            return True

    # -- examples --------------------------------------------------------------------------

    def num_examples(self) -> int:
        if self._num_examples is None:  # the texts never change once the project exists
            with self.read() as db:
                self._num_examples = int(db.execute("SELECT COUNT(*) FROM examples").fetchone()[0])
        return self._num_examples

    def overlap_limit(self, overlap: float) -> int:
        """How many texts ``--overlap`` gives to several annotators: those whose
        ``overlap_rank`` is below this."""
        return round(overlap * self.num_examples()) if overlap > 0 else 0

    def texts(self, ids: Iterable[int] | None = None) -> tuple[list[str], list[str] | None]:
        """The texts (and pairs) of ``ids``, in that order; all of them in id order by default."""
        with self.read() as db:
            if ids is None:
                rows = db.execute("SELECT text, text_pair FROM examples ORDER BY id").fetchall()
            else:
                ids, marks = [int(i) for i in ids], ",".join("?" * len(ids))
                found = {row["id"]: row for row in db.execute(
                    f"SELECT id, text, text_pair FROM examples WHERE id IN ({marks})", ids)}
                rows = [found[i] for i in ids]
        pairs = [row["text_pair"] for row in rows]
        return [row["text"] for row in rows], None if all(p is None for p in pairs) else pairs

    def cold_order(self) -> list[int]:
        with self.read() as db:
            return [row[0] for row in db.execute("SELECT id FROM examples ORDER BY cold_position")]

    def example(self, example_id: int) -> dict[str, Any]:
        """One example with the current model's suggestion for it."""
        with self.read() as db:
            if db.execute("SELECT 1 FROM examples WHERE id = ?", (example_id,)).fetchone() is None:
                raise NotFound(f"no example with id {example_id} in this project")
            return self._example(db, example_id)

    def _example(self, db: sqlite3.Connection, example_id: int) -> dict[str, Any]:
        row = db.execute(
            "SELECT e.id, e.text, e.text_pair, r.suggestion, r.confidence FROM examples e "
            "LEFT JOIN ranking r ON r.example_id = e.id WHERE e.id = ?", (example_id,)).fetchone()
        item: dict[str, Any] = {"id": row["id"], "text": row["text"]}
        if row["text_pair"] is not None:
            item["text_pair"] = row["text_pair"]
        item["suggestion"] = row["suggestion"]
        item["confidence"] = row["confidence"]
        # Which ranking the suggestion comes from, read in the same transaction: the page asks
        # again for the suggestion of the text on screen when a newer ranking appears.
        meta = {key: json.loads(value) for key, value in
                db.execute("SELECT key, value FROM meta WHERE key IN ('model', 'ranking')")}
        item["generation"], ranking = meta.get("model", {}).get("generation", 0), meta.get("ranking", {})
        item["suggested_by"] = ranking.get("suggester") if row["suggestion"] is not None else None
        item["ranking_version"] = ranking.get("version", 0)
        return item

    # -- the ranking -----------------------------------------------------------------------

    @staticmethod
    def ordered(db: sqlite3.Connection) -> int | None:
        """How many texts lead the ranking in the published order (``None``: every ranking row,
        a project whose ranking held the whole pool); the others follow in cold-start order."""
        row = db.execute("SELECT value FROM meta WHERE key = 'ranking'").fetchone()
        return None if row is None else json.loads(row[0]).get("ordered")

    def publish_ranking(self, order: list[int], suggestions: dict[int, tuple[str, float]],
                        model: dict[str, Any] | None = None, *, suggester: str | None = "model",
                        probe: dict[str, Any] | None = None) -> None:
        """Replace the ranking, and the status records given, in one transaction.

        The texts are handed out in ``order``, then every other text in cold-start order. Only
        the texts ranked or suggested are written (``order`` at positions ``0..k-1``, the other
        suggested texts at ``k + cold_position``; ``k`` is kept as the ranking record's
        ``ordered``), the rest are found in cold-start order when needed
        (:meth:`Annotations.next_for`), so publishing costs the texts scored, not the pool (a
        million rows rewritten after every label held the write lock for seconds).

        Args:
            order: Example ids, most wanted first.
            suggestions: ``id -> (label, confidence)`` from the new model.
            model, probe: New status records of the PEFT model and of the linear probe, if any.
            suggester: ``"model"``, ``"probe"`` or ``None`` (a cold-start order): kept in the
                ``ranking`` record with a version that every publication increments.
        """
        with self.write() as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'ranking'").fetchone()
            version = json.loads(row[0]).get("version", 0) + 1 if row else 1
            self._set_meta(db, "ranking", {"suggester": suggester if suggestions else None,
                                           "version": version, "published_at": utc_now(),
                                           "ordered": len(order)})
            db.execute("DELETE FROM ranking")
            placed = set(order)
            others = [example_id for example_id in suggestions if example_id not in placed]
            cold = dict(_in_chunks(db, "SELECT id, cold_position FROM examples WHERE id IN ({})", others))
            rows = [(example_id, position, *suggestions.get(example_id, (None, None)))
                    for position, example_id in enumerate(order)]
            rows += [(example_id, len(order) + cold[example_id], *suggestions[example_id])
                     for example_id in others]
            db.executemany("INSERT INTO ranking (example_id, position, suggestion, confidence) "
                           "VALUES (?, ?, ?, ?)", rows)
            for key, record in (("model", model), ("probe", probe)):
                if record is not None:
                    self._set_meta(db, key, record)


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """``items`` in lists of ``size`` (the last may be shorter)."""
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def _in_chunks(db: sqlite3.Connection, sql: str, ids: list[int], size: int = 900) -> Iterator[tuple]:
    """Rows of ``sql`` (one ``IN ({})`` placeholder) for ``ids``, ``size`` at a time: SQLite caps
    the parameters of one statement."""
    for start in range(0, len(ids), size):
        part = ids[start:start + size]
        yield from db.execute(sql.format(",".join("?" * len(part))), part)
