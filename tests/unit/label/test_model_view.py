"""The model view (``GET /api/model-view``): per-label scores and confusion matrices from
out-of-fold predictions, checked against scikit-learn called here; the accuracy history; the
labels per annotator."""

from __future__ import annotations

import numpy as np
import pytest

from peftal.label.server import create_app

LABELS = ("positive", "negative", "neutral")


def sklearn_scores(targets, predicted, k):
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    precision, recall, f1, support = precision_recall_fscore_support(
        targets, predicted, labels=list(range(k)), zero_division=0)
    return precision, recall, f1, support, confusion_matrix(targets, predicted, labels=list(range(k)))


def assert_scores(view, targets, predicted, labels):
    precision, recall, f1, support, matrix = sklearn_scores(targets, predicted, len(labels))
    assert [row["label"] for row in view["per_label"]] == list(labels)
    for row, p, r, f, n in zip(view["per_label"], precision, recall, f1, support, strict=True):
        assert (row["precision"], row["recall"], row["f1"]) == pytest.approx((p, r, f), abs=1e-4)
        assert row["support"] == n
    assert view["confusion"] == matrix.tolist()
    assert view["accuracy"] == pytest.approx(np.mean(np.asarray(targets) == np.asarray(predicted)), abs=1e-4)


def test_scores_are_sklearns_with_every_label_in_order():
    from peftal.label.model_view import scores

    rng = np.random.default_rng(1)
    labels = ["a", "b", "c", "d"]
    targets = rng.integers(0, 3, size=40)  # "d" never given
    predicted = np.where(rng.random(40) < 0.6, targets, rng.integers(0, 4, size=40))
    view = scores(targets, predicted, labels)
    assert_scores(view, targets, predicted, labels)
    assert view["labels"] == 40 and view["per_label"][3]["support"] == 0
    # Hand-checked: a row of the matrix counts the texts given that label, each by its prediction.
    given_b = predicted[targets == 1]
    assert view["confusion"][1] == [int(np.sum(given_b == j)) for j in range(4)]
    _, _, f1, _, _ = sklearn_scores(targets, predicted, 4)
    assert view["f1_macro"] == pytest.approx(f1[:3].mean(), abs=1e-4)  # over the labels given


@pytest.fixture
def project(make_project):
    """60 texts in three clusters, 45 labelled (three of them wrongly), all embedded."""
    from peftal.label.embeddings import EmbeddingCache

    n = 60
    store, settings, folder = make_project(n=n, max_length=16)
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(3, 16)) * 2
    truth = np.arange(n) % 3
    vectors = (centres[truth] + rng.normal(size=(n, 16))).astype(np.float32)
    given = truth.copy()
    given[[4, 17, 31]] = (truth[[4, 17, 31]] + 1) % 3
    for i in range(45):
        store.add_label(i, LABELS[given[i]], "ann" if i % 4 else "bob")
    cache = EmbeddingCache(folder, {"pool": n, "pooling": "mean", "max_length": 16, "model": "test"})
    order = rng.permutation(n)
    cache.append(order, vectors[order])
    app = create_app(store, settings, name="demo", trusted_hosts=["localhost"])
    return app.test_client(), store, settings, vectors, given


def test_the_probes_scores_are_sklearns_on_its_out_of_fold_predictions(project):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import Normalizer

    from peftal.seeding import stream_seed

    client, store, settings, vectors, given = project
    view = client.get("/api/model-view").get_json()
    (probe,) = view["evaluations"]
    assert probe["model"] == "probe" and "linear probe" in probe["name"]
    assert (probe["folds"], probe["labels"], probe["labels_given"]) == (5, 45, 45)
    labelled = np.arange(45)
    targets = given[labelled]
    predicted = np.empty(45, dtype=np.int64)
    folds = StratifiedKFold(5, shuffle=True, random_state=stream_seed(settings.seed, "review"))
    for train, test in folds.split(vectors[labelled], targets):
        model = make_pipeline(Normalizer(), LogisticRegression(C=100, max_iter=1000))
        predicted[test] = model.fit(vectors[labelled][train], targets[train]).predict(vectors[labelled][test])
    assert_scores(probe, targets, predicted, LABELS)
    assert sum(map(sum, probe["confusion"])) == 45
    # One point of the history per evaluation on a new number of labels.
    assert [(p["model"], p["labels"], p["accuracy"]) for p in view["history"]] == [
        ("probe", 45, probe["accuracy"])]
    assert client.get("/api/model-view").get_json()["history"] == view["history"]
    # Labels per annotator, counted here from what was given.
    expected = {}
    for i in range(45):
        who = expected.setdefault("ann" if i % 4 else "bob", dict.fromkeys(LABELS, 0))
        who[LABELS[given[i]]] += 1
    for counts in expected.values():
        counts["total"] = sum(counts.values())
    assert view["annotators"] == expected
    assert view["label_names"] == list(LABELS)


