"""Multi-label projects: label sets through the store, the API, the probe, the model, agreement,
the review and the export (tiny random encoder)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from peftal.label.server import create_app
from tests.unit.label.test_api import post
from tests.unit.label.test_probe import fresh_vectors

SETS = (["positive"], ["negative", "neutral"], [], ["positive", "neutral"])


def label_sets_of(store, n, annotator="ann"):
    from peftal.label.label_sets import encode

    for k in range(n):
        item = store.next_for(annotator, lease_seconds=60, budget=None)
        store.add_label(item["id"], encode(SETS[k % len(SETS)], ("positive", "negative", "neutral")),
                        annotator)


def test_a_label_set_is_stored_once_in_the_projects_order_and_bad_sets_are_refused():
    from peftal.label.errors import LabelError
    from peftal.label.label_sets import decode, encode, expand, multi_hot

    labels = ("a", "b", "c")
    assert encode(["c", "a"], labels) == encode(["a", "c"], labels) == '["a", "c"]'
    assert decode(encode([], labels)) == []
    for bad, message in ((["a", "a"], "twice"), (["d"], "unknown label 'd'"), ("a", "a list"),
                         ([1], "a list")):
        with pytest.raises(LabelError, match=message):
            encode(bad, labels)
    assert multi_hot(['["a", "c"]', "[]"], labels).tolist() == [[1, 0, 1], [0, 0, 0]]
    assert expand([(7, "ann", '["b"]')], labels) == [
        ((7, "a"), "ann", "no"), ((7, "b"), "ann", "yes"), ((7, "c"), "ann", "no")]


def test_the_api_takes_label_sets_and_refuses_a_single_label(make_project):
    store, settings, _ = make_project(n=6, multi_label=True, strategy="br_entropy_mean")
    client = create_app(store, settings, name="demo", trusted_hosts=["localhost"]).test_client()
    assert client.get("/api/project").get_json()["multi_label"] is True
    item = post(client, "/api/next", {"annotator": "Ann"}).get_json()
    refused = post(client, "/api/label", {"id": item["id"], "label": "positive", "annotator": "Ann"})
    assert refused.status_code == 400 and "send \"labels\"" in refused.get_json()["error"]
    unknown = post(client, "/api/label", {"id": item["id"], "labels": ["joy"], "annotator": "Ann"})
    assert unknown.status_code == 400 and "unknown label 'joy'" in unknown.get_json()["error"]
    saved = post(client, "/api/label", {"id": item["id"], "labels": ["neutral", "positive"],
                                        "annotator": "Ann"})
    assert saved.status_code == 200 and saved.get_json()["duplicate"] is False
    again = post(client, "/api/label", {"id": item["id"], "labels": ["positive", "neutral"],
                                        "annotator": "Ann"})
    assert again.get_json()["duplicate"] is True  # the same set in another order: a retry
    ids, labels, _ = store.label_snapshot()
    assert ids == [item["id"]] and labels == ['["positive", "neutral"]']
    none = post(client, "/api/next", {"annotator": "Ann"}).get_json()
    assert post(client, "/api/label", {"id": none["id"], "labels": [], "annotator": "Ann"}).status_code == 200
    stats = client.get("/api/stats").get_json()
    assert stats["by_label"] == {"positive": 1, "neutral": 1} and stats["labelled"] == 2


def test_a_single_label_project_refuses_a_list(make_project):
    store, settings, _ = make_project(n=3)
    client = create_app(store, settings, name="demo", trusted_hosts=["localhost"]).test_client()
    item = post(client, "/api/next", {"annotator": "Ann"}).get_json()
    refused = post(client, "/api/label", {"id": item["id"], "label": ["positive"], "annotator": "Ann"})
    assert refused.status_code == 400 and "one label per text" in refused.get_json()["error"]


def test_a_single_label_strategy_is_refused_for_a_multi_label_project(make_project):
    from peftal.errors import UsageError

    with pytest.raises(UsageError, match="does not apply to a multi-label project"):
        make_project(n=3, multi_label=True, strategy="margin")


def test_the_probe_fits_one_regression_per_label_and_suggests_the_labels_at_half(make_project, backbone):
    from sklearn.linear_model import LogisticRegression

    from peftal.label.embeddings import PoolEmbedder
    from peftal.label.label_sets import decode
    from peftal.label.probe import PROBE_C, Probe

    store, settings, folder = make_project(n=30, max_length=16, multi_label=True,
                                           strategy="br_entropy_max", candidates=0)
    embedder = PoolEmbedder(store, settings, *backbone, folder)
    embedder.embed_chunk()
    probe = Probe(store, settings, embedder.cache)
    label_sets_of(store, 8)
    assert probe.update() is True
    ids, labels, _ = store.label_snapshot()
    vectors = fresh_vectors(store, settings, backbone, np.arange(30))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    unlabelled = np.setdiff1d(np.arange(30), ids)
    probs = np.stack([LogisticRegression(C=PROBE_C, max_iter=1000).fit(
        vectors[ids], [name in decode(label) for label in labels]).predict_proba(vectors[unlabelled])[:, 1]
        for name in settings.labels], axis=1)  # (unlabelled, labels), each label on its own
    p = np.clip(probs, 1e-12, 1 - 1e-12)
    most_uncertain = (-(p * np.log(p) + (1 - p) * np.log(1 - p))).max(axis=1)  # nats
    expected = unlabelled[np.argsort(-most_uncertain, kind="stable")].tolist()
    served = [store.next_for(f"a{k}", lease_seconds=60, budget=None) for k in range(len(unlabelled))]
    assert [item["id"] for item in served][:5] == expected[:5]
    for item in served:
        row = probs[list(unlabelled).index(item["id"])]
        chosen = [name for name, q in zip(settings.labels, row, strict=True) if q >= 0.5]
        assert decode(item["suggestion"]) == chosen
        sure = np.prod(np.where(row >= 0.5, row, 1 - row))
        assert item["confidence"] == pytest.approx(sure, abs=1e-3)


def test_the_model_trains_a_sigmoid_head_and_cross_validates_subset_accuracy(make_project, backbone):
    from peftal.label.label_sets import decode
    from peftal.label.model import LabelModel

    store, settings, _ = make_project(n=24, epochs=1, max_length=16, multi_label=True,
                                      strategy="br_entropy_mean", cv_folds=2)
    label_sets_of(store, 8)
    model = LabelModel(store, settings, backbone)
    record, order, suggestions = model.retrain(1)
    assert record["trained_on"] == 8 and len(order) == 16
    assert all(isinstance(decode(label), list) for label, _ in suggestions.values())
    result = model.cross_validate(1)
    targets, predicted = np.asarray(result["oof"]["targets"]), np.asarray(result["oof"]["predicted"])
    assert targets.shape == predicted.shape == (8, 3)
    assert result["accuracy"] == pytest.approx(np.mean(np.all(targets == predicted, axis=1)), abs=1e-4)


def test_agreement_is_over_each_labels_yes_or_no(make_project):
    from sklearn.metrics import cohen_kappa_score

    from peftal.label.agreement import measure_project
    from peftal.label.label_sets import encode

    store, settings, _ = make_project(n=4, multi_label=True, strategy="br_entropy_mean", overlap=1.0)
    given = {"ann": (["positive"], ["negative"], [], ["neutral", "positive"]),
             "bob": (["positive"], ["negative", "neutral"], ["neutral"], ["positive"])}
    for k in range(4):
        for person in ("ann", "bob"):
            store.add_label(k, encode(list(given[person][k]), settings.labels), person, overlap=1.0)
    found = measure_project([(r["example_id"], r["annotator"], r["label"]) for r in store.live_labels()],
                            settings)
    flat = {person: [name in sets[k] for k in range(4) for name in settings.labels]
            for person, sets in given.items()}
    assert found.texts == 4 and found.annotations == {"ann": 4, "bob": 4}
    assert found.pairs[0].kappa == pytest.approx(cohen_kappa_score(flat["ann"], flat["bob"]))
    assert found.alpha_per_label["positive"] is not None
    assert sorted(store.disagreements()) == [1, 2, 3]  # different sets


def test_export_writes_label_lists(make_project, tmp_path, capsys):
    from peftal.cli import main
    from peftal.label.label_sets import encode

    store, settings, folder = make_project(n=4, multi_label=True, strategy="br_entropy_mean")
    store.add_label(2, encode(["neutral", "positive"], settings.labels), "ann")
    store.add_label(3, encode([], settings.labels), "ann")
    store.add_label(1, encode(["neutral"], settings.labels), "ann", overlap=1.0)
    store.add_label(1, encode(["positive"], settings.labels), "bob", overlap=1.0)  # a tie of two sets
    store.close()
    assert main(["label", "export", str(folder), "--output", str(tmp_path / "out.jsonl")]) == 0
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [row["labels"] for row in rows] == [["positive", "neutral"], [], None]
    assert rows[0]["annotations"][0]["labels"] == ["positive", "neutral"] and "label" not in rows[0]
    assert rows[2]["resolution"] == "tie"
    assert '1 unresolved ("labels": null)' in capsys.readouterr().out


def test_the_review_lists_a_set_the_probe_disputes_and_resolves_to_a_set(make_project, backbone):
    from peftal.label.embeddings import PoolEmbedder
    from peftal.label.review import contradicted_sets

    ids = np.array([5, 6])
    targets = np.array([[1, 0, 0], [0, 1, 1]], dtype=np.float32)
    probs = np.array([[0.9, 0.2, 0.1], [0.1, 0.3, 0.95]])
    assert contradicted_sets(ids, targets, probs, ("a", "b", "c")) == [(6, '["c"]', pytest.approx(0.7))]

    store, settings, folder = make_project(n=30, max_length=16, multi_label=True, strategy="br_entropy_mean")
    PoolEmbedder(store, settings, *backbone, folder).embed_chunk()
    label_sets_of(store, 12)
    client = create_app(store, settings, name="demo", trusted_hosts=["localhost"]).test_client()
    lists = client.get("/api/review").get_json()
    assert lists["contradictions"]["folds"] == 5 and "reason" not in lists["contradictions"]
    view = client.get("/api/model-view").get_json()
    probe = view["evaluations"][0]
    assert probe["confusion"] is None and len(probe["per_label"]) == 3
    assert view["annotators"]["ann"]["total"] == 12
    item = store.label_snapshot()[0][0]
    answer = post(client, "/api/resolve", {"id": item, "labels": ["negative"], "reviewer": "rita"})
    assert answer.status_code == 200
    assert dict(zip(*store.label_snapshot()[:2], strict=True))[item] == '["negative"]'
