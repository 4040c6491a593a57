"""The claim tests against SciPy called independently here, and Holm against statsmodels or a hand
computation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from peftal.claims.statistics import claim_p_values, holm, one_sided_p


def test_beats_is_the_one_sided_paired_t_test():
    left, right = [0.82, 0.80, 0.86, 0.79], [0.70, 0.75, 0.71, 0.74]
    diffs = np.subtract(left, right)
    p, against = claim_p_values(left, right, ">")
    assert p == pytest.approx(stats.ttest_rel(left, right, alternative="greater").pvalue)
    # the same test written another way: the t statistic of the differences, by hand
    t = diffs.mean() / (diffs.std(ddof=1) / np.sqrt(len(diffs)))
    assert p == pytest.approx(stats.t.sf(t, df=len(diffs) - 1))
    assert against == pytest.approx(1 - p)
    assert claim_p_values(right, left, "<")[0] == pytest.approx(p)


def test_matches_is_tost_with_the_stated_margin():
    left, right = [0.81, 0.80, 0.83, 0.79], [0.80, 0.81, 0.82, 0.80]
    d, m = np.subtract(left, right), 0.02
    lower = stats.ttest_1samp(d, -m, alternative="greater").pvalue  # d > -m
    upper = stats.ttest_1samp(d, m, alternative="less").pvalue  # d < m
    p, against = claim_p_values(left, right, "=", margin=m)
    assert p == pytest.approx(max(lower, upper))
    outside = min(stats.ttest_1samp(d, m, alternative="greater").pvalue,
                  stats.ttest_1samp(d, -m, alternative="less").pvalue)
    assert against == pytest.approx(outside)
    # a wider band makes equivalence easier to show, never harder
    assert claim_p_values(left, right, "=", margin=0.05)[0] < p


def test_no_spread_is_decided_by_the_side_and_float_noise_is_no_spread():
    assert one_sided_p([0.1, 0.1, 0.1], "greater") == 0.0
    assert one_sided_p([0.1, 0.1, 0.1], "less") == 1.0
    stuck = 0.692 + np.array([0.0, 1e-16, -1e-16])  # a model at the majority class, three seeds
    assert one_sided_p(stuck - 0.692, "greater") == 1.0  # not a vanishing p from rounding


def test_wilcoxon_is_scipys():
    diffs = [0.1, 0.2, 0.3, 0.4, -0.05, 0.6]
    assert one_sided_p(diffs, "greater", "wilcoxon") == pytest.approx(
        stats.wilcoxon(diffs, alternative="greater").pvalue)


def test_holm_matches_statsmodels_or_the_hand_computation():
    p = [0.01, 0.04, 0.03, float("nan"), 0.005]
    # by hand: sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04 -> running
    # maximum 0.02, 0.03, 0.06, 0.06
    expected = [0.03, 0.06, 0.06, float("nan"), 0.02]
    np.testing.assert_allclose(holm(p), expected)
    try:
        from statsmodels.stats.multitest import multipletests
    except ImportError:
        return
    finite = [x for x in p if x == x]
    np.testing.assert_allclose(holm(finite), multipletests(finite, method="holm")[1])


def test_holm_caps_at_one_and_keeps_ties():
    np.testing.assert_allclose(holm([0.6, 0.6, 0.01]), [1.0, 1.0, 0.03])
    assert np.isnan(holm([float("nan")])).all()
