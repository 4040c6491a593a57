"""Prefix tuning: trainable key/value vectors prepended to the attention of every layer (Li & Liang
2021, "Prefix-Tuning: Optimizing Continuous Prompts for Generation"), through the library.

As in the paper, the prefixes are produced by a reparametrisation during training: an embedding
of ``prefix_length`` positions passed through a two-layer tanh MLP
``(prefix_length, h) → (prefix_length, bottleneck_size) → (prefix_length, 2·layers·h)``, which
makes optimisation stable; its weights are what trains and what the checkpoint stores
(``prefix_length·h + h·B + B + B·2·L·h + 2·L·h`` parameters). ``flat=True`` learns the prefixes
directly instead. The prefixes are keys and values only, so the output keeps the input's length.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from peftal.peft import backend
from peftal.peft.base import AdapterMethod, register_method


@dataclass(frozen=True)
class PrefixTuningConfig:
    """Prefix-tuning hyper-parameters (defaults: the library's ``prefix_tuning``).

    Attributes:
        prefix_length: Number of virtual key/value positions per layer.
        bottleneck_size: Width of the reparametrisation MLP.
        flat: Learn the prefixes directly, without the MLP.
        dropout: Dropout on the prefixes.
    """

    prefix_length: int = 30
    bottleneck_size: int = 512
    flat: bool = False
    dropout: float = 0.0

    def __post_init__(self) -> None:
        if self.prefix_length < 1 or self.bottleneck_size < 1:
            raise ValueError("prefix_length and bottleneck_size must be >= 1, got "
                             f"{self.prefix_length} and {self.bottleneck_size}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")


@register_method
class PrefixTuning(AdapterMethod):
    name = "prefix_tuning"
    description = "trainable key/value prefixes in every attention layer"
    reference = "Li & Liang 2021, Prefix-Tuning: Optimizing Continuous Prompts for Generation"
    Config = PrefixTuningConfig
    lr = 1e-3
    head_lr = 1e-2

    def library_config(self, config: PrefixTuningConfig) -> Any:
        return backend.make_config("prefix_tuning", prefix_length=config.prefix_length,
                                   bottleneck_size=config.bottleneck_size, flat=config.flat,
                                   dropout=config.dropout)
