"""Prompt tuning: ``prompt_length`` trainable embeddings ("soft prompt") prepended to the embedded
input (Lester, Al-Rfou & Constant 2021, "The Power of Scale for Parameter-Efficient Prompt
Tuning"), built with Hugging Face ``peft``.

The virtual tokens go before the whole input, so the encoder returns
``(batch, prompt_length + seq, hidden)`` and the real tokens are its last ``seq`` positions:
:class:`~peftal.models.TextClassifier` pools those (its ``cls`` pooling takes the first real token,
[CLS], not a virtual one). The prompt adds ``prompt_length · embedding_size`` parameters and starts
uniform in ``[-0.5, 0.5]``, the paper's random initialisation (peft's own draws from N(0, 1)).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from peftal.models.heads import TextClassifier
from peftal.peft import backend
from peftal.peft.base import LibraryMethod, register_method


@dataclass(frozen=True)
class PromptTuningConfig:
    """Prompt-tuning hyper-parameters.

    Attributes:
        prompt_length: Number of virtual tokens.
    """

    prompt_length: int = 10

    def __post_init__(self) -> None:
        if self.prompt_length < 1:
            raise ValueError(f"prompt_length must be >= 1, got {self.prompt_length}")


@register_method
class PromptTuning(LibraryMethod):
    name = "prompt_tuning"
    description = "a trainable soft prompt prepended to the input"
    reference = "Lester et al. 2021, The Power of Scale for Parameter-Efficient Prompt Tuning"
    Config = PromptTuningConfig
    lr = 3e-2
    head_lr = 1e-2

    def unsupported(self, encoder: nn.Module, config: PromptTuningConfig) -> str | None:
        return None  # only the input embeddings are needed, which every encoder has

    def library_config(self, config: PromptTuningConfig, layout: Any, encoder: nn.Module) -> Any:
        model_config = encoder.config
        return backend.make_config(
            "prompt_tuning", num_virtual_tokens=config.prompt_length,
            token_dim=encoder.get_input_embeddings().embedding_dim,
            num_attention_heads=model_config.num_attention_heads, num_layers=model_config.num_hidden_layers,
            prompt_tuning_init="RANDOM")

    def apply(self, model: TextClassifier, config: PromptTuningConfig) -> None:
        model.encoder = backend.attach(model.encoder, self.library_config(config, None, model.encoder))
        with torch.no_grad():
            for parameter in model.encoder.parameters():
                if parameter.requires_grad:
                    parameter.uniform_(-0.5, 0.5)
