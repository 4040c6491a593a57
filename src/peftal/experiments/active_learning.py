"""One simulated AL run (``peftal run``) and the ``active_learning`` study kind.

The run kind owns the run's set-up — device, backbone, encoding, CKA probe, training settings,
stopping criteria — its progress and its summary; the rounds themselves are the algorithm's
(:func:`peftal.al.engine.run_rounds`). The study kind runs one such run per cell and validates a
grid with the checks the run itself makes (:func:`peftal.al.loop.check_run`).
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from peftal.al.acquisition import Acquisition
from peftal.al.engine import RunSetup, RunState, run_rounds
from peftal.al.loop import RunConfig, draw_warm_start, prepare
from peftal.al.probe import RepresentationProbe
from peftal.al.stopping import draw_stop_set, parse_criterion
from peftal.data import TaskData
from peftal.data.encoding import encode
from peftal.errors import UsageError
from peftal.experiments.kinds import StudyKind, parsed_preset, register_kind
from peftal.measures.curves import learning_curve_auc
from peftal.models.backbone import display_name, load_backbone
from peftal.records import RoundRecord, all_converged
from peftal.training import TrainConfig, primary_metric
from peftal.training.device import resolve_device
from peftal.training.precision import resolve_precision
from peftal.training.progress import ProgressLog, log_lines_wanted

RoundCallback = Callable[[RoundRecord], None]


def _run_active_learning(config: Any, *, progress: bool = False) -> tuple[dict, list[RoundRecord]]:
    records: list[RoundRecord] = []
    summary, _model = run_active_learning(config, on_round=records.append, progress=progress)
    return summary, records


def _validate_active_learning(configs: list[Any]) -> list[str]:
    """Every cell through the checks ``peftal run`` makes (:func:`peftal.al.loop.check_run`), each
    dataset loaded once; presets that do not parse are reported once."""
    from peftal.al.strategies import parse_strategy
    from peftal.peft import parse_method

    problems: list[str] = []
    methods = {preset: parsed_preset(problems, parse_method, preset)
               for preset in dict.fromkeys(config.method_preset for config in configs)}
    strategies = {preset: parsed_preset(problems, parse_strategy, preset)
                  for preset in dict.fromkeys(config.strategy for config in configs)}
    by_dataset: dict[tuple, list[Any]] = {}
    for config in configs:
        key = (config.dataset, config.text_column, config.text_pair_column, config.label_column,
               config.task, config.no_header, config.unlabeled_values, config.min_class_count)
        by_dataset.setdefault(key, []).append(config)
    for group in by_dataset.values():
        problems.extend(_check_dataset(group, methods, strategies))
    return list(dict.fromkeys(problems))


# The fields check_run reads; cells equal on them need one check.
_CHECKED_FIELDS = ("method", "strategy", "model", "init_adapter", "stop", "acquisition_method",
                   "max_length", "stratified_warm_start", "budget")


def _check_dataset(configs: list[Any], methods: dict[str, Any], strategies: dict[str, Any]) -> list[str]:
    """Problems of the cells of one dataset (loaded once, if it is on this machine)."""
    from pathlib import Path

    from peftal.al.loop import check_run, load_run_task
    from peftal.data import DATASETS
    from peftal.data.loading import local_folder

    name = configs[0].dataset
    spec = DATASETS.get(name) if name in DATASETS else None
    if spec is None and not Path(name).expanduser().exists():
        return [f"unknown dataset {name!r}: not a built-in name ({', '.join(DATASETS.names())}) "
                "and no such file or folder"]
    if spec is not None and spec.task == "qa":
        return [f"dataset {name!r} is a question-answering task; active learning does not apply"]
    if spec is not None and local_folder(name) is None:
        return []  # a hub dataset: it is only loaded (and checked) at run time
    try:
        task = load_run_task(configs[0])
    except UsageError as error:
        return [str(error)]
    problems = []
    checked: set[tuple] = set()
    for config in configs:
        key = tuple(getattr(config, field) for field in _CHECKED_FIELDS)
        method, strategy = methods[config.method_preset], strategies[config.strategy]
        if key in checked or method is None or strategy is None:
            continue
        checked.add(key)
        try:
            check_run(config, task, method, strategy)
        except UsageError as error:
            problems.append(f"{config.method_preset} × {config.strategy} on {name!r}: {error}")
    return problems


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
    state = RunState(labeled=draw_warm_start(task, config, rng))
    if task.task == "classification" and len(np.unique(task.train.labels[state.labeled])) == 1:
        warnings.warn(f"the warm start holds a single class "
                      f"({task.label_names[task.train.labels[state.labeled][0]]}); the run goes on",
                      stacklevel=2)
    steps = sum(round_steps(method, setup.acquirer, setup.train_config, n, r, setup.num_rounds)
                for r, n in enumerate(round_sizes(config)))
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
    return _summary(setup, state, rounds, metric), state.model


def set_up(config: RunConfig, prepared: tuple[TaskData, Any, Any]) -> RunSetup:
    """Load the backbone, encode the splits and build what every round reuses."""
    task, method, strategy = prepared
    device = resolve_device(config.device)
    encoder, tokenizer = load_backbone(config.model)
    encoder = encoder.to(device)  # kept there; every round's model is copied from it
    method.method.check_backbone(encoder, method.config)  # before any compute, CKA probe included
    raw = encode(tokenizer, task.train, config.max_length), encode(tokenizer, task.test, config.max_length)
    cls = method.method
    # A frozen encoder is the pretrained one after every round: its CKA against the pretrained
    # encoder is 1 at every layer by construction, so the probe's two encoder passes are skipped.
    probe = (RepresentationProbe(encoder, raw[1], config.cka_probe_size, config.seed,
                                 pooling=config.pooling)
             if config.cka_probe_size and not cls.frozen_encoder else None)
    precision = resolve_precision(config.precision, device)
    # A frozen encoder (the head method): every example is embedded once per run, not every round.
    pool, test = (cls.inputs(encoder, e, pooling=config.pooling, precision=precision) for e in raw)
    train_config = TrainConfig(epochs=config.epochs, batch_size=config.batch_size,
                               lr=config.lr or cls.lr, head_lr=config.head_lr or cls.head_lr,
                               precision=precision, group_by_length=config.group_by_length)
    criteria = [parse_criterion(preset) for preset in config.stop]
    stop_ids = (draw_stop_set(len(task.train), config.seed)
                if any(c.needs_predictions for c in criteria) else None)
    acquirer = (None if config.acquisition_method is None else
                Acquisition.create(config.acquisition_method, config.acquisition_every, encoder, *raw,
                                   pooling=config.pooling, precision=precision, train_config=train_config))
    return RunSetup(config=config, task=task, method=method, strategy=strategy, device=device,
                    encoder=encoder, pool=pool, test=test, train_config=train_config,
                    precision=precision, num_rounds=len(round_sizes(config)), criteria=criteria,
                    stop_ids=stop_ids, acquirer=acquirer, probe=probe)


def _summary(setup: RunSetup, state: RunState, rounds: list[RoundRecord], metric: str) -> dict[str, Any]:
    config, task = setup.config, setup.task
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
        "metric": metric,
        "config": dataclasses.asdict(config),
        "rounds": [record.public() for record in rounds],
        "converged": all_converged([record.converged for record in rounds]),
        "stopped_by": state.stopped_by,
        "stopped_at_round": state.stopped_at_round,
        "auc": learning_curve_auc([record.metrics[metric] for record in rounds]),
    }


def round_steps(method: Any, acquirer: Acquisition | None, train_config: TrainConfig, num_labeled: int,
                 round_index: int, num_rounds: int) -> int:
    """Progress steps of one round: the main model's (where it trains) and the acquisition model's."""
    if acquirer is None:
        return method.num_steps(num_labeled, train_config)
    steps = acquirer.spec.num_steps(num_labeled, acquirer.train_config)
    if acquirer.trains_main(round_index, num_rounds):
        steps += method.num_steps(num_labeled, train_config)
    return steps


def round_sizes(config: RunConfig) -> list[int]:
    """The labelled-set size of each round the budget allows."""
    sizes, size = [], config.warm_start
    while True:
        sizes.append(size)
        if size >= config.budget:
            return sizes
        size = min(config.budget, size + config.query_size)


register_kind(StudyKind(
    name="active_learning",
    config_cls=RunConfig,
    run=_run_active_learning,
    validate=_validate_active_learning,
    description="one AL run per cell (the options of `peftal run`)",
))
