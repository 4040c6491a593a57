"""The rounds of a simulated AL run (``peftal run``): train, evaluate, maybe stop, query.

:func:`peftal.experiments.active_learning.run_active_learning` sets a run up once
(:class:`RunSetup`: the encoded pool and test split, the method, the strategy, the stopping
criteria) and hands it to :func:`run_rounds`, which yields one
:class:`~peftal.records.RoundRecord` per round. Training and querying go through
:mod:`peftal.al.rounds`, as the labelling app's do. The labels of the pool act
as the oracle: a round reads the labels of the ids labelled so far and nothing else.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from peftal.al.acquisition import Acquisition
from peftal.al.int8 import Int8Classifier
from peftal.al.learner import ModelClassifier
from peftal.al.rounds import fit_round, query_pool
from peftal.al.stopping import RoundState, StoppingCriterion
from peftal.al.strategies.base import QueryStrategy
from peftal.data import TaskData
from peftal.data.encoding import Encoded
from peftal.peft import MethodSpec, count_parameters
from peftal.records import RoundRecord, epochs_of
from peftal.seeding import stream_seed
from peftal.training import TrainConfig, TrainResult, compute_metrics, predict
from peftal.training.features import PooledFeatures
from peftal.training.metrics import above_chance


@dataclass(frozen=True)
class RoundPlan:
    """The run's settings that its rounds read: what the engine needs of the run's configuration
    (:class:`~peftal.experiments.active_learning.RunConfig`), and nothing else of it.

    Attributes:
        budget: Labels at which querying stops.
        query_size: Texts queried a round.
        pool_subsample: Score a random subset of this many unlabelled texts a round (all if None).
        seed: The run's seed; a round's model seed is its ``round`` stream (:mod:`peftal.seeding`).
        pooling: How the encoder's token vectors become one vector.
        warm_restart: Continue from the last round's model instead of the pretrained weights.
        init_adapter: An adapter folder every round's model starts from, if any.
        cka_every_round: Measure CKA after every round, not only the last.
        threshold: One fixed multi-label threshold (None: cross-validated per label).
        scoring_precision: ``fp32``, or ``int8`` (pool scoring by :mod:`peftal.al.int8`).
    """

    budget: int
    query_size: int
    pool_subsample: int | None = None
    seed: int = 0
    pooling: str = "mean"
    warm_restart: bool = False
    init_adapter: str | None = None
    cka_every_round: bool = False
    threshold: float | None = None
    scoring_precision: str = "fp32"


class Probe(Protocol):
    """Measures a trained model's representations (the CKA probe, :mod:`peftal.measures.cka`)."""

    def measure(self, model: nn.Module) -> dict[str, Any]: ...


@dataclass
class RunSetup:
    """What a run prepares once, before its first round.

    Attributes:
        plan: The run's settings its rounds read.
        task: The dataset; ``task.train`` is the pool.
        method: The main method.
        strategy: The query strategy.
        device: Where models train.
        encoder: The pretrained encoder every round's model is copied from.
        pool: The method's view of the pool (token ids, or cached embeddings).
        test: The method's view of the test split.
        train_config: Training settings of the main method.
        precision: ``fp32`` or ``bf16``.
        num_rounds: Rounds the budget allows.
        criteria: Stopping criteria.
        stop_ids: The stop set, where a criterion needs predictions on one.
        acquirer: The cheap acquisition model, if any.
        probe: The CKA probe, if any.
    """

    plan: RoundPlan
    task: TaskData
    method: MethodSpec
    strategy: QueryStrategy
    device: str | torch.device
    encoder: nn.Module
    pool: Encoded | PooledFeatures
    test: Encoded | PooledFeatures
    train_config: TrainConfig
    precision: str
    num_rounds: int
    criteria: list[StoppingCriterion] = field(default_factory=list)
    stop_ids: np.ndarray | None = None
    acquirer: Acquisition | None = None
    probe: Probe | None = None


@dataclass
class RunState:
    """What changes from round to round: the labelled ids, the main model, where it stopped."""

    labeled: np.ndarray
    model: Any = None
    trainable: int | None = None
    total: int | None = None
    stopped_by: str | None = None
    stopped_at_round: int | None = None


def run_rounds(setup: RunSetup, state: RunState, rng: np.random.Generator, on_step: Any = None,
               before_round: Callable[[int, int], None] | None = None) -> Iterator[RoundRecord]:
    """Yield each round's record as soon as it ends; ``state`` follows the run.
    ``before_round(round_index, num_labeled)`` is called as a round starts (progress)."""
    added = state.labeled
    for round_index in range(setup.num_rounds):
        if before_round is not None:
            before_round(round_index, len(state.labeled))
        record = _round(setup, state, round_index, added, rng, on_step)
        yield record
        if state.stopped_by is not None:
            return
        added = np.asarray(record.indices_queried, dtype=np.int64)
        state.labeled = np.sort(np.concatenate([state.labeled, added]))


