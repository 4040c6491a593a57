"""Instant suggestions: a linear probe on the frozen encoder's embeddings, refitted after every label.

A PEFT retrain takes seconds to minutes on a CPU and runs every ``query_size`` labels, so
between retrains (and before the first) nothing would learn. A logistic regression on the
cached frozen embeddings (:mod:`peftal.label.embeddings`) fits in milliseconds on a few hundred
labels, so the worker refits it whenever a label is given or withdrawn and publishes its
suggestions and its uncertainty order at once, from the first labels of two classes on.

Who suggests (:func:`model_suggests`): the probe, until a PEFT model is right more often than the
probe on the labels given since that model was trained (:func:`fresh_comparison`, at least
:data:`FRESH_MIN` of them), which neither had seen: the model's decision for each of those texts
against the one the probe made from the labels given before it. Then that model and its
successors suggest, until one of them is not ahead on the labels given after it. No
cross-validation is needed (a k-fold one trains k more models, which a busy CPU often cannot finish
before the next retrain is due); the cross-validated accuracies of both stay on the model view.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from peftal.al.strategies.multilabel import binary_entropy
from peftal.al.strategies.uncertainty import entropy
from peftal.label import label_sets
from peftal.label.label_sets import multi_hot
from peftal.label.store import utc_now
from peftal.seeding import stream_rng

# L2-normalised vectors (the scale of pooled vectors differs between encoders) and a weak
# penalty: on MiniLM's embeddings of 2,000 TREC questions, mean of 5 random draws, the accuracy on
# the rest after 20 / 50 / 100 labels was .22/.28/.32 with C=0.1, .26/.43/.54 with C=1,
# .37/.51/.60 with C=10 and .39/.52/.60 with C=100.
PROBE_C = 100.0


# The probe's suggestions are published for at most this many texts after each label (the most
# wanted ones); ranking a million embedded texts is quick, writing them all after every label is not.
PUBLISHED = 10_000
SLICE = 65_536  # embeddings scored at a time


def serving_order(scores: np.ndarray, candidates: int, rng: np.random.Generator) -> np.ndarray:
    """Positions of ``scores`` in the order their texts are handed out, so that each text handed
    out is the highest-scoring of ``candidates`` texts drawn at random (``--candidates``; 0: the
    plain order by score, 1: a random order).

    The texts are dealt at random into groups of ``candidates``; every group's best comes first
    (groups in their random order), then every group's second best, and so on. Refitted after
    every label with a fresh draw, the probe then serves the best of a new random handful each
    time. Why not always the most uncertain text: a probe on a few dozen labels is most uncertain
    about odd texts, so their suggestions are mostly wrong and the labelled set drifts from the
    pool; the best of a few random texts is still an uncertain one, and a typical one
    (docs/labelling.md, "Which texts are served").
    """
    n = len(scores)
    if candidates == 0 or n == 0:
        return np.argsort(-scores, kind="stable")
    group = np.empty(n, dtype=np.int64)
    group[rng.permutation(n)] = np.arange(n) // candidates
    by_group = np.lexsort((-scores, group))  # each group's members, best first
    rank = np.arange(n) - group[by_group] * candidates  # place within its group
    return by_group[np.lexsort((group[by_group], rank))]


def br_entropy(probs: np.ndarray) -> np.ndarray:
    """Mean binary entropy over labels: what ranks a multi-label pool when the project's strategy
    needs a model the probe is not."""
    return binary_entropy(probs).mean(axis=1)


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (mean-pooled vectors differ in length more than in direction)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def make_probe(multi_label: bool = False) -> Any:
    """The probe unfitted: a scikit-learn :class:`~sklearn.linear_model.LogisticRegression` to fit
    on vectors scaled by :func:`normalise`; for multi-label targets one per label (binary
    relevance, scikit-learn's :class:`~sklearn.multiclass.OneVsRestClassifier`, which predicts a
    label given to all or none of the texts as a constant)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    probe = LogisticRegression(C=PROBE_C, max_iter=1000)
    return OneVsRestClassifier(probe) if multi_label else probe


def fit_probe(vectors: np.ndarray, targets: np.ndarray) -> Any:
    """The probe fitted on ``vectors`` (``targets``: class ids, at least two distinct; or a
    ``(texts, labels)`` 0/1 matrix of a multi-label project)."""
    import warnings

    with warnings.catch_warnings():  # "label not present in all training examples": a constant
        warnings.simplefilter("ignore")
        return make_probe(np.ndim(targets) == 2).fit(normalise(vectors), targets)


