"""Several annotators on one text: the overlap, its leases, majority and ties, the upgrade of a
project made before (one label per text)."""

from __future__ import annotations

import json
import sqlite3

import pytest

from peftal.label.annotations import resolve
from peftal.label.errors import Conflict

LEASE = {"lease_seconds": 60, "budget": None}


def labelled_by(store, annotator, n, label="positive", overlap=0.0):
    """``annotator`` labels the next ``n`` texts handed to them; returns their ids."""
    ids = []
    for _ in range(n):
        item = store.next_for(annotator, overlap=overlap, **LEASE)
        assert store.add_label(item["id"], label, annotator, overlap=overlap) is True
        ids.append(item["id"])
    return ids


def test_the_overlap_is_a_seeded_fraction_of_the_texts(make_project):
    from peftal.seeding import stream_rng

    store, _, _ = make_project(n=40, seed=5)
    limit = store.overlap_limit(0.25)
    assert limit == 10
    with store.read() as db:
        ranks = dict(db.execute("SELECT id, overlap_rank FROM examples").fetchall())
    chosen = {i for i, rank in ranks.items() if rank < limit}
    # The first quarter of the seeded permutation, computed here from the seed plan directly.
    assert chosen == set(stream_rng(5, "overlap").permutation(40)[:10].tolist())
    assert store.overlap_limit(0.0) == 0 and store.overlap_limit(1.0) == 40


def test_every_overlap_text_goes_to_a_second_annotator_and_no_one_gets_a_text_twice(make_project):
    store, _, _ = make_project(n=20, seed=1)
    first = labelled_by(store, "a", 20, overlap=0.5)
    assert sorted(first) == list(range(20))  # a labels the whole pool once
    assert store.next_for("a", overlap=0.5, **LEASE) is None  # never the same text again
    with store.read() as db:
        wanted = {row[0] for row in db.execute("SELECT id FROM examples WHERE overlap_rank < 10")}
    second = []
    while (item := store.next_for("b", overlap=0.5, **LEASE)) is not None:
        store.add_label(item["id"], "negative", "b", overlap=0.5)
        second.append(item["id"])
    # b is handed the overlap texts, oldest first, and nothing else (the pool is labelled).
    assert second == [i for i in first if i in wanted]
    assert store.next_for("c", overlap=0.5, **LEASE) is None  # two annotators are enough
    with pytest.raises(Conflict, match="already labelled 'positive' by 'a'"):
        store.add_label(second[0], "neutral", "c", overlap=0.5)  # a third is refused
    outside = next(i for i in first if i not in wanted)
    with pytest.raises(Conflict, match="already labelled 'positive' by 'a'"):
        store.add_label(outside, "negative", "b", overlap=0.5)  # not an overlap text
    counts = store.counts()
    assert (counts["labelled"], counts["annotations"], counts["multiple"]) == (20, 30, 10)
    assert counts["by_annotator"] == {"a": 20, "b": 10}


def test_a_second_annotation_waits_for_the_first_and_comes_before_the_ranking(make_project):
    store, _, _ = make_project(n=30, seed=0)
    overlap = 1.0  # every text: the first one labelled is the first one handed to b
    a_item = store.next_for("a", overlap=overlap, **LEASE)
    b_item = store.next_for("b", overlap=overlap, **LEASE)
    assert b_item["id"] != a_item["id"]  # leased to a: b gets a fresh text meanwhile
    store.add_label(a_item["id"], "positive", "a", overlap=overlap)
    store.add_label(b_item["id"], "positive", "b", overlap=overlap)
    assert store.next_for("b", overlap=overlap, **LEASE)["id"] == a_item["id"]
    assert store.next_for("a", overlap=overlap, **LEASE)["id"] == b_item["id"]
    # The same annotator twice on one text: a retry is fine, a different label is a conflict.
    store.add_label(b_item["id"], "neutral", "a", overlap=overlap)
    assert store.add_label(b_item["id"], "neutral", "a", overlap=overlap) is False
    with pytest.raises(Conflict, match="already labelled 'neutral' by 'a'"):
        store.add_label(b_item["id"], "negative", "a", overlap=overlap)
    # A skip by the second annotator is respected; someone else gets the text.
    c_item = store.next_for("c", overlap=overlap, **LEASE)
    store.skip(c_item["id"], "c")
    assert store.next_for("c", overlap=overlap, **LEASE)["id"] != c_item["id"]


