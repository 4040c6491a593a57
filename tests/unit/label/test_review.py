"""The review: disagreements, the labels the probe contradicts (against scikit-learn computed here),
resolving through the API, and the resolved label in training and the export."""

from __future__ import annotations

import json

import numpy as np
import pytest

from peftal.label.server import create_app

LABELS = ("positive", "negative", "neutral")


def post(client, path, body):
    return client.post(path, data=json.dumps(body), content_type="application/json")


def labelled_by_two(store, given):
    """``given``: ``[(id, {annotator: label})]``, stored in that order with --overlap 1."""
    for example_id, by in given:
        for annotator, label in by.items():
            store.add_label(example_id, label, annotator, overlap=1.0)


def test_disagreements_are_the_unresolved_texts_whose_labels_differ(make_project):
    store, settings, _ = make_project(n=8)
    x, y, z, w = store.cold_order()[:4]
    labelled_by_two(store, [(x, {"a": "positive", "b": "positive"}), (y, {"a": "positive", "b": "negative"}),
                            (z, {"a": "neutral"}), (w, {"a": "negative", "b": "neutral"})])
    assert store.disagreements() == [y, w]  # in the order first labelled
    history = store.history([y, 999])
    assert list(history) == [y]
    assert [(a["annotator"], a["label"], a["undone_at"]) for a in history[y]["annotations"]] == [
        ("a", "positive", None), ("b", "negative", None)]
    assert all(a["labelled_at"].endswith("Z") for a in history[y]["annotations"])
    assert (history[y]["label"], history[y]["resolution"], history[y]["review"]) == (None, "tie", None)
    store.set_final(y, "negative", "rita")
    assert store.disagreements() == [w]
    history = store.history([y])[y]
    assert history["review"]["label"] == "negative" and history["review"]["by"] == "rita"
    assert (history["label"], history["resolution"]) == ("negative", "review")
    # An undo ends a disagreement, and the withdrawn annotation stays in the history.
    store.undo("b", lease_seconds=60)
    assert store.disagreements() == []
    assert [a["undone_at"] is not None for a in store.history([w])[w]["annotations"]] == [False, True]


@pytest.fixture
def client_for(make_project):
    def make(n=8, **settings):
        store, settings_, folder = make_project(n=n, **settings)
        app = create_app(store, settings_, name="demo", trusted_hosts=["localhost"])
        return app.test_client(), store, settings_, folder

    return make


def test_resolve_sets_the_final_label_that_training_and_the_export_use(client_for):
    from peftal.label.embeddings import EmbeddingCache
    from peftal.label.probe import Probe

    client, store, settings, folder = client_for()
    x, y = store.cold_order()[:2]
    labelled_by_two(store, [(x, {"ann": "positive", "bob": "positive"}), (y, {"ann": "positive",
                                                                               "bob": "negative"})])
    lists = client.get("/api/review").get_json()
    assert lists["disagreements"]["total"] == 1
    (item,) = lists["disagreements"]["items"]
    assert item["id"] == y and item["text"] == f"text number {y}"
    assert [(a["annotator"], a["label"]) for a in item["annotations"]] == [("ann", "positive"),
                                                                           ("bob", "negative")]
    assert lists["contradictions"]["items"] == [] and "no embeddings" in lists["contradictions"]["reason"]
    assert store.label_snapshot()[0] == [x]  # the tie does not train

    answer = post(client, "/api/resolve", {"id": y, "label": "negative", "reviewer": "Rita"})
    assert answer.status_code == 200
    assert answer.get_json()["item"]["review"]["by"] == "Rita"
    assert client.get("/api/review").get_json()["disagreements"] == {"total": 0, "items": []}
    ids, labels, _ = store.label_snapshot()
    assert dict(zip(ids, labels)) == {x: "positive", y: "negative"}
    cache = EmbeddingCache(folder, {"pool": 8})
    cache.append(np.arange(8), np.eye(8, dtype=np.float32))
    probe_ids, targets, _, _ = Probe(store, settings, cache).labelled()
    assert dict(zip(probe_ids.tolist(), targets.tolist())) == {x: 0, y: 1}  # the probe trains on it
    exported = {t["id"]: t for t in store.labelled_texts()}[y]
    assert (exported["label"], exported["resolution"], exported["reviewed"]["by"]) == ("negative", "review",
                                                                                     "Rita")
    assert len(exported["annotations"]) == 2
    # A second review replaces the first.
    post(client, "/api/resolve", {"id": y, "label": "positive", "reviewer": "Sam"})
    assert dict(zip(*store.label_snapshot()[:2]))[y] == "positive"


