"""The convergence criterion on hand-made epoch records: each rule can pass and fail."""

from __future__ import annotations

import numpy as np
import pytest

from peftal.records import EpochRecord, all_converged
from peftal.training.convergence import converged


def _epochs(*pairs):
    return [{"epoch": i, "loss": loss, **({} if acc is None else {"train_accuracy": acc})}
            for i, (loss, acc) in enumerate(pairs)]


# 7 of 10 labels are class 0: the majority share is 0.7, so "halfway to 1" is 0.85
TARGETS = np.array([0] * 7 + [1] * 3)


def test_classification_needs_accuracy_halfway_from_the_majority_share():
    ok, reason = converged(_epochs((0.7, 0.6), (0.3, 0.9)), task="classification", targets=TARGETS)
    assert ok is True and "0.850" in reason
    ok, _ = converged(_epochs((0.7, 0.6), (0.5, 0.8)), task="classification", targets=TARGETS)
    assert ok is False


def test_a_model_at_the_majority_class_has_not_converged():
    at_majority = TARGETS == 0  # right exactly where the label is the majority class
    ok, reason = converged(_epochs((0.6, 0.7), (0.6, 0.7)), task="classification", targets=TARGETS,
                           correct_last=at_majority)
    assert ok is False and "one class" in reason
    # the same accuracy with mistakes on both classes is not a collapse, only too low
    mixed = at_majority.copy()
    mixed[[0, 7]] = ~mixed[[0, 7]]
    ok, reason = converged(_epochs((0.6, 0.7), (0.6, 0.7)), task="classification", targets=TARGETS,
                           correct_last=mixed)
    assert ok is False and "training accuracy" in reason


# Multi-label: 10 texts over 3 labels; the label set {0} is the most frequent (5 of 10), so "halfway
# to 1" in subset accuracy is 0.75
LABEL_SETS = np.array([[1, 0, 0]] * 5 + [[0, 1, 0]] * 2 + [[1, 0, 1]] * 2 + [[0, 0, 0]])


def test_multilabel_needs_subset_accuracy_halfway_from_the_most_frequent_label_set():
    ok, reason = converged(_epochs((0.6, 0.5), (0.2, 0.8)), task="multilabel", targets=LABEL_SETS)
    assert ok is True and "subset accuracy" in reason and "0.750" in reason
    ok, _ = converged(_epochs((0.6, 0.5), (0.2, 0.7)), task="multilabel", targets=LABEL_SETS)
    assert ok is False
    # a model that predicts {0} for every text is right exactly on those 5 texts
    at_common_set = (LABEL_SETS == [1, 0, 0]).all(axis=1)
    ok, reason = converged(_epochs((0.6, 0.5), (0.5, 0.5)), task="multilabel", targets=LABEL_SETS,
                           correct_last=at_common_set)
    assert ok is False and "one label set" in reason
    # a loss that rises at the end fails whatever the accuracy
    ok, reason = converged(_epochs((0.2, 0.9), (0.5, 0.9)), task="multilabel", targets=LABEL_SETS)
    assert ok is False and "unstable" in reason


def test_a_loss_that_rises_at_the_end_is_unstable():
    ok, reason = converged(_epochs((0.5, 0.9), (0.1, 1.0), (0.4, 0.95)), task="classification",
                           targets=TARGETS)
    assert ok is False and "unstable" in reason
    # within 10% of the best (or 0.02 absolute near zero) it is stable
    assert converged(_epochs((0.5, 0.9), (0.10, 1.0), (0.109, 1.0)), task="classification",
                     targets=TARGETS)[0] is True
    assert converged(_epochs((0.5, 0.9), (0.001, 1.0), (0.015, 1.0)), task="classification",
                     targets=TARGETS)[0] is True
    # or 5% of the descent from the first epoch: a TREC LoRA round that fell from 1.79 to 0.037
    # and ended at 0.057 (a wobble near zero, not a blow-up)
    assert converged(_epochs((1.788, 0.2), (0.0366, 1.0), (0.0574, 1.0)), task="classification",
                     targets=TARGETS)[0] is True
    assert converged(_epochs((1.788, 0.2), (0.0366, 1.0), (0.13, 1.0)), task="classification",
                     targets=TARGETS)[0] is False


def test_regression_explains_half_the_training_variance():
    targets = np.array([0.0, 1.0, 2.0, 3.0, 4.0])  # variance 2.0
    assert converged(_epochs((3.0, None), (0.9, None)), task="regression", targets=targets)[0] is True
    assert converged(_epochs((3.0, None), (1.1, None)), task="regression", targets=targets)[0] is False


def test_qa_and_mlm_thresholds():
    assert converged(_epochs((4.0, None), (0.8, None)), task="qa")[0] is True
    assert converged(_epochs((4.0, None), (1.5, None)), task="qa")[0] is False
    assert converged(_epochs((3.0, None), (2.8, None)), task="mlm")[0] is True  # 6.7% lower
    assert converged(_epochs((3.0, None), (2.9, None)), task="mlm")[0] is False  # 3.3% lower
    assert converged(_epochs((3.0, None)), task="mlm")[0] is None  # one epoch: unknown


def test_nothing_to_judge_is_unknown_and_epoch_records_work_too():
    assert converged([], task="classification", targets=TARGETS) == (None, "no completed epoch")
    records = [EpochRecord(0, loss=0.7, train_accuracy=0.95)]
    assert converged(records, task="classification", targets=TARGETS)[0] is True
    with pytest.raises(ValueError, match="task"):
        converged(records, task="tagging")


def test_all_converged_is_false_on_any_failure_and_unknown_on_any_gap():
    assert all_converged([True, True]) is True
    assert all_converged([True, None, False]) is False
    assert all_converged([True, None]) is None
    assert all_converged([]) is None
    assert all_converged([np.True_, float("nan")]) is None and all_converged([np.False_]) is False


def test_a_budget_that_cuts_the_first_epoch_is_no_convergence():
    from peftal.training import TrainResult

    cut = TrainResult(stopped_by_budget=True).judge_convergence("classification", TARGETS)
    assert cut.converged is False and "first epoch" in cut.convergence
    assert TrainResult().judge_convergence("classification", TARGETS).converged is None
    fitted = TrainResult(epochs=[{"epoch": 0, "loss": 0.2, "train_accuracy": 0.9}],
                         correct=np.ones((1, 10), dtype=bool)).judge_convergence("classification", TARGETS)
    assert fitted.converged is True