def test_the_budget_counts_texts_and_second_labels_go_beyond_it(make_project):
    store, _, _ = make_project(n=10, seed=0)
    budget = {"lease_seconds": 60, "budget": 3}
    for _ in range(3):
        item = store.next_for("a", overlap=1.0, **budget)
        store.add_label(item["id"], "positive", "a", overlap=1.0)
    assert store.next_for("a", overlap=1.0, **budget) is None
    seconds = []
    while (item := store.next_for("b", overlap=1.0, **budget)) is not None:
        store.add_label(item["id"], "negative", "b", overlap=1.0)
        seconds.append(item["id"])
    assert len(seconds) == 3 and store.counts()["labelled"] == 3


@pytest.mark.parametrize("labels, final, expected", [
    (["x"], None, ("x", "single")),
    (["x", "x"], None, ("x", "unanimous")),
    (["x", "y", "x"], None, ("x", "majority")),
    (["x", "y"], None, (None, "tie")),
    (["x", "y", "z"], None, (None, "tie")),
    (["x", "y"], "y", ("y", "review")),
    ([], "z", ("z", "review")),
])
def test_resolve_takes_the_review_then_the_majority(labels, final, expected):
    assert resolve(labels, final) == expected


def test_training_uses_the_majority_leaves_ties_out_until_a_final_label(make_project):
    store, _, _ = make_project(n=6, seed=0)
    order = store.cold_order()
    x, y, z = order[:3]
    for example_id, given in ((x, {"a": "positive", "b": "positive"}),
                              (y, {"a": "positive", "b": "negative"}),
                              (z, {"a": "neutral"})):
        for annotator, label in given.items():
            store.add_label(example_id, label, annotator, overlap=1.0)
    ids, labels, last_seq = store.label_snapshot()
    assert dict(zip(ids, labels)) == {x: "positive", z: "neutral"}  # y is a tie
    assert last_seq == 5
    assert store.counts()["unresolved"] == 1 and store.counts()["by_label"] == {"positive": 1,
                                                                                 "neutral": 1}
    store.set_final(y, "negative", "reviewer")
    ids, labels, _ = store.label_snapshot()
    assert dict(zip(ids, labels)) == {x: "positive", y: "negative", z: "neutral"}
    texts = {t["id"]: t for t in store.labelled_texts()}
    assert texts[y]["resolution"] == "review" and texts[y]["reviewed"]["by"] == "reviewer"
    assert [(a["annotator"], a["label"]) for a in texts[y]["annotations"]] == [("a", "positive"),
                                                                               ("b", "negative")]
    assert store.next_for("c", overlap=1.0, **LEASE)["id"] not in (x, y)  # y is decided
    # An undo withdraws one annotation; the review's decision stands.
    assert store.undo("b", lease_seconds=60)["id"] == y
    texts = {t["id"]: t for t in store.labelled_texts()}
    assert [a["annotator"] for a in texts[y]["annotations"]] == ["a"]
    assert (texts[y]["label"], texts[z]["label"], texts[z]["resolution"]) == ("negative", "neutral", "single")


# The store of a project made before several annotators per text (schema version 1), as that
# version created it: one live label per text, no overlap order, no final labels.
VERSION_1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE examples (id INTEGER PRIMARY KEY, text TEXT NOT NULL, text_pair TEXT,
                       cold_position INTEGER NOT NULL);
CREATE TABLE labels (seq INTEGER PRIMARY KEY AUTOINCREMENT,
                     example_id INTEGER NOT NULL REFERENCES examples(id), label TEXT NOT NULL,
                     annotator TEXT NOT NULL, labelled_at TEXT NOT NULL, undone_at TEXT);
CREATE UNIQUE INDEX one_live_label ON labels(example_id) WHERE undone_at IS NULL;
CREATE INDEX labels_by_annotator ON labels(annotator, seq);
CREATE TABLE leases (example_id INTEGER PRIMARY KEY REFERENCES examples(id),
                     annotator TEXT NOT NULL, expires_at REAL NOT NULL);
