"""Find and filter (``GET /api/search``) and the pick of a text found (``POST /api/take``)."""

from __future__ import annotations

import json
import re
import time

import numpy as np
import pytest

from peftal.label.server import create_app
from tests.unit.label.conftest import LABELS, write_csv

TEXTS = [
    "What is the capital of France?",
    "Who wrote the novel Moby Dick?",
    "what year did the Berlin wall fall",
    "How tall is the Eiffel tower in Paris?",
    "Name the capital city of Japan.",
    "Where is the Straße des 17. Juni?",
    "CAPITAL letters and the word Paris",
    "How many legs does a spider have?",
    "Who painted the ceiling of the Sistine Chapel?",
    "When was the capital of Brazil moved?",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!",
    "What does a zebra eat?",
]


@pytest.fixture
def project(tmp_path):
    """``(client, store, suggestions)``: a project of :data:`TEXTS` whose ranking suggests a seeded
    random label with a random confidence for every text."""
    from peftal.label import LabelSettings, create

    data = write_csv(tmp_path / "data.csv", TEXTS)
    settings = LabelSettings(labels=LABELS, data=str(data))
    store = create(tmp_path / "project", data, settings)
    rng = np.random.default_rng(3)
    order = [int(i) for i in rng.permutation(len(TEXTS))]
    suggestions = {i: (LABELS[int(rng.integers(3))], round(float(rng.uniform(0.3, 1.0)), 4))
                   for i in range(len(TEXTS))}
    store.publish_ranking(order, suggestions, suggester="probe")
    app = create_app(store, settings, name="demo", trusted_hosts=["localhost"])
    return app.test_client(), store, suggestions, order


def found(client, **args):
    answer = client.get("/api/search", query_string=args)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def post(client, path, body):
    return client.post(path, data=json.dumps(body), content_type="application/json")


def test_keywords_must_all_occur_case_insensitively(project):
    client, _, _, order = project
    answer = found(client, q="the CAPITAL")
    expected = [i for i in order if "capital" in TEXTS[i].lower() and "the" in TEXTS[i].lower()]
    assert [item["id"] for item in answer["items"]] == expected == [i for i in order if i in (0, 4, 6, 9)]
    assert answer["total"] == 4
    assert answer["items"][0]["text"] == TEXTS[expected[0]]
    assert found(client, q="straße")["total"] == 1 and found(client, q="STRASSE")["total"] == 1  # casefold
    assert found(client, q="capital zebra")["total"] == 0
    assert found(client, q="")["total"] == len(TEXTS)  # no words: every unlabelled text


def test_a_regular_expression_is_searched_as_python_re_would(project):
    client, _, _, order = project
    for pattern in (r"^Wh(o|at)\b", r"\d+", r"(?i)paris\W*$", r"capital(?! letters)"):
        expected = [i for i in order if re.search(pattern, TEXTS[i])]
        answer = found(client, q=pattern, regex="1")
        assert [item["id"] for item in answer["items"]] == expected, pattern
        assert answer["total"] == len(expected)
    assert found(client, q="what", regex="1")["total"] == 1  # case-sensitive like re: one "what"


@pytest.mark.parametrize("args, message", [
    ({"q": "(unclosed", "regex": "1"}, "bad regular expression: missing )"),
    ({"q": "[z-a]", "regex": "1"}, "bad regular expression"),
    ({"q": "a" * 501}, "longer than 500 characters"),
    ({"q": "", "regex": "1"}, "is empty"),
    ({"regex": "yes"}, "\"regex\" must be 0 or 1"),
    ({"suggested": "great"}, "unknown label 'great'"),
    ({"min_confidence": "1.5"}, "from 0 to 1"),
    ({"max_confidence": "high"}, "from 0 to 1"),
    ({"min_confidence": "0.8", "max_confidence": "0.2"}, "is above"),
    ({"status": "done"}, "\"status\" must be one of"),
    ({"limit": "0"}, "\"limit\" must be an integer from 1 to 500"),
])
def test_bad_searches_get_a_400_with_the_reason(project, args, message):
    client = project[0]
    answer = client.get("/api/search", query_string=args)
    assert answer.status_code == 400 and message in answer.get_json()["error"]


def test_a_pattern_that_backtracks_forever_is_stopped(project, monkeypatch):
    from peftal.label import search

    monkeypatch.setattr(search, "MATCH_SECONDS", 0.2)
    started = time.monotonic()
    answer = project[0].get("/api/search", query_string={"q": r"(a|aa)+$", "regex": "1"})
    assert answer.status_code == 400 and "too slow (over 0.2 s on one text" in answer.get_json()["error"]
    assert time.monotonic() - started < 5


