"""The model in the loop on a tiny random encoder: retrain, rank, cross-validate, the worker."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest


def label_some(store, n, annotator="ann"):
    labels = ("positive", "negative", "neutral")
    for k in range(n):
        item = store.next_for(annotator, lease_seconds=60, budget=None)
        store.add_label(item["id"], labels[k % 3], annotator)


def test_rank_is_the_strategys_order_over_unlabelled_global_ids(make_project, backbone):
    from peftal.label.model import LabelModel
    from peftal.label.probe import serving_order
    from peftal.training import predict, softmax

    store, settings, _ = make_project(n=30, epochs=1, max_length=16, strategy="entropy", candidates=0)
    label_some(store, 6)
    model_ = LabelModel(store, settings, backbone)
    ids, labels, _ = store.label_snapshot()
    model, _ = model_.fit(np.asarray(ids), model_.targets(labels), seed=1)
    order, suggestions = model_.rank(model, np.asarray(ids), np.random.default_rng(0))

    unlabeled = np.setdiff1d(np.arange(30), ids)
    probs = softmax(predict(model, model_.pool, unlabeled))  # (24, 3)
    entropy = -(probs * np.log(probs)).sum(1)
    by_entropy = unlabeled[np.argsort(-entropy, kind="stable")]
    assert order == by_entropy.tolist()
    # With --candidates 4 the same scores are handed out in serving_order's order.
    model_.settings = dataclasses.replace(settings, candidates=4)
    order4, _ = model_.rank(model, np.asarray(ids), np.random.default_rng(0))
    ranked = np.argsort(-entropy, kind="stable")
    expected = by_entropy[serving_order(entropy[ranked], 4, np.random.default_rng(0))]
    assert order4 == expected.tolist() and order4 != order
    assert set(suggestions) == set(unlabeled.tolist())
    top = int(unlabeled[0])
    assert suggestions[top] == (settings.labels[int(probs[0].argmax())], round(float(probs[0].max()), 4))


def test_the_worker_retrains_after_query_size_labels_then_cross_validates(make_project, backbone):
    from peftal.label.worker import Worker

    store, settings, _ = make_project(n=24, epochs=1, max_length=16, query_size=6, cv_folds=2)
    worker = Worker(store, settings, backbone=backbone)
    worker.run(max_jobs=0)  # loads the model, does nothing
    assert worker.step() is True and worker.embedder.pending() == 0  # the pool is one chunk
    label_some(store, 5)
    assert worker.step() is True  # the probe refits on the new labels
    assert worker.step() is False  # 5 < query size, nothing else to do
    label_some(store, 1)
    assert worker.step() is True
    status = store.get_meta("model")
    assert (status["generation"], status["status"], status["trained_on"]) == (1, "ready", 6)
    labelled = {row["example_id"] for row in store.live_labels()}
    served = store.next_for("other", lease_seconds=60, budget=None)
    assert served["id"] not in labelled and served["suggestion"] in settings.labels
    assert 0 < served["confidence"] <= 1
    # Not cross-validated yet, so not known to beat the probe: the probe still suggests.
    assert served["suggested_by"] == "probe" and store.get_meta("probe")["labels"] == 6

    assert worker.step() is True  # the cross-validation of generation 1, and the probe's
    status = store.get_meta("model")
    assert status["accuracy_folds"] == 2 and status["accuracy_on"] == 6
    assert status["accuracy_generation"] == 1 and 0 <= status["accuracy"] <= 1
    assert 0 <= status["probe_accuracy"] <= 1
    # Cross-validation informs the model view; only labels given after the model decide who
    # suggests, and there are none yet.
    assert "beats_probe" not in status and store.get_meta("ranking")["suggester"] == "probe"
    # Its out-of-fold predictions (the model view's) agree with the accuracy, and the history
    # holds the model's point and the probe's on the same folds.
    cv = store.get_meta("model_cv")
    assert (cv["generation"], cv["folds"], len(cv["ids"])) == (1, 2, 6) and "oof" not in status
    ids, labels, _ = store.label_snapshot()
    assert cv["ids"] == ids and cv["targets"] == [settings.labels.index(label) for label in labels]
    assert np.mean(np.equal(cv["targets"], cv["predicted"])) == pytest.approx(status["accuracy"], abs=1e-4)
    assert [(p["model"], p["labels"], p["generation"], p["accuracy"])
            for p in store.get_meta("accuracy_history")] == [
        ("model", 6, 1, status["accuracy"]), ("probe", 6, 1, status["probe_accuracy"])]
    assert worker.step() is False  # nothing due


def test_kmeans_cold_start_puts_one_example_per_cluster_first(make_project, backbone):
    from peftal.label.worker import Worker

    store, settings, _ = make_project(n=20, max_length=16, query_size=4, cold_start="kmeans")
    worker = Worker(store, settings, backbone=backbone)
    worker.run(max_jobs=0)
    assert worker.embedder.pending() == 0  # the clustered embeddings are the probe's cache too
    first = [store.next_for(f"a{i}", lease_seconds=60, budget=None)["id"] for i in range(4)]
    assert len(set(first)) == 4
    assert store.get_meta("model")["cold_start"] == "kmeans"
    assert first != store.cold_order()[:4]  # not the random order it replaced


def test_pool_subsample_scores_only_that_many(make_project, backbone):
    from peftal.label.model import LabelModel

    store, settings, _ = make_project(n=30, epochs=1, max_length=16, pool_subsample=10,
                                      strategy="random")
    label_some(store, 3)
    record, _, _ = LabelModel(store, settings, backbone).retrain(generation=1)
    assert record["trained_on"] == 3
    suggested = [store.example(i)["suggestion"] for i in range(30)]
    assert sum(s is not None for s in suggested) == 10


def test_a_frozen_encoder_method_embeds_the_pool_once_for_all_generations(make_project, backbone):
    """With ``head`` the suggestions come from cached embeddings, yet equal the model's forward pass."""
    from peftal.label.model import LabelModel
    from peftal.training import predict, softmax
    from peftal.training.features import PooledFeatures

    store, settings, _ = make_project(n=30, max_length=16, method="head", strategy="entropy",
                                      candidates=0)
    label_some(store, 6)
    model_ = LabelModel(store, settings, backbone)
    assert isinstance(model_.pool, PooledFeatures)
    model_.retrain(1)
    assert model_.pool.num_computed == 30  # the labelled ids, then the pool it ranked
    label_some(store, 3)
    ids, labels, _ = store.label_snapshot()
    model, _ = model_.fit(np.asarray(ids), model_.targets(labels), seed=2)
    order, suggestions = model_.rank(model, np.asarray(ids), np.random.default_rng(0))
    assert model_.pool.num_computed == 30
    unlabeled = np.setdiff1d(np.arange(30), ids)
    probs = softmax(predict(model, model_.pool.encoded, unlabeled))  # through the encoder
    entropy = -(probs * np.log(probs)).sum(1)
    assert order[:5] == unlabeled[np.argsort(-entropy, kind="stable")][:5].tolist()


