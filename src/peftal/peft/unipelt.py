"""UniPELT: LoRA, prefix tuning and a Pfeiffer bottleneck adapter in every layer, each scaled by
a learned gate (Mao et al. 2022, "UniPELT: A Unified Framework for Parameter-Efficient Language
Model Tuning"), and ``unipelt_prompt``, the same plus a prompt-tuning layer at the input
(Chen et al. 2024). Written in peftal on the layers of :mod:`peftal.peft.modules` and
:mod:`peftal.peft.prefix_layers`.

The gates follow the paper: ``G = sigmoid(W·x)`` of each member's input (LoRA: the projection's
input; prefix: the attention's input, scaling the prefix keys and values; adapter: its input, the
normalised feed-forward output). Where the paper leaves it open we do what the UniPELT code and the
``adapters`` library do: the gate is averaged over all sequence positions, padding included, so an
example's output depends slightly on how much padding its batch holds (these methods are not
padding-invariant; predictions are still reproducible, since inference batches are formed the same
way every time); the LoRA gate replaces LoRA's ``alpha / r`` scaling; the members' defaults are the
library's UniPELT defaults (LoRA r=8 on query and value, prefix length 10 with the 512-wide
reparametrisation, adapter reduction factor 16). ``alpha`` is kept as a preset key for
compatibility and has no effect under the gate.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from peftal.models.heads import TextClassifier
from peftal.peft import arch, modules
from peftal.peft.base import OwnMethod, register_method
from peftal.peft.bottleneck import add_ffn_adapter
from peftal.peft.prefix import attach_prefixes, eject_prefixes, prefix_unsupported
from peftal.peft.prompt import PromptTuningConfig
from peftal.peft.recipes import Recipe


@dataclass(frozen=True)
class UnipeltConfig:
    """UniPELT hyper-parameters (defaults: those of the ``adapters`` library's ``unipelt``, after Mao et al.).

    Attributes:
        r: Rank of the LoRA member (query and value projections).
        alpha: Kept for presets written for the earlier backend; the gate scales the LoRA update.
        prefix_length: Prefix length of the prefix-tuning member.
        reduction_factor: Hidden size divided by the bottleneck size of the adapter member.
    """

    r: int = 8
    alpha: int = 2
    prefix_length: int = 10
    reduction_factor: int = 16

    def __post_init__(self) -> None:
        for key in ("r", "prefix_length", "reduction_factor"):
            if getattr(self, key) < 1:
                raise ValueError(f"{key} must be >= 1, got {getattr(self, key)}")


@dataclass(frozen=True)
class UnipeltPromptConfig(UnipeltConfig):
    """UniPELT plus a soft prompt (see :class:`UnipeltConfig`).

    Attributes:
        prompt_length: Number of virtual tokens of the prompt-tuning layer.
    """

    prompt_length: int = 10

    def __post_init__(self) -> None:
        super().__post_init__()
        PromptTuningConfig(self.prompt_length)  # same checks as prompt_tuning


def attach_unipelt(encoder: nn.Module, config: UnipeltConfig) -> None:
    """UniPELT's three gated members in every layer of ``encoder`` (which is frozen first)."""
    layout = arch.ARCHITECTURES[arch.model_type(encoder)]
    encoder.requires_grad_(False)
    for layer in arch.layers(encoder, layout):
        for name in layout.projections(("q", "v")):
            modules.add_gated_lora(layer.get_submodule(name), config.r)
    attach_prefixes(encoder, config.prefix_length, gated=True)
    add_ffn_adapter(encoder, layout, lambda: modules.Bottleneck(
        encoder.config.hidden_size, config.reduction_factor, "relu", gated=True))


class _Unipelt(OwnMethod):
    lr = 1e-3
    head_lr = 1e-2
    padding_invariant = False
    # Extractive QA: a 1,000-step floor at their own rates, validated for each variant on its own
    # (SQuAD's training articles, 2,000 questions, seed 0, 1,016 steps: validation F1 57.0 for
    # `unipelt`, 52.0 for `unipelt_prompt`; docs/methods.md, "QA recipes").
    recipes = {"qa": Recipe(lr=lr, head_lr=head_lr, min_steps=1000)}

    def unsupported(self, encoder: nn.Module, config: UnipeltConfig) -> str | None:
        return prefix_unsupported(encoder)

    def for_inference(self, model: TextClassifier) -> None:
        eject_prefixes(model)


@register_method
class Unipelt(_Unipelt):
    name = "unipelt"
    description = "gated LoRA + prefix tuning + bottleneck adapter"
    reference = ("Mao et al. 2022, UniPELT: A Unified Framework for Parameter-Efficient Language "
                 "Model Tuning")
    Config = UnipeltConfig

    def apply(self, model: TextClassifier, config: UnipeltConfig) -> None:
        attach_unipelt(model.encoder, config)


@register_method
class UnipeltPrompt(_Unipelt):
    name = "unipelt_prompt"
    description = "UniPELT plus a prompt-tuning layer at the input"
    reference = "Chen et al. 2024 (UniPELT of Mao et al. 2022 with prompt tuning added)"
    Config = UnipeltPromptConfig

    def apply(self, model: TextClassifier, config: UnipeltPromptConfig) -> None:
        attach_unipelt(model.encoder, config)
        modules.add_soft_prompt(model.encoder, config.prompt_length)
