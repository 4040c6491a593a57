"""The ``supervised`` study kind: a study cell that is one ``peftal train`` run
(:mod:`peftal.experiments.supervised`), optionally after domain- and task-adaptive pretraining (DAPT,
TAPT; Gururangan et al. 2020), and the checks ``peftal study validate`` makes on such cells."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from peftal.data.corpus import DOMAIN_PREFIX, domains_text
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
    """One supervised cell of a study: a ``peftal train`` run, optionally after DAPT and/or TAPT.

    Attributes:
        tapt: First continue masked-LM pretraining of the cell's method on the dataset's own
            training texts (Gururangan et al. 2020), then train from it (``--init-adapter`` for a
            PEFT method, ``--model`` for ``full``).
        tapt_epochs: Pretraining epochs when ``tapt`` is set.
        tapt_max_texts: TAPT on a seeded sample of this many training texts.
        dapt: First continue masked-LM pretraining on the dataset's domain corpus (``peftal
            pretrain --dataset domain:NAME``: the texts of the built-in datasets of its domain less
            its evaluation split, :func:`peftal.data.corpus.domain_corpus`), before TAPT when both
            are set. Both together chain ``full`` fine-tuning only (TAPT continues the DAPT model).
        dapt_epochs: Pretraining epochs when ``dapt`` is set.
        dapt_max_texts: DAPT on a seeded sample of this many texts of the domain corpus.
    """

    tapt: bool = False
    tapt_epochs: int = 1
    tapt_max_texts: int | None = None
    dapt: bool = False
    dapt_epochs: int = 1
    dapt_max_texts: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("tapt_epochs", "tapt_max_texts", "dapt_epochs", "dapt_max_texts"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise UsageError(f"{name} must be >= 1, got {value}")
        if (self.tapt or self.dapt) and self.init_adapter is not None:
            raise UsageError("give either tapt / dapt or init_adapter, not both")
        if self.dapt:
            from peftal.data import DATASETS

            if self.dataset not in DATASETS or DATASETS.get(self.dataset).domain is None:
                raise UsageError(f"dapt: {self.dataset!r} is not a built-in dataset of a text domain "
                                 f"({domains_text()})")
            if self.tapt and self.method != "full":
                raise UsageError(f"dapt and tapt together chain full fine-tuning only (TAPT continues "
                                 f"the DAPT model); {self.method!r} pretrains an adapter from the "
                                 "base model: give one of them")


def run_supervised(config: SupervisedConfig, *, progress: bool = False) -> tuple[dict, list[RoundRecord]]:
    """One supervised run without an output folder: ``(summary, [record])`` for a study's driver."""
    if isinstance(config, StudySupervisedConfig) and (config.tapt or config.dapt):
        return _run_after_pretraining(config, progress=progress)
    prepared = prepare(config)
    summary, _model, record, _meta = fit_prepared(config, prepared, progress)
    return summary, [record]


def _run_after_pretraining(config: StudySupervisedConfig, *, progress: bool) -> tuple[dict, list[dict]]:
    """DAPT, then TAPT (each where set), then the cell's training from the last pretrained weights."""
    import tempfile

    from peftal.experiments.pretrain import PretrainConfig, execute_pretrain

    stages = ([("dapt", f"{DOMAIN_PREFIX}{config.dataset}", config.dapt_epochs, config.dapt_max_texts)]
              if config.dapt else [])
    stages += [("tapt", config.dataset, config.tapt_epochs, config.tapt_max_texts)] if config.tapt else []
    full = parse_method(config.method).name == "full"
    model, summaries = config.model, {}
    with tempfile.TemporaryDirectory(prefix="peftal-adapt-") as folder:
        for name, corpus, epochs, max_texts in stages:
            pretrained = Path(folder) / name
            summaries[name] = execute_pretrain(
                PretrainConfig(dataset=corpus, model=model, method=config.method, epochs=epochs,
                               seed=config.seed, max_length=config.max_length or 128,
                               max_texts=max_texts, text_column=config.text_column,
                               text_pair_column=config.text_pair_column),
                pretrained, progress=progress)
            if full:  # the next stage (or the training) continues the pretrained model
                model = str(pretrained)
        base = {field.name: getattr(config, field.name) for field in dataclasses.fields(SupervisedConfig)}
        if full:
            base["model"] = model
        else:
            base["init_adapter"] = str(pretrained)
        summary, records = run_supervised(SupervisedConfig(**base), progress=progress)
    for name, pretraining in summaries.items():
        summary[name] = True
        summary[f"{name}_converged"] = pretraining.get("converged")  # the cell's is its own
        summary[f"{name}_corpus"] = pretraining.get("corpus")
        summary[f"{name}_num_texts"] = pretraining.get("num_texts")
    summary["config"] = {**summary["config"], "model": config.model, "init_adapter": None,
                         **{field.name: getattr(config, field.name)
                            for field in dataclasses.fields(StudySupervisedConfig)
                            if field.name.startswith(("tapt", "dapt"))}}
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
