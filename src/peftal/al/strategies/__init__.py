"""Query strategies: one module per family, each registering itself in :data:`STRATEGIES`."""

from peftal.al.strategies import random, uncertainty  # noqa: F401  (import registers them)
from peftal.al.strategies.base import (
    STRATEGIES,
    Classifier,
    QueryStrategy,
    ScoringStrategy,
    parse_strategy,
    register_strategy,
    strategies_for,
)

__all__ = ["STRATEGIES", "Classifier", "QueryStrategy", "ScoringStrategy", "parse_strategy",
           "register_strategy", "strategies_for"]
