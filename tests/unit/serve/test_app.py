"""The prediction API on a stand-in backend (probabilities from text length, computed here by hand):
answers, the ten kinds of malformed request each with its 4xx and message, micro-batching of
concurrent requests, and draining."""

from __future__ import annotations

import io
import json
import threading

import numpy as np
import pytest

from peftal.serve.app import Limits, PredictionApp
from peftal.serve.backend import Backend
from peftal.serve.batcher import MicroBatcher

LABELS = ["short", "long"]


def _probabilities(texts, pairs):
    calls.append(len(texts))
    long = np.array([len(t) > 5 for t in texts], dtype=np.float32)
    return np.stack([1 - 0.8 * long - 0.1, 0.8 * long + 0.1], axis=1)


calls: list[int] = []


@pytest.fixture
def app():
    calls.clear()
    backend = Backend(_probabilities, LABELS, False, {"method": "lora", "metrics": {"accuracy": 0.9}})
    app = PredictionApp(backend, MicroBatcher(backend, max_batch=64, max_wait=0.05),
                        Limits(max_body_bytes=2000, max_texts=4, max_chars=100))
    yield app
    app.batcher.close()


def call(app, method="POST", path="/predict", body=None, raw=None, content_type="application/json",
         length=None):
    data = raw if raw is not None else json.dumps(body).encode() if body is not None else b""
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "CONTENT_TYPE": content_type,
               "CONTENT_LENGTH": str(len(data)) if length is None else length, "wsgi.input": io.BytesIO(data)}
    status = []
    out = b"".join(app(environ, lambda s, headers: status.append(s)))
    return int(status[0].split()[0]), json.loads(out)


def test_predicts_labels_and_probabilities(app):
    status, body = call(app, body={"texts": ["hi", "a longer text"]})
    assert status == 200
    assert [p["label"] for p in body["predictions"]] == ["short", "long"]
    assert body["predictions"][1]["probabilities"] == pytest.approx({"short": 0.1, "long": 0.9})
    assert call(app, "GET", "/health") == (200, {"status": "ok"})
    status, info = call(app, "GET", "/info")
    assert info["labels"] == LABELS and info["method"] == "lora" and info["metrics"]["accuracy"] == 0.9


MALFORMED = [
    ({"raw": b"{not json"}, 400, "not valid JSON"),
    ({"body": ["a"]}, 400, "must be a JSON object"),
    ({"body": {"text": ["a"]}}, 400, "unknown field 'text'"),
    ({"body": {}}, 400, "missing field 'texts'"),
    ({"body": {"texts": "a"}}, 400, "must be a list of strings"),
    ({"body": {"texts": []}}, 400, "is empty"),
    ({"body": {"texts": ["a", 3]}}, 400, "texts[1] must be a string"),
    ({"body": {"texts": ["a"] * 5}}, 413, "at most 4"),
    ({"body": {"texts": ["x" * 101]}}, 413, "at most 100"),
    ({"body": {"texts": ["a"], "pairs": ["b"]}}, 400, "leave out 'pairs'"),
    ({"body": {"texts": ["   "]}}, 422, "texts[0] is empty"),
    ({"raw": b"x" * 2001}, 413, "at most 2000"),
    ({"body": {"texts": ["a"]}, "content_type": "text/plain"}, 415, "Content-Type: application/json"),
    ({"body": {"texts": ["a"]}, "length": ""}, 411, "Content-Length"),
    ({"method": "GET"}, 405, "takes POST"),
    ({"path": "/predictions"}, 404, "no route"),
]


@pytest.mark.parametrize(("request_", "status", "message"), MALFORMED)
def test_malformed_requests_get_a_4xx_and_a_message(app, request_, status, message):
    got, body = call(app, **request_)
    assert got == status
    assert message in body["error"]
    assert calls == []  # refused before the model


def test_pair_model_needs_pairs_of_the_same_length():
    backend = Backend(_probabilities, LABELS, True, {})
    app = PredictionApp(backend, MicroBatcher(backend), Limits())
    try:
        assert "give 'pairs'" in call(app, body={"texts": ["a"]})[1]["error"]
        assert "'pairs' has 2 items" in call(app, body={"texts": ["a"], "pairs": ["b", "c"]})[1]["error"]
        assert call(app, body={"texts": ["a"], "pairs": ["b"]})[0] == 200
    finally:
        app.batcher.close()


def test_concurrent_requests_share_batches(app):
    results = {}

    def one(n):
        results[n] = call(app, body={"texts": ["t" * n]})

    threads = [threading.Thread(target=one, args=(n,)) for n in range(1, 13)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(status == 200 for status, _ in results.values())
    assert [results[n][1]["predictions"][0]["label"] for n in range(1, 13)] == ["short"] * 5 + ["long"] * 7
    assert sum(calls) == 12 and len(calls) < 12  # fewer forward passes than requests


def test_draining_refuses_new_predictions(app):
    app.draining = True
    status, body = call(app, body={"texts": ["a"]})
    assert status == 503 and "shutting down" in body["error"]
    assert call(app, "GET", "/health") == (200, {"status": "draining"})
