"""PEFT methods: one module per family, each registering itself in :data:`METHODS`."""

from peftal.peft import full, lora  # noqa: F401  (import registers the methods)
from peftal.peft.base import (
    METHODS,
    MethodSpec,
    PeftMethod,
    build_model,
    count_parameters,
    parse_method,
    register_method,
    trainable_state,
)

__all__ = [
    "METHODS",
    "MethodSpec",
    "PeftMethod",
    "build_model",
    "count_parameters",
    "parse_method",
    "register_method",
    "trainable_state",
]
