"""The JSON API through Flask's test client: the issue's contract and its bad-request rules."""

from __future__ import annotations

import json

import pytest

from peftal.label.server import create_app


@pytest.fixture
def client_for(make_project):
    def make(**settings):
        store, settings_, _ = make_project(**settings)
        app = create_app(store, settings_, name="demo", trusted_hosts=["localhost"])
        return app.test_client(), store

    return make


def post(client, path, body):
    return client.post(path, data=json.dumps(body), content_type="application/json")


def test_next_label_stats_and_the_end_of_the_pool(client_for):
    client, store = client_for(n=3)
    project = client.get("/api/project").get_json()
    assert project["labels"] == ["positive", "negative", "neutral"]
    assert project["shortcuts"] == {"positive": "1", "negative": "2", "neutral": "3"}
    for n in range(3):
        item = post(client, "/api/next", {"annotator": "Ann"}).get_json()
        assert set(item) == {"id", "text", "suggestion", "confidence", "generation", "suggested_by",
                             "ranking_version"}
        answer = post(client, "/api/label", {"id": item["id"], "label": "negative", "annotator": "Ann"})
        assert answer.status_code == 200 and answer.get_json()["ok"] is True
        stats = client.get("/api/stats").get_json()
        assert stats["labelled"] == n + 1 and stats["by_annotator"] == {"Ann": n + 1}
    assert post(client, "/api/next", {"annotator": "Ann"}).status_code == 204
    stats = client.get("/api/stats").get_json()
    assert stats["by_label"] == {"negative": 3} and stats["pool"] == 3 and stats["budget"] == 3
    assert stats["model"]["status"] == "none"
    assert stats["ranking"] == {"suggester": None, "version": 0}
    assert stats["probe"] is None and stats["embedding"] is None  # no background worker here


def test_pair_tasks_return_the_pair(client_for):
    client, _ = client_for(n=3, pairs=True)
    item = post(client, "/api/next", {"annotator": "Ann"}).get_json()
    assert item["text_pair"] == f"pair {item['id']}"
    assert client.get("/api/project").get_json()["is_pair"] is True


@pytest.mark.parametrize("body, status, message", [
    ({"id": 0, "label": "great", "annotator": "Ann"}, 400, "unknown label 'great'"),
    ({"id": 999, "label": "positive", "annotator": "Ann"}, 404, "no example with id 999"),
    ({"id": "0", "label": "positive", "annotator": "Ann"}, 400, "must be an integer"),
    ({"id": True, "label": "positive", "annotator": "Ann"}, 400, "must be an integer"),
    ({"id": 0, "label": "positive"}, 400, "\"annotator\""),
    ({"id": 0, "label": "positive", "annotator": "   "}, 400, "\"annotator\""),
    ([0, "positive"], 400, "must be a JSON object"),
])
def test_bad_labels_are_refused_and_nothing_is_stored(client_for, body, status, message):
    client, store = client_for(n=5)
    answer = post(client, "/api/label", body)
    assert answer.status_code == status
    assert message in answer.get_json()["error"]
    assert store.live_labels() == []
    assert client.get("/api/stats").get_json()["labelled"] == 0


def test_malformed_json_and_wrong_content_type_are_refused(client_for):
    client, store = client_for(n=5)
    answer = client.post("/api/label", data='{"id": 0, "label": ', content_type="application/json")
    assert answer.status_code == 400 and "not valid JSON" in answer.get_json()["error"]
    # A form post (what another site's page could send without a CORS preflight) is refused.
    answer = client.post("/api/label", data="id=0&label=positive&annotator=Ann",
                         content_type="application/x-www-form-urlencoded")
    assert answer.status_code == 415 and "application/json" in answer.get_json()["error"]
    assert post(client, "/api/next", {}).status_code == 400  # no annotator
    # Leasing is not a GET: another site's <img src=".../api/next"> changes nothing.
    assert client.get("/api/next?annotator=Ann").status_code == 405
    assert store.live_labels() == []


def test_two_annotators_get_different_examples_and_cannot_take_each_others(client_for):
    client, store = client_for(n=5)
    a = post(client, "/api/next", {"annotator": "A"}).get_json()
    b = post(client, "/api/next", {"annotator": "B"}).get_json()
    assert a["id"] != b["id"]
    answer = post(client, "/api/label", {"id": a["id"], "label": "positive", "annotator": "B"})
    assert answer.status_code == 409 and "assigned to annotator 'A'" in answer.get_json()["error"]
    mine = post(client, "/api/label", {"id": a["id"], "label": "positive", "annotator": "A"})
    assert mine.status_code == 200
    # The same request again (a retry after a lost answer) is acknowledged and stored once.
    again = post(client, "/api/label", {"id": a["id"], "label": "positive", "annotator": "A"})
    assert again.status_code == 200 and again.get_json()["duplicate"] is True
    assert len(store.live_labels()) == 1


def test_undo_and_skip(client_for):
    client, store = client_for(n=5)
    item = post(client, "/api/next", {"annotator": "A"}).get_json()
    post(client, "/api/label", {"id": item["id"], "label": "neutral", "annotator": "A"})
    undone = post(client, "/api/undo", {"annotator": "A"})
    assert undone.status_code == 200
    assert undone.get_json()["example"]["id"] == item["id"]
    assert undone.get_json()["example"]["undone_label"] == "neutral"
    assert store.live_labels() == []
    assert post(client, "/api/next", {"annotator": "A"}).get_json()["id"] == item["id"]
    nothing = post(client, "/api/undo", {"annotator": "B"})
    assert nothing.status_code == 400 and "no label to undo" in nothing.get_json()["error"]

    assert post(client, "/api/skip", {"id": item["id"], "annotator": "A"}).status_code == 200
    assert post(client, "/api/next", {"annotator": "A"}).get_json()["id"] != item["id"]
    assert client.get("/api/stats").get_json()["skipped"] == 1