def learnable(targets: np.ndarray) -> bool:
    """Whether a probe can be fitted on ``targets``: two classes given, or in a multi-label project
    some label given to some texts and not to others."""
    if np.ndim(targets) == 2:
        return len(targets) > 1 and bool((targets.min(0) != targets.max(0)).any())
    return len(np.unique(targets)) > 1


def decide(probs: np.ndarray, multi_label: bool) -> np.ndarray:
    """The decisions of ``(texts, labels)`` probabilities: class ids (the most probable), or in a
    multi-label project the 0/1 matrix of the labels at 0.5 or more."""
    return (probs >= 0.5).astype(np.float32) if multi_label else probs.argmax(1)


def exact(targets: np.ndarray, decided: np.ndarray) -> float:
    """Accuracy of decisions; in a multi-label project, subset accuracy (the whole set right)."""
    if np.ndim(targets) == 2:
        return float(np.mean(np.all(targets == decided, axis=1)))
    return float(np.mean(targets == decided))


def f1_macro(targets: np.ndarray, decided: np.ndarray) -> float:
    """Macro-F1 of decisions (as ``peftal run``'s ``f1_macro``); in a multi-label project over the
    labels given at least once."""
    from sklearn.metrics import f1_score

    if np.ndim(targets) == 2:
        given = targets.sum(0) > 0
        if not given.any():
            return 0.0
        return float(f1_score(targets[:, given], decided[:, given], average="macro", zero_division=0))
    return float(f1_score(targets, decided, average="macro", zero_division=0))


def cv_splitter(targets: np.ndarray, folds: int, num_classes: int, seed: int) -> Any:
    """The folds of a cross-validation on ``targets``: stratified when every class present can
    fill every fold, else (and for multi-label targets) plain shuffled folds. The PEFT model and
    the probe use the same."""
    from sklearn.model_selection import KFold, StratifiedKFold

    if np.ndim(targets) == 2:
        return KFold(folds, shuffle=True, random_state=seed)
    counts = np.bincount(targets, minlength=num_classes)
    if counts[counts > 0].min() >= folds:
        return StratifiedKFold(folds, shuffle=True, random_state=seed)
    return KFold(folds, shuffle=True, random_state=seed)


# Labels given after a model was trained that judge it against the probe. Fewer would let one
# lucky text decide (on 10 texts a gap of one is 10 points); more would keep a better model waiting
# for most of a default 20-label retrain interval.
FRESH_MIN = 10


def model_suggests(model: dict[str, Any]) -> bool:
    """Whether the PEFT model (status record ``model``) suggests and ranks instead of the probe."""
    return int(model.get("generation", 0)) >= 1 and bool(model.get("beats_probe"))


