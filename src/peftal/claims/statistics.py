"""The tests behind a verdict: one-sided paired tests, TOST for equivalence, Holm's correction.

Every distribution comes from SciPy (``ttest_rel``, ``ttest_1samp``, ``wilcoxon``); only Holm's
step-down, a sort and a running maximum, is written here (statsmodels' ``multipletests`` does the
same, and the tests check against it where it is installed).

- ``>`` ("beats"): one-sided test of ``left - right > 0``; ``<`` mirrors it.
- ``= … within m`` ("matches", "comparable"): two one-sided tests (TOST, Schuirmann 1987) of
  ``d > -m`` and ``d < m``; the claim's p is the larger of the two. The claim is *not* that the
  difference is "not significant" — an underpowered test never makes a method equivalent.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats


def _flat(x: np.ndarray) -> bool:
    """No spread beyond float noise (a model stuck at the majority class gives 1e-16)."""
    return float(np.ptp(x)) <= 1e-12 * max(1.0, float(np.abs(x).max()))


def one_sided_p(x: Sequence[float], alternative: str, test: str = "t", popmean: float = 0.0) -> float:
    """p-value of "the mean (t) or the median (Wilcoxon) of ``x`` is > ``popmean``" (``greater``)
    or "< ``popmean``" (``less``).

    Values with no spread give 0 when they all lie on the claimed side, else 1 (the t statistic is
    infinite there and SciPy returns NaN).
    """
    x = np.asarray(x, dtype=float)
    if _flat(x):
        return 0.0 if (x[0] > popmean if alternative == "greater" else x[0] < popmean) else 1.0
    if test == "wilcoxon":
        return float(stats.wilcoxon(x - popmean, alternative=alternative).pvalue)
    return float(stats.ttest_1samp(x, popmean, alternative=alternative).pvalue)


def paired_p(left: Sequence[float], right: Sequence[float], alternative: str, test: str = "t") -> float:
    """One-sided paired p of ``left - right`` (``scipy.stats.ttest_rel`` / ``wilcoxon``)."""
    left, right = np.asarray(left, dtype=float), np.asarray(right, dtype=float)
    if _flat(left - right):
        return one_sided_p(left - right, alternative, test)
    if test == "wilcoxon":
        return float(stats.wilcoxon(left, right, alternative=alternative).pvalue)
    return float(stats.ttest_rel(left, right, alternative=alternative).pvalue)


def claim_p_values(left: Sequence[float], right: Sequence[float], op: str, *, margin: float = 0.0,
                   test: str = "t") -> tuple[float, float]:
    """``(p of the claim, p of its opposite)`` for ``left op right`` over paired values.

    For ``=`` the claim is TOST's ``-m < d < m`` (the larger of the two one-sided p) and the
    opposite is "outside the band" (the smaller of ``d > m`` and ``d < -m``).
    """
    d = np.asarray(left, dtype=float) - np.asarray(right, dtype=float)
    if op == "=":
        p_claim = max(one_sided_p(d, "greater", test, -margin), one_sided_p(d, "less", test, margin))
        p_against = min(one_sided_p(d, "greater", test, margin), one_sided_p(d, "less", test, -margin))
        return p_claim, p_against
    direction, opposite = ("greater", "less") if op == ">" else ("less", "greater")
    return paired_p(left, right, direction, test), paired_p(left, right, opposite, test)


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm-adjusted p-values (Holm 1979), in the input order; NaN stays NaN and is not counted.

    The ``k``-th smallest of ``m`` p-values is multiplied by ``m - k + 1``, made non-decreasing
    along the sorted order and capped at 1; rejecting where the adjusted p < alpha controls the
    family-wise error rate at alpha.
    """
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full(p.shape, np.nan)
    finite = np.flatnonzero(~np.isnan(p))
    if finite.size == 0:
        return adjusted
    order = finite[np.argsort(p[finite], kind="stable")]
    m = order.size
    scaled = np.minimum(1.0, p[order] * (m - np.arange(m)))
    adjusted[order] = np.maximum.accumulate(scaled)
    return adjusted
