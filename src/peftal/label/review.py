"""The review: where annotators disagree, and which labels the model most confidently contradicts.

A reviewer (``/review``) sees two lists, each text with its history (every annotation, withdrawn
ones too, and the review's decision if any), and resolves a text by setting its final label
(:meth:`~peftal.label.annotations.Annotations.set_final`), which is then the label it trains with
(the probe, every retrain, ``peftal label train``) and is exported with; the export keeps every
annotation.

1. **Disagreements**: texts whose live annotations differ and that no review has resolved.
2. **Contradictions**: labelled texts, not reviewed yet, whose label the *linear probe*
   (:mod:`peftal.label.probe`: logistic regression on the frozen encoder's embeddings) finds
   unlikely, by its **out-of-fold** probabilities: scikit-learn's ``cross_val_predict(...,
   method="predict_proba")`` over :data:`FOLDS` folds (seed stream ``review``), so no text is
   judged by a model that was trained on its own label. A text is listed when another label is
   more probable than its own; the list is sorted by the probability of that alternative, most
   confident first (the likely mistakes of Northcutt et al. 2021, "Confident learning", in their
   simplest form). Why the probe and not the PEFT model: out-of-fold probabilities of the PEFT
   model would take ``FOLDS`` retrains (minutes on a CPU) after every label, the probe's take
   milliseconds, and its embeddings are already cached. Texts not embedded yet are left out (the
   background trainer embeds the labelled texts first).
"""

from __future__ import annotations

import threading
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from flask import Flask, Response, jsonify, request

from peftal.label.api_input import id_of, json_body, label_value, person, read_limit
from peftal.label.errors import Conflict, NotFound

FOLDS = 5
DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
# The contradictions are recomputed (in a request thread of the server) at most once per this many
# times their last cost: while annotators label, a reviewer's page reading every 5 s costs the
# server at most a tenth of a core (1.4 s for 2,000 labels on a busy 2-core machine).
RECOMPUTE_AFTER_COSTS = 10
PROBE_NAME = ("linear probe (logistic regression on the frozen encoder's L2-normalised embeddings, "
              "C = 100)")


