"""The checks of an ``active_learning`` run (``peftal run``, a study's AL cells) before any compute:
those that need no data (:func:`check_cell`), those against the loaded dataset (:func:`check_data`),
and a study's validation of all its cells (:func:`validate_active_learning`), which makes the checks
``peftal run`` makes, once per distinct cell and loaded dataset.

Kept apart from :mod:`peftal.experiments.active_learning` (the config, set-up and execution) so that
each stays a module one reads in one sitting.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from peftal.al.stopping import check_criteria
from peftal.al.strategies import parse_strategy, strategies_for
from peftal.data import DATASETS, TaskData, load_task
from peftal.data.loading import local_folder
from peftal.errors import UsageError
from peftal.experiments.kinds import parsed_preset
from peftal.models.backbone import skeleton
from peftal.models.limits import check_max_length
from peftal.peft import parse_method

# ``config`` below is a :class:`~peftal.experiments.active_learning.RunConfig`; typed ``Any`` since
# that module imports this one.


def check_cell(config: Any, method: Any) -> None:
    """The checks of ``config`` that need no data: the backbone, the token limit, the adapter to start
    from, the acquisition method. Raises :class:`UsageError` naming the first problem."""
    if config.init_adapter is not None:
        from peftal.peft.pretrained_adapter import check_init_adapter

        check_init_adapter(config.init_adapter, method.preset, config.model)
    if config.acquisition_method is not None:
        parse_method(config.acquisition_method)
    method.method.check_backbone(skeleton(config.model), method.config)
    check_max_length(config.model, config.max_length, method.config)


def check_data(config: Any, task: TaskData, method: Any, strategy: Any) -> None:
    """The checks of ``config`` against its loaded ``task``; raises :class:`UsageError`."""
    if task.task == "regression" and strategy.needs_probabilities:
        raise UsageError(f"strategy {strategy.name!r} needs class probabilities and does not apply to "
                         f"the regression task {task.name!r}; use one of: "
                         f"{', '.join(strategies_for('regression'))}")
    if strategy.name not in strategies_for(task.task):
        kind = "several labels per text" if task.task == "multilabel" else "one label per text"
        raise UsageError(f"strategy {strategy.name!r} does not apply to the {task.task} task "
                         f"{task.name!r} ({kind}); use one of: {', '.join(strategies_for(task.task))}")
    check_criteria(config.stop, task.task)
    method.check_task(task.task)
    if config.acquisition_method is not None:
        parse_method(config.acquisition_method).check_task(task.task)
    if config.stratified_warm_start and task.task == "regression":
        raise UsageError("--stratified-warm-start needs classes or labels; it does not apply to the "
                         f"regression task {task.name!r}")
    if config.threshold is not None and task.task != "multilabel":
        raise UsageError("--threshold applies to the multilabel task only")
    if config.budget > len(task.train):
        raise UsageError(f"--budget ({config.budget}) is larger than the pool of {task.name!r} "
                         f"({len(task.train)} training examples)")


def validate_active_learning(configs: list[Any]) -> list[str]:
    """The checks ``peftal run`` makes (:func:`~peftal.experiments.active_learning.prepare`):
    :func:`check_cell` on every distinct cell,
    :func:`check_data` once per cell and loaded dataset (a hub dataset that is not on this machine is
    checked at run time); presets that do not parse are reported once."""
    problems: list[str] = []
    methods = {preset: parsed_preset(problems, parse_method, preset)
               for preset in dict.fromkeys(config.method_preset for config in configs)}
    strategies = {preset: parsed_preset(problems, parse_strategy, preset)
                  for preset in dict.fromkeys(config.strategy_preset for config in configs)}
    cells = [c for c in dict.fromkeys(configs) if methods[c.method_preset] and strategies[c.strategy_preset]]
    by_dataset: dict[tuple, list[Any]] = {}
    for config in cells:
        try:
            check_cell(config, methods[config.method_preset])
        except UsageError as error:
            problems.append(f"{_cell_name(config)}: {error}")
        by_dataset.setdefault((config.dataset, *config.load_options().values()), []).append(config)
    for group in by_dataset.values():
        task = _checked_task(group[0], problems)
        for config in group if task is not None else ():
            try:
                check_data(config, task, methods[config.method_preset], strategies[config.strategy_preset])
            except UsageError as error:
                problems.append(f"{_cell_name(config)}: {error}")
    return list(dict.fromkeys(problems))


def _cell_name(config: Any) -> str:
    return f"{config.method_preset} × {config.strategy_preset} on {config.dataset!r}"


def _checked_task(config: Any, problems: list[str]) -> TaskData | None:
    """The dataset of ``config`` loaded once for a grid's checks; ``None`` (with the problem added, if
    there is one) when it cannot or need not be loaded here."""
    name = config.dataset
    spec = DATASETS.get(name) if name in DATASETS else None
    if spec is None and not Path(name).expanduser().exists():
        problems.append(f"unknown dataset {name!r}: not a built-in name ({', '.join(DATASETS.names())}) "
                        "and no such file or folder")
    elif spec is not None and spec.task == "qa":
        problems.append(f"dataset {name!r} is a question-answering task; active learning does not apply")
    elif spec is None or local_folder(name) is not None:
        try:
            return load_task(config.dataset, seed=config.seed, **config.load_options())
        except UsageError as error:
            problems.append(str(error))
    return None
