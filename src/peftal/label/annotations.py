"""Who labels what: leases, annotations, undo, skip, and the label each text trains with.

Concurrency: a text is handed to one annotator at a time through a *lease* (with an expiry, so a
closed browser tab gives its text back); the lease is chosen and written inside the same write
transaction, so two annotators are never handed the same text at once. A partial unique index
allows at most one live label per text and annotator, and a label is accepted from a second
annotator only for a text that wants one, checked in the same transaction as the write.

Several annotators (``--overlap F``): the first ``round(F * n)`` texts of a seeded order (see
:func:`peftal.label.schema.overlap_order`) are each given to :data:`OVERLAP_ANNOTATORS`
different annotators. Once the first has labelled one, it waits for the next annotator who asks
for a text and has neither labelled nor skipped it, before any text of the ranking: second
opinions come while the first is fresh, and agreement is measured from the start.

The label a text trains with (and is exported with) is :func:`resolve`'s: a label set by review,
else the single label, else the majority of the annotators' labels; a tie has none until a review
sets one.
"""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from peftal.label.errors import Conflict, NotFound

OVERLAP_ANNOTATORS = 2
"""How many different annotators label each text chosen by ``--overlap``."""


def utc_now() -> str:
    """The current time as ISO 8601 UTC with milliseconds (what ``labelled_at`` holds)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def resolve(labels: list[str], final: str | None = None) -> tuple[str | None, str]:
    """``(label, how)`` of one text from its live ``labels`` and a review's ``final`` label.

    ``how`` is ``"review"``, ``"single"``, ``"unanimous"``, ``"majority"`` or ``"tie"`` (then the
    label is ``None``: the text is left out of training until a review resolves it).
    """
    if final is not None:
        return final, "review"
    if len(labels) == 1:
        return labels[0], "single"
    ranked = Counter(labels).most_common()
    if len(ranked) == 1:
        return ranked[0][0], "unanimous"
    if ranked[0][1] > ranked[1][1]:
        return ranked[0][0], "majority"
    return None, "tie"


class Annotations:
    """The labelling half of :class:`peftal.label.store.LabelStore` (which supplies ``read``,
    ``write``, ``_example``, ``overlap_limit`` and ``ordered``)."""

    # -- handing out texts -----------------------------------------------------------------

    def next_for(self, annotator: str, *, lease_seconds: float, budget: int | None,
                 overlap: float = 0.0) -> dict | None:
        """Lease the next text to ``annotator``; ``None`` when nothing is left for them.

        In this order: the text they hold a live lease on (a page reload does not skip it); a text
        of the overlap that someone else labelled and that still wants an annotator; the first
        text in ranking order that nobody labelled, nobody holds and they did not skip.
        ``budget`` counts texts labelled (or leased for a first label); second labels of the
        overlap are handed out beyond it.
        """
        now, limit = time.time(), self.overlap_limit(overlap)
        with self.write() as db:
            db.execute("DELETE FROM leases WHERE expires_at <= ?", (now,))
            held = db.execute(
                "SELECT s.example_id FROM leases s WHERE s.annotator = ? AND NOT EXISTS "
                "(SELECT 1 FROM labels l WHERE l.example_id = s.example_id AND l.undone_at IS NULL "
                " AND l.annotator = s.annotator) ORDER BY s.expires_at DESC LIMIT 1",
                (annotator,)).fetchone()
            example_id = held[0] if held is not None else self._wanting_another(db, annotator, limit)
            if example_id is None:
                example_id = self._first_unlabelled(db, annotator, budget)
                if example_id is None:
                    return None
            db.execute("INSERT INTO leases (example_id, annotator, expires_at) VALUES (?, ?, ?) "
                       "ON CONFLICT(example_id) DO UPDATE SET expires_at = excluded.expires_at",
                       (example_id, annotator, now + lease_seconds))
            return self._example(db, example_id)

    @staticmethod
    def _wanting_another(db: sqlite3.Connection, annotator: str, limit: int) -> int | None:
        """The overlap text (``overlap_rank < limit``) labelled longest ago that wants another
        annotator and may go to this one."""
        if limit == 0:
            return None
        row = db.execute(
            "SELECT l.example_id FROM labels l JOIN examples e ON e.id = l.example_id "
            "WHERE l.undone_at IS NULL AND e.overlap_rank < ? "
            "AND NOT EXISTS (SELECT 1 FROM leases s WHERE s.example_id = l.example_id) "
            "AND NOT EXISTS (SELECT 1 FROM skips k WHERE k.example_id = l.example_id "
            "                AND k.annotator = ?) "
            "AND NOT EXISTS (SELECT 1 FROM final_labels f WHERE f.example_id = l.example_id) "
            "GROUP BY l.example_id HAVING COUNT(*) < ? AND SUM(l.annotator = ?) = 0 "
            "ORDER BY MIN(l.seq) LIMIT 1", (limit, annotator, OVERLAP_ANNOTATORS, annotator)).fetchone()
        return None if row is None else row[0]

    @staticmethod
    def _budget_spent(db: sqlite3.Connection, budget: int | None) -> bool:
        """Whether the texts labelled, and those leased for a first label, fill ``budget``."""
        if budget is None:
            return False
        labelled = db.execute("SELECT COUNT(DISTINCT example_id) FROM labels "
                              "WHERE undone_at IS NULL").fetchone()[0]
        leased = db.execute(
            "SELECT COUNT(*) FROM leases s WHERE NOT EXISTS (SELECT 1 FROM labels l WHERE "
            "l.example_id = s.example_id AND l.undone_at IS NULL)").fetchone()[0]
        return labelled + leased >= budget

    def take(self, example_id: int, annotator: str, *, lease_seconds: float, budget: int | None,
             overlap: float = 0.0) -> dict:
        """Lease the text ``annotator`` picked (a search result) to them, as :meth:`next_for` leases
        the next one: the same checks, in one write transaction, so nobody else is handed it.
        A lease they hold on another text is kept: that text comes back after this one.

        Raises:
            NotFound: ``example_id`` is not in the project.
            Conflict: they labelled it already; someone else labelled it and it wants no other
                annotator; another annotator holds it; or the budget is spent.
        """
        now, limit = time.time(), self.overlap_limit(overlap)
        with self.write() as db:
            db.execute("DELETE FROM leases WHERE expires_at <= ?", (now,))
            row = db.execute("SELECT overlap_rank FROM examples WHERE id = ?", (example_id,)).fetchone()
            if row is None:
                raise NotFound(f"no example with id {example_id} in this project")
            live = db.execute("SELECT annotator FROM labels WHERE example_id = ? AND undone_at IS NULL",
                              (example_id,)).fetchall()
            final = db.execute("SELECT 1 FROM final_labels WHERE example_id = ?", (example_id,)).fetchone()
            if any(r["annotator"] == annotator for r in live):
                raise Conflict(f"you labelled example {example_id} already; undo that label to change it")
            wants_another = (row["overlap_rank"] is not None and row["overlap_rank"] < limit
                             and 0 < len(live) < OVERLAP_ANNOTATORS and final is None)
            if (live or final) and not wants_another:
                raise Conflict(f"example {example_id} is labelled already")
            lease = db.execute("SELECT annotator FROM leases WHERE example_id = ?",
                               (example_id,)).fetchone()
            if lease is not None and lease["annotator"] != annotator:
                raise Conflict(f"example {example_id} is being labelled by {lease['annotator']!r}")
            if lease is None and not live and self._budget_spent(db, budget):
                raise Conflict(f"the budget of {budget} labels is spent (labelled or being labelled)")
            db.execute("INSERT INTO leases (example_id, annotator, expires_at) VALUES (?, ?, ?) "
                       "ON CONFLICT(example_id) DO UPDATE SET expires_at = excluded.expires_at",
                       (example_id, annotator, now + lease_seconds))
            return self._example(db, example_id)

    @classmethod
    def _first_unlabelled(cls, db: sqlite3.Connection, annotator: str, budget: int | None) -> int | None:
        if cls._budget_spent(db, budget):
            return None
        # The published order first, then every text in cold-start order (the ranking holds
        # only what the last model or probe scored: LabelStore.publish_ranking).
        ordered = cls.ordered(db)
        free = ("NOT EXISTS (SELECT 1 FROM labels l WHERE l.example_id = {id} AND l.undone_at IS NULL) "
                "AND NOT EXISTS (SELECT 1 FROM leases s WHERE s.example_id = {id}) "
                "AND NOT EXISTS (SELECT 1 FROM skips k WHERE k.example_id = {id} AND k.annotator = ?)")
        row = db.execute(f"SELECT r.example_id FROM ranking r WHERE {free.format(id='r.example_id')} "
                         + ("" if ordered is None else f"AND r.position < {int(ordered)} ")
                         + "ORDER BY r.position LIMIT 1", (annotator,)).fetchone()
        if row is None:
            row = db.execute(f"SELECT e.id FROM examples e WHERE {free.format(id='e.id')} "
                             "ORDER BY e.cold_position LIMIT 1", (annotator,)).fetchone()
        return None if row is None else row[0]

    # -- labelling -------------------------------------------------------------------------

    def add_label(self, example_id: int, label: str, annotator: str, *, overlap: float = 0.0) -> bool:
        """Store ``annotator``'s label; returns ``False`` when they had given this label already (a
        retried request), ``True`` when a new row was written.

        Raises:
            NotFound: ``example_id`` is not in the project.
            Conflict: they labelled the text otherwise already; or someone else labelled it and it
                wants no other annotator; or it is leased to another annotator.
        """
        now, limit = time.time(), self.overlap_limit(overlap)
        with self.write() as db:
            row = db.execute("SELECT overlap_rank FROM examples WHERE id = ?", (example_id,)).fetchone()
            if row is None:
                raise NotFound(f"no example with id {example_id} in this project")
            live = db.execute("SELECT label, annotator FROM labels WHERE example_id = ? AND "
                              "undone_at IS NULL ORDER BY seq", (example_id,)).fetchall()
            mine = [r for r in live if r["annotator"] == annotator]
            if mine:
                if mine[0]["label"] == label:
                    return False
                raise Conflict(f"example {example_id} is already labelled {mine[0]['label']!r} by "
                               f"{annotator!r}; undo that label first")
            final = db.execute("SELECT 1 FROM final_labels WHERE example_id = ?", (example_id,)).fetchone()
            wants_another = (row["overlap_rank"] is not None and row["overlap_rank"] < limit
                             and len(live) < OVERLAP_ANNOTATORS and final is None)
            if live and not wants_another:
                raise Conflict(f"example {example_id} is already labelled {live[0]['label']!r} by "
                               f"{live[0]['annotator']!r}; undo that label first")
            lease = db.execute("SELECT annotator FROM leases WHERE example_id = ? AND expires_at > ?",
                               (example_id, now)).fetchone()
            if lease is not None and lease["annotator"] != annotator:
                raise Conflict(f"example {example_id} is assigned to annotator {lease['annotator']!r}")
            db.execute("INSERT INTO labels (example_id, label, annotator, labelled_at) "
                       "VALUES (?, ?, ?, ?)", (example_id, label, annotator, utc_now()))
            db.execute("DELETE FROM leases WHERE example_id = ?", (example_id,))
            return True

    def undo(self, annotator: str, *, lease_seconds: float) -> dict | None:
        """Withdraw ``annotator``'s latest live label and lease its text back to them.

        Returns the text (to label again), or ``None`` when they have no label to undo.
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
        """Record that ``annotator`` skipped the text (it is not offered to them again) and release
        their lease on it, so that someone else may label it."""
        with self.write() as db:
            if db.execute("SELECT 1 FROM examples WHERE id = ?", (example_id,)).fetchone() is None:
                raise NotFound(f"no example with id {example_id} in this project")
            db.execute("INSERT OR IGNORE INTO skips (example_id, annotator, skipped_at) "
                       "VALUES (?, ?, ?)", (example_id, annotator, utc_now()))
            db.execute("DELETE FROM leases WHERE example_id = ? AND annotator = ?",
                       (example_id, annotator))

    def set_final(self, example_id: int, label: str, reviewer: str) -> None:
        """Set the text's final label (a review's decision), replacing any earlier one: training
        and the export use it instead of the annotators' majority."""
        with self.write() as db:
            if db.execute("SELECT 1 FROM examples WHERE id = ?", (example_id,)).fetchone() is None:
                raise NotFound(f"no example with id {example_id} in this project")
            db.execute("INSERT INTO final_labels (example_id, label, resolved_by, resolved_at) "
                       "VALUES (?, ?, ?, ?) ON CONFLICT(example_id) DO UPDATE SET "
                       "label = excluded.label, resolved_by = excluded.resolved_by, "
                       "resolved_at = excluded.resolved_at", (example_id, label, reviewer, utc_now()))

    # -- reading labels --------------------------------------------------------------------

    def live_labels(self) -> list[dict[str, Any]]:
        """Every live annotation in the order given, with its text (several rows per text of the
        overlap)."""
        with self.read() as db:
            rows = db.execute(
                "SELECT l.seq, l.example_id, e.text, e.text_pair, l.label, l.annotator, "
                "l.labelled_at FROM labels l JOIN examples e ON e.id = l.example_id "
                "WHERE l.undone_at IS NULL ORDER BY l.seq").fetchall()
        return [dict(row) for row in rows]

    def labelled_texts(self) -> list[dict[str, Any]]:
        """One record per text with a live label or a final one, in the order first labelled:
        ``{"id", "text", "text_pair", "label", "resolution", "annotations"}`` (what export writes)."""
        texts: dict[int, dict[str, Any]] = {}
        for row in self.live_labels():
            record = texts.setdefault(row["example_id"], {
                "id": row["example_id"], "text": row["text"], "text_pair": row["text_pair"],
                "annotations": []})
            record["annotations"].append({"annotator": row["annotator"], "label": row["label"],
                                          "labelled_at": row["labelled_at"]})
        with self.read() as db:
            finals = {row[0]: dict(row) for row in db.execute(
                "SELECT f.example_id, f.label, f.resolved_by, f.resolved_at, e.text, e.text_pair "
                "FROM final_labels f JOIN examples e ON e.id = f.example_id ORDER BY f.resolved_at")}
        for example_id, final in finals.items():
            texts.setdefault(example_id, {"id": example_id, "text": final["text"],
                                          "text_pair": final["text_pair"], "annotations": []})
        for record in texts.values():
            final = finals.get(record["id"])
            record["label"], record["resolution"] = resolve(
                [a["label"] for a in record["annotations"]], final and final["label"])
            if final:
                record["reviewed"] = {"by": final["resolved_by"], "at": final["resolved_at"]}
        return list(texts.values())

    def disagreements(self) -> list[int]:
        """Texts whose live annotations differ and that no review has resolved, in the order
        first labelled (what the reviewer's first list shows)."""
        with self.read() as db:
            return [row[0] for row in db.execute(
                "SELECT l.example_id FROM labels l WHERE l.undone_at IS NULL AND NOT EXISTS "
                "(SELECT 1 FROM final_labels f WHERE f.example_id = l.example_id) "
                "GROUP BY l.example_id HAVING COUNT(DISTINCT l.label) > 1 ORDER BY MIN(l.seq)")]

    def reviewed(self) -> set[int]:
        """Texts with a final label set by a review."""
        with self.read() as db:
            return {row[0] for row in db.execute("SELECT example_id FROM final_labels")}

    def history(self, ids: list[int]) -> dict[int, dict[str, Any]]:
        """Each text of ``ids`` with everything said about it, from one snapshot: ``{"id", "text",
        ["text_pair",] "label", "resolution", "annotations": [{"annotator", "label", "labelled_at",
        "undone_at"}] (withdrawn ones too, in the order given), "review": {"label", "by", "at"} or
        None}``. Unknown ids are left out."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        with self.read() as db:
            texts = db.execute(f"SELECT id, text, text_pair FROM examples WHERE id IN ({marks})",
                               ids).fetchall()
            rows = db.execute(f"SELECT example_id, annotator, label, labelled_at, undone_at FROM labels "
                              f"WHERE example_id IN ({marks}) ORDER BY seq", ids).fetchall()
            finals = {row["example_id"]: row for row in db.execute(
                f"SELECT example_id, label, resolved_by, resolved_at FROM final_labels "
                f"WHERE example_id IN ({marks})", ids)}
        found: dict[int, dict[str, Any]] = {}
        for row in texts:
            item = found[row["id"]] = {"id": row["id"], "text": row["text"]}
            if row["text_pair"] is not None:
                item["text_pair"] = row["text_pair"]
            item["annotations"] = []
        for row in rows:
            found[row["example_id"]]["annotations"].append(
                {key: row[key] for key in ("annotator", "label", "labelled_at", "undone_at")})
        for example_id, item in found.items():
            final = finals.get(example_id)
            live = [a["label"] for a in item["annotations"] if a["undone_at"] is None]
            item["label"], item["resolution"] = (resolve(live, final and final["label"])
                                                 if live or final else (None, "unlabelled"))
            item["review"] = final and {"label": final["label"], "by": final["resolved_by"],
                                        "at": final["resolved_at"]}
        return found

    def label_snapshot(self) -> tuple[list[int], list[str], int]:
        """``(ids, labels, last_seq)`` of the texts that train, each with its :func:`resolve`
        label, in the order first labelled, from one snapshot (the trainer's input). A tie is
        left out until a review resolves it."""
        resolved, last = self._resolutions()
        kept = [(example_id, label) for example_id, (label, _) in resolved.items() if label is not None]
        return [i for i, _ in kept], [label for _, label in kept], last

    def _resolutions(self) -> tuple[dict[int, tuple[str | None, str]], int]:
        """``({id: resolve(...)}, last_seq)`` of every text with a live or a final label."""
        with self.read() as db:
            rows = db.execute("SELECT example_id, label FROM labels WHERE undone_at IS NULL "
                              "ORDER BY seq").fetchall()
            finals = dict(db.execute("SELECT example_id, label FROM final_labels").fetchall())
            last = db.execute("SELECT COALESCE(MAX(seq), 0) FROM labels").fetchone()[0]
        given: dict[int, list[str]] = {}
        for example_id, label in rows:
            given.setdefault(example_id, []).append(label)
        for example_id in finals:
            given.setdefault(example_id, [])
        return {i: resolve(values, finals.get(i)) for i, values in given.items()}, int(last)

    def new_labels_since(self, seq: int) -> int:
        """Live labels given after label row ``seq``."""
        with self.read() as db:
            return int(db.execute("SELECT COUNT(*) FROM labels WHERE seq > ? AND undone_at IS NULL",
                                  (seq,)).fetchone()[0])

    def counts(self, multi_label: bool = False) -> dict[str, Any]:
        """The stats' counts: texts labelled, annotations, training labels per label (per label
        name, each text once per label of its set, in a ``multi_label`` project), annotations
        per annotator, texts with several annotations, unresolved ties, skipped, leased."""
        now = time.time()
        with self.read() as db:
            by_annotator = dict(db.execute("SELECT annotator, COUNT(*) FROM labels WHERE undone_at "
                                           "IS NULL GROUP BY annotator").fetchall())
            per_text = db.execute("SELECT COUNT(*) FROM labels WHERE undone_at IS NULL "
                                  "GROUP BY example_id").fetchall()
            skipped = db.execute("SELECT COUNT(DISTINCT example_id) FROM skips").fetchone()[0]
            leased = db.execute("SELECT COUNT(*) FROM leases WHERE expires_at > ?", (now,)).fetchone()[0]
            pool = db.execute("SELECT COUNT(*) FROM examples").fetchone()[0]
        resolved, _ = self._resolutions()
        given = [label for label, _ in resolved.values() if label is not None]
        if multi_label:
            from peftal.label.label_sets import decode

            given = [name for label in given for name in decode(label)]
        by_label = dict(Counter(given))
        return {"labelled": len(per_text), "pool": pool, "annotations": sum(by_annotator.values()),
                "by_label": by_label, "by_annotator": by_annotator,
                "multiple": sum(1 for (n,) in per_text if n > 1),
                "unresolved": sum(1 for _, how in resolved.values() if how == "tie"),
                "skipped": skipped, "in_progress": leased}
