"""Bottleneck adapters: small down-project → non-linearity → up-project modules with a residual
connection, inserted into every layer; only they (and the head) train.

* ``houlsby``: an adapter after the attention block and one after the feed-forward block (Houlsby
  et al. 2019, "Parameter-Efficient Transfer Learning for NLP"; the "Adapter" of Jukić & Šnajder
  2023). The library's ``double_seq_bn`` config.
* ``pfeiffer``: one adapter after the feed-forward block only (Pfeiffer et al. 2021,
  "AdapterFusion: Non-Destructive Task Composition for Transfer Learning"). ``seq_bn``.

Each adapter adds ``2·h·b + b + h`` parameters (down and up weights and biases), where ``h`` is
the hidden size and ``b = h // reduction_factor``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from peftal.peft import backend
from peftal.peft.base import AdapterMethod, register_method

_NON_LINEARITIES = ("relu", "swish", "gelu", "tanh")


def _check(reduction_factor: int, non_linearity: str) -> None:
    if reduction_factor < 1:
        raise ValueError(f"reduction_factor must be >= 1, got {reduction_factor}")
    if non_linearity not in _NON_LINEARITIES:
        raise ValueError(f"non_linearity must be one of {', '.join(_NON_LINEARITIES)}, "
                         f"got {non_linearity!r}")


@dataclass(frozen=True)
class HoulsbyConfig:
    """Houlsby adapter hyper-parameters (defaults: the library's ``double_seq_bn``).

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
    """Pfeiffer adapter hyper-parameters (defaults: the library's ``seq_bn``).

    Attributes:
        reduction_factor: Hidden size divided by the bottleneck size.
        non_linearity: Activation in the bottleneck (``relu``, ``swish``, ``gelu``, ``tanh``).
    """

    reduction_factor: int = 16
    non_linearity: str = "relu"

    def __post_init__(self) -> None:
        _check(self.reduction_factor, self.non_linearity)


@register_method
class Houlsby(AdapterMethod):
    name = "houlsby"
    description = "bottleneck adapters after the attention and the feed-forward block"
    reference = "Houlsby et al. 2019, Parameter-Efficient Transfer Learning for NLP"
    Config = HoulsbyConfig
    lr = 3e-3
    head_lr = 1e-3

    def library_config(self, config: HoulsbyConfig) -> Any:
        return backend.make_config("double_seq_bn", reduction_factor=config.reduction_factor,
                                   non_linearity=config.non_linearity)


@register_method
class Pfeiffer(AdapterMethod):
    name = "pfeiffer"
    description = "a bottleneck adapter after the feed-forward block"
    reference = ("Pfeiffer et al. 2021, AdapterFusion: Non-Destructive Task Composition for "
                 "Transfer Learning")
    Config = PfeifferConfig
    lr = 3e-3
    head_lr = 1e-3

    def library_config(self, config: PfeifferConfig) -> Any:
        return backend.make_config("seq_bn", reduction_factor=config.reduction_factor,
                                   non_linearity=config.non_linearity)