@pytest.mark.parametrize("body, status, message", [
    ({"id": 0, "label": "great", "reviewer": "Rita"}, 400, "unknown label 'great'"),
    ({"id": 0, "label": "positive"}, 400, "\"reviewer\""),
    ({"id": "0", "label": "positive", "reviewer": "Rita"}, 400, "must be an integer"),
    ({"id": 999, "label": "positive", "reviewer": "Rita"}, 404, "no example with id 999"),
    ({"id": "unlabelled", "label": "positive", "reviewer": "Rita"}, 409, "no annotation to review"),
])
def test_bad_resolutions_are_refused_and_nothing_is_stored(client_for, body, status, message):
    client, store, _, _ = client_for()
    x, free = store.cold_order()[:2]
    store.add_label(x, "negative", "ann")
    body = {**body, "id": free} if body["id"] == "unlabelled" else body
    answer = post(client, "/api/resolve", body)
    assert answer.status_code == status and message in answer.get_json()["error"]
    assert store.reviewed() == set()


def test_bad_review_requests_get_4xx_json(client_for):
    client, _, _, _ = client_for()
    for limit in ("0", "x", "1001"):
        answer = client.get(f"/api/review?limit={limit}")
        assert answer.status_code == 400 and "limit" in answer.get_json()["error"]
    answer = client.post("/api/resolve", data="id=0&label=positive&reviewer=R",
                         content_type="application/x-www-form-urlencoded")
    assert answer.status_code == 415 and "application/json" in answer.get_json()["error"]
    assert client.get("/review").status_code == 200


def test_contradictions_are_sklearns_out_of_fold_probabilities_most_confident_first(client_for):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import Normalizer

    from peftal.label.embeddings import EmbeddingCache
    from peftal.seeding import stream_seed

    n = 60
    client, store, settings, folder = client_for(n=n, max_length=16)
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(3, 16)) * 3
    truth = np.arange(n) % 3
    vectors = (centres[truth] + rng.normal(size=(n, 16))).astype(np.float32)
    given = truth.copy()
    flipped = [4, 17, 31]
    given[flipped] = (truth[flipped] + 1) % 3  # three labelling mistakes
    labelled = list(range(45))
    for i in labelled:
        store.add_label(i, LABELS[given[i]], "ann")
    cache = EmbeddingCache(folder, {"pool": n, "pooling": "mean", "max_length": 16, "model": "test"})
    order = rng.permutation(n)  # the cache holds rows in another order than the ids
    cache.append(order, vectors[order])

    found = client.get("/api/review?limit=1000").get_json()["contradictions"]

    targets = given[labelled]
    folds = StratifiedKFold(5, shuffle=True, random_state=stream_seed(settings.seed, "review"))
    probs = np.zeros((len(labelled), 3))
    for train, test in folds.split(vectors[labelled], targets):
        model = make_pipeline(Normalizer(), LogisticRegression(C=100, max_iter=1000))
        model.fit(vectors[labelled][train], targets[train])
        probs[test] = model.predict_proba(vectors[labelled][test])
    expected = []
    for k, i in enumerate(labelled):
        others = [(probs[k, c], c) for c in range(3) if c != targets[k]]
        p, c = max(others)
        if p > probs[k, targets[k]]:
            expected.append((-p, i, c))
    expected.sort()
    assert found["folds"] == 5 and found["embedded_labels"] == 45 and "linear probe" in found["model"]
    assert [item["id"] for item in found["items"]] == [i for _, i, _ in expected]
    assert [item["alternative"]["label"] for item in found["items"]] == [LABELS[c] for _, _, c in expected]
    for item, (p, i, _) in zip(found["items"], expected, strict=True):
        assert item["alternative"]["probability"] == pytest.approx(-p, abs=1e-3)
        assert item["disputed"]["label"] == LABELS[given[i]]
        assert [a["annotator"] for a in item["annotations"]] == ["ann"]
    assert set(flipped) <= {item["id"] for item in found["items"][:5]}  # the mistakes come first
    # A reviewed text leaves the list; the limit cuts it.
    top = found["items"][0]
    post(client, "/api/resolve", {"id": top["id"], "label": top["alternative"]["label"], "reviewer": "R"})
    again = client.get("/api/review?limit=1").get_json()["contradictions"]
    assert top["id"] not in [item["id"] for item in again["items"]] and len(again["items"]) <= 1


