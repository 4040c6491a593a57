"""A method's recipe — learning rates, step floor, warm-up — and the one place it is resolved.

"The method's own rate unless given" is written here once: :func:`resolve_recipe` reads the
method's recipe for a task type and lets the options given (``--lr``, ``--head-lr``,
``--min-steps``) override it; :func:`train_config` builds the :class:`TrainConfig` of every runner
from it. The recipes themselves are a table on each method class (``recipes``: task type ->
:class:`Recipe`) with a fallback to the method's ``lr`` / ``head_lr`` and no step floor, so a value
chosen on a validation grid for one task type is entered in one place.

Task types: ``classification`` (one text), ``pair`` (classification of text pairs),
``regression``, ``qa``; any other task (``mlm`` pretraining) uses the fallback.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from peftal.errors import UsageError
from peftal.training.trainer import TrainConfig
from peftal.validation import check_rate

TASK_TYPES = ("classification", "pair", "regression", "qa")


@dataclass(frozen=True)
class Recipe:
    """How a method trains on one task type.

    Attributes:
        lr: Learning rate of the method's parameters (``None``: the method takes no gradient steps).
        head_lr: Learning rate of the task head (``None``: the head is not trained by gradients).
        min_steps: Optimiser steps at least (epochs are raised to reach them; 0 = none).
        warmup_ratio: Share of steps with a linear learning-rate warm-up.
        linear_probe_init: Fit the head as a linear probe on the starting features before the
            gradient steps (LP-FT; classification only).
    """

    lr: float | None
    head_lr: float | None
    min_steps: int = 0
    warmup_ratio: float = TrainConfig.warmup_ratio
    linear_probe_init: bool = False


@dataclass(frozen=True)
class RecipeOptions:
    """The options that override a method's recipe, shared by every command that trains.

    Attributes:
        lr: Learning rate of the method's parameters (default: the method's own).
        head_lr: Learning rate of the head (default: the method's own).
        min_steps: Train for at least this many optimiser steps, raising the epochs with few
            examples (default: the method's own; 0 = the epochs as given).
        linear_probe_init: Fit the head as a linear probe (logistic regression on the starting
            encoder's embeddings) before training, LP-FT; classification only (default: the
            method's own recipe, which is off unless a study's recipe turns it on).
    """

    lr: float | None = None
    head_lr: float | None = None
    min_steps: int | None = None
    linear_probe_init: bool | None = None

    def __post_init__(self) -> None:
        getattr(super(), "__post_init__", lambda: None)()  # the other option blocks' checks
        check_rate(self.lr, "--lr")
        check_rate(self.head_lr, "--head-lr")
        if self.min_steps is not None and (isinstance(self.min_steps, bool) or self.min_steps < 0):
            raise UsageError(f"--min-steps must be >= 0, got {self.min_steps}")


# What a recipe override may set: a spec's ``recipes:`` keys, the options every training command has
RECIPE_KEYS = tuple(field.name for field in fields(RecipeOptions))


def task_type(task: str, is_pair: bool = False) -> str:
    """The recipe's task type of a loaded task: ``pair`` for classification of text pairs."""
    return "pair" if task == "classification" and is_pair else task


def method_recipe(method: Any, task_type_name: str) -> Recipe:
    """The recipe of ``method`` (a :class:`~peftal.peft.MethodSpec`, or a method class or instance)
    for ``task_type_name``: its ``recipes`` entry, else its ``lr`` / ``head_lr`` and no step floor."""
    cls = getattr(method, "method", method)
    table = getattr(cls, "recipes", None) or {}
    return table.get(task_type_name) or Recipe(cls.lr, cls.head_lr)


def resolve_recipe(method: Any, task: str, *, lr: float | None = None, head_lr: float | None = None,
                   min_steps: int | None = None, linear_probe_init: bool | None = None) -> Recipe:
    """``method``'s recipe for ``task`` (a task type), each value replaced by the one given."""
    given = {"lr": lr, "head_lr": head_lr, "min_steps": min_steps, "linear_probe_init": linear_probe_init}
    return replace(method_recipe(method, task), **{key: value for key, value in given.items()
                                                   if value is not None})


def train_config(method: Any, task: str, options: Any, **settings: Any) -> TrainConfig:
    """The :class:`TrainConfig` of a run of ``method`` on ``task`` (a task type): the recipe resolved
    with ``options``' fields of :class:`RecipeOptions` (those it has), and ``settings`` (epochs,
    batch size, precision, ...) as given."""
    recipe = resolve_recipe(method, task, **{key: getattr(options, key, None) for key in RECIPE_KEYS})
    return TrainConfig(lr=recipe.lr, head_lr=recipe.head_lr, min_steps=recipe.min_steps,
                       warmup_ratio=recipe.warmup_ratio, linear_probe_init=recipe.linear_probe_init,
                       **settings)
