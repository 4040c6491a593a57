"""``peftal label`` through the real CLI: SIGKILL while 4 clients post labels, then the final model."""

from __future__ import annotations

import http.client
import json
import os
import random
import signal
import sys
import threading
import time
import urllib.error

import numpy as np
import pytest

from peftal.defaults import DEFAULT_METHOD
from tests.conftest import run_cli
from tests.integration.label_server import TREC_LABELS, Server, pid_alive, trec_csv

pytestmark = pytest.mark.integration


@pytest.mark.skipif(sys.platform != "linux", reason="watches the trainer process through /proc")
def test_sigkill_loses_no_acknowledged_label_and_takes_the_trainer_down(tmp_path, data_dir):
    trec_csv(data_dir, tmp_path / "questions.csv", 300)
    project = tmp_path / "project"
    # A query size beyond the pool: the trainer process starts but never trains (this test is
    # about the store; the browser test covers retraining).
    server = Server(project, "--data", str(tmp_path / "questions.csv"), "--labels", ",".join(TREC_LABELS),
                    "--query-size", "1000", "--max-length", "32")
    acked: list[tuple[int, str, str]] = []
    refused: list[tuple[int, object]] = []
    lock = threading.Lock()

    def client(k: int) -> None:
        rng, name = random.Random(k), f"client{k}"
        for _ in range(100):  # bounded; the kill normally ends it much earlier
            try:
                status, item = server.request("POST", "/api/next", {"annotator": name}, timeout=20)
                if status == 204:
                    return
                label = rng.choice(TREC_LABELS)
                status, body = server.request("POST", "/api/label",
                                              {"id": item["id"], "label": label, "annotator": name},
                                              timeout=20)
            except (OSError, urllib.error.URLError, http.client.HTTPException):
                return  # the server is gone
            with lock:
                if 200 <= status < 300:
                    acked.append((item["id"], label, name))
                else:
                    refused.append((status, body))

    threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 120
    while len(acked) < 60 and time.monotonic() < deadline and any(t.is_alive() for t in threads):
        time.sleep(0.05)
    trainers = server.children()
    os.kill(server.process.pid, signal.SIGKILL)  # mid-flight: the clients are still posting
    for thread in threads:
        thread.join(timeout=60)
    server.process.wait(timeout=30)
    assert not refused, refused
    assert len(acked) >= 20, "too few labels were acknowledged before the kill"
    assert trainers, "the server started no trainer process"
    deadline = time.monotonic() + 30
    while any(pid_alive(pid) for pid in trainers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(pid_alive(pid) for pid in trainers), "the trainer outlived the killed server"

    restarted = Server(project, "--no-trainer")  # resumes: no --data or --labels needed
    try:
        status, stats = restarted.request("GET", "/api/stats")
        assert status == 200 and stats["labelled"] >= len(acked)
        status, item = restarted.request("POST", "/api/next", {"annotator": "after"})
        assert restarted.request("POST", "/api/label", {"id": item["id"], "label": "HUM",
                                                        "annotator": "after"})[0] == 200
        run_cli("label", "export", str(project), "--output", str(tmp_path / "labels.jsonl"))
    finally:
        assert restarted.stop() == 0
    rows = [json.loads(line) for line in (tmp_path / "labels.jsonl").read_text().splitlines()]
    exported = [(row["id"], a["label"], a["annotator"]) for row in rows for a in row["annotations"]]
    assert all(len(row["annotations"]) == 1 for row in rows), "an example was labelled twice"
    for label in acked:
        assert exported.count(label) == 1, f"acknowledged label {label} is missing"
    assert (item["id"], "HUM", "after") in exported
    # Labels committed while their answer was cut off by the kill may be there too: one per client.
    assert len(rows) <= len(acked) + len(threads) + 1


def test_label_train_writes_a_run_that_predict_reads(tmp_path, data_dir, monkeypatch):
    from peftal.label import LabelSettings, create

    # One torch thread: when other jobs share the 2 cores, two threads spin-wait for each other
    # and train several times slower (docs/labelling.md, "Performance").
    monkeypatch.setenv("OMP_NUM_THREADS", "1")

    gold = trec_csv(data_dir, tmp_path / "questions.csv", 120)
    store = create(tmp_path / "project", tmp_path / "questions.csv",
                   LabelSettings(labels=TREC_LABELS, max_length=32, seed=0))
    for _ in range(60):
        item = store.next_for("ann", lease_seconds=60, budget=None)
        store.add_label(item["id"], gold[item["text"]], "ann")
    labelled = {row["example_id"] for row in store.live_labels()}
    run = tmp_path / "run"
    run_cli("label", "train", str(tmp_path / "project"), "--out", str(run), "--no-progress")
    summary = json.loads((run / "summary.json").read_text())
    assert summary["num_labeled"] == 60 and sum(summary["label_counts"].values()) == 60
    assert summary["method"] == DEFAULT_METHOD and set(summary["indices_labeled"]) == labelled
    assert summary["trainable_params"] < summary["total_params"]

    run_cli("predict", "--run", str(run), "--input", str(tmp_path / "questions.csv"),
            "--output", str(tmp_path / "predicted.jsonl"))
    lines = (tmp_path / "predicted.jsonl").read_text().splitlines()
    predicted = [json.loads(line)["label"] for line in lines]
    texts = list(gold)
    held_out = [i for i in range(len(texts)) if i not in labelled]
    truth = np.array([gold[texts[i]] for i in held_out])
    accuracy = float(np.mean(np.array(predicted)[held_out] == truth))
    majority = max(np.mean(truth == label) for label in TREC_LABELS)
    print(f"held-out accuracy {accuracy:.3f} vs majority class {majority:.3f}")
    assert accuracy > majority, (accuracy, majority)


def test_two_annotators_with_overlap_agree_as_scikit_learn_says(tmp_path, data_dir, capsys):
    from sklearn.metrics import cohen_kappa_score

    from peftal.cli import main

    gold = trec_csv(data_dir, tmp_path / "questions.csv", 50)
    project = tmp_path / "project"
    server = Server(project, "--data", str(tmp_path / "questions.csv"), "--labels", ",".join(TREC_LABELS),
                    "--overlap", "0.2", "--no-trainer")
    assert any("20% of the texts go to two annotators" in line for line in server.output)
    given: dict[str, dict[int, str]] = {"ann": {}, "bob": {}}
    try:
        done = set()
        while len(done) < 2:  # the two take turns until neither gets a text
            name = ("ann", "bob")[sum(map(len, given.values())) % 2] if not done else (
                {"ann", "bob"} - done).pop()
            status, item = server.request("POST", "/api/next", {"annotator": name})
            if status == 204:
                done.add(name)
                continue
            # ann gives the gold label; bob too, but for every third text the next label name.
            label = gold[item["text"]]
            if name == "bob" and len(given["bob"]) % 3 == 0:
                label = TREC_LABELS[(TREC_LABELS.index(label) + 1) % len(TREC_LABELS)]
            assert item["id"] not in given[name]
            assert server.request("POST", "/api/label", {"id": item["id"], "label": label,
                                                         "annotator": name})[0] == 200
            given[name][item["id"]] = label
        status, served = server.request("GET", "/api/agreement")
    finally:
        assert server.stop() == 0
    both = sorted(set(given["ann"]) & set(given["bob"]))
    assert len(both) == 10  # 20 % of the 50 questions
    expected = cohen_kappa_score([given["ann"][i] for i in both], [given["bob"][i] for i in both])
    assert 0 < expected < 1 and served["pairs"][0]["kappa"] == pytest.approx(expected)
    # stats and export in this process: another start of the CLI (about 10 s on a busy machine,
    # for torch) would test nothing more.
    capsys.readouterr()
    assert main(["label", "stats", str(project), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["agreement"]["pairs"][0]["kappa"] == pytest.approx(expected)
    assert stats["labelled"] == 50 and stats["annotations"] == 60
    assert main(["label", "export", str(project), "--output", str(tmp_path / "labels.jsonl")]) == 0
    rows = [json.loads(line) for line in (tmp_path / "labels.jsonl").read_text().splitlines()]
    assert len(rows) == 50
    for row in rows:
        names = {a["annotator"]: a["label"] for a in row["annotations"]}
        assert names == {name: given[name][row["id"]] for name in given if row["id"] in given[name]}
        agreed = len(set(names.values())) == 1
        assert row["label"] == (next(iter(names.values())) if agreed else None)


def test_a_server_on_0_0_0_0_answers_401_without_its_token_on_every_route(tmp_path, data_dir):
    """The real server on every address: each route of the app, without the token 401, with it 2xx."""
    from peftal.label.project import open_project
    from peftal.label.server import create_app

    trec_csv(data_dir, tmp_path / "questions.csv", 20)
    project = tmp_path / "project"
    server = Server(project, "--data", str(tmp_path / "questions.csv"), "--labels", ",".join(TREC_LABELS),
                    "--host", "0.0.0.0", "--no-trainer")
    try:
        (line,) = [line for line in server.output if "access token" in line]
        token = line.split("access token ")[1].split(":")[0]
        assert len(token) >= 40 and f"?token={token}" in line
        bearer = {"Authorization": f"Bearer {token}"}
        status, item = server.request("POST", "/api/next", {"annotator": "ann"}, headers=bearer)
        assert status == 200
        i = item["id"]
        # In the order a session would send them (a label before its review and its undo).
        calls = [("GET", "/", "/", None), ("GET", "/review", "/review", None),
                 ("GET", "/static/<path:filename>", "/static/app.js", None),
                 ("GET", "/api/project", "/api/project", None), ("GET", "/api/stats", "/api/stats", None),
                 ("GET", "/api/agreement", "/api/agreement", None),
                 ("GET", "/api/guidelines", "/api/guidelines", None),
                 ("GET", "/api/example/<int:example_id>", f"/api/example/{i}", None),
                 ("POST", "/api/next", "/api/next", {"annotator": "ann"}),
                 ("GET", "/api/search", "/api/search?q=what&status=all", None),
                 ("POST", "/api/take", "/api/take", {"id": 1 if i == 0 else 0, "annotator": "ann"}),
                 ("GET", "/model", "/model", None), ("GET", "/api/model-view", "/api/model-view", None),
                 ("POST", "/api/label", "/api/label", {"id": i, "label": "HUM", "annotator": "ann"}),
                 ("GET", "/api/review", "/api/review", None),
                 ("POST", "/api/resolve", "/api/resolve", {"id": i, "label": "LOC", "reviewer": "r"}),
                 ("POST", "/api/undo", "/api/undo", {"annotator": "ann"}),
                 ("POST", "/api/skip", "/api/skip", {"id": i, "annotator": "ann"})]
        store, settings = open_project(project)
        app = create_app(store, settings, token=token)
        routes = {(method, rule.rule) for rule in app.url_map.iter_rules()
                  for method in rule.methods - {"HEAD", "OPTIONS"}}
        assert routes == {(method, rule) for method, rule, _, _ in calls}  # a new route joins this test
        for method, _, path, body in calls:
            for headers in ({}, {"Authorization": "Bearer " + "x" * len(token)}):
                status, answer = server.request(method, path, body, headers=headers)
                assert status == 401, (method, path, status)
                assert "access token" in (answer.get("error") or answer.get("text"))
            status, _ = server.request(method, path, body, headers=bearer)
            assert 200 <= status < 300, (method, path, status)
    finally:
        assert server.stop() == 0
    assert store.history([item["id"]])[item["id"]]["review"]["label"] == "LOC"


def test_review_lists_the_labels_the_probe_contradicts_on_real_embeddings(tmp_path, data_dir):
    """MiniLM embeddings of 80 TREC questions from the background trainer; 60 labelled, 4 of them
    wrongly: the review's out-of-fold contradictions are scikit-learn's on the cached vectors."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import KFold, StratifiedKFold
    from sklearn.preprocessing import normalize

    from peftal.label.embeddings import read_committed
    from peftal.seeding import stream_seed

    gold = trec_csv(data_dir, tmp_path / "questions.csv", 80)
    project = tmp_path / "project"
    server = Server(project, "--data", str(tmp_path / "questions.csv"), "--labels", ",".join(TREC_LABELS),
                    "--query-size", "1000", "--cv-folds", "0", "--max-length", "32")
    given, mistakes = {}, set()
    try:
        for k in range(60):
            status, item = server.request("POST", "/api/next", {"annotator": "ann"})
            label = gold[item["text"]]
            if k % 15 == 7:  # four mistakes
                label = TREC_LABELS[(TREC_LABELS.index(label) + 1) % len(TREC_LABELS)]
                mistakes.add(item["id"])
            assert server.request("POST", "/api/label", {"id": item["id"], "label": label,
                                                         "annotator": "ann"})[0] == 200
            given[item["id"]] = label
        deadline = time.monotonic() + 240
        while (server.request("GET", "/api/stats")[1].get("embedding") or {}).get("embedded", 0) < 80:
            assert time.monotonic() < deadline, "the pool was not embedded in 4 minutes"
            time.sleep(1)
        status, lists = server.request("GET", "/api/review?limit=1000")
    finally:
        assert server.stop() == 0
    found = lists["contradictions"]
    assert status == 200 and found["folds"] == 5 and found["embedded_labels"] == 60
    cached = read_committed(project, {"pool": 80})
    row = {int(i): k for k, i in enumerate(cached[0])}
    ids = list(given)  # in the order labelled, as the store lists them
    vectors = normalize(np.asarray(cached[1])[[row[i] for i in ids]])
    targets = np.array([TREC_LABELS.index(given[i]) for i in ids])
    present = np.unique(targets)
    probs = np.zeros((len(ids), len(TREC_LABELS)))
    # Stratified when every class given has 5 labels (one per fold), else plain shuffled folds.
    kind = StratifiedKFold if np.bincount(targets)[present].min() >= 5 else KFold
    folds = kind(5, shuffle=True, random_state=stream_seed(0, "review"))
    for train, test in folds.split(vectors, targets):
        model = LogisticRegression(C=100, max_iter=1000).fit(vectors[train], targets[train])
        probs[np.ix_(test, model.classes_)] = model.predict_proba(vectors[test])
    expected = []
    for k, i in enumerate(ids):
        alternative = max((p, c) for c, p in enumerate(probs[k]) if c != targets[k])
        if alternative[0] > probs[k, targets[k]]:
            expected.append((-alternative[0], i))
    assert [item["id"] for item in found["items"]] == [i for _, i in sorted(expected)]
    listed = [item["id"] for item in found["items"]]
    print(f"mistakes listed: {len(mistakes & set(listed))} of {len(mistakes)}; places: "
          f"{sorted(listed.index(i) for i in mistakes & set(listed))} of {len(listed)}")
    assert len(mistakes & set(listed)) >= 3
