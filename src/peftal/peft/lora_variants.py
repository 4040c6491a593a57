"""Relatives of LoRA that Hugging Face ``peft`` provides, on the same attention projections as
``lora`` (query and value by default; the fused ``Wqkv`` on ModernBERT):

* ``vera``: one pair of frozen random low-rank matrices shared by all layers, and per layer two
  trained scaling vectors (Kopiczko et al. 2024, "VeRA: Vector-based Random Matrix Adaptation").
* ``loha``: the update is the Hadamard product of two low-rank products (Hyeon-Woo et al. 2022,
  "FedPara"; LyCORIS).
* ``lokr``: the update is a Kronecker product of a small and a low-rank factor (Edalati et al.
  2022, "KronA"; LyCORIS).
* ``oft``: the frozen weight is multiplied by a trained block-diagonal orthogonal matrix (Qiu et
  al. 2023, "Controlling Text-to-Image Diffusion by Orthogonal Finetuning").

Not offered: ``adalora`` (Zhang et al. 2023). Its rank-budget schedule must know the total number
of optimiser steps when the model is built and needs a call after every step plus an orthogonality
penalty added to the loss; a round here is 70–130 steps (and ``--time-budget`` runs do not know their
step count in advance), shorter than AdaLoRA's initial and final phases, so its pruning would not
have room to act.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import nn

from peftal.peft import arch, backend
from peftal.peft.base import LibraryMethod, register_method
from peftal.peft.lora import check_matrices, check_rank, targets


@dataclass(frozen=True)
class VeraConfig:
    """VeRA hyper-parameters (peft's defaults).

    Attributes:
        r: Rank of the shared random matrices (cheap: they are not trained).
        d_initial: Initial value of the trained vector that scales the rank dimension.
        attn_matrices: Attention projections to adapt.
    """

    r: int = 256
    d_initial: float = 0.1
    attn_matrices: tuple[str, ...] = ("q", "v")

    def __post_init__(self) -> None:
        check_rank(self.r, self.attn_matrices)


@dataclass(frozen=True)
class LycorisConfig:
    """LoHa / LoKr hyper-parameters (peft's defaults).

    Attributes:
        r: Rank of the low-rank factors.
        alpha: Scaling numerator (the update is multiplied by ``alpha / r``).
        attn_matrices: Attention projections to adapt.
    """

    r: int = 8
    alpha: int = 8
    attn_matrices: tuple[str, ...] = ("q", "v")

    def __post_init__(self) -> None:
        check_rank(self.r, self.attn_matrices)


@dataclass(frozen=True)
class OftConfig:
    """OFT hyper-parameters (peft's defaults).

    Attributes:
        block_size: Size of each orthogonal block (must divide the projection's input size).
        attn_matrices: Attention projections to adapt.
    """

    block_size: int = 32
    attn_matrices: tuple[str, ...] = ("q", "v")

    def __post_init__(self) -> None:
        if self.block_size < 2:
            raise ValueError(f"block_size must be >= 2, got {self.block_size}")
        check_matrices(self.attn_matrices)


@register_method
class Vera(LibraryMethod):
    name = "vera"
    description = "shared frozen random low-rank matrices, trained scaling vectors per layer"
    reference = "Kopiczko et al. 2024, VeRA: Vector-based Random Matrix Adaptation"
    Config = VeraConfig
    lr = 1e-1  # validation grid of four datasets: docs/methods.md
    head_lr = 1e-2

    def library_config(self, config: VeraConfig, layout: arch.LayerMap, encoder: nn.Module) -> Any:
        return backend.make_config("vera", r=config.r, d_initial=config.d_initial, save_projection=True,
                                   target_modules=targets(layout, config.attn_matrices))


class _Lycoris(LibraryMethod):
    """LoHa and LoKr: the same keys, one peft config each (``kind``)."""

    kind: str
    Config = LycorisConfig
    lr = 1e-2  # validation grid of four datasets: docs/methods.md
    head_lr = 1e-2

    def library_config(self, config: LycorisConfig, layout: arch.LayerMap, encoder: nn.Module) -> Any:
        return backend.make_config(self.kind, r=config.r, alpha=config.alpha,
                                   target_modules=targets(layout, config.attn_matrices))


@register_method
class Loha(_Lycoris):
    name = kind = "loha"
    description = "low-rank Hadamard-product updates of the query and value projections"
    reference = "Hyeon-Woo et al. 2022, FedPara: Low-Rank Hadamard Product for Communication-Efficient FL"


@register_method
class Lokr(_Lycoris):
    name = kind = "lokr"
    description = "Kronecker-product updates of the query and value projections"
    reference = "Edalati et al. 2022, KronA: Parameter Efficient Tuning with Kronecker Adapter"


@register_method
class Oft(LibraryMethod):
    name = "oft"
    description = "trained block-diagonal orthogonal rotations of the query and value weights"
    reference = "Qiu et al. 2023, Controlling Text-to-Image Diffusion by Orthogonal Finetuning"
    Config = OftConfig
    lr = 3e-3  # validation grid of four datasets: docs/methods.md
    head_lr = 1e-2

    def unsupported(self, encoder: nn.Module, config: OftConfig) -> str | None:
        reason = super().unsupported(encoder, config)
        if reason is None and encoder.config.hidden_size % config.block_size:
            reason = (f"block_size {config.block_size} does not divide the hidden size "
                      f"{encoder.config.hidden_size}")
        return reason

    def library_config(self, config: OftConfig, layout: arch.LayerMap, encoder: nn.Module) -> Any:
        return backend.make_config("oft", r=0, oft_block_size=config.block_size,
                                   target_modules=targets(layout, config.attn_matrices))
