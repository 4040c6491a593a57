"""The project store: one SQLite file in WAL mode holding texts, labels, leases and the ranking.

Every write is one ``BEGIN IMMEDIATE`` transaction committed with ``synchronous=FULL`` before the
server answers, so an acknowledged label survives a SIGKILL (and a power cut) of the server. WAL
lets the page, ``peftal label export`` and the background trainer (another process) read while
a label is written.

Concurrency: an example is handed to one annotator at a time through a *lease* (with an expiry,
so a closed browser tab gives its example back); the lease is chosen and written inside the same
write transaction, so two annotators can never be handed the same example. A partial unique index
allows at most one live label per example, so concurrent posts cannot overwrite each other.

Ids are positions in the imported data file: the project's one global index space.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from peftal.label.errors import Conflict, NotFound

STORE_NAME = "project.sqlite"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS examples (
    id INTEGER PRIMARY KEY,         -- row of the imported file, 0-based (global id)
    text TEXT NOT NULL,
    text_pair TEXT,
    cold_position INTEGER NOT NULL  -- place in the seeded cold-start order
);
CREATE TABLE IF NOT EXISTS labels (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    example_id INTEGER NOT NULL REFERENCES examples(id),
    label TEXT NOT NULL,
    annotator TEXT NOT NULL,
    labelled_at TEXT NOT NULL,
    undone_at TEXT                  -- set by undo; the row is kept as history
);
-- At most one live label per example: the database itself refuses a lost update.
CREATE UNIQUE INDEX IF NOT EXISTS one_live_label ON labels(example_id) WHERE undone_at IS NULL;
CREATE INDEX IF NOT EXISTS labels_by_annotator ON labels(annotator, seq);
CREATE TABLE IF NOT EXISTS leases (
    example_id INTEGER PRIMARY KEY REFERENCES examples(id),
    annotator TEXT NOT NULL,
    expires_at REAL NOT NULL        -- unix time
);
CREATE TABLE IF NOT EXISTS skips (
    example_id INTEGER NOT NULL REFERENCES examples(id),
    annotator TEXT NOT NULL,
    skipped_at TEXT NOT NULL,
    PRIMARY KEY (example_id, annotator)
);
-- The order in which examples are handed out, and the model's suggestion for each. Replaced
-- whole, in one transaction, by each retrain: readers see the old or the new ranking, never a mix.
CREATE TABLE IF NOT EXISTS ranking (
    example_id INTEGER PRIMARY KEY REFERENCES examples(id),
    position INTEGER NOT NULL,
    suggestion TEXT,
    confidence REAL
);
CREATE INDEX IF NOT EXISTS ranking_by_position ON ranking(position);
"""


