"""The one module that talks to Hugging Face ``peft``.

``lora``, ``ia3``, ``prompt_tuning`` and their relatives (``dora``, ``vera``, ``loha``, ``lokr``,
``oft``, ``boft``) are built here, on the encoder alone, so that a run's ``model/`` folder is a
standard ``peft`` adapter folder (``adapter_config.json`` + ``adapter_model.safetensors``) that
``peft.PeftModel.from_pretrained(AutoModel.from_pretrained(base), folder)`` loads; the task head is
saved beside it (peft/checkpoint.py). Target modules come from the per-architecture map in
:mod:`peftal.peft.arch`, as full-match regular expressions.

One behaviour of ``peft`` is changed: its prompt-learning forward drops ``token_type_ids`` (with a
warning on every call), which erases the segment of the second text of a pair task. Encoders that
take token types get them back here, zeros for the virtual tokens (``PromptedEncoder`` below;
encoders without token types are never handed any, see models/backbone.py).
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import torch
from torch import nn

ADAPTER_NAME = "default"  # peft's own default, so that PeftModel.from_pretrained needs no name


def make_config(kind: str, **kwargs: Any) -> Any:
    """A ``peft`` config of ``kind`` (``lora``, ``ia3``, ``prompt_tuning``, ``vera``, ``loha``, ``lokr``,
    ``oft``, ``boft``) with ``kwargs`` (peft's own keyword names)."""
    import peft

    classes = {"lora": peft.LoraConfig, "ia3": peft.IA3Config, "prompt_tuning": peft.PromptTuningConfig,
               "vera": peft.VeraConfig, "loha": peft.LoHaConfig, "lokr": peft.LoKrConfig,
               "oft": peft.OFTConfig, "boft": peft.BOFTConfig}
    if kind == "prompt_tuning":
        kwargs = {"task_type": "FEATURE_EXTRACTION", "num_transformer_submodules": 1, **kwargs}
    return classes[kind](**kwargs)


def attach(encoder: nn.Module, config: Any) -> nn.Module:
    """``encoder`` wrapped as a ``peft`` model with one adapter of ``config``; only its parameters
    train. Returns the wrapper, which the task model uses as its encoder."""
    import peft

    logging.getLogger("peft").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        # peft reads transformers' deprecated ``is_gradient_checkpointing`` on every build; the
        # FutureWarning is about peft's code, not the user's, and repeats once per model built.
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        if config.is_prompt_learning:
            wrapped = _prompted_class()(encoder, config, adapter_name=ADAPTER_NAME)
        else:
            wrapped = peft.get_peft_model(encoder, config, adapter_name=ADAPTER_NAME)
    return wrapped


def _prompted_class() -> type:
    from peft import PeftModelForFeatureExtraction

    class PromptedEncoder(PeftModelForFeatureExtraction):
        """peft's feature-extraction model with soft prompts, keeping ``token_type_ids``."""

        def forward(self, input_ids=None, attention_mask=None, inputs_embeds=None, token_type_ids=None,
                    **kwargs):
            config = self.active_peft_config
            if inputs_embeds is None:
                inputs_embeds = self.word_embeddings(input_ids)  # (batch, seq, embedding)
            batch, virtual = inputs_embeds.shape[0], config.num_virtual_tokens
            prompts = self.get_prompt(batch_size=batch).to(inputs_embeds.dtype)  # (batch, virtual, emb.)
            inputs_embeds = torch.cat((prompts, inputs_embeds), dim=1)
            if attention_mask is not None:
                ones = attention_mask.new_ones(batch, virtual)
                attention_mask = torch.cat((ones, attention_mask), dim=1)
            if token_type_ids is not None:
                token_type_ids = torch.cat((token_type_ids.new_zeros(batch, virtual), token_type_ids), dim=1)
                kwargs["token_type_ids"] = token_type_ids
            kwargs.pop("position_ids", None)  # positions are counted over virtual + real tokens
            return self.base_model(inputs_embeds=inputs_embeds, attention_mask=attention_mask, **kwargs)

    return PromptedEncoder


def owns(name: str) -> bool:
    """Whether a parameter name (as in ``encoder.named_parameters()``) belongs to the peft adapter:
    peft puts the adapter name into the name of every tensor it adds."""
    return f".{ADAPTER_NAME}." in f".{name}."


def library_count(encoder: nn.Module) -> int:
    """The adapter's trainable parameter count as ``peft`` itself reports it."""
    trainable, _ = encoder.get_nb_trainable_parameters()
    return int(trainable)


def merge(encoder: nn.Module) -> nn.Module:
    """Fold mergeable adapter weights (LoRA, IA3) into the base weights; returns the plain encoder."""
    return encoder.merge_and_unload()
