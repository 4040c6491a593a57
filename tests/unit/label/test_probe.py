"""Instant suggestions on a tiny random encoder: the embedding cache, the probe, who suggests."""

from __future__ import annotations

import numpy as np
import pytest

from tests.unit.label.test_model import label_some


def fresh_vectors(store, settings, backbone, ids):
    """The frozen encoder's mean-pooled vectors of ``ids``, computed here in one pass."""
    from peftal.data.dataset import Split
    from peftal.data.encoding import encode
    from peftal.models.heads import TextClassifier
    from peftal.training import embed

    encoder, tokenizer = backbone
    texts, _ = store.texts()
    encoded = encode(tokenizer, Split(texts, np.zeros(len(texts))), settings.max_length)
    base = TextClassifier(encoder, len(settings.labels), pooling="mean")
    return embed(base, encoded, np.asarray(ids))


@pytest.fixture
def embedded(make_project, backbone):
    """``make(n, chunk_size) -> (store, settings, folder, embedder)``, nothing embedded yet."""
    from peftal.label.embeddings import PoolEmbedder

    def make(n=30, chunk_size=256, **settings):
        store, settings_, folder = make_project(n=n, max_length=16, **settings)
        return store, settings_, folder, PoolEmbedder(store, settings_, *backbone, folder,
                                                      chunk_size=chunk_size)

    return make


def test_the_cache_resumes_without_recomputing_and_equals_a_fresh_embedding(embedded, backbone,
                                                                            monkeypatch):
    from peftal.label.embeddings import PoolEmbedder

    store, settings, folder, embedder = embedded(n=20, chunk_size=8)
    assert embedder.embed_chunk() == 8
    first = embedder.cache.ids.copy()
    assert first.tolist() == store.cold_order()[:8]  # a random sample of the pool first
    # A chunk cut off by a kill: bytes appended but never committed.
    with open(folder / "embeddings" / "vectors.f32", "ab") as handle:
        handle.write(b"\0" * 100)

    restarted = PoolEmbedder(store, settings, *backbone, folder, chunk_size=8)  # a new process
    assert restarted.cache.count == 8 and restarted.pending() == 12
    computed = []
    original = restarted.vectors_of
    monkeypatch.setattr(restarted, "vectors_of",
                        lambda ids, between=None: computed.extend(ids) or original(ids, between))
    while restarted.pending():
        restarted.embed_chunk()
    assert sorted(computed) == sorted(set(range(20)) - set(first.tolist()))  # each text once
    assert sorted(restarted.cache.ids.tolist()) == list(range(20))
    expected = fresh_vectors(store, settings, backbone, restarted.cache.ids)
    np.testing.assert_allclose(restarted.cache.vectors, expected, rtol=1e-4, atol=1e-5)
    # What is on disk is what was computed: a third start reads it back whole.
    again = PoolEmbedder(store, settings, *backbone, folder, chunk_size=8)
    assert again.pending() == 0
    np.testing.assert_array_equal(again.cache.vectors, restarted.cache.vectors)


def test_labelled_texts_are_embedded_first_and_a_changed_model_starts_over(embedded, backbone):
    from peftal.label.embeddings import EmbeddingCache

    store, settings, folder, embedder = embedded(n=20, chunk_size=4)
    wanted = np.asarray([i for i in range(20) if i not in store.cold_order()[:4]][:3])
    embedder.embed_chunk(first=wanted)
    assert embedder.cache.ids[:3].tolist() == wanted.tolist()
    assert EmbeddingCache(folder, {**embedder.cache.key, "max_length": 99}).count == 0


