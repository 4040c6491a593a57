"""Instant suggestions: a linear probe on the frozen encoder's embeddings, refitted after every label.

A PEFT retrain takes seconds to minutes on a CPU and runs every ``query_size`` labels, so
between retrains (and before the first) nothing would learn. A logistic regression on the
cached frozen embeddings (:mod:`peftal.label.embeddings`) fits in milliseconds on a few hundred
labels, so the worker refits it whenever a label is given or withdrawn and publishes its
suggestions and its uncertainty order at once, from the first labels of two classes on.

Who suggests (:func:`model_suggests`): the probe, until a PEFT model's cross-validated accuracy
is higher than the probe's cross-validated accuracy on the same labels and the same folds; then
that model and its successors, until a later cross-validation says otherwise. Without
cross-validation (``--cv-folds 0``) there is nothing to compare, and each PEFT model suggests
from the moment it is trained, as before the probe existed.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from peftal.al.strategies.uncertainty import entropy
from peftal.label.store import utc_now

# L2-normalised vectors (the scale of pooled vectors differs between encoders) and a weak
# penalty: on MiniLM's embeddings of 2,000 TREC questions, mean of 5 random draws, the accuracy on
# the rest after 20 / 50 / 100 labels was .22/.28/.32 with C=0.1, .26/.43/.54 with C=1,
# .37/.51/.60 with C=10 and .39/.52/.60 with C=100.
PROBE_C = 100.0


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (mean-pooled vectors differ in length more than in direction)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def make_probe() -> Any:
    """The probe unfitted: a scikit-learn :class:`~sklearn.linear_model.LogisticRegression` to fit
    on vectors scaled by :func:`normalise`."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=PROBE_C, max_iter=1000)


def fit_probe(vectors: np.ndarray, targets: np.ndarray) -> Any:
    """The probe fitted on ``vectors`` (``targets``: class ids, at least two distinct)."""
    return make_probe().fit(normalise(vectors), targets)


def cv_splitter(targets: np.ndarray, folds: int, num_classes: int, seed: int) -> Any:
    """The folds of a cross-validation on ``targets``: stratified when every class present can
    fill every fold, else plain shuffled folds. The PEFT model and the probe use the same."""
    from sklearn.model_selection import KFold, StratifiedKFold

    counts = np.bincount(targets, minlength=num_classes)
    if counts[counts > 0].min() >= folds:
        return StratifiedKFold(folds, shuffle=True, random_state=seed)
    return KFold(folds, shuffle=True, random_state=seed)


def model_suggests(model: dict[str, Any], cv_folds: int) -> bool:
    """Whether the PEFT model (status record ``model``) suggests and ranks instead of the probe."""
    if int(model.get("generation", 0)) < 1:
        return False
    return cv_folds < 2 or bool(model.get("beats_probe"))


class Probe:
    """Fits the probe on the live labels whose texts are embedded, and publishes its ranking.

    Args:
        store: The project's store.
        settings: Its settings (labels, strategy).
        cache: The :class:`~peftal.label.embeddings.EmbeddingCache` of the pool.
    """

    def __init__(self, store: Any, settings: Any, cache: Any) -> None:
        from peftal.al.strategies import ScoringStrategy, parse_strategy

        self.store = store
        self.settings = settings
        self.cache = cache
        self.label_index = {label: i for i, label in enumerate(settings.labels)}
        strategy = parse_strategy(settings.strategy)
        # A plain scoring strategy (entropy, margin, ...) scores the probe's probabilities too;
        # random keeps the cold-start (random) order; any other strategy needs a model the probe
        # is not (MC dropout, gradients), and entropy stands in for it.
        self.keep_order = strategy.name == "random"
        plain = (isinstance(strategy, ScoringStrategy)
                 and type(strategy).probabilities is ScoringStrategy.probabilities)
        self.score = strategy.score if plain else entropy
        self._seen: tuple | None = None

    def update(self, force: bool = False) -> bool:
        """Refit and publish when labels or embedded texts changed since the last fit (or
        ``force``); returns whether it published."""
        ids, labels, last_seq = self.store.label_snapshot()
        # A label moves last_seq; an undo, a second annotator's label or a review's final label
        # change the training labels themselves.
        seen = (last_seq, hash((tuple(ids), tuple(labels))), self.cache.count)
        if seen == self._seen and not force:
            return False
        self._seen = seen
        return self.publish()

    def labelled(self) -> tuple[np.ndarray, np.ndarray, list[int], int]:
        """``(ids, targets, all labelled ids, last_seq)``: the live labels whose text is embedded."""
        ids, labels, last_seq = self.store.label_snapshot()
        keep = [k for k, i in enumerate(ids) if i in self.cache.row]
        return (np.asarray([ids[k] for k in keep], dtype=np.int64),
                np.asarray([self.label_index[labels[k]] for k in keep], dtype=np.int64), ids, last_seq)

    def publish(self) -> bool:
        """Fit on the labels so far and publish suggestions and order for the embedded unlabelled
        texts (the rest follow in the cold-start order); ``False`` with fewer than two classes."""
        # One BLAS / OpenMP thread: on a busy 2-core machine this fit takes 25 ms with one and
        # 200 ms with two threads that spin-wait for each other (and torch holds the cores).
        with threadpool_limits(1):
            return self._publish()

    def _publish(self) -> bool:
        started = time.perf_counter()
        ids, targets, every_id, last_seq = self.labelled()
        if len(np.unique(targets)) < 2:
            return False
        probe = fit_probe(self.cache.get(ids), targets)
        unlabelled = ~np.isin(self.cache.ids, np.asarray(every_id, dtype=np.int64))
        candidates = self.cache.ids[unlabelled]
        probs = probe.predict_proba(normalise(self.cache.vectors[unlabelled]))  # (n, classes seen)
        names = [self.settings.labels[int(c)] for c in probe.classes_]
        best = probs.argmax(1) if len(candidates) else np.zeros(0, dtype=np.int64)
        suggestions = {int(i): (names[int(b)], round(float(p[b]), 4))
                       for i, p, b in zip(candidates, probs, best, strict=True)}
        if self.keep_order or not len(candidates):
            order: list[int] = []
        else:
            full = np.zeros((len(candidates), len(self.settings.labels)))
            full[:, probe.classes_] = probs  # scores see every class, unseen ones at 0
            order = candidates[np.argsort(-self.score(full), kind="stable")].tolist()
        fitted = time.perf_counter() - started
        record = {"labels": len(ids), "classes": len(names), "embedded": self.cache.count,
                  "last_seq": last_seq, "fit_seconds": round(fitted, 4), "fitted_at": utc_now()}
        self.store.publish_ranking(order, suggestions, suggester="probe", probe=record)
        return True

    def cross_validate(self, ids: np.ndarray, targets: np.ndarray, splitter: Any) -> float:
        """Pooled out-of-fold accuracy of the probe on ``ids`` (all embedded) with ``splitter``'s
        folds, as the PEFT model's cross-validation computes its own."""
        vectors = self.cache.get(ids)
        predicted = np.empty(len(ids), dtype=np.int64)
        with threadpool_limits(1):
            for train, test in splitter.split(ids, targets):
                classes = np.unique(targets[train])
                predicted[test] = (classes[0] if len(classes) < 2
                                   else fit_probe(vectors[train], targets[train]).predict(
                                       normalise(vectors[test])))
        return float(np.mean(predicted == targets))
