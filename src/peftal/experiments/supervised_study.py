"""The ``supervised`` study kind: a study cell that is one ``peftal train`` run
(:mod:`peftal.experiments.supervised`), optionally after task-adaptive pretraining (TAPT), and the
checks ``peftal study validate`` makes on such cells."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from peftal.errors import UsageError
from peftal.experiments.kinds import StudyKind, parsed_preset
from peftal.experiments.supervised import (
    SupervisedConfig,
    check_cell,
    check_data,
    fit_prepared,
    load_train_task,
    prepare,
)
from peftal.peft import parse_method
from peftal.records import RoundRecord


@dataclass(frozen=True)
class StudySupervisedConfig(SupervisedConfig):
    """One supervised cell of a study: a ``peftal train`` run, optionally after TAPT.

    Attributes:
        tapt: First continue masked-LM pretraining of the cell's method on the dataset's own
            training texts (Gururangan et al. 2020), then train from it (``--init-adapter`` for a
            PEFT method, ``--model`` for ``full``).
        tapt_epochs: Pretraining epochs when ``tapt`` is set.
    """

    tapt: bool = False
    tapt_epochs: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.tapt_epochs < 1:
            raise UsageError(f"tapt_epochs must be >= 1, got {self.tapt_epochs}")
        if self.tapt and self.init_adapter is not None:
            raise UsageError("give either tapt or init_adapter, not both")


def run_supervised(config: SupervisedConfig, *, progress: bool = False) -> tuple[dict, list[RoundRecord]]:
    """One supervised run without an output folder: ``(summary, [record])`` for a study's driver."""
    if isinstance(config, StudySupervisedConfig) and config.tapt:
        return _run_after_tapt(config, progress=progress)
    prepared = prepare(config)
    summary, _model, record, _meta = fit_prepared(config, prepared, progress)
    return summary, [record]


def _run_after_tapt(config: StudySupervisedConfig, *, progress: bool) -> tuple[dict, list[dict]]:
    import tempfile

    from peftal.experiments.pretrain import PretrainConfig, execute_pretrain

    with tempfile.TemporaryDirectory(prefix="peftal-tapt-") as folder:
        pretrained = Path(folder) / "tapt"
        tapt = execute_pretrain(
            PretrainConfig(dataset=config.dataset, model=config.model, method=config.method,
                           epochs=config.tapt_epochs, seed=config.seed,
                           max_length=config.max_length or 128, text_column=config.text_column,
                           text_pair_column=config.text_pair_column),
            pretrained, progress=progress)
        base = {field.name: getattr(config, field.name) for field in dataclasses.fields(SupervisedConfig)}
        if parse_method(config.method).name == "full":
            base["model"] = str(pretrained)
        else:
            base["init_adapter"] = str(pretrained)
        summary, records = run_supervised(SupervisedConfig(**base), progress=progress)
    summary["tapt"] = True
    summary["tapt_converged"] = tapt.get("converged")  # the pretraining's; the cell's is its own
    summary["config"] = {**summary["config"], "model": config.model, "init_adapter": None,
                         "tapt": True, "tapt_epochs": config.tapt_epochs}
    return summary, records


def _validate_supervised(configs: list[Any]) -> list[str]:
    """The checks ``peftal train`` makes (:func:`prepare`): :func:`check_cell` on every distinct cell,
    :func:`check_data` on every distinct cell with its dataset loaded once; presets that do not parse
    are reported once."""
    problems: list[str] = []
    methods = {preset: parsed_preset(problems, parse_method, preset)
               for preset in dict.fromkeys(config.method for config in configs)}
    by_dataset: dict[tuple, list[Any]] = {}
    for config in (c for c in dict.fromkeys(configs) if methods[c.method] is not None):
        try:
            check_cell(config, methods[config.method])
        except UsageError as error:
            problems.append(f"{config.method} on {config.dataset!r}: {error}")
        by_dataset.setdefault((config.dataset, *config.load_options().values()), []).append(config)
    for group in by_dataset.values():
        try:
            task = load_train_task(group[0])
        except UsageError as error:
            problems.append(str(error))
            continue
        for config in group:
            try:
                check_data(config, methods[config.method], task)
            except UsageError as error:
                problems.append(f"{config.method} on {config.dataset!r}: {error}")
    return list(dict.fromkeys(problems))


KIND = StudyKind(
    name="supervised",
    config_cls=StudySupervisedConfig,
    run=run_supervised,
    validate=_validate_supervised,
    description="one supervised training per cell (the options of `peftal train`, plus tapt)",
)