def test_the_probe_publishes_the_entropy_order_and_its_suggestions(embedded, backbone):
    from sklearn.linear_model import LogisticRegression

    from peftal.label.probe import PROBE_C, Probe

    store, settings, _, embedder = embedded(n=30, candidates=0)  # the plain entropy order
    embedder.embed_chunk()
    probe = Probe(store, settings, embedder.cache)
    label_some(store, 1)
    assert probe.update() is False  # one class: nothing to fit
    label_some(store, 5)
    assert probe.update() is True
    assert probe.update() is False  # nothing changed since
    ids, labels, _ = store.label_snapshot()
    targets = np.array([settings.labels.index(label) for label in labels])
    vectors = fresh_vectors(store, settings, backbone, np.arange(30))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    reference = LogisticRegression(C=PROBE_C, max_iter=1000).fit(vectors[ids], targets)
    unlabelled = np.setdiff1d(np.arange(30), ids)
    probs = reference.predict_proba(vectors[unlabelled])
    entropy = -(probs * np.log(probs)).sum(1)
    expected = unlabelled[np.argsort(-entropy, kind="stable")].tolist()
    served = [store.next_for(f"a{k}", lease_seconds=60, budget=None) for k in range(len(unlabelled))]
    assert [item["id"] for item in served][:5] == expected[:5]
    for item in served:
        p = probs[list(unlabelled).index(item["id"])]
        assert item["suggestion"] == settings.labels[int(p.argmax())]
        assert item["confidence"] == pytest.approx(p.max(), abs=1e-3)
        assert item["suggested_by"] == "probe"
    record = store.get_meta("probe")
    assert record["labels"] == 6 and record["embedded"] == 30 and record["fit_seconds"] < 1
    assert store.get_meta("model")["generation"] == 0  # the PEFT schedule is untouched
    store.undo("ann", lease_seconds=60)
    assert probe.update() is True and store.get_meta("probe")["labels"] == 5
    other = next(label for label in settings.labels if label != labels[0])
    store.set_final(ids[0], other, "reviewer")  # a review changes a label: a refit too
    assert probe.update() is True and probe.update() is False


def test_the_probe_publishes_only_the_texts_it_wants_most(embedded, monkeypatch):
    from peftal.label import probe as probe_module

    store, settings, _, embedder = embedded(n=30)
    embedder.embed_chunk()
    label_some(store, 6)
    monkeypatch.setattr(probe_module, "PUBLISHED", 7)
    monkeypatch.setattr(probe_module, "SLICE", 4)  # scored in slices: the same numbers
    assert probe_module.Probe(store, settings, embedder.cache).update() is True
    with store.read() as db:
        ranked = [row[0] for row in db.execute("SELECT example_id FROM ranking ORDER BY position")]
    assert len(ranked) == 7
    served = [store.next_for(f"a{k}", lease_seconds=60, budget=None) for k in range(24)]
    assert [item["id"] for item in served[:7]] == ranked
    assert all(item["suggestion"] is not None for item in served[:7])
    assert all(item["suggestion"] is None for item in served[7:])  # the rest, in cold-start order
    cold = [i for i in store.cold_order() if i not in ranked and i not in store.label_snapshot()[0]]
    assert [item["id"] for item in served[7:]] == cold


def test_the_probes_cross_validation_is_sklearns(embedded):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import Normalizer

    from peftal.label.probe import PROBE_C, Probe, cv_splitter

    store, settings, _, embedder = embedded(n=30)
    embedder.embed_chunk()
    label_some(store, 12)
    ids, targets, _, _ = Probe(store, settings, embedder.cache).labelled()
    splitter = cv_splitter(targets, 3, 3, seed=7)
    accuracy = Probe(store, settings, embedder.cache).cross_validate(ids, targets, splitter)
    pipeline = make_pipeline(Normalizer(), LogisticRegression(C=PROBE_C, max_iter=1000))
    predicted = cross_val_predict(pipeline, embedder.cache.get(ids), targets, cv=splitter)
    assert accuracy == pytest.approx(np.mean(predicted == targets))


@pytest.mark.parametrize("status, expected", [
    ({"generation": 0}, False),
    ({"generation": 1}, False),  # not judged on fresh labels yet
    ({"generation": 1, "beats_probe": False}, False),
    ({"generation": 2, "beats_probe": True}, True),
    ({"generation": 0, "beats_probe": True}, False),  # no model yet
])
def test_who_suggests(status, expected):
    from peftal.label.probe import model_suggests

    assert model_suggests(status) is expected


def test_fresh_comparison_counts_right_answers_and_a_tie_keeps_the_probe():
    from peftal.label.probe import fresh_comparison

    targets = np.array([0, 1, 2, 1])
    assert fresh_comparison(targets, np.array([0, 1, 2, 0]), np.array([0, 1, 0, 0])) == {
        "labels": 4, "model_right": 3, "probe_right": 2, "beats_probe": True}
    assert fresh_comparison(targets, np.array([0, 1, 0, 0]), np.array([0, 1, 2, 2]))["beats_probe"] is False
    assert fresh_comparison(targets, targets, targets)["beats_probe"] is False  # a tie
    sets = np.array([[1, 0, 1], [0, 1, 0]])  # multi-label: the whole set must be right
    result = fresh_comparison(sets, np.array([[1, 0, 1], [0, 1, 1]]), np.array([[1, 0, 0], [0, 1, 0]]))
    assert (result["model_right"], result["probe_right"], result["beats_probe"]) == (1, 1, False)


