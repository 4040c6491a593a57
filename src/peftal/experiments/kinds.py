"""Study kinds: what one cell of a study is, how it is checked and how it runs.

A kind bundles the typed config of one cell (its fields are the spec's keys), a ``run`` function
and a ``validate`` function. ``active_learning`` is registered here; ``supervised`` (the
``peftal train`` runner) registers the same way. The contract of ``run``::

    run(config, *, progress: bool) -> (summary, records)

``summary`` is the JSON-able dict the single-run command writes to ``summary.json``; ``records``
is a list of round records in the format :meth:`~peftal.experiments.store.ResultsStore.add_round`
stores (``round``, ``num_labeled``, ``metrics``, ``train_seconds``, ``query_seconds`` and optional
``epochs``, ``indices_queried``, ``scores_queried``, ``indices_added``, ``correct``,
``correct_ids``; any other key is kept as JSON). A supervised cell returns one record. ``run``
runs in a worker process (possibly on another machine): it must not touch the results store, and
it raises on failure (the worker records the error).

``validate(configs) -> list[str]`` checks a whole grid before anything runs (names resolve
through the registries, datasets exist and are large enough) and returns every problem; it must
stay cheap: load each dataset at most once, build no model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from peftal.errors import UsageError
from peftal.registry import Registry

RunFunction = Callable[..., tuple[dict[str, Any], list[dict[str, Any]]]]
ValidateFunction = Callable[[list[Any]], list[str]]


@dataclass(frozen=True)
class StudyKind:
    """One kind of study cell.

    Attributes:
        name: Registry name, the spec's ``kind:``.
        config_cls: Frozen dataclass of one cell; validated on creation (``__post_init__``).
        run: ``run(config, *, progress) -> (summary, records)``, see the module docstring.
        validate: Whole-grid checks returning problems (may be a no-op).
        description: One line for help texts.
    """

    name: str
    config_cls: type
    run: RunFunction
    validate: ValidateFunction
    description: str = ""


STUDY_KINDS: Registry[StudyKind] = Registry("study kind")


def register_kind(kind: StudyKind) -> StudyKind:
    """Register ``kind`` under its name (the name must be new)."""
    return STUDY_KINDS.register(kind.name)(kind)


def get_kind(name: str) -> StudyKind:
    """The kind registered as ``name``; a :class:`UsageError` listing the valid kinds if none."""
    return STUDY_KINDS.get(name)


# -- active learning --------------------------------------------------------------------------------

def _run_active_learning(config: Any, *, progress: bool = False) -> tuple[dict, list[dict]]:
    from peftal.al.loop import run_active_learning

    records: list[dict[str, Any]] = []
    summary, _model = run_active_learning(config, on_round=records.append, progress=progress)
    return summary, records


def _validate_active_learning(configs: list[Any]) -> list[str]:
    """Every cell through the checks ``peftal run`` makes (:func:`peftal.al.loop.check_run`), each
    dataset loaded once; presets that do not parse are reported once."""
    from peftal.al.strategies import parse_strategy
    from peftal.peft import parse_method

    problems: list[str] = []
    methods = {preset: _parsed(problems, parse_method, preset)
               for preset in dict.fromkeys(config.method for config in configs)}
    strategies = {preset: _parsed(problems, parse_strategy, preset)
                  for preset in dict.fromkeys(config.strategy for config in configs)}
    by_dataset: dict[tuple, list[Any]] = {}
    for config in configs:
        key = (config.dataset, config.text_column, config.text_pair_column, config.label_column,
               config.task, config.no_header, config.unlabeled_values, config.min_class_count)
        by_dataset.setdefault(key, []).append(config)
    for group in by_dataset.values():
        problems.extend(_check_dataset(group, methods, strategies))
    return list(dict.fromkeys(problems))


def _parsed(problems: list[str], parse: Callable[[str], Any], preset: str) -> Any:
    try:
        return parse(preset)
    except UsageError as error:
        problems.append(str(error))
        return None


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


def _register_builtin() -> None:
    from peftal.al.loop import RunConfig

    register_kind(StudyKind(
        name="active_learning",
        config_cls=RunConfig,
        run=_run_active_learning,
        validate=_validate_active_learning,
        description="one AL run per cell (the options of `peftal run`)",
    ))
    from peftal.experiments.supervised import StudySupervisedConfig, run_supervised

    register_kind(StudyKind(
        name="supervised",
        config_cls=StudySupervisedConfig,
        run=run_supervised,
        validate=_validate_supervised,
        description="one supervised training per cell (the options of `peftal train`, plus tapt)",
    ))


def _validate_supervised(configs: list[Any]) -> list[str]:
    """Resolve every method once and run each distinct cell through ``peftal train``'s preparation
    (each dataset once)."""
    from peftal.experiments.supervised import prepare
    from peftal.peft import parse_method

    problems: list[str] = []
    methods = {preset: _parsed(problems, parse_method, preset)
               for preset in dict.fromkeys(config.method for config in configs)}
    seen: set[tuple] = set()
    for config in configs:
        key = (config.dataset, config.text_column, config.text_pair_column, config.label_column,
               config.task, config.fraction, config.num_train)
        if key in seen or methods[config.method] is None:
            continue
        seen.add(key)
        try:
            prepare(config)
        except UsageError as error:
            problems.append(str(error))
    return list(dict.fromkeys(problems))


_register_builtin()
