"""(IA)³: learned vectors that rescale the keys, the values and the feed-forward activations of
every layer (Liu et al. 2022, "Few-Shot Parameter-Efficient Fine-Tuning is Better and Cheaper than
In-Context Learning"), built with Hugging Face ``peft``.

Keys and values are rescaled at the output of their projections (``h`` each per layer; ``3·h`` for
a fused ``Wqkv``), the feed-forward activations at the input of the block's output projection
(its intermediate size), which is the paper's ``l_ff ⊙ γ(W₁x)``. Vectors start at one, so training
starts from the pretrained model, and can be folded into the weights for inference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import nn

from peftal.peft import arch, backend
from peftal.peft.base import LibraryMethod, register_method


@dataclass(frozen=True)
class Ia3Config:
    """(IA)³ hyper-parameters (defaults as in the paper).

    Attributes:
        attn_matrices: Attention projections to rescale (``q``, ``k``, ``v``).
        intermediate: Also rescale the feed-forward activations.
    """

    attn_matrices: tuple[str, ...] = ("k", "v")
    intermediate: bool = True

    def __post_init__(self) -> None:
        bad = [m for m in self.attn_matrices if m not in ("q", "k", "v")]
        if bad:
            raise ValueError(f"attn_matrices may hold q, k, v; got {bad[0]!r}")
        if not self.attn_matrices and not self.intermediate:
            raise ValueError("nothing to rescale: give attn_matrices or intermediate=true")


@register_method
class Ia3(LibraryMethod):
    name = "ia3"
    description = "learned vectors rescaling keys, values and feed-forward activations"
    reference = ("Liu et al. 2022, Few-Shot Parameter-Efficient Fine-Tuning is Better and Cheaper "
                 "than In-Context Learning")
    Config = Ia3Config
    lr = 3e-2
    head_lr = 1e-2

    def library_config(self, config: Ia3Config, layout: arch.LayerMap, encoder: nn.Module) -> Any:
        names = layout.projections(config.attn_matrices) if config.attn_matrices else []
        feedforward = [layout.ffn_out] if config.intermediate else []
        return backend.make_config(
            "ia3", target_modules=arch.module_regex(layout, names + feedforward),
            feedforward_modules=arch.module_regex(layout, feedforward) if feedforward else [])