def utc_now() -> str:
    """The current time as ISO 8601 UTC with milliseconds (what ``labelled_at`` holds)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class LabelStore:
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
        self._connection().executescript(_SCHEMA)

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
                   cold_order: Iterable[int]) -> None:
        """Import the examples and the cold-start order in one transaction (all or nothing)."""
        examples = list(examples)
        positions = {int(example_id): place for place, example_id in enumerate(cold_order)}
        with self.write() as db:
            db.executemany(
                "INSERT INTO examples (id, text, text_pair, cold_position) VALUES (?, ?, ?, ?)",
                ((i, text, pair, positions[i]) for i, (text, pair) in enumerate(examples)))
            db.execute("INSERT INTO ranking (example_id, position) "
                       "SELECT id, cold_position FROM examples")
            self._set_meta(db, "schema_version", SCHEMA_VERSION)
            self._set_meta(db, "settings", settings)
            self._set_meta(db, "model", {"generation": 0, "status": "none", "cold_start": "random"})

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

    # -- examples --------------------------------------------------------------------------

    def num_examples(self) -> int:
        with self.read() as db:
            return int(db.execute("SELECT COUNT(*) FROM examples").fetchone()[0])

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

    # -- handing out examples --------------------------------------------------------------

    def next_for(self, annotator: str, *, lease_seconds: float, budget: int | None) -> dict | None:
        """Lease the next example to ``annotator``; ``None`` when nothing is left for them.

        An annotator who already holds a live lease gets that example again (a page reload does
        not skip it); otherwise the first example in ranking order that is unlabelled, not leased
        by anyone, and not skipped by this annotator.
        """
        now = time.time()
        with self.write() as db:
            db.execute("DELETE FROM leases WHERE expires_at <= ?", (now,))
            held = db.execute(
                "SELECT s.example_id FROM leases s WHERE s.annotator = ? AND NOT EXISTS "
                "(SELECT 1 FROM labels l WHERE l.example_id = s.example_id AND l.undone_at IS NULL) "
                "ORDER BY s.expires_at DESC LIMIT 1", (annotator,)).fetchone()
            if held is not None:
                example_id = held[0]
            else:
                if budget is not None:
                    labelled = db.execute(
                        "SELECT COUNT(*) FROM labels WHERE undone_at IS NULL").fetchone()[0]
                    leased = db.execute("SELECT COUNT(*) FROM leases").fetchone()[0]
                    if labelled + leased >= budget:
                        return None
                row = db.execute(
                    "SELECT r.example_id FROM ranking r WHERE "
                    "NOT EXISTS (SELECT 1 FROM labels l WHERE l.example_id = r.example_id "
                    "            AND l.undone_at IS NULL) "
                    "AND NOT EXISTS (SELECT 1 FROM leases s WHERE s.example_id = r.example_id) "
                    "AND NOT EXISTS (SELECT 1 FROM skips k WHERE k.example_id = r.example_id "
                    "                AND k.annotator = ?) "
                    "ORDER BY r.position LIMIT 1", (annotator,)).fetchone()
                if row is None:
                    return None
                example_id = row[0]
            db.execute("INSERT INTO leases (example_id, annotator, expires_at) VALUES (?, ?, ?) "
                       "ON CONFLICT(example_id) DO UPDATE SET expires_at = excluded.expires_at",
                       (example_id, annotator, now + lease_seconds))
            return self._example(db, example_id)

    def add_label(self, example_id: int, label: str, annotator: str) -> bool:
        """Store a label; returns ``False`` when the same label by the same annotator was already
        stored (a retried request), ``True`` when a new row was written.

        Raises:
            NotFound: ``example_id`` is not in the project.
            Conflict: the example is labelled already, or leased to another annotator.
        """
        now = time.time()
        with self.write() as db:
            if db.execute("SELECT 1 FROM examples WHERE id = ?", (example_id,)).fetchone() is None:
                raise NotFound(f"no example with id {example_id} in this project")
            live = db.execute("SELECT label, annotator FROM labels WHERE example_id = ? AND "
                              "undone_at IS NULL", (example_id,)).fetchone()
            if live is not None:
                if (live["label"], live["annotator"]) == (label, annotator):
                    return False
                raise Conflict(f"example {example_id} is already labelled {live['label']!r} by "
                               f"{live['annotator']!r}; undo that label first")
            lease = db.execute("SELECT annotator FROM leases WHERE example_id = ? AND expires_at > ?",
                               (example_id, now)).fetchone()
            if lease is not None and lease["annotator"] != annotator:
                raise Conflict(f"example {example_id} is assigned to annotator {lease['annotator']!r}")
            db.execute("INSERT INTO labels (example_id, label, annotator, labelled_at) "
                       "VALUES (?, ?, ?, ?)", (example_id, label, annotator, utc_now()))
            db.execute("DELETE FROM leases WHERE example_id = ?", (example_id,))
            return True

    def undo(self, annotator: str, *, lease_seconds: float) -> dict | None:
        """Withdraw ``annotator``'s latest live label and lease its example back to them.

        Returns the example (to label again), or ``None`` when they have no label to undo.
        """
        with self.write() as db:
            row = db.execute("SELECT seq, example_id, label FROM labels WHERE annotator = ? AND "
                             "undone_at IS NULL ORDER BY seq DESC LIMIT 1", (annotator,)).fetchone()
            if row is None:
                return None
            db.execute("UPDATE labels SET undone_at = ? WHERE seq = ?", (utc_now(), row["seq"]))
            db.execute("INSERT INTO leases (example_id, annotator, expires_at) VALUES (?, ?, ?) "
                       "ON CONFLICT(example_id) DO UPDATE SET annotator = excluded.annotator, "
                       "expires_at = excluded.expires_at",
                       (row["example_id"], annotator, time.time() + lease_seconds))
            item = self._example(db, row["example_id"])
            item["undone_label"] = row["label"]
            return item

    def skip(self, example_id: int, annotator: str) -> None:
        """Record that ``annotator`` skipped the example (it is not offered to them again) and
        release their lease on it, so that someone else may label it."""
        with self.write() as db:
            if db.execute("SELECT 1 FROM examples WHERE id = ?", (example_id,)).fetchone() is None:
                raise NotFound(f"no example with id {example_id} in this project")
            db.execute("INSERT OR IGNORE INTO skips (example_id, annotator, skipped_at) "
                       "VALUES (?, ?, ?)", (example_id, annotator, utc_now()))
            db.execute("DELETE FROM leases WHERE example_id = ? AND annotator = ?",
                       (example_id, annotator))

    # -- reading labels --------------------------------------------------------------------

    def live_labels(self) -> list[dict[str, Any]]:
        """Every live label in the order given, with its example: what ``export`` writes."""
        with self.read() as db:
            rows = db.execute(
                "SELECT l.seq, l.example_id, e.text, e.text_pair, l.label, l.annotator, "
                "l.labelled_at FROM labels l JOIN examples e ON e.id = l.example_id "
                "WHERE l.undone_at IS NULL ORDER BY l.seq").fetchall()
        return [dict(row) for row in rows]

    def label_snapshot(self) -> tuple[list[int], list[str], int]:
        """``(ids, labels, last_seq)`` of the live labels, from one snapshot (the trainer's input)."""
        with self.read() as db:
            rows = db.execute("SELECT example_id, label FROM labels WHERE undone_at IS NULL "
                              "ORDER BY seq").fetchall()
            last = db.execute("SELECT COALESCE(MAX(seq), 0) FROM labels").fetchone()[0]
        return [r[0] for r in rows], [r[1] for r in rows], int(last)

    def new_labels_since(self, seq: int) -> int:
        """Live labels given after label row ``seq``."""
        with self.read() as db:
            return int(db.execute("SELECT COUNT(*) FROM labels WHERE seq > ? AND undone_at IS NULL",
                                  (seq,)).fetchone()[0])

    def counts(self) -> dict[str, Any]:
        """Label counts for the stats: total, per label, per annotator, skipped, leased."""
        now = time.time()
        with self.read() as db:
            by_label = dict(db.execute("SELECT label, COUNT(*) FROM labels WHERE undone_at IS NULL "
                                       "GROUP BY label").fetchall())
            by_annotator = dict(db.execute("SELECT annotator, COUNT(*) FROM labels WHERE undone_at "
                                           "IS NULL GROUP BY annotator").fetchall())
            skipped = db.execute("SELECT COUNT(DISTINCT example_id) FROM skips").fetchone()[0]
            leased = db.execute("SELECT COUNT(*) FROM leases WHERE expires_at > ?", (now,)).fetchone()[0]
            pool = db.execute("SELECT COUNT(*) FROM examples").fetchone()[0]
        return {"labelled": sum(by_label.values()), "pool": pool, "by_label": by_label,
                "by_annotator": by_annotator, "skipped": skipped, "in_progress": leased}

    # -- the ranking -----------------------------------------------------------------------

    def publish_ranking(self, order: list[int], suggestions: dict[int, tuple[str, float]],
                        model: dict[str, Any] | None = None, *, suggester: str | None = "model",
                        probe: dict[str, Any] | None = None) -> None:
        """Replace the ranking, and the status records given, in one transaction.

        Args:
            order: Example ids, most wanted first; the others follow in the cold-start order.
            suggestions: ``id -> (label, confidence)`` from the new model.
            model, probe: New status records of the PEFT model and of the linear probe, if any.
            suggester: ``"model"``, ``"probe"`` or ``None`` (a cold-start order): kept in the
                ``ranking`` record with a version that every publication increments.
        """
        with self.write() as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'ranking'").fetchone()
            version = json.loads(row[0]).get("version", 0) + 1 if row else 1
            self._set_meta(db, "ranking", {"suggester": suggester if suggestions else None,
                                           "version": version, "published_at": utc_now()})
            db.execute("DELETE FROM ranking")
            placed = set(order)
            rest = [row[0] for row in db.execute("SELECT id FROM examples ORDER BY cold_position")
                    if row[0] not in placed]
            rows = [(example_id, position, *suggestions.get(example_id, (None, None)))
                    for position, example_id in enumerate([*order, *rest])]
            db.executemany("INSERT INTO ranking (example_id, position, suggestion, confidence) "
                           "VALUES (?, ?, ?, ?)", rows)
            for key, record in (("model", model), ("probe", probe)):
                if record is not None:
                    self._set_meta(db, key, record)
