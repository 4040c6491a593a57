"""Value checks shared by the typed configs (run, train, pretrain, labelling project).

Each raises :class:`~peftal.errors.UsageError` naming the option and the bad value, so a config built
from the command line, a study file or a project's stored settings fails the same way.
"""

from __future__ import annotations

import math
from typing import Any

from peftal.errors import UsageError

MAX_SEED = 2**32 - 1  # the largest seed numpy's default_rng and torch's generators both take


def check_seed(value: Any, option: str = "--seed") -> None:
    """A seed is an integer in [0, 2**32 - 1]."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEED:
        raise UsageError(f"{option} must be an integer between 0 and {MAX_SEED}, got {value!r}")


def check_rate(value: Any, option: str) -> None:
    """A learning rate (or any optional positive real): ``None``, or finite and > 0."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not (
            math.isfinite(value) and value > 0):
        raise UsageError(f"{option} must be a finite number > 0, got {value!r}")
