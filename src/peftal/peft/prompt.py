"""Prompt tuning: ``prompt_length`` trainable embeddings ("soft prompt") prepended to the embedded
input (Lester, Al-Rfou & Constant 2021, "The Power of Scale for Parameter-Efficient Prompt
Tuning"), through the library.

The virtual tokens go before the whole input (the library's ``combine="prefix"``), so the encoder
returns ``(batch, prompt_length + seq, hidden)`` and the real tokens are its last ``seq``
positions: :class:`~peftal.models.TextClassifier` pools those (its ``cls`` pooling takes the first
real token, [CLS], not a virtual one). The prompt adds ``prompt_length · embedding_size``
parameters. It starts uniform in ``[-0.5, 0.5]``, the paper's and library's choice (adapters 1.3
offers no setting for the scale).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from peftal.peft import backend
from peftal.peft.base import AdapterMethod, register_method


@dataclass(frozen=True)
class PromptTuningConfig:
    """Prompt-tuning hyper-parameters (defaults: the library's ``prompt_tuning``).

    Attributes:
        prompt_length: Number of virtual tokens.
    """

    prompt_length: int = 10

    def __post_init__(self) -> None:
        if self.prompt_length < 1:
            raise ValueError(f"prompt_length must be >= 1, got {self.prompt_length}")


def prompt_config(config: PromptTuningConfig) -> Any:
    """The library config of a soft prompt (shared with ``unipelt_prompt``)."""
    return backend.make_config("prompt_tuning", prompt_length=config.prompt_length,
                               prompt_init="random_uniform", combine="prefix")


@register_method
class PromptTuning(AdapterMethod):
    name = "prompt_tuning"
    description = "a trainable soft prompt prepended to the input"
    reference = "Lester et al. 2021, The Power of Scale for Parameter-Efficient Prompt Tuning"
    Config = PromptTuningConfig
    lr = 3e-2
    head_lr = 1e-2

    def library_config(self, config: PromptTuningConfig) -> Any:
        return prompt_config(config)
