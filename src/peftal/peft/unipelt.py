"""UniPELT: LoRA, prefix tuning and a Pfeiffer bottleneck adapter in every layer, each scaled by
a learned gate (Mao et al. 2022, "UniPELT: A Unified Framework for Parameter-Efficient Language
Model Tuning"), and ``unipelt_prompt``, the same plus a prompt-tuning layer at the input
(Chen et al. 2024), through the library.

``adapters`` 1.3 rejects a union nested in a union, so ``unipelt_prompt`` is one flat union of
UniPELT's three gated members and the prompt config (``backend.union`` flattens it).

The gates are ``sigmoid(W·x)`` averaged over all sequence positions, padding included (as in the
library and the UniPELT code), so an example's output depends slightly on how much padding its
batch holds: these methods are not padding-invariant. Predictions are still reproducible, since
inference batches are formed the same way every time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from peftal.peft import backend
from peftal.peft.base import AdapterMethod, register_method
from peftal.peft.prompt import PromptTuningConfig, prompt_config


@dataclass(frozen=True)
class UnipeltConfig:
    """UniPELT hyper-parameters (defaults: the library's ``unipelt``, after Mao et al.).

    Attributes:
        r: Rank of the LoRA member (query and value projections).
        alpha: LoRA scaling numerator (the update is multiplied by ``alpha / r``).
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


def unipelt_config(config: UnipeltConfig) -> Any:
    return backend.make_config(
        "unipelt",
        lora={"r": config.r, "alpha": config.alpha},
        prefix_tuning={"prefix_length": config.prefix_length},
        adapter={"reduction_factor": config.reduction_factor},
    )


@register_method
class Unipelt(AdapterMethod):
    name = "unipelt"
    description = "gated LoRA + prefix tuning + bottleneck adapter"
    reference = ("Mao et al. 2022, UniPELT: A Unified Framework for Parameter-Efficient Language "
                 "Model Tuning")
    Config = UnipeltConfig
    lr = 1e-3
    head_lr = 1e-2
    padding_invariant = False

    def library_config(self, config: UnipeltConfig) -> Any:
        return unipelt_config(config)


@register_method
class UnipeltPrompt(AdapterMethod):
    name = "unipelt_prompt"
    description = "UniPELT plus a prompt-tuning layer at the input"
    reference = "Chen et al. 2024 (UniPELT of Mao et al. 2022 with prompt tuning added)"
    Config = UnipeltPromptConfig
    lr = 1e-3
    head_lr = 1e-2
    padding_invariant = False

    def library_config(self, config: UnipeltPromptConfig) -> Any:
        return backend.union(unipelt_config(config),
                             prompt_config(PromptTuningConfig(config.prompt_length)))
