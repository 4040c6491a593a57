"""The PEFT method plug-in contract and its registry.

A method is a frozen config dataclass plus ``apply(model, config)``, which adds the method's
parameters to a :class:`~peftal.models.TextClassifier` and leaves ``requires_grad`` set exactly on
them and on the task head. Methods register themselves by name next to their definition.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any, ClassVar

import torch
from torch import nn

from peftal.config import build_config, format_preset, parse_preset
from peftal.errors import UsageError
from peftal.models.heads import TextClassifier
from peftal.registry import Registry


@dataclasses.dataclass(frozen=True)
class NoConfig:
    """Methods without hyper-parameters."""


class PeftMethod:
    """Base class of a PEFT method.

    Class attributes:
        name: Registry name.
        description: One line for ``peftal methods``.
        reference: The paper it comes from.
        Config: Its frozen config dataclass (defaults documented on the fields).
        lr: Default learning rate of the method's own parameters.
        head_lr: Default learning rate of the task head.
        mergeable: Whether its weights can be folded into the backbone for inference.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    reference: ClassVar[str] = ""
    Config: ClassVar[type] = NoConfig
    lr: ClassVar[float]
    head_lr: ClassVar[float]
    mergeable: ClassVar[bool] = False

    def apply(self, model: TextClassifier, config: Any) -> None:
        """Add the method's parameters to ``model`` and set which parameters train."""
        raise NotImplementedError


METHODS: Registry[type[PeftMethod]] = Registry("method")


def register_method(cls: type[PeftMethod]) -> type[PeftMethod]:
    """Class decorator: register a :class:`PeftMethod` subclass under its ``name``."""
    return METHODS.register(cls.name)(cls)


@dataclasses.dataclass(frozen=True)
class MethodSpec:
    """A method with its resolved config, e.g. from the preset ``lora[r=16]``."""

    name: str
    config: Any

    @property
    def method(self) -> PeftMethod:
        return METHODS.get(self.name)()

    @property
    def preset(self) -> str:
        return format_preset(self.name, self.config)


def parse_method(preset: str) -> MethodSpec:
    """Resolve a preset string such as ``lora[r=16,alpha=32]``; bad names or keys raise UsageError."""
    name, overrides = parse_preset(preset)
    cls = METHODS.get(name)
    return MethodSpec(name, build_config(cls.Config, overrides, owner=name))


def build_model(encoder: nn.Module, spec: MethodSpec, num_outputs: int, *, pooling: str = "mean",
                seed: int = 0, task: str = "classification") -> nn.Module:
    """A fresh task model: a copy of the pretrained ``encoder`` (which stays untouched), a new head
    and the method's parameters, all initialised from ``seed``. ``task="qa"`` gives a
    :class:`~peftal.models.span.SpanExtractor` (``num_outputs`` is then ignored)."""
    from peftal.peft import backend

    method = spec.method
    if spec.name not in ("full", "bitfit") and not backend.supports(encoder):
        raise UsageError(f"method {spec.name!r} needs the adapters library, which does not support "
                         f"the {encoder.config.model_type!r} architecture; use full or bitfit")
    torch.manual_seed(seed)  # head and adapter initialisers draw from torch's global generator
    if task == "qa":
        from peftal.models.span import SpanExtractor

        model = SpanExtractor(copy.deepcopy(encoder))
    else:
        model = TextClassifier(copy.deepcopy(encoder), num_outputs, pooling=pooling)
    method.apply(model, spec.config)
    for parameter in model.head.parameters():
        parameter.requires_grad_(True)
    return model


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """``(trainable, total)`` parameter counts."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return trainable, total


def trainable_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The tensors a checkpoint must keep: every trainable parameter (the method's and the head's)."""
    return {name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad}
