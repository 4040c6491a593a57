"""The ``active_learning`` run kind (``peftal run``, a study's AL cells): config, set-up and execution
into a run folder; its checks and the study kind's validation are in
:mod:`peftal.experiments.al_checks`.

Protocol of Jukić & Šnajder (2023): every round (:func:`peftal.al.engine.run_rounds`) retrains from
the pretrained weights, the head always trains, and the test split is evaluated every round for the
learning curve only; nothing is selected by its test score. ``--warm-restart`` continues each round
from the previous round's model; ``--stop`` ends the run when a criterion (:mod:`peftal.al.stopping`)
fires.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from peftal.al.acquisition import Acquisition, round_steps
from peftal.al.engine import RoundPlan, RunSetup, RunState, run_rounds
from peftal.al.int8 import SCORING_PRECISIONS, check_int8_available
from peftal.al.probe import RepresentationProbe
from peftal.al.rounds import round_sizes
from peftal.al.stopping import check_criteria, draw_stop_set, parse_criterion
from peftal.al.strategies import parse_strategy
from peftal.al.warm_start import draw_warm_start
from peftal.data import TaskData, load_task
from peftal.data.builtin import has_pairs, is_multilabel
from peftal.data.encoding import encode
from peftal.data.options import DataOptions
from peftal.data.sampling import sample_training_ids
from peftal.defaults import default_method, default_strategy
from peftal.errors import UsageError
from peftal.experiments.al_checks import check_cell, check_data, validate_active_learning
from peftal.experiments.kinds import StudyKind
from peftal.experiments.model_card import card_facts
from peftal.experiments.run_folder import (
    RUN_ID,
    check_out_dir,
    complete_run,
    model_meta,
    recorded_run,
    thresholds_meta,
)
from peftal.measures.curves import learning_curve_auc
from peftal.models.backbone import display_name, load_backbone
from peftal.models.options import TrainingOptions
from peftal.peft import parse_method
from peftal.peft.checkpoint import save_checkpoint
from peftal.peft.recipes import RecipeOptions, task_type
from peftal.peft.recipes import train_config as make_train_config
from peftal.records import RoundRecord, all_converged
from peftal.seeding import stream_rng
from peftal.training import primary_metric
from peftal.training.device import resolve_device
from peftal.training.precision import resolve_precision
from peftal.training.progress import ProgressLog, log_lines_wanted


@dataclass(frozen=True)
class RunConfig(DataOptions, TrainingOptions, RecipeOptions):
    """Everything that defines one AL run: the options of ``peftal run`` (generated from this
    class: each field below, and those of the option blocks it inherits, is ``--field-name``, with
    this text as its help). The training options (model, epochs, batch size, max length, seed,
    pooling) are :class:`~peftal.models.options.TrainingOptions`, with its defaults.

    Attributes:
        dataset: Built-in name or path to a file/folder.
        method: PEFT method preset, e.g. ``lora`` or ``lora[r=16,alpha=32]`` (default: ``ia3``;
            ``lora`` for text pairs).
        strategy: Query strategy preset, e.g. ``entropy`` or ``mc_dropout[passes=10]`` (default:
            ``entropy``; ``br_entropy_mean`` for multi-label data).
        warm_start: Labels drawn at random before the first round.
        query_size: Labels the strategy picks per round.
        budget: Total labels, warm start included; the run ends when it is spent.
        pool_subsample: Score only this many random unlabelled examples per round (default: the
            whole pool).
        cka_probe_size: Test examples for the layer-wise CKA between the pretrained and the final
            encoder (0 = no CKA; stored as the ``cka`` artifact, see ``peftal analyze``; not measured
            for a method that keeps the encoder frozen, whose CKA is 1 by construction).
        cka_every_round: Measure CKA after every round, not only the last.
        stratified_warm_start: Draw a class-balanced warm start (multi-label: every label at
            its share of the pool, by iterative stratification).
        warm_restart: Continue each round from the previous round's model (a fresh optimiser and
            schedule) instead of retraining from the pretrained weights.
        stop: End the run early when this stopping criterion fires (repeatable), e.g.
            ``kappa_average`` or ``max_rounds[rounds=3]``.
        init_adapter: Start the method's weights from a ``peftal pretrain`` adapter folder.
        precision: ``auto``, ``fp32`` or ``bf16`` (autocast of training and inference); ``auto``
            = bf16 where the CPU (AMX) or GPU has bf16 matrix units, else fp32.
        group_by_length: Training batches of examples of similar length (less padding).
        device: ``auto`` (a CUDA GPU when torch sees one, else the CPU), ``cpu``, ``cuda`` or
            ``cuda:N``; ``precision="auto"`` then resolves for that device.
        acquisition_method: Query with a model of this method preset every round (e.g. ``head``: a
            linear probe on frozen embeddings, seconds a round) and train ``method`` only in the
            last round and every ``acquisition_every`` rounds (default: query with the main
            model; :mod:`peftal.al.acquisition`).
        acquisition_every: With ``acquisition_method``, also train the main method every this
            many rounds.
        max_eval: Evaluate every round on a seeded sample of this many test examples (stratified
            by class; default: the whole test split). Large test splits cost every round a full
            pass; the pool is not affected.
        threshold: Multi-label: predict a label where its probability is at least this (e.g.
            0.5); default: per-label thresholds chosen by 3-fold cross-validation on the labelled
            set each round (3 extra fits per round).
        scoring_precision: ``fp32``, or ``int8``: score the pool each round with an int8 ONNX
            Runtime copy of the round's model (a few seconds to build; needs ``peftal[export]``).
            Training and evaluation stay as they are.
    """

    dataset: str = "trec"
    method: str | None = None
    strategy: str | None = None
    warm_start: int = 100
    query_size: int = 50
    budget: int = 300
    pool_subsample: int | None = None
    cka_probe_size: int = 500
    cka_every_round: bool = False
    stratified_warm_start: bool = False
    warm_restart: bool = False
    stop: tuple[str, ...] = ()
    init_adapter: str | None = None
    precision: str = "auto"
    group_by_length: bool = True
    device: str = "auto"
    acquisition_method: str | None = None
    acquisition_every: int | None = None
    max_eval: int | None = None
    threshold: float | None = None
    scoring_precision: str = "fp32"

    @property
    def method_preset(self) -> str:
        """The method this run trains: ``method``, or the default for its data when none is named."""
        if self.method is not None:
            return self.method
        return default_method(has_pairs(self.dataset, self.text_pair_column))

    @property
    def strategy_preset(self) -> str:
        """The strategy this run queries with: ``strategy``, or the default for its data."""
        if self.strategy is not None:
            return self.strategy
        return default_strategy(is_multilabel(self.dataset, self.task))

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.task == "qa":
            raise UsageError("--task qa: active learning does not apply to question answering")
        resolve_precision(self.precision)  # checks the names before any compute
        resolve_device(self.device)
        if self.scoring_precision not in SCORING_PRECISIONS:
            raise UsageError(f"--scoring-precision must be one of {', '.join(SCORING_PRECISIONS)}, "
                             f"got {self.scoring_precision!r}")
        if self.scoring_precision == "int8":
            check_int8_available()
        if self.max_eval is not None and self.max_eval < 1:
            raise UsageError(f"--max-eval must be >= 1, got {self.max_eval}")
        if self.max_length is None:  # the block allows none for commands that choose it by task
            raise UsageError("--max-length must be an integer >= 1, got None")
        for name in ("warm_start", "query_size", "budget"):
            if getattr(self, name) < 1:
                raise UsageError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if self.budget <= self.warm_start:
            raise UsageError(f"--budget ({self.budget}) must be larger than --warm-start "
                             f"({self.warm_start})")
        if self.pool_subsample is not None and self.pool_subsample < 1:
            raise UsageError(f"--pool-subsample must be >= 1, got {self.pool_subsample}")
        if self.cka_probe_size < 0 or self.cka_probe_size == 1:
            raise UsageError(f"--cka-probe-size must be 0 (no CKA) or >= 2, got {self.cka_probe_size}")
        object.__setattr__(self, "stop", tuple(self.stop))  # a list from the CLI or a YAML file
        check_criteria(self.stop)
        if self.threshold is not None and not 0 < self.threshold < 1:
            raise UsageError(f"--threshold must be between 0 and 1, got {self.threshold}")
        self._check_acquisition()

    def round_sizes(self) -> list[int]:
        """The labelled-set size of each round the budget allows."""
        return round_sizes(self.warm_start, self.query_size, self.budget)

    def _check_acquisition(self) -> None:
        if self.acquisition_every is not None and self.acquisition_every < 1:
            raise UsageError(f"--acquisition-every must be >= 1, got {self.acquisition_every}")
        if self.acquisition_every is not None and self.acquisition_method is None:
            raise UsageError("--acquisition-every needs --acquisition-method")
        if self.acquisition_method is not None and self.stop:
            raise UsageError("--stop does not combine with --acquisition-method (the main model trains "
                             "only in some rounds)")


def prepare(config: RunConfig) -> tuple[TaskData, Any, Any]:
    """Load and check everything a run needs before any compute; returns (task, method, strategy)."""
    method = parse_method(config.method_preset)
    strategy = parse_strategy(config.strategy_preset)
    check_cell(config, method)
    task = load_task(config.dataset, seed=config.seed, **config.load_options())
    check_data(config, task, method, strategy)
    return task, method, strategy


RoundCallback = Callable[[RoundRecord], None]


def _run_active_learning(config: Any, *, progress: bool = False) -> tuple[dict, list[RoundRecord]]:
    records: list[RoundRecord] = []
    summary, _model = run_active_learning(config, on_round=records.append, progress=progress)
    return summary, records


def run_active_learning(
    config: RunConfig,
    *,
    on_round: RoundCallback | None = None,
    progress: bool = True,
    prepared: tuple[TaskData, Any, Any] | None = None,
) -> tuple[dict[str, Any], Any]:
    """Run one AL experiment and return ``(summary, final_model)``.

    Args:
        config: The run's settings.
        on_round: Called with each round's full record as soon as it ends (the results store).
        progress: Show a progress bar on stderr.
        prepared: The result of :func:`prepare` if the caller already ran it.
    """
    from tqdm.auto import tqdm

    setup = set_up(config, prepared or prepare(config))
    task, method = setup.task, setup.method
    rng = np.random.default_rng(config.seed)  # the warm start, then every round's query
    state = RunState(labeled=draw_warm_start(task.train.labels, config.warm_start, rng,
                                             stratified=config.stratified_warm_start))
    if task.task == "classification" and len(np.unique(task.train.labels[state.labeled])) == 1:
        warnings.warn(f"the warm start holds a single class "
                      f"({task.label_names[task.train.labels[state.labeled][0]]}); the run goes on",
                      stacklevel=2)
    steps = sum(round_steps(method, setup.acquirer, setup.train_config, n, r, setup.num_rounds)
                for r, n in enumerate(config.round_sizes()))
    bar = tqdm(total=steps, disable=None if progress else True, unit="step",
               desc=f"{task.name} {method.preset} {setup.strategy.preset}", leave=False)
    log = ProgressLog(steps, setup.num_rounds, enabled=log_lines_wanted(progress), bar=bar)
    metric = primary_metric(task.metrics)
    rounds: list[RoundRecord] = []
    try:
        def starting(round_index: int, num_labeled: int) -> None:
            bar.set_postfix_str(f"round {round_index + 1}/{setup.num_rounds}, {num_labeled} labels")

        for record in run_rounds(setup, state, rng, on_step=log.step, before_round=starting):
            rounds.append(record)
            if on_round is not None:
                on_round(record)
            log.round(record.round, record.num_labeled, metric, record.metrics[metric])  # once stored
    finally:
        bar.close()
    return _summary(config, setup, state, rounds, metric), state.model


def set_up(config: RunConfig, prepared: tuple[TaskData, Any, Any]) -> RunSetup:
    """Load the backbone, encode the splits and build what every round reuses."""
    task, method, strategy = prepared
    if config.max_eval is not None and config.max_eval < len(task.test):
        ids = sample_training_ids(len(task.test), config.max_eval, stream_rng(config.seed, "eval_sample"),
                                  task.test.labels if task.task == "classification" else None)
        task = dataclasses.replace(task, test=task.test.subset(ids))
    device = resolve_device(config.device)
    encoder, tokenizer = load_backbone(config.model)
    encoder = encoder.to(device)  # kept there; every round's model is copied from it
    method.method.check_backbone(encoder, method.config)  # before any compute, CKA probe included
    raw = encode(tokenizer, task.train, config.max_length), encode(tokenizer, task.test, config.max_length)
    cls = method.method
    # A frozen encoder is the pretrained one after every round: its CKA against the pretrained
    # encoder is 1 at every layer by construction, so the probe's two encoder passes are skipped.
    probe = (RepresentationProbe(encoder, raw[1], config.cka_probe_size, config.seed, pooling=config.pooling)
             if config.cka_probe_size and not cls.frozen_encoder else None)
    precision = resolve_precision(config.precision, device)
    # A frozen encoder (the head method): every example is embedded once per run, not every round.
    pool, test = (cls.inputs(encoder, e, pooling=config.pooling, precision=precision) for e in raw)
    train_config = make_train_config(method, task_type(task.task, task.is_pair), config, epochs=config.epochs,
                                     batch_size=config.batch_size, precision=precision,
                                     group_by_length=config.group_by_length)
    criteria = [parse_criterion(preset) for preset in config.stop]
    stop_ids = (draw_stop_set(len(task.train), config.seed)
                if any(c.needs_predictions for c in criteria) else None)
    acquirer = (None if config.acquisition_method is None else
                Acquisition.create(config.acquisition_method, config.acquisition_every, encoder, *raw,
                                   pooling=config.pooling, precision=precision, train_config=train_config))
    return RunSetup(plan=round_plan(config), task=task, method=method, strategy=strategy, device=device,
                    encoder=encoder, pool=pool, test=test, train_config=train_config,
                    precision=precision, num_rounds=len(config.round_sizes()), criteria=criteria,
                    stop_ids=stop_ids, acquirer=acquirer, probe=probe)


def round_plan(config: RunConfig) -> RoundPlan:
    """What the rounds of a run read of its configuration."""
    return RoundPlan(budget=config.budget, query_size=config.query_size, pool_subsample=config.pool_subsample,
                     seed=config.seed, pooling=config.pooling, warm_restart=config.warm_restart,
                     init_adapter=config.init_adapter, cka_every_round=config.cka_every_round,
                     threshold=config.threshold, scoring_precision=config.scoring_precision)


def _summary(config: RunConfig, setup: RunSetup, state: RunState, rounds: list[RoundRecord],
             metric: str) -> dict[str, Any]:
    task = setup.task
    return {
        "dataset": task.name,
        "model": display_name(config.model),
        "method": setup.method.preset,
        "strategy": setup.strategy.preset,
        "seed": config.seed,
        "trainable_params": state.trainable,
        "total_params": state.total,
        "task": task.task,
        "eval_split": task.eval_split,
        "num_eval": len(task.test),
        "metric": metric,
        "config": {**dataclasses.asdict(config), "strategy": config.strategy_preset},
        "rounds": [record.public() for record in rounds],
        "converged": all_converged([record.converged for record in rounds]),
        # the last model's: an early round may sit at chance on 100 labels and the run still learn
        "learned": rounds[-1].learned if rounds else None,
        "stopped_by": state.stopped_by,
        "stopped_at_round": state.stopped_at_round,
        "auc": learning_curve_auc([record.metrics[metric] for record in rounds]),
    }


KIND = StudyKind(
    name="active_learning",
    config_cls=RunConfig,
    run=_run_active_learning,
    validate=validate_active_learning,
    description="one AL run per cell (the options of `peftal run`)",
)


def execute_run(config: RunConfig, out: Path, *, overwrite: bool = False,
                progress: bool = True) -> dict[str, Any]:
    """Run ``config`` and write its outputs into ``out``; returns the summary."""
    from peftal.experiments.plots import plot_learning_curve

    check_out_dir(out, overwrite)
    prepared = prepare(config)  # every input check happens before the folder is touched
    stored = {**dataclasses.asdict(config), "strategy": config.strategy_preset}
    with recorded_run(out, "active_learning", stored, config.seed) as store:
        summary, model = run_active_learning(config, on_round=lambda record: store.add_round(RUN_ID, record),
                                             progress=progress, prepared=prepared)
        task = prepared[0]
        save_checkpoint(model, out / "model", model_meta(
            model=config.model, method=summary["method"], task=task.task,
            label_names=task.label_names, num_outputs=task.num_labels, pooling=config.pooling,
            max_length=config.max_length, text_column=config.text_column,
            text_pair_column=config.text_pair_column, is_pair=task.is_pair, no_header=config.no_header,
            precision=resolve_precision(config.precision),  # predict as the run evaluated
            **thresholds_meta(model),
        ), card_facts(summary, task.source))
        metric = summary["metric"]
        plot_learning_curve([r["num_labeled"] for r in summary["rounds"]],
                            [r["metrics"][metric] for r in summary["rounds"]],
                            out / "learning_curve.png", metric=metric,
                            title=f"{summary['dataset']} · {summary['method']} · {summary['strategy']}"
                                  f" · seed {summary['seed']} (AUC {summary['auc']:.3f})")
        complete_run(store, out, summary)
    return summary
