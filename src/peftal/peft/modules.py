"""The layers of peftal's own methods, attached to any encoder in :mod:`peftal.peft.arch`.

Hugging Face ``peft`` has no bottleneck adapters, no prefix tuning for encoders (its prefix tuning
needs past key values, which BERT-family encoders no longer take) and no UniPELT, so they are
written here. Nothing of the encoder is replaced: each method's module is registered on an
existing module of a layer under a name starting with ``peftal_`` and enters the computation
through a forward hook, so the base weights keep their names and any encoder with a
:class:`~peftal.peft.arch.LayerMap` works. Hooks are module-level functions that read only the
module they are called with, so a deep copy of a model carries them correctly.

Initialisation follows what the ``adapters`` library did for these methods (peftal's earlier
backend, itself following the papers): bottleneck and gate weights ~ N(0, 0.02²), biases 0
("BERT init"); LoRA A Kaiming-uniform, B zero, so every method starts as the pretrained model (a
bottleneck adds a small perturbation only).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.nn import functional

ACTIVATIONS = {"relu": nn.ReLU, "swish": nn.SiLU, "gelu": nn.GELU, "tanh": nn.Tanh}


class Slot:
    """A per-forward scratch value kept on a module outside its parameters and buffers. A deep copy
    starts empty: what it holds belongs to one forward pass (and may be part of an autograd graph,
    which cannot be deep-copied)."""

    def __init__(self) -> None:
        self.value: Any = None

    def __deepcopy__(self, memo: dict) -> Slot:
        return Slot()


def _init_bert(linear: nn.Linear) -> None:
    nn.init.normal_(linear.weight, std=0.02)
    if linear.bias is not None:
        nn.init.zeros_(linear.bias)


class Gate(nn.Module):
    """UniPELT's gate (Mao et al. 2022): ``sigmoid(W·x)`` averaged over the sequence positions,
    one scalar per example, ``(batch, seq, h) → (batch, 1, 1)``. The average includes padding, as in
    the UniPELT code and the ``adapters`` library, so gated methods are not padding-invariant."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.linear = nn.Linear(hidden, 1)
        _init_bert(self.linear)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.linear(x)).mean(dim=1, keepdim=True)  # (batch, 1, 1)