def _round(setup: RunSetup, state: RunState, round_index: int, added: np.ndarray,
           rng: np.random.Generator, on_step: Any) -> RoundRecord:
    plan, task, labeled = setup.plan, setup.task, state.labeled
    main_round = setup.acquirer is None or setup.acquirer.trains_main(round_index, setup.num_rounds)
    result, picker, picker_pool, picker_test = _train(setup, state, round_index, main_round, on_step)
    eval_start = time.perf_counter()
    outputs = predict(*((state.model, setup.test) if main_round else (picker, picker_test)),
                      np.arange(len(task.test)), precision=setup.precision)
    evaluated = state.model if main_round else picker
    metrics = compute_metrics(task.metrics, task.test.labels, outputs, task.task,
                              getattr(evaluated, "thresholds", None))
    learned, chance = above_chance(task.test.labels, outputs, task.task,
                                   getattr(evaluated, "thresholds", None))
    eval_seconds = time.perf_counter() - eval_start
    queried, scores, query_seconds = np.zeros(0, dtype=np.int64), None, 0.0
    remaining = plan.budget - len(labeled)
    if remaining > 0 and setup.criteria:
        fired = _check_stop(setup, round_index, state.model, labeled)
        if fired is not None:
            state.stopped_by, state.stopped_at_round, remaining = fired, round_index, 0
    if remaining > 0:
        query_start = time.perf_counter()
        unlabeled = np.setdiff1d(np.arange(len(task.train)), labeled, assume_unique=True)
        scorer = (Int8Classifier if plan.scoring_precision == "int8" and isinstance(picker_pool, Encoded)
                  else ModelClassifier)  # a frozen encoder's cached embeddings: its head is all there is
        clf = scorer(picker, picker_pool, task.task, precision=setup.precision)
        # Only the labels of the labelled ids reach the strategy: the rest of the pool's are the
        # simulation's secret.
        queried, scores = query_pool(setup.strategy, clf, unlabeled, labeled, task.train.labels[labeled],
                                     min(plan.query_size, remaining), rng, plan.pool_subsample)
        query_seconds = time.perf_counter() - query_start
    last_round = round_index == setup.num_rounds - 1 or state.stopped_by is not None
    measure_cka = (setup.probe is not None and main_round
                   and (plan.cka_every_round or last_round))
    return RoundRecord(
        round=round_index, num_labeled=len(labeled), metrics=metrics,
        train_seconds=result.seconds, query_seconds=query_seconds, eval_seconds=eval_seconds,
        indices_queried=queried, scores_queried=scores, epochs=epochs_of(result.epochs),
        indices_added=added, correct=result.correct, correct_ids=labeled,
        metrics_model=None if setup.acquirer is None else (
            setup.method.preset if main_round else setup.acquirer.spec.preset),
        steps=result.steps, converged=result.converged, convergence=result.convergence,
        learned=learned, chance=chance,
        artifacts={"cka": setup.probe.measure(state.model)} if measure_cka else {},
    )


def _train(setup: RunSetup, state: RunState, round_index: int, main_round: bool,
           on_step: Any) -> tuple[TrainResult, Any, Any, Any]:
    """Train the round's models: ``(result, model that queries, its pool view, its test view)``."""
    plan, task, labeled = setup.plan, setup.task, state.labeled
    fit = dict(task=task.task, num_outputs=task.num_labels, pooling=plan.pooling,
               seed=stream_seed(plan.seed, "round", round_index), device=setup.device, on_step=on_step,
               threshold=plan.threshold)
    result = None
    if main_round:
        state.model, result = fit_round(setup.method, setup.encoder, setup.pool, labeled,
                                        task.train.labels[labeled], setup.train_config,
                                        model=state.model if plan.warm_restart else None,
                                        init_adapter=plan.init_adapter, **fit)
        state.trainable, state.total = count_parameters(state.model)
    if setup.acquirer is None:
        return result, state.model, setup.pool, setup.test
    acquirer = setup.acquirer
    picker, picked = fit_round(acquirer.spec, setup.encoder, acquirer.pool, labeled,
                               task.train.labels[labeled], acquirer.train_config, **fit)
    return (result if main_round else picked), picker, acquirer.pool, acquirer.test


def _check_stop(setup: RunSetup, round_index: int, model: Any, labeled: np.ndarray) -> str | None:
    """Update every criterion with this round (they keep histories); the first that fires, or None."""
    probs = unlabeled = None
    if setup.stop_ids is not None:
        probs = ModelClassifier(model, setup.pool, setup.task.task).predict_proba(setup.stop_ids)
        unlabeled = ~np.isin(setup.stop_ids, labeled)  # (stop_set,)
    state = RoundState(round_index=round_index, probs=probs, unlabeled=unlabeled)
    fired = [criterion.preset for criterion in setup.criteria if criterion.stop(state)]
    return fired[0] if fired else None
