"""Prefix tuning: trainable key/value vectors prepended to the attention of every layer (Li & Liang
2021, "Prefix-Tuning: Optimizing Continuous Prompts for Generation"), written in peftal
(:mod:`peftal.peft.prefix_layers`: peft's own prefix tuning refuses BERT-family encoders).

As in the paper, the prefixes are produced by a reparametrisation during training: an embedding
of ``prefix_length`` positions passed through a two-layer tanh MLP
``(prefix_length, h) → (prefix_length, bottleneck_size) → (prefix_length, 2·layers·h)``, which
makes optimisation stable; its weights are what trains and what the checkpoint stores
(``prefix_length·h + h·B + B + B·2·L·h + 2·L·h`` parameters). ``flat=True`` learns the prefixes
directly instead. The prefixes are keys and values only, so the output keeps the input's length.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from peftal.models.heads import TextClassifier
from peftal.peft import arch
from peftal.peft.base import OwnMethod, register_method
from peftal.peft.prefix_layers import PrefixEncoder, add_prefixes


@dataclass(frozen=True)
class PrefixTuningConfig:
    """Prefix-tuning hyper-parameters (defaults: those of the ``adapters`` library's ``prefix_tuning``).

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


def prefix_unsupported(encoder: nn.Module) -> str | None:
    """Why prefixes cannot be added to ``encoder``'s attention, or ``None``."""
    layout = arch.ARCHITECTURES.get(arch.model_type(encoder))
    if layout is None:
        return f"peftal knows the layers of {', '.join(sorted(arch.ARCHITECTURES))}"
    if layout.attention is None:
        return "its attention does not go through transformers' attention interface"
    return None


def attach_prefixes(encoder: nn.Module, length: int, bottleneck_size: int = 512, flat: bool = False,
                    dropout: float = 0.0, gated: bool = False) -> None:
    layout = arch.ARCHITECTURES[arch.model_type(encoder)]
    layers = arch.layers(encoder, layout)
    prefix_encoder = PrefixEncoder(len(layers), encoder.config.hidden_size, length, bottleneck_size, flat,
                                   dropout)
    add_prefixes(encoder, [layer.get_submodule(layout.attention) for layer in layers], prefix_encoder,
                 gated=gated)


def eject_prefixes(model: TextClassifier) -> None:
    """Keep only the prefixes (drop the reparametrisation MLP) after training."""
    prefix_encoder = getattr(model.encoder, "peftal_prefix", None)
    if prefix_encoder is not None:
        prefix_encoder.eject()


@register_method
class PrefixTuning(OwnMethod):
    name = "prefix_tuning"
    description = "trainable key/value prefixes in every attention layer"
    reference = "Li & Liang 2021, Prefix-Tuning: Optimizing Continuous Prompts for Generation"
    Config = PrefixTuningConfig
    lr = 1e-3
    head_lr = 1e-2

    def unsupported(self, encoder: nn.Module, config: PrefixTuningConfig) -> str | None:
        return prefix_unsupported(encoder)

    def apply(self, model: TextClassifier, config: PrefixTuningConfig) -> None:
        model.encoder.requires_grad_(False)
        attach_prefixes(model.encoder, config.prefix_length, config.bottleneck_size, config.flat,
                        config.dropout)

    def for_inference(self, model: TextClassifier) -> None:
        eject_prefixes(model)
