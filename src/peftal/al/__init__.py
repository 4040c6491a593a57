"""Active learning: strategies, the round engine, stopping criteria (a run's set-up and summary are
the run kind's: :mod:`peftal.experiments.active_learning`)."""

from peftal.al.loop import RunConfig, prepare
from peftal.al.strategies import STRATEGIES, parse_strategy

__all__ = ["STRATEGIES", "RunConfig", "parse_strategy", "prepare"]
