"""The training options every command that trains a model shares (``peftal run``, ``train``,
``pretrain``, ``label start``): written once here, with their help and checks. A command's config
inherits them and may give a field another default (an AL round trains 10 epochs, ``peftal train``
3), which its help then shows; the options themselves are generated from this class
(:func:`peftal.cli.config_options.add_field_options`), so they parse alike everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from peftal.errors import UsageError
from peftal.validation import check_seed

POOLINGS = ("mean", "cls")  # how a head reads the last layer (peftal.models.heads)


@dataclass(frozen=True)
class TrainingOptions:
    """Which encoder trains, and how.

    Attributes:
        model: HF model id or local path, e.g. a ``peftal pretrain --method full`` folder
            (default: the packaged all-MiniLM-L6-v2).
        epochs: Passes over the training texts (per round of an AL run, per retrain of the
            labelling app; an upper limit with a time budget).
        batch_size: Training batch size.
        max_length: Tokens per text; longer texts are truncated.
        seed: Seed of every random choice the command makes (data subsets and orders,
            initialisation, batches, dropout, queries).
        pooling: How a classification or regression head reads the last layer: ``mean`` of the
            tokens or the first token (``cls``).
    """

    model: str | None = None
    epochs: int = 10
    batch_size: int = 16
    max_length: int | None = 128
    seed: int = 0
    pooling: str = "mean"

    def __post_init__(self) -> None:
        getattr(super(), "__post_init__", lambda: None)()  # the other option blocks' checks
        for name in ("epochs", "batch_size", "max_length"):
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int):
                raise UsageError(f"--{name.replace('_', '-')} must be an integer, got {value!r}")
            if value < 1:
                raise UsageError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
        check_seed(self.seed)
        if self.pooling not in POOLINGS:
            raise UsageError(f"--pooling must be one of {', '.join(POOLINGS)}, got {self.pooling!r}")
