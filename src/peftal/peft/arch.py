"""Where the parts of a transformer layer live in each encoder architecture.

peftal's own methods (bottleneck adapters, prefix tuning, UniPELT) and the target modules it hands
to Hugging Face ``peft`` are written once, generically, against this map of module names, so that
supporting a new encoder family is one entry here. Names are relative to one transformer layer;
``layers`` is the path of the layer list inside the encoder (``AutoModel``).

Fields of :class:`LayerMap`:

* ``query``/``key``/``value``: the attention's input projections; ``qkv`` where the three are one
  fused projection (ModernBERT), in which case LoRA-style methods adapt the fused one.
* ``attention``: the self-attention module whose ``attention_interface`` call receives the
  per-head keys and values (prefix tuning hooks in there); ``None`` where the architecture computes
  attention its own way (DeBERTa-v2's disentangled attention) and prefixes cannot be added.
* ``attn_out``/``ffn_out``: the output projections of the attention and feed-forward blocks.
* ``ffn_in``: the module that receives the feed-forward block's input (the residual of that block).
* ``ffn_ln``: the LayerNorm after the feed-forward residual in post-LN encoders; ``None`` in pre-LN
  encoders (ModernBERT), which have no norm after the block.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from torch import nn

from peftal.errors import UsageError


@dataclass(frozen=True)
class LayerMap:
    layers: str
    attn_out: str
    ffn_in: str
    ffn_out: str
    ffn_ln: str | None
    attention: str | None
    query: str | None = None
    key: str | None = None
    value: str | None = None
    qkv: str | None = None

    def projections(self, names: tuple[str, ...]) -> list[str]:
        """Module names (relative to a layer) of the attention projections ``names`` (``q``/``k``/
        ``v``); a fused ``qkv`` stands for all three, once."""
        if self.qkv is not None:
            return [self.qkv]
        lookup = {"q": self.query, "k": self.key, "v": self.value}
        return [lookup[name] for name in names]


_BERT = LayerMap(layers="encoder.layer", attn_out="attention.output.dense", ffn_in="intermediate",
                 ffn_out="output.dense", ffn_ln="output.LayerNorm", attention="attention.self",
                 query="attention.self.query", key="attention.self.key", value="attention.self.value")

ARCHITECTURES: dict[str, LayerMap] = {
    # BERT and the families that kept its module names.
    "bert": _BERT,
    "roberta": _BERT,
    "xlm-roberta": _BERT,
    "electra": _BERT,
    "camembert": _BERT,
    "distilbert": LayerMap(layers="transformer.layer", attn_out="attention.out_lin", ffn_in="ffn",
                           ffn_out="ffn.lin2", ffn_ln="output_layer_norm", attention="attention",
                           query="attention.q_lin", key="attention.k_lin", value="attention.v_lin"),
    "deberta-v2": LayerMap(layers="encoder.layer", attn_out="attention.output.dense", ffn_in="intermediate",
                           ffn_out="output.dense", ffn_ln="output.LayerNorm", attention=None,
                           query="attention.self.query_proj", key="attention.self.key_proj",
                           value="attention.self.value_proj"),
    "modernbert": LayerMap(layers="layers", attn_out="attn.Wo", ffn_in="mlp", ffn_out="mlp.Wo", ffn_ln=None,
                           attention="attn", qkv="attn.Wqkv"),
}


def model_type(encoder: nn.Module) -> str:
    return str(getattr(encoder.config, "model_type", type(encoder).__name__)).replace("_", "-")


def layer_map(encoder: nn.Module, method: str, *, applicable: str = "") -> LayerMap:
    """The map of ``encoder``'s architecture; a one-line :class:`UsageError` naming ``method``, the
    architecture and the methods that do apply (``applicable``) when there is none."""
    found = ARCHITECTURES.get(model_type(encoder))
    if found is None:
        known = ", ".join(sorted(ARCHITECTURES))
        raise UsageError(f"method {method!r} does not support the {model_type(encoder)!r} architecture "
                         f"(it knows {known}); methods that apply to it: {applicable or 'full, bitfit'}")
    return found


def layers(encoder: nn.Module, layout: LayerMap) -> list[nn.Module]:
    """The transformer layers of ``encoder`` in order."""
    return list(encoder.get_submodule(layout.layers))


def module_regex(layout: LayerMap, names: list[str]) -> str:
    """A regular expression (``peft``'s ``target_modules`` as a full match) for the modules ``names``
    (relative to a layer) in every layer, and nothing else: peft's plain suffix matching would also
    take ``attention.output.dense`` for ``output.dense``."""
    alternatives = "|".join(sorted({re.escape(name) for name in names}))
    return rf"(.*\.)?{re.escape(layout.layers)}\.\d+\.({alternatives})"
