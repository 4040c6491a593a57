"""Active learning: strategies, the round engine, stopping criteria (a run's config, checks, set-up
and summary are the run kind's: :mod:`peftal.experiments.active_learning`)."""

from peftal.al.strategies import STRATEGIES, parse_strategy

__all__ = ["STRATEGIES", "parse_strategy"]
