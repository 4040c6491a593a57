"""LoRA (Hu et al. 2022, "LoRA: Low-Rank Adaptation of Large Language Models") and DoRA (Liu et al.
2024, "DoRA: Weight-Decomposed Low-Rank Adaptation"), built with Hugging Face ``peft`` on the
attention projections named by :mod:`peftal.peft.arch` (the fused ``Wqkv`` on ModernBERT, where
``q`` and ``v`` cannot be adapted apart)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import nn

from peftal.peft import arch, backend
from peftal.peft.base import LibraryMethod, register_method
from peftal.peft.recipes import Recipe


def check_matrices(attn_matrices: tuple[str, ...]) -> None:
    bad = [m for m in attn_matrices if m not in ("q", "k", "v")]
    if bad:
        raise ValueError(f"attn_matrices may hold q, k, v; got {bad[0]!r}")
    if not attn_matrices:
        raise ValueError("attn_matrices must name at least one of q, k, v")


def check_rank(r: int, attn_matrices: tuple[str, ...]) -> None:
    if r < 1:
        raise ValueError(f"r must be >= 1, got {r}")
    check_matrices(attn_matrices)


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
        check_rank(self.r, self.attn_matrices)
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")


def targets(layout: arch.LayerMap, attn_matrices: tuple[str, ...]) -> str:
    return arch.module_regex(layout, layout.projections(attn_matrices))


@register_method
class Lora(LibraryMethod):
    name = "lora"
    description = "low-rank updates of the query and value projections"
    reference = "Hu et al. 2022, LoRA: Low-Rank Adaptation of Large Language Models"
    Config = LoraConfig
    lr = 1e-3
    head_lr = 1e-3
    # Extractive QA: a 1,000-step floor (SQuAD's training articles, 2,000 questions, seed 0:
    # validation F1 52.0 after 1,016 steps; docs/methods.md, "QA recipes").
    recipes = {"qa": Recipe(lr=lr, head_lr=head_lr, min_steps=1000)}  # its own rates

    use_dora = False

    def library_config(self, config: LoraConfig, layout: arch.LayerMap, encoder: nn.Module) -> Any:
        return backend.make_config("lora", r=config.r, lora_alpha=config.alpha, lora_dropout=config.dropout,
                                   target_modules=targets(layout, config.attn_matrices), bias="none",
                                   use_dora=self.use_dora)


@register_method
class Dora(Lora):
    name = "dora"
    description = "LoRA on direction plus a trained magnitude per output (weight-decomposed LoRA)"
    reference = "Liu et al. 2024, DoRA: Weight-Decomposed Low-Rank Adaptation"
    head_lr = 1e-2  # TREC validation slice: .730/.804 vs .572/.788 with 1e-3 (docs/methods.md)
    recipes = {}  # LoRA's QA recipe was chosen for LoRA, not for DoRA
    use_dora = True