def test_example_endpoint_page_and_static_files(client_for):
    client, _ = client_for(n=5)
    assert client.get("/api/example/3").get_json()["text"] == "text number 3"
    assert client.get("/api/example/77").status_code == 404
    page = client.get("/")
    assert page.status_code == 200 and b"/static/app.js" in page.data
    assert b'<link rel="icon" href="data:,">' in page.data  # no request for /favicon.ico
    assert b"/api/next" in client.get("/static/app.js").data
    assert client.get("/static/style.css").status_code == 200
    unknown = client.get("/api/nothing")
    assert unknown.status_code == 404 and "error" in unknown.get_json()


def test_requests_for_a_foreign_host_name_are_refused(client_for):
    client, _ = client_for(n=5)
    assert client.get("/api/stats", headers={"Host": "attacker.example"}).status_code == 400
    assert client.get("/api/stats", headers={"Host": "localhost:8765"}).status_code == 200


def test_the_page_cannot_be_framed_by_another_site(client_for):
    client, _ = client_for(n=3)
    for answer in (client.get("/"), client.get("/api/stats"), post(client, "/api/next", {"annotator": "A"})):
        assert answer.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]


@pytest.mark.parametrize("data, status, message", [
    (json.dumps({"id": 0, "label": "positive", "annotator": "A" * 100_000}).encode(), 413, ""),
    (json.dumps({"id": 2**63, "label": "positive", "annotator": "Ann"}).encode(), 404, "no example"),
    (json.dumps({"id": -1, "label": "positive", "annotator": "Ann"}).encode(), 404, "no example"),
    (b"[" * 100_000 + b"]" * 100_000, 413, ""),
    (b"[" * 20_000 + b"]" * 20_000, 400, "nested too deeply"),
    ('{"id": 0, "label": "positive", "annotator": "Ann\xe9"}'.encode("latin-1"), 400, "UTF-8"),
    (b'{"id": 0, "label": "positive", "annotator": "\\ud800"}', 400, "Unicode"),
])
def test_oversized_and_malformed_bodies_get_a_4xx_and_store_nothing(client_for, data, status, message):
    client, store = client_for(n=5)
    post(client, "/api/next", {"annotator": "Ann"})
    answer = client.post("/api/label", data=data, content_type="application/json")
    assert answer.status_code == status
    assert message in answer.get_json()["error"]
    assert store.live_labels() == []


def test_ids_beyond_sqlite_integers_are_not_found(client_for):
    client, _ = client_for(n=3)
    assert client.get(f"/api/example/{2**63}").status_code == 404
    assert post(client, "/api/skip", {"id": 2**70, "annotator": "A"}).status_code == 404


def test_a_full_disk_is_a_503_with_a_message(client_for, monkeypatch):
    import sqlite3

    client, store = client_for(n=3)
    item = post(client, "/api/next", {"annotator": "Ann"}).get_json()

    def full(*args, **kwargs):
        error = sqlite3.OperationalError("database or disk is full")
        error.sqlite_errorcode = 13  # SQLITE_FULL, as SQLite sets it
        raise error

    monkeypatch.setattr(store, "add_label", full)
    answer = post(client, "/api/label", {"id": item["id"], "label": "positive", "annotator": "Ann"})
    assert answer.status_code == 503 and "disk is full" in answer.get_json()["error"]


def test_two_annotators_share_the_overlap_and_the_agreement_is_served(client_for):
    from sklearn.metrics import cohen_kappa_score

    client, store = client_for(n=12, overlap=0.5, seed=2)
    given: dict[str, dict[int, str]] = {"Ann": {}, "Bo": {}}
    for turn in range(40):  # the two take turns until neither gets a text
        name = ("Ann", "Bo")[turn % 2]
        answer = post(client, "/api/next", {"annotator": name})
        if answer.status_code == 204:
            continue
        example_id = answer.get_json()["id"]
        assert example_id not in given[name]  # never the same text twice to one annotator
        label = ("positive", "negative")[example_id % 2] if name == "Ann" else (
            ("positive", "negative", "neutral")[example_id % 3])
        assert post(client, "/api/label", {"id": example_id, "label": label,
                                           "annotator": name}).status_code == 200
        given[name][example_id] = label
    both = sorted(set(given["Ann"]) & set(given["Bo"]))
    assert len(both) == 6  # half of the 12 texts, each labelled by both
    assert sorted(set(given["Ann"]) | set(given["Bo"])) == list(range(12))
    measured = client.get("/api/agreement").get_json()
    assert measured["overlap"] == 0.5 and measured["texts"] == 6
    (pair,) = measured["pairs"]
    assert pair["annotators"] == ["Ann", "Bo"] and pair["texts"] == 6
    assert pair["kappa"] == pytest.approx(cohen_kappa_score([given["Ann"][i] for i in both],
                                                            [given["Bo"][i] for i in both]))
    assert set(measured["alpha_per_label"]) == {"positive", "negative", "neutral"}
    stats = client.get("/api/stats").get_json()
    assert (stats["labelled"], stats["annotations"], stats["multiple"]) == (12, 18, 6)
    assert stats["overlap"] == 0.5
    # A third annotator cannot add a label to a text that has its two.
    answer = post(client, "/api/label", {"id": both[0], "label": "neutral", "annotator": "Cy"})
    assert answer.status_code == 409
