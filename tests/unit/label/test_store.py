"""The project store: leases, labels, undo, skip, the ranking; concurrent writers."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from peftal.label.errors import Conflict, NotFound


def test_cold_order_is_the_seeded_permutation(make_project):
    store, settings, _ = make_project(n=20, seed=3)
    expected = np.random.default_rng(3).permutation(20).tolist()
    assert store.cold_order() == expected
    first = store.next_for("ann", lease_seconds=60, budget=None)
    assert first["id"] == expected[0]
    assert first["text"] == f"text number {expected[0]}"
    assert first["suggestion"] is None


def test_a_held_lease_is_handed_back_and_others_get_other_examples(make_project):
    store, _, _ = make_project(n=10)
    a1 = store.next_for("a", lease_seconds=60, budget=None)
    assert store.next_for("a", lease_seconds=60, budget=None)["id"] == a1["id"]  # page reload
    b1 = store.next_for("b", lease_seconds=60, budget=None)
    assert b1["id"] != a1["id"]


def test_an_expired_lease_goes_to_the_next_annotator(make_project):
    store, _, _ = make_project(n=10)
    a1 = store.next_for("a", lease_seconds=-1, budget=None)  # already expired
    assert store.next_for("b", lease_seconds=60, budget=None)["id"] == a1["id"]


def test_concurrent_annotators_never_share_an_example_and_lose_no_label(make_project):
    store, _, _ = make_project(n=60)
    given: dict[str, list[int]] = {}
    errors = []

    def annotate(name: str) -> None:
        try:
            ids = []
            for _ in range(10):
                item = store.next_for(name, lease_seconds=60, budget=None)
                ids.append(item["id"])
                assert store.add_label(item["id"], "positive", name) is True
            given[name] = ids
        except Exception as error:  # surfaced below; a thread's assert would be lost otherwise
            errors.append(error)
        finally:
            store.close()

    threads = [threading.Thread(target=annotate, args=(f"ann{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    all_ids = [i for ids in given.values() for i in ids]
    assert len(all_ids) == 60 and len(set(all_ids)) == 60
    stored = store.live_labels()
    assert sorted(row["example_id"] for row in stored) == sorted(all_ids)
    assert {row["annotator"] for row in stored} == set(given)


def test_labels_refuse_conflicts_and_accept_a_retried_request(make_project):
    store, _, _ = make_project(n=10)
    item = store.next_for("a", lease_seconds=60, budget=None)
    with pytest.raises(Conflict, match="assigned to annotator 'a'"):
        store.add_label(item["id"], "positive", "b")
    assert store.add_label(item["id"], "positive", "a") is True
    assert store.add_label(item["id"], "positive", "a") is False  # the same request again
    with pytest.raises(Conflict, match="already labelled 'positive' by 'a'"):
        store.add_label(item["id"], "negative", "a")
    with pytest.raises(NotFound):
        store.add_label(999, "positive", "a")
    rows = store.live_labels()
    assert [(r["example_id"], r["label"], r["annotator"]) for r in rows] == [(item["id"], "positive", "a")]
    assert rows[0]["labelled_at"].endswith("Z")


def test_undo_withdraws_the_latest_own_label_and_hands_it_back(make_project):
    store, _, _ = make_project(n=10)
    first = store.next_for("a", lease_seconds=60, budget=None)
    store.add_label(first["id"], "positive", "a")
    second = store.next_for("a", lease_seconds=60, budget=None)
    store.add_label(second["id"], "negative", "a")
    other = store.next_for("b", lease_seconds=60, budget=None)
    store.add_label(other["id"], "neutral", "b")

    undone = store.undo("a", lease_seconds=60)
    assert undone["id"] == second["id"] and undone["undone_label"] == "negative"
    assert [r["example_id"] for r in store.live_labels()] == [first["id"], other["id"]]
    assert store.next_for("a", lease_seconds=60, budget=None)["id"] == second["id"]
    store.add_label(second["id"], "neutral", "a")  # the corrected label
    assert {r["example_id"]: r["label"] for r in store.live_labels()}[second["id"]] == "neutral"
    assert store.undo("nobody", lease_seconds=60) is None


def test_skip_hides_an_example_from_that_annotator_only(make_project):
    store, _, _ = make_project(n=3)
    item = store.next_for("a", lease_seconds=60, budget=None)
    store.skip(item["id"], "a")
    assert store.next_for("a", lease_seconds=60, budget=None)["id"] != item["id"]
    assert store.next_for("b", lease_seconds=60, budget=None)["id"] == item["id"]
    with pytest.raises(NotFound):
        store.skip(42, "a")


def test_nothing_is_handed_out_beyond_the_budget_or_the_pool(make_project):
    store, _, _ = make_project(n=4)
    for _ in range(2):
        store.add_label(store.next_for("a", lease_seconds=60, budget=3)["id"], "positive", "a")
    store.next_for("a", lease_seconds=60, budget=3)  # the third is leased
    assert store.next_for("b", lease_seconds=60, budget=3) is None
    for _ in range(2):
        item = store.next_for("a", lease_seconds=60, budget=None)
        store.add_label(item["id"], "positive", "a")
    assert store.next_for("a", lease_seconds=60, budget=None) is None


def test_a_published_ranking_replaces_the_order_and_brings_suggestions(make_project):
    store, _, _ = make_project(n=6, seed=0)
    cold = store.cold_order()
    store.publish_ranking([5, 2], {5: ("negative", 0.9), 2: ("neutral", 0.4), 1: ("positive", 0.5)},
                          {"generation": 1, "status": "ready"})
    order = [store.next_for(f"ann{i}", lease_seconds=60, budget=None)["id"] for i in range(6)]
    assert order == [5, 2, *[i for i in cold if i not in (5, 2)]]
    assert store.example(5)["suggestion"] == "negative" and store.example(5)["confidence"] == 0.9
    assert store.example(1)["suggestion"] == "positive"
    assert store.get_meta("model") == {"generation": 1, "status": "ready"}
    with store.read() as db:  # only what was ranked or suggested is written; the rest is found
        assert db.execute("SELECT COUNT(*) FROM ranking").fetchone()[0] == 3
