"""The PEFT method plug-in contract and its registry.

A method is a frozen config dataclass plus ``apply(model, config)``, which adds the method's
parameters to a :class:`~peftal.models.TextClassifier` and leaves ``requires_grad`` set exactly on
them and on the task head. Methods register themselves by name next to their definition; the
contract tests (tests/unit/peft/test_contract.py) run on every registered method.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import time
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from peftal.config import build_config, format_preset, parse_preset
from peftal.errors import UsageError
from peftal.models.heads import TextClassifier
from peftal.peft import arch, backend
from peftal.peft.linear_probe import HeadConfig, fit_linear_head
from peftal.registry import Registry
from peftal.seeding import torch_seeded
from peftal.training.trainer import TrainConfig, TrainResult, embed, train


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
        lr: Default learning rate of the method's own parameters (the evidence is in docs/methods.md).
        head_lr: Default learning rate of the task head (chosen the same way).
        recipes: Task type (``classification``, ``pair``, ``regression``, ``qa``) ->
            :class:`~peftal.peft.recipes.Recipe`; a task type it lacks trains with ``lr``,
            ``head_lr`` and no step floor (:func:`~peftal.peft.recipes.resolve_recipe`).
        padding_invariant: Whether an example's output is independent of the padding in its batch
            (true of every method whose layers respect the attention mask).
        frozen_encoder: Whether the trained model's encoder is the pretrained one, unchanged (only the
            head trains). Runs then compute each example's pooled embedding once
            (:class:`~peftal.training.features.PooledFeatures`) and hand those to :meth:`fit`,
            prediction and the strategies in every round.
        tasks: The tasks it serves (``classification``, ``multilabel``, ``regression``, ``qa``).
    """

    name: ClassVar[str]
    description: ClassVar[str]
    reference: ClassVar[str] = ""
    Config: ClassVar[type] = NoConfig
    lr: ClassVar[float | None]
    head_lr: ClassVar[float | None]
    recipes: ClassVar[dict[str, Any]] = {}
    padding_invariant: ClassVar[bool] = True
    frozen_encoder: ClassVar[bool] = False
    tasks: ClassVar[tuple[str, ...]] = ("classification", "multilabel", "regression", "qa")

    def apply(self, model: TextClassifier, config: Any) -> None:
        """Add the method's parameters to ``model`` and set which parameters train."""
        raise NotImplementedError

    def unsupported(self, encoder: nn.Module, config: Any) -> str | None:
        """Why the method cannot apply to ``encoder`` (a short reason), or ``None`` when it can
        (default: it always can)."""
        return None

    def check_backbone(self, encoder: nn.Module, config: Any) -> None:
        """Raise a one-line :class:`UsageError` naming the method, the architecture and the methods
        that do apply, if the method cannot apply to ``encoder``."""
        reason = self.unsupported(encoder, config)
        if reason is not None:
            raise UsageError(f"method {self.name!r} does not apply to the {arch.model_type(encoder)!r} "
                             f"architecture ({reason}); methods that do: {applicable_methods(encoder)}")

    def fit(self, model: nn.Module, config: Any, encoded: Any, indices: np.ndarray, targets: np.ndarray,
            train_config: TrainConfig, *, task: str, rng: np.random.Generator,
            on_step: Callable[[], None] | None = None) -> TrainResult:
        """Train ``model`` (built by :func:`build_model`) on the examples ``indices`` of ``encoded``
        with ``targets``. Default: the gradient trainer (:func:`~peftal.training.train`) with
        ``train_config``; the ``head`` and ``setfit`` methods fit differently."""
        started = time.perf_counter()
        if train_config.linear_probe_init and task in ("classification", "multilabel"):
            # LP-FT: the head starts as a linear probe of the features the method starts from; its
            # embedding pass and fit count against a time budget like the steps after it
            fit_linear_head(model, embed(model, encoded, indices), targets, task=task,
                            config=HeadConfig())
        return train(model, encoded, indices, targets, train_config, task=task, rng=rng, on_step=on_step,
                     started=started)

    def inputs(self, encoder: nn.Module, encoded: Any, *, pooling: str = "mean",
               precision: str = "fp32") -> Any:
        """What a run hands to :meth:`fit`, prediction and the strategies for the examples of
        ``encoded``: the token ids, or, when the method keeps the encoder frozen, the pretrained
        ``encoder``'s pooled embeddings, each computed once and reused in every round."""
        if not self.frozen_encoder:
            return encoded
        from peftal.training.features import PooledFeatures

        return PooledFeatures(TextClassifier(encoder, 1, pooling=pooling), encoded, precision=precision)

    def num_steps(self, config: Any, num_examples: int, train_config: TrainConfig) -> int:
        """How many times :meth:`fit` calls ``on_step`` on ``num_examples`` examples (progress bars)."""
        return -(-num_examples // train_config.batch_size) * train_config.epochs_for(num_examples)

    def for_inference(self, model: TextClassifier) -> None:
        """Turn a trained model into the form that is evaluated, queried with and saved (default: as
        it is). Called after training and again when a checkpoint is rebuilt, before its weights load.
        """

    def owns(self, name: str) -> bool:
        """Whether the encoder parameter called ``name`` (as in ``encoder.named_parameters()``) is one
        of the method's own, i.e. trains under it. The contract tests hold ``apply`` to this."""
        raise NotImplementedError


def _no_layout(encoder: nn.Module) -> str | None:
    if arch.model_type(encoder) not in arch.ARCHITECTURES:
        return f"peftal knows the layers of {', '.join(sorted(arch.ARCHITECTURES))}"
    return None


class LibraryMethod(PeftMethod):
    """A method built by Hugging Face ``peft`` behind :mod:`peftal.peft.backend`.

    Subclasses say which ``peft`` config they stand for, in :meth:`library_config`, given the
    encoder's :class:`~peftal.peft.arch.LayerMap` (for the target modules). The encoder is wrapped in
    a ``peft`` model, so the saved ``model/`` folder is a standard peft adapter folder.
    """

    def library_config(self, config: Any, layout: arch.LayerMap, encoder: nn.Module) -> Any:
        """The ``peft`` config object for this method's ``config`` on an encoder laid out as ``layout``."""
        raise NotImplementedError

    def apply(self, model: TextClassifier, config: Any) -> None:
        layout = arch.ARCHITECTURES[arch.model_type(model.encoder)]
        model.encoder = backend.attach(model.encoder, self.library_config(config, layout, model.encoder))

    def unsupported(self, encoder: nn.Module, config: Any) -> str | None:
        return _no_layout(encoder)

    def owns(self, name: str) -> bool:
        return backend.owns(name)


class OwnMethod(PeftMethod):
    """A method written in peftal (:mod:`peftal.peft.modules`): its modules hang off the encoder's
    own layers under names starting with ``peftal_``, so the base weights keep their names."""

    def unsupported(self, encoder: nn.Module, config: Any) -> str | None:
        return _no_layout(encoder)

    def owns(self, name: str) -> bool:
        return any(part.startswith("peftal_") for part in name.split("."))


def applicable_methods(encoder: nn.Module) -> str:
    """The registered methods (with default presets) that apply to ``encoder``, e.g. ``full, bitfit``."""
    names = [name for name in METHODS.names()
             if METHODS.get(name)().unsupported(encoder, METHODS.get(name).Config()) is None]
    return ", ".join(names)


METHODS: Registry[type[PeftMethod]] = Registry("method")


def register_method(cls: type[PeftMethod]) -> type[PeftMethod]:
    """Class decorator: register a :class:`PeftMethod` subclass under its ``name``."""
    return METHODS.register(cls.name)(cls)


@dataclasses.dataclass(frozen=True)
class MethodSpec:
    """A method with its resolved config, e.g. from the preset ``lora[r=16]``."""

    name: str
    config: Any

    @functools.cached_property
    def method(self) -> PeftMethod:
        """The method's instance, built once per spec (methods hold no state)."""
        return METHODS.get(self.name)()

    def fit(self, model: nn.Module, encoded: Any, indices: np.ndarray, targets: np.ndarray,
            train_config: TrainConfig, **kwargs: Any) -> TrainResult:
        """:meth:`PeftMethod.fit` with this spec's config."""
        return self.method.fit(model, self.config, encoded, indices, targets, train_config, **kwargs)

    def num_steps(self, num_examples: int, train_config: TrainConfig) -> int:
        """:meth:`PeftMethod.num_steps` with this spec's config."""
        return self.method.num_steps(self.config, num_examples, train_config)

    def check_task(self, task: str) -> None:
        """A one-line :class:`UsageError` if the method does not serve ``task``."""
        tasks = self.method.tasks
        if task not in tasks:
            raise UsageError(f"method {self.name!r} does not apply to the {task} task; it serves: "
                             f"{', '.join(tasks)}")

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
    method = spec.method
    method.check_backbone(encoder, spec.config)  # a clear error before anything is built or trained
    with torch_seeded(seed):  # head and adapter initialisers draw from torch's global generator
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
