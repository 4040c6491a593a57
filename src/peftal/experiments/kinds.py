"""Study kinds: what one cell of a study is, how it is checked and how it runs.

A kind bundles the typed config of one cell (its fields are the spec's keys), a ``run`` function
and a ``validate`` function. This module is only the registry: it imports none of its kinds. The
built-in ones (``active_learning`` from :mod:`peftal.experiments.active_learning`, ``supervised``,
the ``peftal train`` runner, from :mod:`peftal.experiments.supervised`) are registered by
:mod:`peftal.experiments.study_kinds`, which the study driver and the worker import. The contract of
``run``::

    run(config, *, progress: bool) -> (summary, records)

``summary`` is the JSON-able dict the single-run command writes to ``summary.json``; ``records``
is a list of :class:`~peftal.records.RoundRecord` (what the results store writes). A supervised
cell returns one record. ``run``
runs in a worker process (possibly on another machine): it must not touch the results store, and
it raises on failure (the worker records the error).

``validate(configs) -> list[str]`` checks a whole grid before anything runs, by calling the checks
the kind's own run makes (never a copy of them), and returns every problem; it must stay cheap:
load each dataset at most once, build no model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from peftal.errors import UsageError
from peftal.registry import Registry

RunFunction = Callable[..., tuple[dict[str, Any], list[Any]]]
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


def parsed_preset(problems: list[str], parse: Callable[[str], Any], preset: str) -> Any:
    """``parse(preset)``, or ``None`` with the error's line added to ``problems``."""
    try:
        return parse(preset)
    except UsageError as error:
        problems.append(str(error))
        return None
