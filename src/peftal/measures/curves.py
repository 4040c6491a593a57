"""Learning-curve summaries: AUC and relative improvement over passive learning (RIPL).

Follows Jukić & Šnajder (2023): the AUC is the trapezoid-rule area under the metric-vs-round curve
divided by the number of intervals, so a metric in [0, 1] gives an AUC in [0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def learning_curve_auc(values: Sequence[float]) -> float:
    """Normalised area under a learning curve of per-round metric ``values``.

    A single round has no interval; its AUC is that round's value.
    """
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        raise ValueError("a learning curve needs at least one round")
    if values.size == 1:
        return float(values[0])
    return float(np.trapezoid(values) / (values.size - 1))


def ripl(auc_al: float, auc_random: float) -> float:
    """Relative improvement over passive learning: ``(AUC_AL - AUC_random) / (1 - AUC_random)``."""
    if auc_random >= 1.0:
        return 0.0
    return (auc_al - auc_random) / (1.0 - auc_random)
