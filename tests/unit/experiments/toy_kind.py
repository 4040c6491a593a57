"""A study kind that computes nothing: a learning curve derived from its config, instantly.

Lets the driver, executors, resume logic and reports be tested in milliseconds. Its config has the
keys of both real kinds (strategy, budget; fraction, time_budget), so the generic grid expansion of
supervised keys is exercised too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from peftal.errors import UsageError
from peftal.experiments.kinds import STUDY_KINDS, StudyKind, register_kind
from peftal.measures.curves import learning_curve_auc
from peftal.records import EpochRecord, RoundRecord

TOY = "toy_test"


@dataclass(frozen=True)
class ToyConfig:
    dataset: str = "toy"
    method: str = "m1"
    strategy: str = "random"
    seed: int = 0
    budget: int = 30
    fraction: float | None = None
    time_budget: float | None = None
    tapt: bool = False
    fail: bool = False
    crash: bool = False
    marker_dir: str | None = None  # each run touches a file here, so tests can count runs
    tags: tuple[str, ...] = ()  # a sequence-valued option: a list sets it, it does not expand
    unconverged: bool = False  # its rounds record a training that did not converge

    def __post_init__(self) -> None:
        if self.budget < 10:
            raise UsageError(f"--budget must be >= 10, got {self.budget}")


def toy_accuracy(config: ToyConfig, num_labeled: int) -> float:
    """A deterministic curve: better with labels, a bonus for non-random strategies and m2."""
    bonus = (0.05 if config.strategy != "random" else 0.0) + (0.02 if config.method == "m2" else 0.0)
    return min(1.0, 0.3 + num_labeled / 100 + bonus + 0.01 * config.seed)


def run_toy(config: ToyConfig, *, progress: bool = False) -> tuple[dict, list[RoundRecord]]:
    if config.marker_dir:
        marker = Path(config.marker_dir) / f"{os.getpid()}-{config.seed}-{config.strategy}-{config.method}"
        marker.write_text("ran")
    if config.crash:
        os._exit(3)
    if config.fail:
        raise RuntimeError("toy failure on purpose")
    sizes = list(range(10, config.budget + 1, 10))
    records = [RoundRecord(round=i, num_labeled=n, metrics={"accuracy": toy_accuracy(config, n)},
                           train_seconds=0.0,
                           indices_queried=range(n, n + 10) if n < config.budget else (),
                           indices_added=range(n - 10, n),
                           epochs=[EpochRecord(0, loss=1.0, train_accuracy=0.5, seconds=0.0)],
                           converged=not config.unconverged)
               for i, n in enumerate(sizes)]
    values = [r.metrics["accuracy"] for r in records]
    summary = {"dataset": config.dataset, "model": "toy-model", "method": config.method,
               "strategy": config.strategy, "seed": config.seed, "metric": "accuracy",
               "trainable_params": 10 if config.method == "m1" else 20, "total_params": 1000,
               "rounds": [r.public() for r in records], "auc": learning_curve_auc(values),
               "metrics": {"accuracy": values[-1]}}
    return summary, records


def validate_toy(configs: list[ToyConfig]) -> list[str]:
    return [f"unknown dataset {c.dataset!r}" for c in configs if c.dataset == "missing"][:1]


def ensure_registered() -> None:
    if TOY not in STUDY_KINDS:
        register_kind(StudyKind(TOY, ToyConfig, run_toy, validate_toy, "test kind"))


ensure_registered()