def fresh_comparison(targets: np.ndarray, model_decided: np.ndarray,
                     probe_decided: np.ndarray) -> dict[str, Any]:
    """The model against the probe on texts labelled after the model was trained: how many each
    got right (the whole set, in a multi-label project) and whether the model is strictly ahead
    (a tie keeps the probe, which also follows every label)."""
    def right(decided: np.ndarray) -> int:
        if np.ndim(targets) == 2:
            return int(np.all(targets == decided, axis=1).sum())
        return int((targets == decided).sum())

    model_right, probe_right = right(model_decided), right(probe_decided)
    return {"labels": int(len(targets)), "model_right": model_right, "probe_right": probe_right,
            "beats_probe": model_right > probe_right}


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
        self.multi_label = bool(getattr(settings, "multi_label", False))
        strategy = parse_strategy(settings.strategy)
        # A plain scoring strategy (entropy, margin, ...) scores the probe's probabilities too;
        # random keeps the cold-start (random) order; any other strategy needs a model the probe
        # is not (MC dropout, gradients), and entropy stands in for it.
        self.keep_order = strategy.name == "random"
        plain = (isinstance(strategy, ScoringStrategy)
                 and type(strategy).probabilities is ScoringStrategy.probabilities)
        self.score = strategy.score if plain else (br_entropy if self.multi_label else entropy)
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
                self.targets([labels[k] for k in keep]), ids, last_seq)

    def targets(self, labels: list[str]) -> np.ndarray:
        """Class ids of stored labels; a ``(texts, labels)`` 0/1 matrix in a multi-label project."""
        if self.multi_label:
            return multi_hot(labels, self.settings.labels)
        return np.asarray([self.label_index[label] for label in labels], dtype=np.int64)

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
        if not learnable(targets):
            return False
        probe = fit_probe(self.cache.get(ids), targets)
        rows = np.flatnonzero(~np.isin(self.cache.ids, np.asarray(every_id, dtype=np.int64)))
        # Scored a slice at a time (a copy of a million embeddings would be 1.5 GB); published
        # for the PUBLISHED texts it wants most (or the first embedded, which follow the
        # cold-start order, for `random`): the rest keep no suggestion, as with --pool-subsample.
        slices = [self.probabilities(probe, self.cache.vectors[rows[start:start + SLICE]])
                  for start in range(0, len(rows), SLICE)]
        full = np.concatenate(slices) if slices else np.zeros((0, len(self.settings.labels)))
        if self.keep_order or not len(rows):
            order: list[int] = []
            chosen = np.arange(min(len(rows), PUBLISHED))
        else:
            rng = stream_rng(self.settings.seed, "serve", last_seq)
            chosen = serving_order(self.score(full), self.settings.candidates, rng)[:PUBLISHED]
            order = self.cache.ids[rows[chosen]].tolist()
        suggestions = suggest(self.cache.ids[rows[chosen]], full[chosen], self.settings.labels,
                              self.multi_label)
        fitted = time.perf_counter() - started
        record = {"labels": len(ids), "classes": int(learnt_classes(targets)), "embedded": self.cache.count,
                  "last_seq": last_seq, "fit_seconds": round(fitted, 4), "fitted_at": utc_now()}
        self.store.publish_ranking(order, suggestions, suggester="probe", probe=record)
        return True

    def probabilities(self, probe: Any, vectors: np.ndarray) -> np.ndarray:
        """``(texts, labels)`` probabilities of a fitted probe for ``vectors``, every label of the
        project in order (a class no label has given yet at 0)."""
        probs = probe.predict_proba(normalise(vectors))  # (n, classes seen) or (n, labels)
        if self.multi_label:
            return probs
        full = np.zeros((len(vectors), len(self.settings.labels)))
        full[:, probe.classes_] = probs
        return full

    def decided_before(self, ids: list[int], targets: np.ndarray, position: int) -> np.ndarray:
        """The probe's decision for ``ids[position]`` when fitted on the labels given before it
        (``ids`` in the order first labelled, ``targets`` theirs): what it suggested for that
        text, give or take labels given while the text was on screen. ``-1`` (never right) when
        those labels cannot fit a probe yet."""
        before = [k for k in range(position) if ids[k] in self.cache.row]
        width = np.shape(targets)[1:]
        if not learnable(targets[before]):
            return np.full(width, -1, dtype=targets.dtype)
        with threadpool_limits(1):
            probe = fit_probe(self.cache.get(np.asarray([ids[k] for k in before])), targets[before])
            probs = self.probabilities(probe, self.cache.get(np.asarray([ids[position]])))
        return decide(probs, self.multi_label)[0]

    def cross_validate(self, ids: np.ndarray, targets: np.ndarray, splitter: Any) -> float:
        """Pooled out-of-fold accuracy of the probe on ``ids`` (all embedded) with ``splitter``'s
        folds, as the PEFT model's cross-validation computes its own (subset accuracy in a
        multi-label project)."""
        vectors = self.cache.get(ids)
        decided = np.zeros_like(targets)
        with threadpool_limits(1):
            for train, test in splitter.split(ids, targets):
                if not learnable(targets[train]):  # one class (or constant labels): predicted as given
                    decided[test] = targets[train][0]
                    continue
                probs = self.probabilities(fit_probe(vectors[train], targets[train]), vectors[test])
                decided[test] = decide(probs, self.multi_label)
        return exact(targets, decided)


def learnt_classes(targets: np.ndarray) -> int:
    """Classes given (labels given at least once, in a multi-label project)."""
    if np.ndim(targets) == 2:
        return int((targets.max(0) > 0).sum()) if len(targets) else 0
    return len(np.unique(targets))


def suggest(ids: np.ndarray, probs: np.ndarray, labels: tuple[str, ...] | list[str],
            multi_label: bool) -> dict[int, tuple[str, float]]:
    """``{id: (label as stored, confidence)}`` from ``(texts, labels)`` probabilities: the most
    probable label and its probability; in a multi-label project the set of labels at 0.5 or more
    and :func:`peftal.label.label_sets.confidence`."""
    if multi_label:
        sure = label_sets.confidence(probs)
        return {int(i): (label_sets.from_row(row >= 0.5, labels), round(float(c), 4))
                for i, row, c in zip(ids, probs, sure, strict=True)}
    best = probs.argmax(1) if len(ids) else np.zeros(0, dtype=np.int64)
    return {int(i): (labels[int(b)], round(float(p[b]), 4)) for i, p, b in zip(ids, probs, best, strict=True)}
