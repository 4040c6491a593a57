"""The one module that talks to the PEFT library (``adapters``).

Every method other than ``full`` and ``bitfit`` goes through here, so moving to another library
(``peft``, or ``adapters`` on transformers 5) means changing this file only.
"""

from __future__ import annotations

import logging
from typing import Any

from torch import nn

ADAPTER_NAME = "peftal"


def make_config(kind: str, **kwargs: Any) -> Any:
    """An ``adapters`` config object of ``kind`` (``lora``, ``seq_bn``, ``double_seq_bn``,
    ``prefix_tuning``, ``prompt_tuning``, ``ia3``, ``unipelt``) with ``kwargs``."""
    import adapters

    classes = {
        "lora": adapters.LoRAConfig,
        "seq_bn": adapters.SeqBnConfig,
        "double_seq_bn": adapters.DoubleSeqBnConfig,
        "prefix_tuning": adapters.PrefixTuningConfig,
        "prompt_tuning": adapters.PromptTuningConfig,
        "ia3": adapters.IA3Config,
        "unipelt": adapters.UniPELTConfig,
    }
    return classes[kind](**kwargs)


def union(*configs: Any) -> Any:
    """A flat ``ConfigUnion`` of configs (nested unions are flattened first: adapters 1.3 rejects them)."""
    import adapters

    flat = []
    for config in configs:
        flat.extend(config.configs if isinstance(config, adapters.ConfigUnion) else [config])
    return adapters.ConfigUnion(*flat)


def attach(encoder: nn.Module, config: Any) -> None:
    """Add one adapter with ``config`` to ``encoder`` and freeze everything else in it."""
    import adapters

    # adapters logs "none are activated" between add_adapter and the activation just below.
    logging.getLogger("adapters").setLevel(logging.ERROR)
    adapters.init(encoder)
    encoder.add_adapter(ADAPTER_NAME, config=config)
    encoder.train_adapter(ADAPTER_NAME)
    encoder.set_active_adapters(ADAPTER_NAME)


def merge(encoder: nn.Module) -> None:
    """Fold mergeable adapter weights (LoRA, IA3) into the base weights for faster inference."""
    encoder.merge_adapter(ADAPTER_NAME)


def supports(encoder: nn.Module) -> bool:
    """Whether ``adapters`` supports this encoder architecture."""
    from adapters.wrappers.configuration import CONFIG_CLASS_KEYS_MAPPING

    return encoder.config.model_type in CONFIG_CLASS_KEYS_MAPPING
