"""The model view: how good the suggestions are, per label, and how that grew with the labels.

``GET /api/model-view`` (and the page ``/model``) shows, for each model that can suggest,

- per-label precision, recall, F1 and support, and the confusion matrix (rows: the label given,
  columns: the label predicted), from **out-of-fold** predictions, so that no label is scored by a
  model trained on it: scikit-learn's ``precision_recall_fscore_support`` and
  ``confusion_matrix`` on them.

  - The **linear probe**: the out-of-fold probabilities the review computes
    (:meth:`peftal.label.review.Review.out_of_fold`: 5 folds on the labels so far whose texts are
    embedded, recomputed when the labels change), each text predicted as its most probable label.
  - The **PEFT model**: the predictions of its last cross-validation (``--cv-folds``, run by the
    background trainer after each retrain; kept in the store as ``model_cv``), made on the labels
    given by then.

- the cross-validated accuracy against the number of labels: a point each time the probe is
  scored (by the trainer, when the labels grew by 10 or a tenth since its last point; and here,
  on a new number of labels), and each time the trainer cross-validates a PEFT model (with the
  probe on the same folds): the store's ``accuracy_history``.
- each annotator's live labels, per label.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from flask import Flask, Response, jsonify

from peftal.label.review import PROBE_NAME


def scores(targets: np.ndarray, predicted: np.ndarray, labels: list[str]) -> dict[str, Any]:
    """``{"labels" (scored), "accuracy", "f1_macro", "per_label": [{"label", "precision", "recall",
    "f1", "support"}], "confusion": [[count]]}`` of class ids ``predicted`` against ``targets``,
    every label of the project in order (``confusion[i][j]``: given ``labels[i]``, predicted
    ``labels[j]``). Undefined precision or recall (nothing predicted or given) counts as 0, as
    ``zero_division=0``; ``f1_macro`` averages over the labels given at least once. In a
    multi-label project (``(texts, labels)`` 0/1 matrices) each label is scored as a yes/no
    decision, ``accuracy`` is subset accuracy (the whole set right) and ``confusion`` is ``None``."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    from peftal.label.probe import exact

    every = list(range(len(labels)))
    multi = np.ndim(targets) == 2  # a multi-label project's 0/1 matrices: no confusion matrix
    if multi:
        targets, predicted = np.asarray(targets, dtype=np.int64), np.asarray(predicted, dtype=np.int64)
    precision, recall, f1, support = precision_recall_fscore_support(
        targets, predicted, labels=None if multi else every, zero_division=0)
    given = support > 0
    return {
        "labels": int(len(targets)),
        "accuracy": round(exact(targets, predicted), 4),
        "f1_macro": round(float(f1[given].mean()), 4) if given.any() else None,
        "per_label": [{"label": label, "precision": round(float(p), 4), "recall": round(float(r), 4),
                       "f1": round(float(f), 4), "support": int(n)}
                      for label, p, r, f, n in zip(labels, precision, recall, f1, support, strict=True)],
        "confusion": None if multi else confusion_matrix(targets, predicted, labels=every).tolist(),
    }


def evaluate_probe(vectors: np.ndarray, targets: np.ndarray, labels: list[str],
                   seed: int) -> dict[str, Any] | None:
    """The probe's :func:`scores` and ``"folds"`` from the review's out-of-fold probabilities
    (:func:`peftal.label.review.out_of_fold`) on ``vectors``; ``None`` with too few labels."""
    from peftal.label.review import out_of_fold

    result = out_of_fold(vectors, targets, len(labels), seed)
    if result is None:
        return None
    probs, folds = result
    return {**scores(targets, probs.argmax(1), labels), "folds": folds}


def probe_point_due(store: Any, labels: int) -> bool:
    """Whether the trainer scores the probe for the accuracy curve: when the labels (embedded)
    grew by 10, or by a tenth, since its last point (a curve of a few dozen points, each costing
    at most a second or so on a thousand labels)."""
    history = store.get_meta("accuracy_history", [])
    last = next((p["labels"] for p in reversed(history)
                 if p.get("model") == "probe" and "folds_of" not in p), 0)
    return labels - last >= max(10, last // 10)


def probe_view(review: Any, store: Any, labels: list[str]) -> dict[str, Any]:
    """The probe's scores on the labels so far (or why there are none), recording a point of the
    accuracy history when they are new."""
    found = review.out_of_fold()
    view: dict[str, Any] = {"model": "probe", "name": PROBE_NAME, "folds": found.get("folds"),
                            "labels_given": found.get("labels"),
                            "embedded_labels": found.get("embedded_labels")}
    if "oof" not in found:
        view["reason"] = found.get("reason")
        return view
    _, targets, predicted = found["oof"]
    view.update(scores(np.asarray(targets), np.asarray(predicted), labels))
    store.add_accuracy_point({"model": "probe", "labels": view["labels"], "folds": view["folds"],
                              "accuracy": view["accuracy"], "f1_macro": view["f1_macro"]})
    return view


def peft_view(store: Any, labels: list[str]) -> dict[str, Any] | None:
    """The PEFT model's scores from its last cross-validation, or ``None`` before the first."""
    cv = store.get_meta("model_cv")
    if not cv:
        return None
    view = {"model": "model", "name": f"PEFT model #{cv['generation']} ({cv['method']})",
            "generation": cv["generation"], "folds": cv["folds"], "evaluated_at": cv["at"]}
    view.update(scores(np.asarray(cv["targets"]), np.asarray(cv["predicted"]), labels))
    return view


def by_annotator(store: Any, labels: list[str], multi_label: bool = False) -> dict[str, dict[str, int]]:
    """``{annotator: {label: live labels given, ..., "total"}}``, annotators by name; in a
    multi-label project a label counts once per text it was given to and ``total`` counts texts."""
    from peftal.label.label_sets import decode

    with store.read() as db:
        rows = db.execute("SELECT annotator, label, COUNT(*) FROM labels WHERE undone_at IS NULL "
                          "GROUP BY annotator, label ORDER BY annotator").fetchall()
    counts: dict[str, dict[str, int]] = {}
    for annotator, label, n in rows:
        row = counts.setdefault(annotator, {name: 0 for name in labels} | {"total": 0})
        for name in decode(label) if multi_label else [label]:
            row[name] += n
        row["total"] += n
    return counts


def model_view(review: Any, store: Any, labels: list[str], multi_label: bool = False) -> dict[str, Any]:
    """Everything ``GET /api/model-view`` answers (see the module docstring)."""
    evaluations = [probe_view(review, store, labels)]
    peft = peft_view(store, labels)
    if peft is not None:
        evaluations.append(peft)
    return {"label_names": labels,
            "suggester": store.get_meta("ranking", {}).get("suggester"),
            "evaluations": evaluations,
            "history": store.get_meta("accuracy_history", []),
            "multi_label": multi_label,
            "annotators": by_annotator(store, labels, multi_label)}


def register_model_view(app: Flask, store: Any, settings: Any, review: Any) -> None:
    """``GET /model`` (the page) and ``GET /api/model-view``."""
    labels = list(settings.labels)

    @app.get("/model")
    def model_page() -> Response:
        response = app.send_static_file("model.html")
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.get("/api/model-view")
    def model_api() -> Response:
        return jsonify(model_view(review, store, labels, settings.multi_label))
