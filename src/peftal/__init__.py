"""peftal: active learning with parameter-efficient fine-tuning, for scarce labels and compute.

The public API (docs/python.md)::

    import peftal

    result = peftal.run(dataset="trec", method="lora", strategy="entropy", budget=200)
    result.learning_curve()            # [(num_labeled, accuracy), ...]
    result.predict(["How far is the moon?"])

Names are imported on first use, so ``import peftal`` (and the ``peftal`` command) stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

from peftal.version import __version__

# public name -> module that defines it
_PUBLIC = {
    "run": "peftal.api", "train": "peftal.api", "load_run": "peftal.api", "Run": "peftal.api",
    "RunConfig": "peftal.experiments.active_learning", "SupervisedConfig": "peftal.experiments.supervised",
    "PretrainConfig": "peftal.experiments.pretrain",
    "RoundRecord": "peftal.records", "EpochRecord": "peftal.records",
    "QueryStrategy": "peftal.al.strategies", "ScoringStrategy": "peftal.al.strategies",
    "Classifier": "peftal.al.strategies", "register_strategy": "peftal.al.strategies",
    "STRATEGIES": "peftal.al.strategies", "parse_strategy": "peftal.al.strategies",
    "PeftMethod": "peftal.peft", "register_method": "peftal.peft", "METHODS": "peftal.peft",
    "parse_method": "peftal.peft", "build_model": "peftal.peft",
    "DATASETS": "peftal.data", "load_task": "peftal.data", "TaskData": "peftal.data",
    "UsageError": "peftal.errors", "load_plugins": "peftal.plugins",
}

__all__ = ["__version__", *sorted(_PUBLIC)]


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'peftal' has no attribute {name!r}")
    value = getattr(importlib.import_module(_PUBLIC[name]), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return __all__