def test_labels_given_after_a_retrain_decide_whether_the_model_or_the_probe_suggests(make_project, backbone):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import Normalizer

    from peftal.label.probe import FRESH_MIN, PROBE_C
    from peftal.label.worker import Worker
    from peftal.training import predict

    # A retrain every FRESH_MIN + 1 labels, so that FRESH_MIN labels after it are not a retrain.
    store, settings, _ = make_project(n=40, epochs=1, max_length=16, query_size=FRESH_MIN + 1,
                                      cv_folds=0)
    worker = Worker(store, settings, backbone=backbone)
    worker.run(max_jobs=0)
    assert worker.step() is True  # the embedding
    label_some(store, FRESH_MIN + 1)
    worker.step()  # the probe, then the retrain of generation 1
    while store.get_meta("model", {}).get("generation") != 1:
        assert worker.step() is True
    assert store.get_meta("ranking")["suggester"] == "probe"  # nothing judged yet
    generation, model, trained = worker.model.latest
    assert generation == 1 and len(trained) == FRESH_MIN + 1
    label_some(store, FRESH_MIN - 1, annotator="b")
    worker.step()
    assert "fresh" not in store.get_meta("model")  # one label short
    label_some(store, 1, annotator="b")
    worker.step()
    status = store.get_meta("model")
    fresh = status["fresh"]
    # The same comparison computed here: the model's argmax, and a probe fitted with
    # scikit-learn on the labels given before each fresh text.
    ids, labels, _ = store.label_snapshot()
    targets = np.array([settings.labels.index(label) for label in labels])
    vectors = worker.probe.cache.get(np.asarray(ids))
    positions = [k for k, i in enumerate(ids) if i not in set(trained.tolist())]
    model_right = int((predict(model, worker.model.pool, np.asarray(ids)[positions]).argmax(1)
                       == targets[positions]).sum())
    probe_right = 0
    for k in positions:
        if len(set(targets[:k].tolist())) > 1:
            pipeline = make_pipeline(Normalizer(), LogisticRegression(C=PROBE_C, max_iter=1000))
            said = pipeline.fit(vectors[:k], targets[:k]).predict(vectors[k:k + 1])[0]
            probe_right += int(said == targets[k])
    assert (fresh["generation"], fresh["labels"]) == (1, FRESH_MIN)
    assert (fresh["model_right"], fresh["probe_right"]) == (model_right, probe_right)
    assert status["beats_probe"] == (model_right > probe_right)
    assert store.get_meta("ranking")["suggester"] == ("model" if model_right > probe_right else "probe")
