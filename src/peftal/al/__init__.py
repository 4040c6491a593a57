"""Active learning: strategies, the loop, stopping criteria."""

from peftal.al.loop import RunConfig, prepare, run_active_learning
from peftal.al.strategies import STRATEGIES, parse_strategy

__all__ = ["STRATEGIES", "RunConfig", "parse_strategy", "prepare", "run_active_learning"]
