"""Stopping criteria: end an active-learning run before the budget is spent.

A criterion is built fresh for every run from a preset (``max_rounds[rounds=3]``,
``kappa_average[threshold=0.99,window=3]``) and sees, after each round that would query, a
:class:`RoundState`: the round index and the current model's predictions on a fixed *stop set*.

The stop set (Bloodgood & Vijay-Shanker 2009) is a seeded random sample of the pool, drawn once per
run from its own generator, so that adding ``--stop`` never changes which examples are queried; it
needs no labels. Criteria that compare successive models (``classification_change``,
``kappa_average``) use the whole stop set; ``overall_uncertainty`` uses its still-unlabelled part.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np

from peftal.config import build_config, format_preset, parse_preset
from peftal.errors import UsageError
from peftal.registry import Registry
from peftal.seeding import stream_rng

STOP_SET_SIZE = 2000
"""Examples in the stop set (Bloodgood & Vijay-Shanker use 2,000), or the whole pool if smaller."""


def draw_stop_set(pool_size: int, seed: int, size: int = STOP_SET_SIZE) -> np.ndarray:
    """Sorted global ids of the stop set, from a generator of its own (the run's rng is untouched)."""
    rng = stream_rng(seed, "stop_set")
    if pool_size <= size:
        return np.arange(pool_size)
    return np.sort(rng.choice(pool_size, size=size, replace=False))


@dataclasses.dataclass(frozen=True)
class RoundState:
    """What a criterion sees after a round.

    Attributes:
        round_index: The round just trained and evaluated (0 = the warm start's).
        probs: ``(stop_set, classes)`` the current model's probabilities on the stop set, or
            ``None`` when no criterion of the run needs predictions.
        unlabeled: ``(stop_set,)`` bool, whether each stop-set example is still unlabelled.
    """

    round_index: int
    probs: np.ndarray | None = None
    unlabeled: np.ndarray | None = None


@dataclasses.dataclass(frozen=True)
class NoConfig:
    """Criteria without hyper-parameters."""


class StoppingCriterion:
    """Base class of a stopping criterion; subclasses may keep state across the rounds of one run.

    Class attributes:
        name: Registry name.
        description: One line for the docs and ``--help``.
        reference: The paper it comes from.
        Config: Its frozen config dataclass.
        needs_predictions: Whether it reads predictions on the stop set (so needs a classifier).
    """

    name: ClassVar[str]
    description: ClassVar[str]
    reference: ClassVar[str] = ""
    Config: ClassVar[type] = NoConfig
    needs_predictions: ClassVar[bool] = True

    def __init__(self, config: Any = None) -> None:
        self.config = config if config is not None else self.Config()

    @property
    def preset(self) -> str:
        return format_preset(self.name, self.config)

    def stop(self, state: RoundState) -> bool:
        """Whether to stop after the round ``state`` describes (called once per round, in order)."""
        raise NotImplementedError


STOPPING_CRITERIA: Registry[type[StoppingCriterion]] = Registry("stopping criterion")


def register_criterion(cls: type[StoppingCriterion]) -> type[StoppingCriterion]:
    """Class decorator: register a stopping criterion under its ``name``."""
    return STOPPING_CRITERIA.register(cls.name)(cls)


def parse_criterion(preset: str) -> StoppingCriterion:
    """A fresh criterion from a preset such as ``max_rounds[rounds=3]``."""
    name, overrides = parse_preset(preset)
    cls = STOPPING_CRITERIA.get(name)
    return cls(build_config(cls.Config, overrides, owner=name))


def _check_unit_interval(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value}")


@dataclasses.dataclass(frozen=True)
class MaxRoundsConfig:
    """Settings of ``max_rounds``.

    Attributes:
        rounds: Training rounds to run at most, the warm start's included.
    """

    rounds: int = 10

    def __post_init__(self) -> None:
        if self.rounds < 1:
            raise ValueError(f"rounds must be >= 1, got {self.rounds}")


@register_criterion
class MaxRounds(StoppingCriterion):
    """Stop after a fixed number of rounds (small-text's MaxIterations)."""

    name = "max_rounds"
    description = "stop after a fixed number of training rounds"
    Config = MaxRoundsConfig
    needs_predictions = False

    def stop(self, state: RoundState) -> bool:
        return state.round_index + 1 >= self.config.rounds


@dataclasses.dataclass(frozen=True)
class UncertaintyConfig:
    """Settings of ``overall_uncertainty``.

    Attributes:
        threshold: Stop once the mean normalised entropy (entropy / log classes, in [0, 1]) of the
            unlabelled stop-set examples falls below this (small-text's default).
    """

    threshold: float = 0.05

    def __post_init__(self) -> None:
        _check_unit_interval("threshold", self.threshold)


@register_criterion
class OverallUncertainty(StoppingCriterion):
    """Stop when the model is confident on the unlabelled pool.

    Zhu, Wang & Hovy (2008), "Multi-criteria-based strategy to stop active learning for data
    annotation", COLING. Uncertainty is the normalised entropy, as in small-text.
    """

    name = "overall_uncertainty"
    description = "stop when the mean normalised entropy of the unlabelled stop set < threshold"
    reference = "Zhu et al. 2008"
    Config = UncertaintyConfig

    def stop(self, state: RoundState) -> bool:
        from peftal.al.strategies.uncertainty import entropy

        probs = state.probs if state.unlabeled is None else state.probs[state.unlabeled]
        if len(probs) == 0:
            return True
        normalised = entropy(probs) / np.log(max(probs.shape[1], 2))
        return float(normalised.mean()) < self.config.threshold


@dataclasses.dataclass(frozen=True)
class ChangeConfig:
    """Settings of ``classification_change``.

    Attributes:
        threshold: Stop once at most this share of stop-set predictions changed since the previous
            round. 0 is the original criterion (no change at all); models retrained from the
            pretrained weights rarely get there, so 0.01-0.05 is a common relaxation.
    """

    threshold: float = 0.0

    def __post_init__(self) -> None:
        _check_unit_interval("threshold", self.threshold)


@register_criterion
class ClassificationChange(StoppingCriterion):
    """Stop when the predictions on the stop set stop changing between rounds.

    Zhu, Wang & Hovy (2008), "Learning a stopping criterion for active learning for word sense
    disambiguation and text classification", IJCNLP; with small-text's threshold relaxation.
    """

    name = "classification_change"
    description = "stop when the share of stop-set predictions that changed <= threshold"
    reference = "Zhu et al. 2008"
    Config = ChangeConfig

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self.last_predictions_: np.ndarray | None = None

    def stop(self, state: RoundState) -> bool:
        predictions = state.probs.argmax(axis=1)
        previous, self.last_predictions_ = self.last_predictions_, predictions
        if previous is None:
            return False
        return float((predictions != previous).mean()) <= self.config.threshold


@dataclasses.dataclass(frozen=True)
class KappaConfig:
    """Settings of ``kappa_average``.

    Attributes:
        threshold: Stop once the mean kappa of the last ``window`` pairs of rounds reaches this.
        window: Pairs of successive rounds averaged. Both defaults are the paper's.
    """

    threshold: float = 0.99
    window: int = 3

    def __post_init__(self) -> None:
        if not -1.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be in [-1, 1], got {self.threshold}")
        if self.window < 1:
            raise ValueError(f"window must be >= 1, got {self.window}")


def agreement_kappa(a: np.ndarray, b: np.ndarray, num_classes: int) -> float:
    """Cohen's kappa of two label vectors; 1.0 for identical ones (where the formula divides by 0)."""
    from sklearn.metrics import cohen_kappa_score

    if np.array_equal(a, b):
        return 1.0
    return float(cohen_kappa_score(a, b, labels=np.arange(num_classes)))


@register_criterion
class KappaAverage(StoppingCriterion):
    """Stop when successive models agree on the stop set: stabilising predictions.

    Bloodgood & Vijay-Shanker (2009), "A method for stopping active learning based on stabilizing
    predictions and the need for user-adjustable stopping", CoNLL. After each round, Cohen's kappa
    between this and the previous model's stop-set predictions; stop once the mean of the last
    ``window`` kappas is at least ``threshold``.
    """

    name = "kappa_average"
    description = "stop when the mean kappa of successive models' stop-set predictions >= threshold"
    reference = "Bloodgood & Vijay-Shanker 2009"
    Config = KappaConfig

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self.last_predictions_: np.ndarray | None = None
        self.kappas_: list[float] = []

    def stop(self, state: RoundState) -> bool:
        predictions = state.probs.argmax(axis=1)
        previous, self.last_predictions_ = self.last_predictions_, predictions
        if previous is None:
            return False
        self.kappas_.append(agreement_kappa(predictions, previous, state.probs.shape[1]))
        if len(self.kappas_) < self.config.window:
            return False
        return float(np.mean(self.kappas_[-self.config.window:])) >= self.config.threshold


def check_criteria(presets: tuple[str, ...] | list[str], task: str | None = None) -> None:
    """Parse every preset (UsageError on a bad one); with ``task``, check that each applies to it."""
    for preset in presets:
        criterion = parse_criterion(preset)
        if task in ("regression", "multilabel") and criterion.needs_predictions:
            valid = [name for name, cls in STOPPING_CRITERIA.items() if not cls.needs_predictions]
            raise UsageError(f"stopping criterion {criterion.name!r} needs single-label class "
                             f"predictions and does not apply to a {task} task; use one of: "
                             f"{', '.join(valid)}")
