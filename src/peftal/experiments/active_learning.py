"""The ``active_learning`` study kind: one ``peftal run`` per cell, validated by the checks the
run itself makes (:func:`peftal.al.loop.check_run`)."""

from __future__ import annotations

from typing import Any

from peftal.al.loop import RunConfig
from peftal.errors import UsageError
from peftal.experiments.kinds import StudyKind, parsed_preset, register_kind
from peftal.records import RoundRecord


def _run_active_learning(config: Any, *, progress: bool = False) -> tuple[dict, list[RoundRecord]]:
    from peftal.al.loop import run_active_learning

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
               for preset in dict.fromkeys(config.method for config in configs)}
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
        method, strategy = methods[config.method], strategies[config.strategy]
        if key in checked or method is None or strategy is None:
            continue
        checked.add(key)
        try:
            check_run(config, task, method, strategy)
        except UsageError as error:
            problems.append(f"{config.method} × {config.strategy} on {name!r}: {error}")
    return problems


register_kind(StudyKind(
    name="active_learning",
    config_cls=RunConfig,
    run=_run_active_learning,
    validate=_validate_active_learning,
    description="one AL run per cell (the options of `peftal run`)",
))
