"""PEFT methods: one module per family, each registering itself in :data:`METHODS`."""

# Importing a family's module registers its methods; this order is the order of `peftal methods`.
# isort: off
from peftal.peft import full, bitfit, bottleneck, lora, prefix, prompt, ia3, unipelt  # noqa: F401
from peftal.peft import lora_variants  # noqa: F401
from peftal.peft import head, setfit  # noqa: F401
# isort: on
from peftal.peft.base import (
    METHODS,
    LibraryMethod,
    MethodSpec,
    OwnMethod,
    PeftMethod,
    build_model,
    count_parameters,
    parse_method,
    register_method,
    trainable_state,
)

__all__ = [
    "METHODS",
    "LibraryMethod",
    "MethodSpec",
    "OwnMethod",
    "PeftMethod",
    "build_model",
    "count_parameters",
    "parse_method",
    "register_method",
    "trainable_state",
]
