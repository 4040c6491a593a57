"""The one module that talks to the PEFT library (``adapters``).

Every method other than ``full`` and ``bitfit`` goes through here, so moving to another library
(``peft``, or ``adapters`` on transformers 5) means changing this file only.

Two defects of ``adapters`` 1.3 on transformers 4.57 are handled here, both found by checking that
an example's output does not depend on how much padding its batch has (tests/unit/peft):

* With the SDPA attention of BERT/RoBERTa, the virtual tokens of prompt tuning attend to padding
  (the library widens the 4-D mask with all-zero rows), and on DistilBERT-SDPA prefix tuning does
  the same. The eager attention path is correct, so an encoder that gets prompt or prefix tuning is
  rebuilt with ``attn_implementation="eager"`` (same weights; only the attention kernel differs).
* On DistilBERT prompt tuning is wrong with SDPA and crashes with eager attention (the library
  widens a 2-D mask along dimensions 2 and 3), so it is refused with a clear error.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from torch import nn

from peftal.errors import UsageError

ADAPTER_NAME = "peftal"

# Architectures on which a kind of adapter gives wrong results in adapters 1.3 (see above).
_BROKEN = {("prompt_tuning", "distilbert"): "its attention mask for the virtual tokens is wrong "
                                            "in adapters 1.3 (wrong with SDPA, a crash with eager)"}
# Kinds whose attention-mask handling is only correct with eager attention (see above).
_NEEDS_EAGER = ("prompt_tuning", "prefix_tuning")


def make_config(kind: str, **kwargs: Any) -> Any:
    """An ``adapters`` config object of ``kind`` with ``kwargs``.

    Kinds: ``lora``, ``seq_bn`` (Pfeiffer), ``double_seq_bn`` (Houlsby), ``prefix_tuning``,
    ``prompt_tuning``, ``ia3``, and ``unipelt`` (keywords ``lora``, ``prefix_tuning``, ``adapter``:
    dicts of keywords for its three members; missing members keep the library's UniPELT defaults).
    """
    import adapters

    if kind == "unipelt":
        members = {"lora": adapters.LoRAConfig, "prefix_tuning": adapters.PrefixTuningConfig,
                   "adapter": adapters.SeqBnConfig}
        return adapters.UniPELTConfig(**{key: cls(**kwargs[key]) if key in kwargs else None
                                         for key, cls in members.items()})
    classes = {
        "lora": adapters.LoRAConfig,
        "seq_bn": adapters.SeqBnConfig,
        "double_seq_bn": adapters.DoubleSeqBnConfig,
        "prefix_tuning": adapters.PrefixTuningConfig,
        "prompt_tuning": adapters.PromptTuningConfig,
        "ia3": adapters.IA3Config,
    }
    return classes[kind](**kwargs)


def union(*configs: Any) -> Any:
    """A flat ``ConfigUnion`` of configs (nested unions are flattened first: adapters 1.3 rejects them)."""
    import adapters

    return adapters.ConfigUnion(*_flatten(configs))


def _flatten(configs: Any) -> list[Any]:
    import adapters

    flat = []
    for config in configs:
        flat.extend(config.configs if isinstance(config, adapters.ConfigUnion) else [config])
    return flat


def _kinds(config: Any) -> set[str]:
    """Adapter kinds in a config: ``prompt_tuning``, ``prefix_tuning``, ``lora``, ``bottleneck``."""
    return {getattr(member, "architecture", None) or "bottleneck" for member in _flatten([config])}


def check_support(encoder: nn.Module, config: Any) -> None:
    """Raise :class:`UsageError` if ``adapters`` cannot apply ``config`` to ``encoder`` correctly."""
    from adapters.wrappers.interfaces import get_adapter_interface
    from adapters.wrappers.model import get_module_name

    model_type = encoder.config.model_type
    if get_adapter_interface(model_type) is None and not _has_model_module(get_module_name(model_type)):
        raise UsageError(f"the adapters library does not support the {model_type!r} architecture; "
                         f"methods that apply to any encoder: full, bitfit")
    for kind in sorted(_kinds(config)):
        if (kind, model_type) in _BROKEN:
            raise UsageError(f"{kind.replace('_', ' ')} does not apply to the {model_type!r} "
                             f"architecture: {_BROKEN[kind, model_type]}")


def _has_model_module(module: str) -> bool:
    """Whether adapters ships a module for this architecture (what ``adapters.init`` imports)."""
    try:
        importlib.import_module(f"adapters.models.{module}.modeling_{module}")
    except ImportError:
        return False
    return True


def attach(encoder: nn.Module, config: Any) -> nn.Module:
    """Add one adapter with ``config`` to ``encoder`` and freeze everything else in it.

    Returns the encoder to use from now on: ``encoder`` itself, or an eager-attention rebuild of it
    when the config holds prompt or prefix tuning (see the module docstring).
    """
    import adapters

    check_support(encoder, config)
    if _kinds(config) & set(_NEEDS_EAGER):
        encoder = _with_eager_attention(encoder)
    # adapters logs "none are activated" between add_adapter and the activation just below.
    logging.getLogger("adapters").setLevel(logging.ERROR)
    try:
        adapters.init(encoder)
        encoder.add_adapter(ADAPTER_NAME, config=config)
    except (ValueError, NotImplementedError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UsageError(f"the adapters library cannot add this method to the "
                         f"{encoder.config.model_type!r} architecture: {first_line}") from None
    encoder.train_adapter(ADAPTER_NAME)
    encoder.set_active_adapters(ADAPTER_NAME)
    return encoder


def _with_eager_attention(encoder: nn.Module) -> nn.Module:
    """The same encoder (weights, mode) with eager attention; ``encoder`` itself if it already has it."""
    import copy

    if getattr(encoder.config, "_attn_implementation", "eager") == "eager":
        return encoder
    config = copy.deepcopy(encoder.config)
    rebuilt = type(encoder)._from_config(config, attn_implementation="eager", dtype=encoder.dtype)
    rebuilt.load_state_dict(encoder.state_dict())
    rebuilt.train(encoder.training)
    return rebuilt


def drop_reparametrisation(encoder: nn.Module) -> None:
    """Replace prefix tuning's reparametrisation MLP by the prefixes it computes (a no-op for other
    adapters). Li & Liang train through the MLP for stability and keep only the prefixes; this
    shrinks a prefix-tuning checkpoint from ~10 MB to ~0.5 MB on MiniLM."""
    encoder.eject_prefix_tuning(ADAPTER_NAME)


def is_adapter_parameter(name: str) -> bool:
    """Whether an encoder parameter name belongs to the adapter (the library names them after it)."""
    return f".{ADAPTER_NAME}." in f".{name}."


def library_count(encoder: nn.Module) -> int:
    """The adapter's parameter count as the ``adapters`` library itself reports it."""
    (row,) = [row for row in encoder.adapter_summary(as_dict=True) if row["name"] == ADAPTER_NAME]
    return int(row["#param"])


def merge(encoder: nn.Module) -> None:
    """Fold mergeable adapter weights (LoRA, IA3) into the base weights for faster inference."""
    encoder.merge_adapter(ADAPTER_NAME)
