"""A cheap acquisition model (``--acquisition-method``): query with it every round, train the main
PEFT model only every ``k`` rounds and in the last round.

With a frozen-encoder method such as ``head`` (a linear probe on the pretrained encoder's pooled
embeddings, computed once per run) a round's query costs seconds, while the main method's
training is what makes an AL round take minutes on a CPU. Querying with frozen representations is
the setting of Vysogorets & Gopal (2024); whether the main model trained only at the end on those
labels is as accurate as one retrained every round is measured, not assumed (docs/methods.md).
In rounds where the main model does not train, the round's test metrics are the acquisition
model's; the round record names the model they come from (``metrics_model``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from peftal.peft import MethodSpec, parse_method
from peftal.training import TrainConfig


@dataclass
class Acquisition:
    """The acquisition method of a run and its inputs (cached embeddings for a frozen encoder).

    Attributes:
        spec: The acquisition method, e.g. ``head``.
        pool: Its view of the pool (:meth:`~peftal.peft.PeftMethod.inputs`).
        test: Its view of the test split.
        every: The main model trains in rounds ``every - 1, 2·every - 1, ...`` and in the last
            round; ``None`` = only in the last round.
        train_config: Its training settings (the run's, with its own learning rates).
    """

    spec: MethodSpec
    pool: Any
    test: Any
    every: int | None
    train_config: TrainConfig

    @classmethod
    def create(cls, preset: str, every: int | None, encoder: Any, pool: Any, test: Any, *, pooling: str,
               precision: str, train_config: TrainConfig) -> Acquisition:
        spec = parse_method(preset)
        method = spec.method
        view = [method.inputs(encoder, e, pooling=pooling, precision=precision) for e in (pool, test)]
        own = dataclasses.replace(train_config, lr=method.lr, head_lr=method.head_lr)
        return cls(spec, view[0], view[1], every, own)

    def trains_main(self, round_index: int, num_rounds: int) -> bool:
        """Whether the main model trains in round ``round_index``."""
        if round_index == num_rounds - 1:
            return True
        return self.every is not None and (round_index + 1) % self.every == 0


def round_steps(method: Any, acquirer: Acquisition | None, train_config: TrainConfig, num_labeled: int,
                 round_index: int, num_rounds: int) -> int:
    """Progress steps of one round: the main model's (where it trains) and the acquisition model's."""
    if acquirer is None:
        return method.num_steps(num_labeled, train_config)
    steps = acquirer.spec.num_steps(num_labeled, acquirer.train_config)
    if acquirer.trains_main(round_index, num_rounds):
        steps += method.num_steps(num_labeled, train_config)
    return steps
