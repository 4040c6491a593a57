"""The project store's SQLite schema, and the upgrade of a project made by an earlier version.

Version 2 lets several annotators label one text: the database holds at most one live label per
text *and annotator* (version 1: per text), ``examples.overlap_rank`` places each text in the
seeded order whose first ``--overlap`` fraction goes to two annotators, and ``final_labels``
holds a label set by a review, which takes precedence over the annotators' majority.

A project of version 1 is upgraded in place, in one transaction, the first time it is opened:
its labels, leases, skips and ranking are kept as they are.
"""

from __future__ import annotations

import json
import sqlite3

import numpy as np

from peftal.errors import UsageError

SCHEMA_VERSION = 2

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS examples (
    id INTEGER PRIMARY KEY,         -- row of the imported file, 0-based (global id)
    text TEXT NOT NULL,
    text_pair TEXT,
    cold_position INTEGER NOT NULL, -- place in the seeded cold-start order
    overlap_rank INTEGER            -- place in the seeded order of texts given to two annotators
);
CREATE TABLE IF NOT EXISTS labels (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    example_id INTEGER NOT NULL REFERENCES examples(id),
    label TEXT NOT NULL,
    annotator TEXT NOT NULL,
    labelled_at TEXT NOT NULL,
    undone_at TEXT                  -- set by undo; the row is kept as history
);
-- At most one live label per text and annotator: the database itself refuses a lost update.
CREATE UNIQUE INDEX IF NOT EXISTS one_live_label_per_annotator ON labels(example_id, annotator)
    WHERE undone_at IS NULL;
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
-- A label decided by a review; training and the export use it instead of the majority.
CREATE TABLE IF NOT EXISTS final_labels (
    example_id INTEGER PRIMARY KEY REFERENCES examples(id),
    label TEXT NOT NULL,
    resolved_by TEXT NOT NULL,
    resolved_at TEXT NOT NULL
);
-- The order in which examples are handed out, and the model's suggestion for each: the texts
-- the last model or probe ranked or suggested; every other text follows them in cold-start order.
-- Replaced whole, in one transaction, by each publication: readers see the old or the new
-- ranking, never a mix.
CREATE TABLE IF NOT EXISTS ranking (
    example_id INTEGER PRIMARY KEY REFERENCES examples(id),
    position INTEGER NOT NULL,
    suggestion TEXT,
    confidence REAL
);
CREATE INDEX IF NOT EXISTS ranking_by_position ON ranking(position);
CREATE INDEX IF NOT EXISTS examples_by_cold_position ON examples(cold_position);
"""


def overlap_order(seed: int, num_examples: int) -> np.ndarray:
    """``rank[id]``: each text's place in the seeded order of texts given to two annotators.

    A permutation (not a hash threshold) so that ``--overlap F`` picks exactly ``round(F * n)``
    texts, and a larger ``F`` on resume keeps the texts a smaller one picked.
    """
    from peftal.seeding import stream_rng

    return np.argsort(stream_rng(seed, "overlap").permutation(num_examples))


def upgrade(db: sqlite3.Connection) -> None:
    """Bring the store open in ``db`` (inside a write transaction) up to :data:`SCHEMA_VERSION`.

    Raises:
        UsageError: the project was made by a newer peftal, whose schema this one cannot read.
    """
    row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if row is None:
        return  # a store being created: ``initialise`` writes the current version
    version = json.loads(row[0])
    if version > SCHEMA_VERSION:
        raise UsageError(f"this project was made by a newer peftal (store version {version}; this "
                           f"one reads up to {SCHEMA_VERSION}); upgrade peftal to open it")
    if version < 2:
        _to_version_2(db)


def _to_version_2(db: sqlite3.Connection) -> None:
    # One live label per text was a unique index; SCHEMA has already added the per-annotator one.
    db.execute("DROP INDEX IF EXISTS one_live_label")
    columns = {row[1] for row in db.execute("PRAGMA table_info(examples)")}
    if "overlap_rank" not in columns:
        db.execute("ALTER TABLE examples ADD COLUMN overlap_rank INTEGER")
    settings = json.loads(db.execute("SELECT value FROM meta WHERE key = 'settings'").fetchone()[0])
    count = db.execute("SELECT COUNT(*) FROM examples").fetchone()[0]
    ranks = overlap_order(int(settings.get("seed", 0)), count)
    db.executemany("UPDATE examples SET overlap_rank = ? WHERE id = ?",
                   ((int(rank), i) for i, rank in enumerate(ranks)))
    db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (json.dumps(2),))