def out_of_fold(vectors: np.ndarray, targets: np.ndarray, num_classes: int,
                seed: int) -> tuple[np.ndarray, int] | None:
    """``(probabilities, folds)``: the probe's out-of-fold class probabilities ``(n, num_classes)``
    of each labelled vector, or ``None`` when there are too few labels (fewer than two per fold,
    or a training fold with a single class). Multi-label ``targets`` (a ``(n, labels)`` 0/1
    matrix) give each label's probability, from one probe per label."""
    from sklearn.model_selection import cross_val_predict
    from threadpoolctl import threadpool_limits

    from peftal.label.probe import cv_splitter, learnable, make_probe, normalise

    multi_label = np.ndim(targets) == 2
    folds = min(FOLDS, len(targets) // 2)
    if folds < 2 or not learnable(targets):
        return None
    splitter = cv_splitter(targets, folds, num_classes, seed)
    if any(not learnable(targets[train]) for train, _ in splitter.split(vectors, targets)):
        return None
    with threadpool_limits(1), warnings.catch_warnings():
        # A fold without some class: scikit-learn warns and gives that class probability 0.
        warnings.simplefilter("ignore")
        probs = cross_val_predict(make_probe(multi_label), normalise(np.asarray(vectors, dtype=np.float32)),
                                  targets, cv=splitter, method="predict_proba")  # (n, len(present))
    if multi_label:
        return probs, folds
    full = np.zeros((len(targets), num_classes))
    full[:, np.unique(targets)] = probs
    return full, folds


def contradicted(ids: np.ndarray, targets: np.ndarray, probs: np.ndarray) -> list[tuple[int, int, float]]:
    """``(id, alternative class, its probability)`` of each text whose most probable other class is
    more probable than its own label, by that probability (highest first), ties by id."""
    others = probs.copy()
    others[np.arange(len(targets)), targets] = -1.0
    alternative = others.argmax(1)
    p_alternative = others[np.arange(len(targets)), alternative]
    disputed = np.flatnonzero(p_alternative > probs[np.arange(len(targets)), targets])
    ordered = sorted(disputed, key=lambda k: (-p_alternative[k], int(ids[k])))
    return [(int(ids[k]), int(alternative[k]), float(p_alternative[k])) for k in ordered]


def contradicted_sets(ids: np.ndarray, targets: np.ndarray, probs: np.ndarray,
                      labels: tuple[str, ...] | list[str]) -> list[tuple[int, str, float]]:
    """Multi-label :func:`contradicted`: ``(id, the probe's label set as stored, strength)`` of each
    text whose set at 0.5 differs from its own, by how far the most disputed label's probability
    is from the decision given (``|y - p|``, highest first), ties by id."""
    from peftal.label.label_sets import from_row

    decided = probs >= 0.5
    distance = np.where(decided != (targets > 0), np.abs(targets - probs), 0.0).max(axis=1)
    disputed = np.flatnonzero(distance > 0)
    ordered = sorted(disputed, key=lambda k: (-distance[k], int(ids[k])))
    return [(int(ids[k]), from_row(decided[k], labels), float(distance[k])) for k in ordered]


def given_probability(targets: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """The probe's out-of-fold probability of each text's own label (of its whole label set,
    labels taken as independent, in a multi-label project)."""
    if np.ndim(targets) == 2:
        return np.prod(np.where(targets > 0, probs, 1.0 - probs), axis=1)
    return probs[np.arange(len(targets)), targets]


class Review:
    """The two lists of one project; the contradictions are recomputed only when the labels or
    the embedded texts changed since the last request.

    Args:
        store: The project's store.
        settings: Its settings.
        folder: The project folder (its embedding cache).
    """

    def __init__(self, store: Any, settings: Any, folder: Path) -> None:
        self.store = store
        self.settings = settings
        self.folder = Path(folder)
        self._lock = threading.Lock()
        self._seen: tuple | None = None
        self._found: dict[str, Any] = {}
        self._next_at = 0.0  # time.monotonic() before which the last result is served

    def disagreements(self, limit: int) -> dict[str, Any]:
        ids = self.store.disagreements()
        history = self.store.history(ids[:limit])
        return {"total": len(ids), "items": [history[i] for i in ids[:limit] if i in history]}

    def contradictions(self, limit: int) -> dict[str, Any]:
        found = self._contradictions()
        reviewed = self.store.reviewed()
        listed = [entry for entry in found.get("order", []) if entry[0] not in reviewed]
        history = self.store.history([entry[0] for entry in listed[:limit]])
        items = []
        for example_id, alternative, probability in listed[:limit]:
            item = history[example_id]
            given, p_given = found["given"][example_id]
            if item["label"] != given:
                continue  # relabelled since the probabilities were computed: judged next time
            item["disputed"] = {"label": given, "probability": p_given}
            item["alternative"] = {"label": alternative if isinstance(alternative, str) else
                                   self.settings.labels[alternative], "probability": round(probability, 4)}
            items.append(item)
        summary = {key: value for key, value in found.items() if key not in ("order", "given", "oof")}
        return {**summary, "total": len(listed), "items": items}

    def out_of_fold(self) -> dict[str, Any]:
        """The probe's evaluation on the labels so far, computed (or reused) as for the
        contradictions: ``{"model", "folds", "labels", "embedded_labels", ["reason",] ["oof":
        (ids, targets, predicted class ids)]}`` (what the model view scores)."""
        return self._contradictions()

    def _contradictions(self) -> dict[str, Any]:
        from peftal.label.embeddings import read_committed
        from peftal.seeding import stream_seed

        ids, labels, last_seq = self.store.label_snapshot()
        expected = {"pool": self.store.num_examples(), "pooling": self.settings.pooling,
                    "max_length": self.settings.max_length}
        cache = read_committed(self.folder, expected)
        seen = (last_seq, hash((tuple(ids), tuple(labels))), 0 if cache is None else len(cache[0]))
        with self._lock:
            now = time.monotonic()
            if seen == self._seen or (self._seen is not None and now < self._next_at):
                return self._found  # (with the number of labels it was computed on)
            found: dict[str, Any] = {"model": PROBE_NAME, "folds": None, "labels": len(ids),
                                     "embedded_labels": 0}
            if cache is None:
                found["reason"] = ("no embeddings yet: the background trainer embeds the pool "
                                   "(not running with --no-trainer)")
            else:
                found.update(self._compute(cache, ids, labels, stream_seed(self.settings.seed, "review")))
            self._seen, self._found = seen, found
            self._next_at = now + RECOMPUTE_AFTER_COSTS * (time.monotonic() - now)
            return found

    def _compute(self, cache: tuple[np.ndarray, np.ndarray], ids: list[int], labels: list[str],
                 seed: int) -> dict[str, Any]:
        from peftal.label.label_sets import multi_hot
        from peftal.label.probe import decide

        cache_ids, vectors = cache
        names, multi = self.settings.labels, bool(self.settings.multi_label)
        index = {label: k for k, label in enumerate(names)}
        row_of = {int(i): k for k, i in enumerate(cache_ids)}
        kept = [(i, row_of[i], label) for i, label in zip(ids, labels, strict=True) if i in row_of]
        keep_ids = np.asarray([i for i, _, _ in kept], dtype=np.int64)
        given_labels = [label for _, _, label in kept]
        targets = (multi_hot(given_labels, names) if multi else
                   np.asarray([index[label] for label in given_labels], dtype=np.int64))
        rows = np.asarray([r for _, r, _ in kept], dtype=np.int64)
        result = out_of_fold(np.asarray(vectors[rows]), targets, len(index), seed)
        found: dict[str, Any] = {"embedded_labels": len(keep_ids)}
        if result is None:
            found["reason"] = ("too few labels: the probe's cross-validation needs two classes (a label "
                               "given to some texts and not others) and at least 4 embedded labels")
            return found
        probs, folds = result
        order = (contradicted_sets(keep_ids, targets, probs, names) if multi else
                 contradicted(keep_ids, targets, probs))
        return {**found, "folds": folds, "order": order, "oof": (keep_ids, targets, decide(probs, multi)),
                "given": {int(i): (label, round(float(p), 4)) for i, label, p in
                          zip(keep_ids, given_labels, given_probability(targets, probs), strict=True)}}


def register_review(app: Flask, store: Any, settings: Any, folder: Path) -> Review:
    """The reviewer's page and API: ``GET /review``, ``GET /api/review``, ``POST /api/resolve``;
    returns the :class:`Review`, whose out-of-fold predictions the model view reuses."""
    review = Review(store, settings, folder)

    @app.get("/review")
    def review_page() -> Response:
        response = app.send_static_file("review.html")
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.get("/api/review")
    def review_lists() -> Response:
        limit = read_limit(request.args.get("limit"), default=DEFAULT_LIMIT, maximum=MAX_LIMIT)
        return jsonify(disagreements=review.disagreements(limit),
                       contradictions=review.contradictions(limit))

    @app.post("/api/resolve")
    def resolve() -> Response:
        body = json_body()
        example_id = id_of(body)
        reviewer = person(body.get("reviewer"), "reviewer", "the person reviewing")
        label = label_value(body, settings)
        item = store.history([example_id]).get(example_id)
        if item is None:
            raise NotFound(f"no example with id {example_id} in this project")
        if not any(a["undone_at"] is None for a in item["annotations"]):
            raise Conflict(f"example {example_id} has no annotation to review; label it first")
        store.set_final(example_id, label, reviewer)
        return jsonify(ok=True, item=store.history([example_id])[example_id])

    return review

