"""Query strategies: one module per family, each registering itself in :data:`STRATEGIES`.

The import order of the family modules below is the listing order of ``peftal strategies``.
"""

from peftal.al.strategies import (  # noqa: F401, I001  (import registers them, in this order)
    random,
    uncertainty,
    bayesian,
    diversity,
    dal,
    cal,
    multilabel,
)
from peftal.al.strategies.base import (
    STRATEGIES,
    Classifier,
    QueryStrategy,
    ScoringStrategy,
    parse_strategy,
    register_strategy,
    strategies_for,
)
from peftal.al.strategies.subsampling import PoolSubsampling

__all__ = ["STRATEGIES", "Classifier", "PoolSubsampling", "QueryStrategy", "ScoringStrategy",
           "parse_strategy", "register_strategy", "strategies_for"]
