"""Stopping criteria on hand-made predictions."""

from __future__ import annotations

import numpy as np
import pytest

from peftal.al.stopping import (
    STOPPING_CRITERIA,
    RoundState,
    agreement_kappa,
    check_criteria,
    draw_stop_set,
    parse_criterion,
)
from peftal.errors import UsageError


def _probs(labels, num_classes=3):
    """Confident probabilities whose argmax is ``labels``."""
    probs = np.full((len(labels), num_classes), 0.05)
    probs[np.arange(len(labels)), labels] = 1 - 0.05 * (num_classes - 1)
    return probs


def _run(criterion, sequence):
    return [criterion.stop(RoundState(round_index=r, probs=_probs(p))) for r, p in enumerate(sequence)]


def test_registry():
    assert STOPPING_CRITERIA.names() == ["max_rounds", "overall_uncertainty", "classification_change",
                                         "kappa_average"]


def test_max_rounds():
    criterion = parse_criterion("max_rounds[rounds=3]")
    assert [criterion.stop(RoundState(round_index=r)) for r in range(4)] == [False, False, True, True]
    assert criterion.preset == "max_rounds[rounds=3]"


def test_classification_change():
    # 10 stop-set predictions; changes between rounds: 3, 1, 0
    sequence = [[0] * 10, [1, 1, 1] + [0] * 7, [2, 1, 1] + [0] * 7, [2, 1, 1] + [0] * 7]
    assert _run(parse_criterion("classification_change"), sequence) == [False, False, False, True]
    assert _run(parse_criterion("classification_change[threshold=0.1]"), sequence) == \
        [False, False, True, True]


def test_kappa_average_by_hand():
    a = np.array([0, 0, 1, 1])
    b = np.array([0, 1, 1, 1])  # observed agreement 3/4, chance (1/2·1/4 + 1/2·3/4) = 1/2
    assert agreement_kappa(a, b, 3) == pytest.approx(0.5)
    assert agreement_kappa(a, a, 3) == 1.0
    assert agreement_kappa(np.zeros(4, int), np.zeros(4, int), 3) == 1.0  # 0/0 in the formula
    # kappas between successive rounds: 0.5, 1, 1, 1 → window means (from the 3rd) 0.833, 1
    criterion = parse_criterion("kappa_average")
    assert _run(criterion, [a, b, b, b, b]) == [False, False, False, False, True]
    assert criterion.kappas_ == pytest.approx([0.5, 1.0, 1.0, 1.0])
    loose = parse_criterion("kappa_average[threshold=0.8,window=3]")
    assert _run(loose, [a, b, b, b, b]) == [False, False, False, True, True]


def test_overall_uncertainty_uses_the_unlabelled_part():
    uniform, confident = np.full((2, 4), 0.25), _probs([0, 3], num_classes=4)
    probs = np.concatenate([uniform, confident])
    criterion = parse_criterion("overall_uncertainty[threshold=0.5]")
    assert not criterion.stop(RoundState(0, probs, np.array([True, True, True, True])))
    # normalised entropy: 1 for the uniform rows, ~0.42 for the confident ones
    assert criterion.stop(RoundState(0, probs, np.array([False, False, True, True])))
    assert not criterion.stop(RoundState(0, probs, np.array([True, False, True, True])))


def test_stop_set_is_seeded_sorted_and_capped():
    assert draw_stop_set(100, seed=0).tolist() == list(range(100))
    first, again, other = draw_stop_set(10_000, 0), draw_stop_set(10_000, 0), draw_stop_set(10_000, 1)
    assert len(first) == 2000 and np.all(np.diff(first) > 0)
    assert first.tolist() == again.tolist() and first.tolist() != other.tolist()


@pytest.mark.parametrize("preset", ["never", "max_rounds[rounds=0]", "kappa_average[window=0]",
                                    "classification_change[threshold=2]", "max_rounds[turns=3]"])
def test_bad_presets(preset):
    with pytest.raises(UsageError):
        check_criteria([preset])


def test_regression_accepts_only_max_rounds():
    check_criteria(["max_rounds"], "regression")
    with pytest.raises(UsageError, match="kappa_average.*use one of: max_rounds"):
        check_criteria(["kappa_average"], "regression")
