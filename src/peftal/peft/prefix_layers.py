"""Prefix tuning for encoders (Li & Liang 2021), written in peftal.

Trainable key and value vectors are put in front of every attention layer's own keys and values,
so each token can attend to them; the output keeps the input's length. Encoders in transformers 5
hand their per-head queries, keys and values to a registered *attention function*
(``transformers.AttentionInterface``); peftal registers one, ``peftal_prefix``, which prepends the
prefixes of the layer it is called for and widens the attention mask, then runs PyTorch's
scaled-dot-product attention exactly as the ``sdpa`` implementation does. An encoder that gets prefix
tuning is switched to it (``config._attn_implementation``); its masks are built as for ``sdpa``.
This works for every architecture whose attention goes through that interface (BERT, RoBERTa, XLM-R,
ELECTRA, DistilBERT, ModernBERT), keys after their rotary embedding where there is one (prefixes
carry no position). DeBERTa-v2 computes its disentangled attention itself and is refused.

The prefixes of all layers come from one :class:`PrefixEncoder`: during training the paper's
reparametrisation ``embedding (P, h) → Linear(h, B) → tanh → Linear(B, 2·L·h)``, after it
(:meth:`PrefixEncoder.eject`) only the ``(2·L, P, h)`` prefixes it computes. They are computed once
per encoder forward (a pre-hook on the encoder) and read by every layer.
"""

from __future__ import annotations

import torch
from torch import nn

from peftal.peft.modules import Gate, Slot

IMPLEMENTATION = "peftal_prefix"


class PrefixEncoder(nn.Module):
    """Key/value prefixes for ``num_layers`` layers: ``(2·num_layers, length, hidden)``, the key of
    layer ``i`` at ``2i`` and its value at ``2i + 1`` (the layout of the ``adapters`` library)."""

    def __init__(self, num_layers: int, hidden: int, length: int, bottleneck_size: int, flat: bool,
                 dropout: float) -> None:
        super().__init__()
        self.num_layers, self.hidden, self.length = num_layers, hidden, length
        self.dropout = nn.Dropout(dropout)
        if flat:
            self.prefixes = nn.Parameter(torch.randn(2 * num_layers, length, hidden))
        else:
            self.embedding = nn.Embedding(length, hidden)
            self.mlp = nn.Sequential(nn.Linear(hidden, bottleneck_size), nn.Tanh(),
                                     nn.Linear(bottleneck_size, 2 * num_layers * hidden))
        self.cache = Slot()

    def compute(self) -> torch.Tensor:
        """``(2·layers, length, hidden)``."""
        if hasattr(self, "prefixes"):
            return self.prefixes
        key_values = self.mlp(self.embedding.weight)  # (length, 2·layers·hidden)
        return key_values.view(self.length, 2 * self.num_layers, self.hidden).permute(1, 0, 2)

    @torch.no_grad()
    def eject(self) -> None:
        """Replace the reparametrisation by the prefixes it computes (what Li & Liang keep)."""
        if hasattr(self, "prefixes"):
            return
        prefixes = self.compute().detach().clone().contiguous()
        del self.embedding, self.mlp
        self.prefixes = nn.Parameter(prefixes)


class _LayerPrefix:
    """What an attention module needs to find its prefixes: the shared encoder and its layer index.
    A plain object, so that the PrefixEncoder is not registered twice as a submodule."""

    def __init__(self, prefix_encoder: PrefixEncoder, index: int) -> None:
        self.prefix_encoder, self.index = prefix_encoder, index


def _compute_prefixes(encoder: nn.Module, args: tuple, kwargs: dict) -> None:
    prefix_encoder = encoder.peftal_prefix
    prefix_encoder.cache.value = prefix_encoder.dropout(prefix_encoder.compute())


def _release_prefixes(encoder: nn.Module, args: tuple, kwargs: dict, output: object) -> None:
    encoder.peftal_prefix.cache.value = None


def _gate_from_input(attention: nn.Module, args: tuple, kwargs: dict) -> None:
    hidden = args[0] if args else next(v for v in kwargs.values() if isinstance(v, torch.Tensor))
    attention.peftal_gate_slot.value = attention.peftal_prefix_gate(hidden)  # (batch, 1, 1)


def prefixed_attention(module, query, key, value, attention_mask, **kwargs):
    """``sdpa`` attention with the layer's prefixes in front of ``key`` and ``value``.

    Shapes: ``query`` ``(batch, heads, q, head_dim)``, ``key``/``value`` ``(batch, heads, k, head_dim)``,
    ``attention_mask`` ``(batch, 1, q, k)`` (bool: attend where True; float: added) or ``None``.
    """
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    where = module.__dict__.get("peftal_prefix_layer")
    if where is not None:
        prefixes = where.prefix_encoder.cache.value  # (2·layers, length, hidden)
        batch, heads, _, head_dim = key.shape
        length = prefixes.shape[1]
        pair = prefixes[2 * where.index: 2 * where.index + 2].to(key.dtype)  # (2, length, hidden)
        pair = pair.view(2, length, heads, head_dim).permute(0, 2, 1, 3)  # (2, heads, length, head_dim)
        pair = pair.unsqueeze(1).expand(2, batch, heads, length, head_dim)
        if "peftal_gate_slot" in module.__dict__:
            pair = pair * module.peftal_gate_slot.value.to(key.dtype).view(1, batch, 1, 1, 1)
        key = torch.cat([pair[0], key], dim=2)
        value = torch.cat([pair[1], value], dim=2)
        if attention_mask is not None:
            shape = (*attention_mask.shape[:-1], length)
            visible = (torch.ones(shape, dtype=torch.bool, device=attention_mask.device)
                       if attention_mask.dtype == torch.bool
                       else torch.zeros(shape, dtype=attention_mask.dtype, device=attention_mask.device))
            attention_mask = torch.cat([visible, attention_mask], dim=-1)
    return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)


def _register() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(IMPLEMENTATION, prefixed_attention)
    AttentionMaskInterface.register(IMPLEMENTATION, sdpa_mask)


def add_prefixes(encoder: nn.Module, attentions: list[nn.Module], prefix_encoder: PrefixEncoder,
                 gated: bool = False) -> None:
    """Give each module of ``attentions`` (one per layer, in order) its prefixes from ``prefix_encoder``;
    ``gated`` adds UniPELT's gate on each layer's input, scaling its keys' and values' prefixes."""
    _register()
    encoder.peftal_prefix = prefix_encoder
    encoder.register_forward_pre_hook(_compute_prefixes, with_kwargs=True)
    encoder.register_forward_hook(_release_prefixes, with_kwargs=True)
    for index, attention in enumerate(attentions):
        attention.__dict__["peftal_prefix_layer"] = _LayerPrefix(prefix_encoder, index)
        if gated:
            attention.peftal_prefix_gate = Gate(encoder.config.hidden_size)
            attention.__dict__["peftal_gate_slot"] = Slot()
            attention.register_forward_pre_hook(_gate_from_input, with_kwargs=True)
    encoder.config._attn_implementation = IMPLEMENTATION
