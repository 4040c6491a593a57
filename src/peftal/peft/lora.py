"""LoRA: low-rank updates of the attention projections (Hu et al. 2022, "LoRA: Low-Rank Adaptation
of Large Language Models"), through the ``adapters`` library."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from peftal.peft import backend
from peftal.peft.base import AdapterMethod, register_method


@dataclass(frozen=True)
class LoraConfig:
    """LoRA hyper-parameters.

    Attributes:
        r: Rank of the update; each adapted ``(d, d)`` projection gains ``2·r·d`` parameters.
        alpha: Scaling numerator; the update is multiplied by ``alpha / r``.
        dropout: Dropout on the LoRA input.
        attn_matrices: Attention projections to adapt (``q``, ``k``, ``v``).
    """

    r: int = 8
    alpha: int = 16
    dropout: float = 0.0
    attn_matrices: tuple[str, ...] = ("q", "v")

    def __post_init__(self) -> None:
        if self.r < 1:
            raise ValueError(f"r must be >= 1, got {self.r}")
        bad = [m for m in self.attn_matrices if m not in ("q", "k", "v")]
        if bad:
            raise ValueError(f"attn_matrices may hold q, k, v; got {bad[0]!r}")


@register_method
class Lora(AdapterMethod):
    name = "lora"
    description = "low-rank updates of the query and value projections"
    reference = "Hu et al. 2022, LoRA: Low-Rank Adaptation of Large Language Models"
    Config = LoraConfig
    lr = 1e-3
    head_lr = 1e-3
    mergeable = True

    def library_config(self, config: LoraConfig) -> Any:
        return backend.make_config("lora", r=config.r, alpha=config.alpha, dropout=config.dropout,
                                   attn_matrices=list(config.attn_matrices))
