"""The model's position limit, checked against ``--max-length`` before any folder is written.

An encoder with learned absolute positions has ``max_position_embeddings`` of them; a text longer
than that crashes the forward pass with an index error, mid-run, on the first long text. Prompt
tuning prepends virtual tokens that take positions too, and RoBERTa-style models start their
position ids after the padding index (an offset of 2), so the usable length is smaller still.
"""

from __future__ import annotations

from typing import Any

from peftal.errors import UsageError

# Model types whose position ids start at padding_idx + 1 (fairseq's convention).
_PADDING_OFFSET_TYPES = {"roberta", "xlm-roberta", "camembert", "longformer", "bart", "mbart",
                         "data2vec-text",
                         "roberta-prelayernorm", "xmod", "ernie_m"}


def virtual_tokens(method_config: Any) -> int:
    """Positions a method prepends to every input (prompt tuning's soft prompt), else 0."""
    for field in ("prompt_length", "num_virtual_tokens"):
        value = getattr(method_config, field, None)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return 0


def position_limit(model: str | None) -> int | None:
    """Tokens the model's position embeddings allow, or ``None`` where unknown or unlimited."""
    try:
        from transformers import AutoConfig

        from peftal.models.backbone import resolve_model

        config = AutoConfig.from_pretrained(resolve_model(model))
    except Exception:  # noqa: BLE001 — loading the model itself reports an unknown or broken model
        return None
    limit = getattr(config, "max_position_embeddings", None)
    if not isinstance(limit, int) or limit <= 0:
        return None
    if getattr(config, "position_embedding_type", "absolute") not in (None, "absolute"):
        return None  # relative positions have no hard limit
    if config.model_type in _PADDING_OFFSET_TYPES:
        limit -= (getattr(config, "pad_token_id", None) or 1) + 1
    return limit


def check_max_length(model: str | None, max_length: int, method_config: Any = None,
                     option: str = "--max-length") -> None:
    """Refuse a ``max_length`` that, with the method's virtual tokens, exceeds the model's positions."""
    limit = position_limit(model)
    if limit is None:
        return
    extra = virtual_tokens(method_config)
    if extra >= limit:  # no --max-length helps: the prompt alone fills every position
        room = f" (at most {limit - max_length} with {option} {max_length})" if max_length < limit else ""
        raise UsageError(f"the method's prompt of {extra} virtual tokens is too long for the model's "
                         f"{limit} positions; use a shorter prompt, leaving room for the text{room}")
    if max_length + extra > limit:
        room = f" (the method's {extra} virtual tokens take positions too)" if extra else ""
        raise UsageError(f"{option} {max_length} is more than the model allows: it has {limit} "
                         f"positions{room}; use {option} {limit - extra} or less")
