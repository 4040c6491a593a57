"""The AL round, written once: fit a model on the labelled ids, ask a strategy for the next ids,
check them.

``peftal run`` (:mod:`peftal.experiments.active_learning`), its cheap acquisition model
(:mod:`peftal.al.acquisition`), the labelling app's background trainer (:mod:`peftal.label.model`)
and ``peftal train`` (:mod:`peftal.experiments.supervised`, one round) all train — and the first
three query — through these functions, so a round means the same thing wherever it runs: a fresh
model (or the previous one, continued) trained with the round's seed, put in the form it is
evaluated and saved in; a strategy that sees the model, the ids and the labelled ids' labels; and
one check of what it returned.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from peftal.al.strategies import Classifier, PoolSubsampling, QueryStrategy
from peftal.peft import MethodSpec, build_model
from peftal.seeding import stream_seed, torch_seeded
from peftal.training import TrainConfig, TrainResult, center_regression_head, predict, train
from peftal.training.metrics import sigmoid
from peftal.training.thresholds import DEFAULT as DEFAULT_THRESHOLD
from peftal.training.thresholds import best_thresholds

THRESHOLD_FOLDS = 3  # out-of-fold probabilities for the multi-label thresholds


def fit_round(spec: MethodSpec, encoder: Any, inputs: Any, labeled: np.ndarray, targets: np.ndarray | None,
              train_config: TrainConfig, *, task: str, num_outputs: int, pooling: str, seed: int,
              device: Any, on_step: Any = None, model: Any = None, init_adapter: str | None = None,
              rng: np.random.Generator | None = None, batch_loss: Any = None,
              threshold: float | None = None) -> tuple[Any, TrainResult]:
    """Train one round's model of ``spec`` on ``labeled`` (a fresh one unless ``model`` is given, to
    continue from) and put it in the form that is evaluated and queried with.

    ``seed`` initialises the model; dropout draws from the ``dropout`` stream of ``seed`` (the seed
    plan, :mod:`peftal.seeding`), never replaying the initialisation's numbers; the batch order comes
    from ``rng`` (default: a generator of ``seed``). The result says whether the training converged
    (:mod:`peftal.training.convergence`). ``batch_loss`` replaces the method's own fit by the gradient
    trainer with that loss (span extraction for ``task="qa"``). A multi-label model gets
    ``model.thresholds`` ``(labels,)``: ``threshold`` for every label when given, else per-label
    thresholds cross-validated on ``labeled`` (:func:`cross_validated_thresholds`).
    """
    if model is None:
        model = build_model(encoder, spec, num_outputs, pooling=pooling, seed=seed, task=task).to(device)
        if init_adapter is not None:
            from peftal.peft.pretrained_adapter import load_pretrained_adapter

            load_pretrained_adapter(model, init_adapter)
        if task == "regression":
            center_regression_head(model, targets)
    rng = np.random.default_rng(seed) if rng is None else rng
    with torch_seeded(stream_seed(seed, "dropout")):
        if batch_loss is None:
            result = spec.fit(model, inputs, labeled, targets, train_config, task=task, rng=rng,
                              on_step=on_step)
        else:
            result = train(model, inputs, labeled, targets, train_config, task=task, rng=rng,
                           on_step=on_step, batch_loss=batch_loss)
    spec.method.for_inference(model)  # e.g. prefix tuning drops its MLP; evaluated as it is saved
    if task == "multilabel":
        model.thresholds = (np.full(num_outputs, float(threshold)) if threshold is not None else
                            cross_validated_thresholds(spec, encoder, inputs, labeled, targets, train_config,
                                                       num_outputs=num_outputs, pooling=pooling, seed=seed,
                                                       device=device))
    return model, result.judge_convergence(task, targets)


def cross_validated_thresholds(spec: MethodSpec, encoder: Any, inputs: Any, labeled: np.ndarray,
                               targets: np.ndarray, train_config: TrainConfig, *, num_outputs: int,
                               pooling: str, seed: int, device: Any,
                               folds: int = THRESHOLD_FOLDS) -> np.ndarray:
    """Per-label thresholds of a multi-label model from out-of-fold probabilities: ``folds`` models of
    ``spec`` (seeded from ``seed``), each trained like the round's model on the other folds of the
    labelled set, score their held-out fold; :func:`~peftal.training.thresholds.best_thresholds`
    picks each label's cut. Only labelled ids take part, never the test split. It costs ``folds``
    extra fits per round (seconds for ``head``); ``threshold=0.5`` in :func:`fit_round` skips it.
    The folds and their models' seeds come from the ``threshold_fold`` stream of ``seed``
    (:mod:`peftal.seeding`)."""
    from sklearn.model_selection import KFold

    labeled = np.asarray(labeled, dtype=np.int64)
    folds = min(folds, len(labeled))
    if folds < 2:
        return np.full(num_outputs, DEFAULT_THRESHOLD)
    probs = np.zeros((len(labeled), num_outputs), dtype=np.float64)
    splitter = KFold(n_splits=folds, shuffle=True, random_state=stream_seed(seed, "threshold_fold"))
    for fold, (fit_at, held_at) in enumerate(splitter.split(labeled)):
        model, _ = fit_round(spec, encoder, inputs, labeled[fit_at], targets[fit_at], train_config,
                             task="multilabel", num_outputs=num_outputs, pooling=pooling,
                             seed=stream_seed(seed, "threshold_fold", fold), device=device,
                             threshold=DEFAULT_THRESHOLD)
        probs[held_at] = sigmoid(predict(model, inputs, labeled[held_at], precision=train_config.precision))
    return best_thresholds(probs, targets)


def query_pool(strategy: QueryStrategy, clf: Classifier, indices_unlabeled: np.ndarray,
               indices_labeled: np.ndarray, labels_labeled: np.ndarray | None, n: int,
               rng: np.random.Generator,
               subsample: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """``(ids, scores)``: the ``n`` ids ``strategy`` picks among ``indices_unlabeled`` (scoring a
    seeded ``subsample`` of them when given), checked once here for every caller."""
    if subsample is not None:
        strategy = PoolSubsampling(strategy, subsample)
    queried = np.asarray(strategy.query(clf=clf, indices_unlabeled=indices_unlabeled,
                                        indices_labeled=indices_labeled, labels_labeled=labels_labeled,
                                        n=n, rng=rng), dtype=np.int64)
    if (len(queried) != n or len(np.unique(queried)) != n or np.isin(queried, indices_labeled).any()
            or not np.isin(queried, indices_unlabeled).all()):
        raise RuntimeError(f"strategy {strategy.name!r} returned ids that are repeated, labelled or "
                           f"not in the pool, or not {n} of them")
    return queried, strategy.last_scores_


def round_sizes(warm_start: int, query_size: int, budget: int) -> list[int]:
    """The labelled-set size of each round a ``budget`` allows, from ``warm_start`` in steps of
    ``query_size`` (the last step may be smaller)."""
    sizes, size = [], warm_start
    while True:
        sizes.append(size)
        if size >= budget:
            return sizes
        size = min(budget, size + query_size)