class Bottleneck(nn.Module):
    """``up(act(down(x)))``, ``(batch, seq, h) → (batch, seq, h)``, optionally scaled by a :class:`Gate`;
    ``2·h·b + b + h`` parameters with ``b = h // reduction_factor`` (plus ``h + 1`` for the gate)."""

    def __init__(self, hidden: int, reduction_factor: int, non_linearity: str, gated: bool = False) -> None:
        super().__init__()
        width = max(1, hidden // reduction_factor)
        self.down = nn.Linear(hidden, width)
        self.act = ACTIVATIONS[non_linearity]()
        self.up = nn.Linear(width, hidden)
        _init_bert(self.down)
        _init_bert(self.up)
        self.gate = Gate(hidden) if gated else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.up(self.act(self.down(x)))
        return out * self.gate(x) if self.gate is not None else out


class GatedLora(nn.Module):
    """UniPELT's LoRA member: ``B·A·x`` scaled by a :class:`Gate` of the projection's input. As in the
    ``adapters`` library, the gate takes the place of LoRA's ``alpha / r`` scaling."""

    def __init__(self, in_features: int, out_features: int, r: int) -> None:
        super().__init__()
        self.down = nn.Linear(in_features, r, bias=False)  # A
        self.up = nn.Linear(r, out_features, bias=False)  # B
        nn.init.kaiming_uniform_(self.down.weight, a=math.sqrt(5))
        nn.init.zeros_(self.up.weight)
        self.gate = Gate(in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(self.down(x)) * self.gate(x)


class SoftPrompt(nn.Module):
    """``length`` trainable input embeddings put before the embedded text (Lester et al. 2021),
    initialised uniform in [-0.5, 0.5] (the paper's random initialisation)."""

    def __init__(self, length: int, embedding_size: int) -> None:
        super().__init__()
        self.embedding = nn.Parameter(torch.empty(length, embedding_size).uniform_(-0.5, 0.5))


# --- hooks -------------------------------------------------------------------------------------


def _first_input(args: tuple, kwargs: dict) -> torch.Tensor:
    if args:
        return args[0]
    return next(value for value in kwargs.values() if isinstance(value, torch.Tensor))


def _add_adapter_output(module: nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor:
    """After a sub-layer's output projection: ``y + adapter(y)`` (Houlsby's placement: before the
    sub-layer's residual and LayerNorm)."""
    return output + module.peftal_adapter(output)


def add_sequential_adapter(projection: nn.Module, adapter: Bottleneck) -> None:
    projection.peftal_adapter = adapter
    projection.register_forward_hook(_add_adapter_output)


def _stash_residual(module: nn.Module, args: tuple, kwargs: dict) -> None:
    module.peftal_residual_slot.value = _first_input(args, kwargs)


def _adapter_between_norms(module: nn.LayerNorm, args: tuple, output: torch.Tensor) -> torch.Tensor:
    """Pfeiffer et al.'s placement in a post-LN layer, as the ``adapters`` library computes it:
    with ``s`` the block's output, ``x`` its residual input and ``LN`` the layer's own norm,
    ``LN(s + adapter(LN(s + x)) + x)``; ``output`` is ``LN(s + x)``, already computed."""
    slot = module.peftal_residual_slot
    residual, slot.value = slot.value, None  # (batch, seq, h)
    block = args[0] - residual  # s
    mixed = block + module.peftal_adapter(output) + residual
    return functional.layer_norm(mixed, module.normalized_shape, module.weight, module.bias, module.eps)


def add_adapter_between_norms(block_input: nn.Module, norm: nn.LayerNorm, adapter: Bottleneck) -> None:
    """Attach ``adapter`` after a post-LN block whose input ``block_input`` receives and whose
    LayerNorm ``norm`` normalises the block's output plus that residual."""
    slot = Slot()
    object.__setattr__(block_input, "peftal_residual_slot", slot)  # shared, not a submodule
    object.__setattr__(norm, "peftal_residual_slot", slot)
    norm.peftal_adapter = adapter
    block_input.register_forward_pre_hook(_stash_residual, with_kwargs=True)
    norm.register_forward_hook(_adapter_between_norms)


def _add_lora_output(module: nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor:
    return output + module.peftal_lora(args[0])


def add_gated_lora(projection: nn.Linear, r: int) -> None:
    projection.peftal_lora = GatedLora(projection.in_features, projection.out_features, r)
    projection.register_forward_hook(_add_lora_output)


def _prepend_prompt(module: nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """Before the encoder: embed the ids, put the prompt in front, and widen the attention mask (the
    prompt is always attended to) and the token types (segment 0)."""
    kwargs = dict(kwargs)
    input_ids = kwargs.pop("input_ids", None)
    if input_ids is None and args:
        input_ids, args = args[0], args[1:]
    embeds = kwargs.pop("inputs_embeds", None)
    if embeds is None:
        embeds = module.get_input_embeddings()(input_ids)  # (batch, seq, embedding)
    batch = embeds.shape[0]
    prompt = module.peftal_prompt.embedding.to(embeds.dtype)  # (length, embedding)
    length = prompt.shape[0]
    kwargs["inputs_embeds"] = torch.cat([prompt.unsqueeze(0).expand(batch, -1, -1), embeds], dim=1)
    if kwargs.get("attention_mask") is not None:
        mask = kwargs["attention_mask"]
        kwargs["attention_mask"] = torch.cat([mask.new_ones(batch, length), mask], dim=1)
    if kwargs.get("token_type_ids") is not None:
        types = kwargs["token_type_ids"]
        kwargs["token_type_ids"] = torch.cat([types.new_zeros(batch, length), types], dim=1)
    kwargs.pop("position_ids", None)
    return args, kwargs


def add_soft_prompt(encoder: nn.Module, length: int) -> None:
    size = encoder.get_input_embeddings().embedding_dim
    encoder.peftal_prompt = SoftPrompt(length, size)
    encoder.register_forward_pre_hook(_prepend_prompt, with_kwargs=True)