def test_contradictions_are_recomputed_at_most_once_per_ten_times_their_cost(make_project, monkeypatch):
    from peftal.label import review as review_module
    from peftal.label.embeddings import EmbeddingCache

    store, settings, folder = make_project(n=20, max_length=16)
    rng = np.random.default_rng(0)
    EmbeddingCache(folder, {"pool": 20, "pooling": "mean", "max_length": 16}).append(
        np.arange(20), rng.normal(size=(20, 8)).astype(np.float32))
    for i in range(12):
        store.add_label(i, LABELS[i % 3], "ann")
    clock = [100.0]
    monkeypatch.setattr(review_module.time, "monotonic", lambda: clock[0])
    review = review_module.Review(store, settings, folder)
    assert review.contradictions(50)["labels"] == 12
    clock[0] += 1e-3
    store.add_label(12, "positive", "ann")
    # The fake clock stood still while computing: the next label is served at once, not before.
    assert review.contradictions(50)["labels"] == 13
    monkeypatch.setattr(review_module, "RECOMPUTE_AFTER_COSTS", 1e9)
    review._next_at = clock[0] + 5
    store.add_label(13, "positive", "ann")
    assert review.contradictions(50)["labels"] == 13  # within the window: the last result
    clock[0] += 6
    assert review.contradictions(50)["labels"] == 14


def test_every_retrain_and_the_final_model_train_on_the_reviewed_label(make_project, backbone, monkeypatch,
                                                                         tmp_path):
    from peftal.label.final import train_final
    from peftal.label.model import LabelModel

    store, settings, folder = make_project(n=6, epochs=1, max_length=16)
    x, y = store.cold_order()[:2]
    labelled_by_two(store, [(x, {"a": "neutral"}), (y, {"a": "positive", "b": "negative"})])
    trained = []

    class Stop(Exception):
        pass

    def fit(self, ids, targets, seed, on_step=None, thresholds="fixed"):
        trained.append(dict(zip(ids.tolist(), (settings.labels[t] for t in targets))))
        raise Stop

    monkeypatch.setattr(LabelModel, "fit", fit)
    model = LabelModel(store, settings, backbone=backbone)
    with pytest.raises(Stop):
        model.retrain(1)
    store.set_final(y, "negative", "rita")
    with pytest.raises(Stop):
        model.retrain(2)
    monkeypatch.setattr("peftal.label.model.load_backbone", lambda name: backbone)
    with pytest.raises(Stop):
        train_final(folder, tmp_path / "run", progress=False)
    assert trained == [{x: "neutral"}, {x: "neutral", y: "negative"}, {x: "neutral", y: "negative"}]