def test_the_model_takes_over_when_it_beats_the_probe_and_hands_back_when_not(make_project, backbone):
    from peftal.label.worker import Worker

    store, settings, _ = make_project(n=24, epochs=1, max_length=16, query_size=100, cv_folds=2)
    worker = Worker(store, settings, backbone=backbone)
    worker.run(max_jobs=0)
    worker.step()  # the embedding
    label_some(store, 6)
    assert worker.step() is True and store.get_meta("ranking")["suggester"] == "probe"
    labelled = [row["example_id"] for row in store.live_labels()]
    free = [i for i in range(24) if i not in labelled]
    worker._pending = (1, free[::-1], {i: ("neutral", 0.99) for i in free})  # model 1's ranking
    store.update_model(generation=1, beats_probe=True, accuracy_generation=1)
    worker.hand_over(1)
    item = store.next_for("b", lease_seconds=60, budget=None)
    assert item["id"] == free[-1] and (item["suggestion"], item["suggested_by"]) == ("neutral", "model")
    label_some(store, 1, annotator="c")
    assert worker.step() is False  # the model suggests: the probe does not republish
    store.update_model(beats_probe=False)  # a later model loses to the probe
    worker.hand_over(1)
    assert store.get_meta("ranking")["suggester"] == "probe"
    assert store.get_meta("probe")["labels"] == 7


def test_a_due_retrain_runs_between_chunks_and_a_gone_parent_stops_the_embedding(make_project, backbone):
    from peftal.label.worker import ParentGone, Worker

    store, settings, _ = make_project(n=40, epochs=1, max_length=16, query_size=6, cv_folds=0)
    worker = Worker(store, settings, backbone=backbone)
    worker.run(max_jobs=0)
    worker.embedder.chunk_size = 8
    assert worker.step() is True and worker.embedder.cache.count == 8
    assert store.get_meta("embedding") == {"embedded": 8, "pool": 40}
    label_some(store, 6)
    assert worker.step() is True  # the retrain, before the next chunk
    assert store.get_meta("model")["generation"] == 1 and worker.embedder.cache.count == 8
    worker.parent_pid = -1  # the server is gone
    with pytest.raises(ParentGone):
        worker.step()  # noticed between two forward passes of the chunk
    assert worker.embedder.cache.count == 8  # that chunk was never committed


def test_serving_order_hands_out_the_best_of_each_random_group_first():
    from peftal.label.probe import serving_order

    scores = np.random.default_rng(5).random(23)
    assert serving_order(scores, 0, np.random.default_rng(0)).tolist() == np.argsort(-scores).tolist()
    order = serving_order(scores, 4, np.random.default_rng(1))
    assert sorted(order.tolist()) == list(range(23))  # every text, once
    # The same draw, done by hand: groups of 4 in a random order, each group's best first.
    permutation = np.random.default_rng(1).permutation(23)
    groups = [permutation[k:k + 4] for k in range(0, 23, 4)]
    by_score = [sorted(group, key=lambda i: -scores[i]) for group in groups]
    expected = [group[rank] for rank in range(4) for group in by_score if rank < len(group)]
    assert order.tolist() == expected
    assert order[0] == max(groups[0], key=lambda i: scores[i])
    # One candidate: a random order; as many as texts: the plain order.
    assert serving_order(scores, 1, np.random.default_rng(1)).tolist() == permutation.tolist()
    assert serving_order(scores, 23, np.random.default_rng(2)).tolist() == np.argsort(-scores).tolist()



def test_the_probe_hands_out_the_best_of_random_groups_with_candidates(embedded):
    from peftal.label.probe import Probe, entropy, serving_order
    from peftal.seeding import stream_rng

    store, settings, _, embedder = embedded(n=30, candidates=3)
    embedder.embed_chunk()
    probe = Probe(store, settings, embedder.cache)
    label_some(store, 6)
    assert probe.update() is True
    ids, targets, every_id, last_seq = probe.labelled()
    fitted = fit_probe_like(probe, ids, targets)
    rows = np.flatnonzero(~np.isin(embedder.cache.ids, every_id))
    scores = entropy(probe.probabilities(fitted, embedder.cache.vectors[rows]))
    order = serving_order(scores, 3, stream_rng(settings.seed, "serve", last_seq))
    served = [store.next_for(f"a{k}", lease_seconds=60, budget=None)["id"] for k in range(5)]
    assert served == embedder.cache.ids[rows[order]][:5].tolist()


def fit_probe_like(probe, ids, targets):
    from peftal.label.probe import fit_probe

    return fit_probe(probe.cache.get(ids), targets)
