"""The model in the loop: retrain on the labels so far, rank the pool, estimate accuracy.

Each retrain follows the protocol of ``peftal run`` (Jukić & Šnajder 2023): a fresh copy of the
pretrained encoder with the chosen PEFT method, trained from scratch on all live labels. The new
model then scores the unlabelled pool with the chosen strategy; that order and the model's
suggested label for each example replace the old ranking in one transaction.

Accuracy shown to the annotators is k-fold cross-validation on the labels so far (pooled
out-of-fold predictions). No separate held-out slice is asked of the annotators: with scarce
labels every label should train the model. Note that actively chosen labels are harder than the
pool at large, so this estimate tends to be pessimistic.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from peftal.al.learner import ModelClassifier
from peftal.al.rounds import fit_round, query_pool
from peftal.al.strategies import ScoringStrategy, parse_strategy
from peftal.al.strategies.subsampling import subsample_pool
from peftal.data.encoding import Encoded, LazyEncoded
from peftal.label.label_sets import multi_hot
from peftal.label.probe import decide, exact, f1_macro, serving_order, suggest
from peftal.label.project import LabelSettings
from peftal.label.store import LabelStore, utc_now
from peftal.models.backbone import load_backbone
from peftal.peft import count_parameters, parse_method
from peftal.peft.recipes import task_type
from peftal.peft.recipes import train_config as make_train_config
from peftal.seeding import stream_seed
from peftal.training import TrainResult, embed, predict
from peftal.training.features import PooledFeatures
from peftal.training.metrics import sigmoid

# Batch strategies (not plain scorers) pick this many query batches per retrain; the rest of the
# pool follows in the cold-start order. Two spare batches cover labels given while the next
# retrain runs, examples leased to other annotators and skips.
_BATCHES_RANKED = 3
_SLICE = 32  # examples scored between two calls of the worker's callback (~0.4 s on a busy CPU)


class CachedClassifier:
    """A :class:`ModelClassifier` whose class probabilities for the pool are computed once.

    The ranking needs the same probabilities twice (the strategy's scores and the suggestions);
    anything else a strategy asks for (embeddings, MC-dropout passes) goes to the wrapped model.
    """

    def __init__(self, inner: ModelClassifier, indices: np.ndarray,
                 on_step: Callable[[], None] | None = None) -> None:
        self.inner = inner
        self.task = inner.task
        self._rows = {int(i): r for r, i in enumerate(indices)}
        # In slices, with ``on_step`` between them: the worker refits the probe meanwhile.
        parts = []
        for start in range(0, len(indices), _SLICE):
            parts.append(inner.predict_proba(indices[start:start + _SLICE]))
            if on_step is not None:
                on_step()
        self._probs = np.concatenate(parts) if parts else inner.predict_proba(indices)  # (n, classes)

    def predict_proba(self, indices: np.ndarray) -> np.ndarray:
        try:
            return self._probs[[self._rows[int(i)] for i in indices]]
        except KeyError:
            return self.inner.predict_proba(indices)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class LabelModel:
    """The backbone and the encoded pool of one project, loaded once; trains model generations.

    Args:
        store: The project's store.
        settings: The project's settings.
        backbone: ``(encoder, tokenizer)`` already loaded (tests); default: load ``settings.model``.
    """

    def __init__(self, store: LabelStore, settings: LabelSettings,
                 backbone: tuple[Any, Any] | None = None) -> None:
        self.store = store
        self.settings = settings
        self.method = parse_method(settings.method)
        self.strategy = parse_strategy(settings.strategy)
        self.encoder, self.tokenizer = backbone or load_backbone(settings.model)
        texts, pairs = store.texts()
        self.texts, self.pairs = texts, pairs
        # Tokenised as texts are used: a retrain, a scored subsample and an embedded chunk each
        # touch a few thousand texts of a pool that may hold a million.
        encoded = LazyEncoded(self.tokenizer, texts, pairs, settings.max_length)
        # With a frozen encoder (the head method) each text is embedded once for all generations,
        # so a retrain and its suggestions take seconds.
        self.pool: Encoded | PooledFeatures = self.method.method.inputs(self.encoder, encoded,
                                                                        pooling=settings.pooling)
        self.label_index = {label: i for i, label in enumerate(settings.labels)}
        self.task = settings.task  # classification, or multilabel
        self.train_config = make_train_config(self.method, task_type(self.task, pairs is not None),
                                              settings, epochs=settings.epochs,
                                              batch_size=settings.batch_size)
        # The newest model, kept to be judged on the labels given after it was trained:
        # ``(generation, model, ids it was trained on)``.
        self.latest: tuple[int, torch.nn.Module, np.ndarray] | None = None

    # -- training --------------------------------------------------------------------------

    def fit(self, ids: np.ndarray, targets: np.ndarray, seed: int,
            on_step: Callable[[], None] | None = None,
            thresholds: str = "fixed") -> tuple[torch.nn.Module, TrainResult]:
        """A fresh model trained on ``ids`` (global ids) with class ids ``targets`` (a 0/1 matrix
        in a multi-label project): a round of ``peftal run`` (:func:`peftal.al.rounds.fit_round`).
        A multi-label model decides at 0.5 for every label: the cross-validated per-label thresholds
        of ``peftal run`` would cost five more fits per retrain, and the probe suggests at 0.5 too
        (``peftal label train``, the final model, cross-validates them: ``thresholds="cv"``)."""
        return fit_round(self.method, self.encoder, self.pool, ids, targets, self.train_config,
                         task=self.task, num_outputs=len(self.settings.labels),
                         pooling=self.settings.pooling, seed=seed,
                         device=next(self.encoder.parameters()).device, on_step=on_step,
                         threshold=0.5 if self.task == "multilabel" and thresholds == "fixed" else None)

    def targets(self, labels: list[str]) -> np.ndarray:
        """Class ids of stored labels; a ``(texts, labels)`` 0/1 matrix in a multi-label project."""
        if self.task == "multilabel":
            return multi_hot(labels, self.settings.labels)
        return np.array([self.label_index[label] for label in labels], dtype=np.int64)

    def retrain(self, generation: int, on_step: Callable[[], None] | None = None,
                publish: bool = True) -> tuple[dict[str, Any], list[int], dict[int, tuple[str, float]]]:
        """Train generation ``generation`` on all live labels and rank the pool; publish the
        ranking with the status record if ``publish``, else only the status record (the linear
        probe keeps suggesting until this model beats it, :mod:`peftal.label.probe`).

        Returns the status record, the order and the suggestions.
        """
        ids, labels, last_seq = self.store.label_snapshot()
        ids_arr = np.asarray(ids, dtype=np.int64)
        seed = stream_seed(self.settings.seed, "generation", generation)
        model, result = self.fit(ids_arr, self.targets(labels), seed, on_step)
        self.latest = (generation, model, ids_arr)
        trainable, total = count_parameters(model)
        rng = np.random.default_rng(seed)
        query_start = time.perf_counter()
        order, suggestions = self.rank(model, ids_arr, rng, on_step)
        record = {
            "generation": generation, "status": "ready", "activity": "idle",
            "trained_on": len(ids), "last_seq": last_seq, "trained_at": utc_now(),
            "train_seconds": round(result.seconds, 2),
            "query_seconds": round(time.perf_counter() - query_start, 2),
            "method": self.method.preset, "strategy": self.strategy.preset,
            "trainable_params": trainable, "total_params": total,
            "train_accuracy": result.epochs[-1].get("train_accuracy") if result.epochs else None,
        }
        previous = self.store.get_meta("model", {})
        for key in ("accuracy", "accuracy_folds", "accuracy_on", "accuracy_generation",
                    "cold_start", "probe_accuracy", "beats_probe", "fresh"):
            if key in previous:
                record[key] = previous[key]  # the last estimate stays until the new one is done
        if publish:
            self.store.publish_ranking(order, suggestions, record, suggester="model")
        else:
            self.store.set_meta("model", record)
        return record, order, suggestions

    def rank(self, model: torch.nn.Module, labeled: np.ndarray, rng: np.random.Generator,
             on_step: Callable[[], None] | None = None) -> tuple[list[int], dict[int, tuple[str, float]]]:
        """``(order, suggestions)``: the strategy's order of the unlabelled pool (or a subsample of
        it) and the model's ``(label, confidence)`` for every example it scored."""
        unlabeled = np.setdiff1d(np.arange(len(self.pool)), labeled)
        if len(unlabeled) == 0:
            return [], {}
        unlabeled = subsample_pool(unlabeled, self.settings.scored_pool(len(self.pool)), rng)
        clf = CachedClassifier(ModelClassifier(model, self.pool, self.task), unlabeled, on_step)
        if isinstance(self.strategy, ScoringStrategy):
            n = len(unlabeled)  # a full order costs no more than the top batch
        else:
            n = min(len(unlabeled), _BATCHES_RANKED * self.settings.query_size)
        picked, scores = query_pool(self.strategy, clf, unlabeled, labeled, self._labels_of(labeled), n, rng)
        queried = [int(i) for i in picked]
        if isinstance(self.strategy, ScoringStrategy) and scores is not None and len(scores) == len(queried):
            # handed out as the probe's order is: the best of --candidates random texts each time
            queried = [queried[k] for k in serving_order(np.asarray(scores), self.settings.candidates, rng)]
        probs = clf.predict_proba(unlabeled)  # (len(unlabeled), classes)
        return queried, suggest(unlabeled, probs, self.settings.labels, self.task == "multilabel")

    def decisions(self, model: torch.nn.Module, ids: np.ndarray) -> np.ndarray:
        """``model``'s decisions for ``ids``: class ids, or a 0/1 matrix in a multi-label project
        (every label at 0.5, as its suggestions)."""
        multi = self.task == "multilabel"
        logits = predict(model, self.pool, np.asarray(ids, dtype=np.int64))
        return decide(sigmoid(logits) if multi else logits, multi)

    def _labels_of(self, labeled: np.ndarray) -> np.ndarray:
        """Class ids of the ``labeled`` ids as the project's store holds them now (-1 for an id
        whose label was removed since)."""
        ids, labels, _ = self.store.label_snapshot()
        if self.task == "multilabel":  # no label for a removed one
            known = np.zeros((len(self.pool), len(self.settings.labels)), dtype=np.float32)
        else:
            known = np.full(len(self.pool), -1, dtype=np.int64)
        known[np.asarray(ids, dtype=np.int64)] = self.targets(labels)
        return known[np.asarray(labeled, dtype=np.int64)]

    # -- accuracy --------------------------------------------------------------------------

    def cross_validate(self, generation: int, on_step: Callable[[], None] | None = None,
                       snapshot: tuple[list[int], list[str], int] | None = None) -> dict[str, Any] | None:
        """k-fold cross-validation on the labels so far (or those of ``snapshot``, a
        :meth:`LabelStore.label_snapshot`), folds seeded by ``generation``.

        Returns ``{"accuracy", "f1_macro", "accuracy_folds", "accuracy_on", "accuracy_generation",
        "accuracy_seq", "oof"}`` (``oof``: ``{"ids", "targets", "predicted"}``, the out-of-fold
        predictions as class ids, for the model view) or ``None`` when there are too few labels
        (fewer than two per fold) or folds are switched off.
        """
        from peftal.label.probe import cv_splitter

        ids, labels, last_seq = snapshot or self.store.label_snapshot()
        folds = min(self.settings.cv_folds, len(ids) // 2)
        if folds < 2:
            return None
        ids_arr = np.asarray(ids, dtype=np.int64)
        targets = self.targets(labels)
        seed = stream_seed(self.settings.seed, "generation", generation)
        splitter = cv_splitter(targets, folds, len(self.settings.labels), seed)
        multi = self.task == "multilabel"
        predicted = np.zeros_like(targets)
        for fold, (train_pos, test_pos) in enumerate(splitter.split(ids_arr, targets)):
            fold_seed = stream_seed(self.settings.seed, "fold", generation, fold)
            model, _ = self.fit(ids_arr[train_pos], targets[train_pos], fold_seed, on_step)
            logits = predict(model, self.pool, ids_arr[test_pos])
            predicted[test_pos] = decide(sigmoid(logits) if multi else logits, multi)
        return {"accuracy": round(exact(targets, predicted), 4),
                "f1_macro": round(f1_macro(targets, predicted), 4),
                "accuracy_folds": folds, "accuracy_on": len(ids), "accuracy_generation": generation,
                "accuracy_seq": last_seq,
                "oof": {"ids": ids_arr.tolist(), "targets": targets.tolist(),
                        "predicted": predicted.tolist()}}

    # -- diverse cold start ----------------------------------------------------------------

    def kmeans_order(self, vectors_of: Callable[[np.ndarray], np.ndarray] | None = None) -> list[int]:
        """The example nearest each of ``query_size`` k-means centres of the base model's
        embeddings (mean-pooled last layer, no training), biggest cluster first. ``vectors_of``
        gives those embeddings for ids (the worker's cache); default: computed here.

        A diverse first batch instead of a random one (the cold-start idea of Yuan et al. 2020,
        ALPS, with plain embeddings instead of masked-LM surprisal).
        """
        from sklearn.cluster import KMeans

        from peftal.models.heads import TextClassifier

        rng = np.random.default_rng(self.settings.seed)
        candidates = subsample_pool(np.arange(len(self.pool)), self.settings.scored_pool(len(self.pool)),
                                    rng)
        if vectors_of is None:
            base = TextClassifier(self.encoder, len(self.settings.labels), pooling=self.settings.pooling)
            vectors = embed(base, self.pool, candidates)  # (len(candidates), hidden)
        else:
            vectors = vectors_of(candidates)
        k = min(self.settings.query_size, len(candidates))
        kmeans = KMeans(n_clusters=k, n_init=3, random_state=self.settings.seed).fit(vectors)
        distances = kmeans.transform(vectors)  # (len(candidates), k)
        sizes = np.bincount(kmeans.labels_, minlength=k)
        order = []
        for centre in np.argsort(-sizes, kind="stable"):
            for position in np.argsort(distances[:, centre], kind="stable"):
                if int(candidates[position]) not in order:
                    order.append(int(candidates[position]))
                    break
        return order