def test_filters_by_suggestion_and_confidence_each_and_together(project):
    client, _, suggestions, order = project
    for label in LABELS:
        for low, high in ((None, None), (0.5, None), (None, 0.7), (0.4, 0.8)):
            args = {"suggested": label, "min_confidence": low, "max_confidence": high}
            expected = [i for i in order if suggestions[i][0] == label
                        and (low is None or suggestions[i][1] >= low)
                        and (high is None or suggestions[i][1] <= high)]
            answer = found(client, **{k: v for k, v in args.items() if v is not None})
            assert [item["id"] for item in answer["items"]] == expected, args
            assert all((item["suggestion"], item["confidence"]) == suggestions[item["id"]]
                       for item in answer["items"])
    confident = [i for i in order if suggestions[i][1] >= 0.6]
    assert [item["id"] for item in found(client, min_confidence="0.6")["items"]] == confident
    both = [i for i in confident if "?" in TEXTS[i]]
    assert [item["id"] for item in found(client, q="?", min_confidence="0.6")["items"]] == both


def test_labelled_texts_leave_the_default_results_and_the_limit_keeps_the_total(project):
    client, store, _, order = project
    for example_id in order[:3]:
        store.add_label(example_id, "positive", "Ann")
    answer = found(client, limit="4")
    assert answer["total"] == len(TEXTS) - 3
    assert [item["id"] for item in answer["items"]] == order[3:7]
    assert not any(item["labelled"] for item in answer["items"])
    assert [item["id"] for item in found(client, status="labelled")["items"]] == order[:3]
    everything = found(client, status="all", limit="500")
    assert [item["labelled"] for item in everything["items"]] == [True] * 3 + [False] * (len(TEXTS) - 3)


def test_a_text_found_is_leased_like_the_next_one_and_labelled_normally(project):
    client, store, _, order = project
    first = post(client, "/api/next", {"annotator": "Ann"}).get_json()
    assert first["id"] == order[0]
    (hit,) = found(client, q="sistine")["items"]
    taken = post(client, "/api/take", {"id": hit["id"], "annotator": "Ann"})
    assert taken.status_code == 200 and taken.get_json()["text"] == TEXTS[hit["id"]]
    assert found(client, q="sistine")["items"][0]["leased_by"] == "Ann"
    # Nobody else is handed it or may take it while Ann holds it.
    handed = [post(client, "/api/next", {"annotator": f"B{k}"}).get_json()["id"] for k in range(9)]
    assert hit["id"] not in handed and first["id"] not in handed
    refused = post(client, "/api/take", {"id": hit["id"], "annotator": "Bob"})
    assert refused.status_code == 409 and "being labelled by 'Ann'" in refused.get_json()["error"]
    labelled = post(client, "/api/label", {"id": hit["id"], "label": "neutral", "annotator": "Ann"})
    assert labelled.status_code == 200
    # Back to the text Ann was on; the one found is labelled like any other.
    assert post(client, "/api/next", {"annotator": "Ann"}).get_json()["id"] == first["id"]
    assert [(r["example_id"], r["label"], r["annotator"]) for r in store.live_labels()] == [
        (hit["id"], "neutral", "Ann")]
    again = post(client, "/api/take", {"id": hit["id"], "annotator": "Bob"})
    assert again.status_code == 409 and "labelled already" in again.get_json()["error"]
    assert post(client, "/api/take", {"id": 999, "annotator": "Ann"}).status_code == 404


def test_taking_respects_the_budget_and_the_overlap(tmp_path):
    from peftal.label import LabelSettings, create

    data = write_csv(tmp_path / "data.csv", TEXTS)
    settings = LabelSettings(labels=LABELS, data=str(data), budget=1, overlap=1.0)
    store = create(tmp_path / "project", data, settings)
    client = create_app(store, settings, trusted_hosts=["localhost"]).test_client()
    assert post(client, "/api/take", {"id": 4, "annotator": "Ann"}).status_code == 200
    spent = post(client, "/api/take", {"id": 5, "annotator": "Ann"})
    assert spent.status_code == 409 and "budget of 1 labels is spent" in spent.get_json()["error"]
    post(client, "/api/label", {"id": 4, "label": "positive", "annotator": "Ann"})
    # With --overlap 1 the text wants a second annotator: Bob may take it, Ann not again.
    assert post(client, "/api/take", {"id": 4, "annotator": "Bob"}).status_code == 200
    mine = post(client, "/api/take", {"id": 4, "annotator": "Ann"})
    assert mine.status_code == 409 and "you labelled example 4 already" in mine.get_json()["error"]