def test_the_peft_models_scores_come_from_its_last_cross_validation(project):
    client, store, _, _, given = project
    rng = np.random.default_rng(5)
    targets = given[:45].tolist()
    predicted = [t if rng.random() < 0.7 else int(rng.integers(3)) for t in targets]
    store.set_meta("model_cv", {"generation": 2, "method": "ia3", "folds": 5, "at": "2026-01-01T00:00:00Z",
                                "ids": list(range(45)), "targets": targets, "predicted": predicted})
    store.publish_ranking([], {0: ("positive", 0.9)}, suggester="model")
    view = client.get("/api/model-view").get_json()
    probe, peft = view["evaluations"]
    assert view["suggester"] == "model"
    assert (peft["model"], peft["generation"], peft["folds"]) == ("model", 2, 5)
    assert peft["name"] == "PEFT model #2 (ia3)"
    assert_scores(peft, targets, predicted, LABELS)


def test_without_embeddings_the_view_says_why(make_project):
    store, settings, _ = make_project(n=6)
    store.add_label(0, "positive", "ann")
    view = create_app(store, settings).test_client().get("/api/model-view").get_json()
    (probe,) = view["evaluations"]
    assert "accuracy" not in probe and "no embeddings yet" in probe["reason"]
    assert view["history"] == [] and view["suggester"] is None
    assert view["annotators"] == {"ann": {"positive": 1, "negative": 0, "neutral": 0, "total": 1}}


def test_the_trainer_adds_a_probe_point_every_ten_labels(make_project, backbone):
    """The worker scores the probe at 10 and 20 labels (not in between), each point what the model
    view computes on the same labels (the same folds: the review's seed stream)."""
    from peftal.label.model_view import probe_view
    from peftal.label.review import Review
    from peftal.label.worker import Worker

    store, settings, folder = make_project(n=40, epochs=1, max_length=16, query_size=100, cv_folds=0)
    worker = Worker(store, settings, backbone=backbone)
    worker.run(max_jobs=0)
    while worker.step():
        pass  # the pool embedded
    points = []
    for k in range(25):
        item = store.next_for("ann", lease_seconds=60, budget=None)
        store.add_label(item["id"], LABELS[k % 3], "ann")
        while worker.step():
            pass
        history = store.get_meta("accuracy_history", [])
        if len(history) > len(points):
            points = history
            view = probe_view(Review(store, settings, folder), store, list(LABELS))
            assert view["accuracy"] == history[-1]["accuracy"]
    assert [(p["model"], p["labels"], p["folds"]) for p in points] == [("probe", 10, 5), ("probe", 20, 5)]


def test_the_history_keeps_one_point_per_model_and_label_count_and_the_newest(make_project):
    store, _, _ = make_project(n=4)
    assert store.add_accuracy_point({"model": "probe", "labels": 10, "accuracy": 0.5}) is True
    assert store.add_accuracy_point({"model": "probe", "labels": 10, "accuracy": 0.6}) is False
    assert store.add_accuracy_point({"model": "model", "labels": 10, "generation": 1, "accuracy": 0.4})
    assert store.add_accuracy_point({"model": "model", "labels": 10, "generation": 2, "accuracy": 0.7})
    for labels in (20, 30, 40):
        store.add_accuracy_point({"model": "probe", "labels": labels, "accuracy": labels / 100}, keep=4)
    history = store.get_meta("accuracy_history")
    assert [(p["model"], p["labels"], p["accuracy"]) for p in history] == [
        ("model", 10, 0.7), ("probe", 20, 0.2), ("probe", 30, 0.3), ("probe", 40, 0.4)]
    assert all(p["at"].endswith("Z") for p in history)