CREATE TABLE skips (example_id INTEGER NOT NULL REFERENCES examples(id), annotator TEXT NOT NULL,
                    skipped_at TEXT NOT NULL, PRIMARY KEY (example_id, annotator));
CREATE TABLE ranking (example_id INTEGER PRIMARY KEY REFERENCES examples(id),
                      position INTEGER NOT NULL, suggestion TEXT, confidence REAL);
CREATE INDEX ranking_by_position ON ranking(position);
"""


def old_project(folder, n=12):
    folder.mkdir()
    db = sqlite3.connect(folder / "project.sqlite")
    db.executescript(VERSION_1)
    db.executemany("INSERT INTO examples VALUES (?, ?, NULL, ?)",
                   [(i, f"old text {i}", n - 1 - i) for i in range(n)])
    db.execute("INSERT INTO ranking (example_id, position) SELECT id, cold_position FROM examples")
    settings = {"labels": ["yes", "no"], "text_column": "text", "seed": 3, "data": "old.csv"}
    db.executemany("INSERT INTO meta VALUES (?, ?)", [
        ("schema_version", "1"), ("settings", json.dumps(settings)),
        ("model", json.dumps({"generation": 0, "status": "none"}))])
    db.executemany("INSERT INTO labels (example_id, label, annotator, labelled_at, undone_at) "
                   "VALUES (?, ?, ?, ?, ?)", [(11, "yes", "old", "2026-11-01T10:00:00.000Z", None),
                                              (10, "no", "old", "2026-11-01T10:00:01.000Z", None),
                                              (9, "no", "old", "2026-11-01T10:00:02.000Z",
                                               "2026-11-01T10:00:03.000Z")])
    db.commit()
    db.close()


def test_a_project_of_the_first_schema_opens_upgraded_with_its_labels(tmp_path, capsys):
    from peftal.cli import main
    from peftal.label import open_project
    from peftal.seeding import stream_rng

    old_project(tmp_path / "p")
    store, settings = open_project(tmp_path / "p")
    assert settings.overlap == 0.0 and settings.labels == ("yes", "no")
    assert store.get_meta("schema_version") == 2
    assert store.label_snapshot() == ([11, 10], ["yes", "no"], 3)
    with store.read() as db:
        ranks = dict(db.execute("SELECT id, overlap_rank FROM examples").fetchall())
        indexes = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    permutation = stream_rng(3, "overlap").permutation(12)
    assert [ranks[int(i)] for i in permutation] == list(range(12))
    assert "one_live_label" not in indexes
    # It works as a new project does: the next text, a second annotator on an overlap text.
    assert store.next_for("new", **LEASE)["id"] == 9  # the cold order; 9's label was undone
    chosen = int(permutation[0])  # --overlap 1/12: one text, the first of the seeded order
    store.add_label(chosen, "yes", "new", overlap=1 / 12)
    store.add_label(chosen, "no", "second", overlap=1 / 12)
    store.add_label(int(permutation[1]), "no", "second", overlap=1 / 12)
    with pytest.raises(Conflict):  # outside the overlap: one annotator only
        store.add_label(int(permutation[1]), "yes", "third", overlap=1 / 12)
    assert store.counts()["multiple"] == 1
    store.close()
    # Opening it again (the server and the trainer both do) changes nothing more.
    again, _ = open_project(tmp_path / "p")
    assert again.get_meta("schema_version") == 2 and again.counts()["annotations"] == 5
    assert main(["label", "stats", str(tmp_path / "p")]) == 0
    assert "texts labelled more than once: 1" in capsys.readouterr().out


def test_a_store_of_a_newer_version_is_refused(tmp_path):
    from peftal.errors import UsageError
    from peftal.label.store import LabelStore

    old_project(tmp_path / "p")
    db = sqlite3.connect(tmp_path / "p" / "project.sqlite")
    db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    with pytest.raises(UsageError, match="made by a newer peftal"):
        LabelStore(tmp_path / "p" / "project.sqlite")
