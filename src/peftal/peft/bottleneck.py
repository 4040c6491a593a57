"""Bottleneck adapters: small down-project → non-linearity → up-project modules with a residual
connection, inserted into every layer; only they (and the head) train.

* ``houlsby``: an adapter after the attention block and one after the feed-forward block (Houlsby
  et al. 2019, "Parameter-Efficient Transfer Learning for NLP"; the "Adapter" of Jukić & Šnajder
  2023), each on the block's output projection, before the block's residual and LayerNorm, as in
  the paper's figure 2.
* ``pfeiffer``: one adapter after the feed-forward block only (Pfeiffer et al. 2021,
  "AdapterFusion: Non-Destructive Task Composition for Transfer Learning"). In post-LN encoders it
  sits between the layer's Add & Norm and a second Add & Norm with the same norm, as in the paper's
  figure and the ``adapters`` library's ``seq_bn``; pre-LN encoders (ModernBERT) have no norm after
  the block, so there it takes Houlsby's placement on the feed-forward output.

Written in peftal (peft has no bottleneck adapters); the layers are in :mod:`peftal.peft.modules`.

Each adapter adds ``2·h·b + b + h`` parameters (down and up weights and biases), where ``h`` is
the hidden size and ``b = h // reduction_factor``.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from peftal.models.heads import TextClassifier
from peftal.peft import arch, modules
from peftal.peft.base import OwnMethod, register_method

_NON_LINEARITIES = ("relu", "swish", "gelu", "tanh")


def _check(reduction_factor: int, non_linearity: str) -> None:
    if reduction_factor < 1:
        raise ValueError(f"reduction_factor must be >= 1, got {reduction_factor}")
    if non_linearity not in _NON_LINEARITIES:
        raise ValueError(f"non_linearity must be one of {', '.join(_NON_LINEARITIES)}, "
                         f"got {non_linearity!r}")


@dataclass(frozen=True)
class HoulsbyConfig:
    """Houlsby adapter hyper-parameters (defaults: those of the ``adapters`` library's ``double_seq_bn``).

    Attributes:
        reduction_factor: Hidden size divided by the bottleneck size.
        non_linearity: Activation in the bottleneck (``relu``, ``swish``, ``gelu``, ``tanh``).
    """

    reduction_factor: int = 16
    non_linearity: str = "swish"

    def __post_init__(self) -> None:
        _check(self.reduction_factor, self.non_linearity)


@dataclass(frozen=True)
class PfeifferConfig:
    """Pfeiffer adapter hyper-parameters (defaults: those of the ``adapters`` library's ``seq_bn``).

    Attributes:
        reduction_factor: Hidden size divided by the bottleneck size.
        non_linearity: Activation in the bottleneck (``relu``, ``swish``, ``gelu``, ``tanh``).
    """

    reduction_factor: int = 16
    non_linearity: str = "relu"

    def __post_init__(self) -> None:
        _check(self.reduction_factor, self.non_linearity)


def _hidden(encoder: nn.Module) -> int:
    return encoder.config.hidden_size


def add_ffn_adapter(encoder: nn.Module, layout: arch.LayerMap, adapter_of) -> None:
    """Pfeiffer's feed-forward adapter in every layer; ``adapter_of()`` makes one (gated for UniPELT)."""
    for layer in arch.layers(encoder, layout):
        if layout.ffn_ln is None:  # pre-LN: no norm after the block
            modules.add_sequential_adapter(layer.get_submodule(layout.ffn_out), adapter_of())
        else:
            modules.add_adapter_between_norms(layer.get_submodule(layout.ffn_in),
                                              layer.get_submodule(layout.ffn_ln), adapter_of())


@register_method
class Houlsby(OwnMethod):
    name = "houlsby"
    description = "bottleneck adapters after the attention and the feed-forward block"
    reference = "Houlsby et al. 2019, Parameter-Efficient Transfer Learning for NLP"
    Config = HoulsbyConfig
    lr = 3e-3
    head_lr = 1e-3

    def apply(self, model: TextClassifier, config: HoulsbyConfig) -> None:
        encoder = model.encoder
        layout = arch.ARCHITECTURES[arch.model_type(encoder)]
        encoder.requires_grad_(False)
        for layer in arch.layers(encoder, layout):
            for name in (layout.attn_out, layout.ffn_out):
                adapter = modules.Bottleneck(_hidden(encoder), config.reduction_factor, config.non_linearity)
                modules.add_sequential_adapter(layer.get_submodule(name), adapter)


@register_method
class Pfeiffer(OwnMethod):
    name = "pfeiffer"
    description = "a bottleneck adapter after the feed-forward block"
    reference = ("Pfeiffer et al. 2021, AdapterFusion: Non-Destructive Task Composition for "
                 "Transfer Learning")
    Config = PfeifferConfig
    lr = 3e-3
    head_lr = 1e-3

    def apply(self, model: TextClassifier, config: PfeifferConfig) -> None:
        encoder = model.encoder
        layout = arch.ARCHITECTURES[arch.model_type(encoder)]
        encoder.requires_grad_(False)
        add_ffn_adapter(encoder, layout, lambda: modules.Bottleneck(
            _hidden(encoder), config.reduction_factor, config.non_linearity))
