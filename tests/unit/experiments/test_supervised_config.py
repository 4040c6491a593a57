"""`peftal train` settings are checked before any compute, each problem on one line."""

from __future__ import annotations

import pytest

from peftal.errors import UsageError
from peftal.experiments.supervised import SupervisedConfig, prepare


@pytest.mark.parametrize("kwargs, message", [
    ({"fraction": 0.0}, r"--fraction must lie in \(0, 1\], got 0.0"),
    ({"fraction": -1.0}, r"--fraction must lie in \(0, 1\]"),
    ({"fraction": 0.5, "num_train": 10}, "either --fraction or --num-train, not both"),
    ({"time_budget": -5.0}, "--time-budget must be a positive number of seconds, got -5.0"),
    ({"time_budget": 0.0}, "--time-budget must be a positive number"),
    ({"num_train": 0}, "--num-train must be >= 1"),
    ({"max_eval": 0}, "--max-eval must be >= 1"),
    ({"lr": -1e-3}, "--lr must be a finite number > 0"),
    ({"task": "ner"}, "unknown task 'ner'; valid tasks: classification, regression, multilabel, qa"),
    ({"task": "multilabel", "threshold": 1.0}, "--threshold must be between 0 and 1, got 1.0"),
    ({"dataset": "goemotions", "threshold": 0.0}, "--threshold must be between 0 and 1"),
])
def test_bad_settings(kwargs, message):
    with pytest.raises(UsageError, match=message):
        SupervisedConfig(**kwargs)


def test_prepare_checks_sizes_and_windows(data_dir):
    with pytest.raises(UsageError, match=r"--num-train \(99999\) is larger than the training split"):
        prepare(SupervisedConfig(dataset="trec", num_train=99999))
    with pytest.raises(UsageError, match="question answering needs --max-length >= 64"):
        prepare(SupervisedConfig(dataset="squad", max_length=32))
    with pytest.raises(UsageError, match="unknown method 'nope'"):
        prepare(SupervisedConfig(method="nope"))
    with pytest.raises(UsageError, match="--threshold applies to the multilabel task only"):
        prepare(SupervisedConfig(dataset="trec", threshold=0.5))
    assert prepare(SupervisedConfig(dataset="goemotions", num_train=50)).max_length == 128
    prepared = prepare(SupervisedConfig(dataset="squad", fraction=0.1))
    assert prepared.max_length == 384 and prepared.num_train == round(0.1 * len(prepared.task.train))


@pytest.mark.parametrize("kwargs, message", [
    ({"dataset": "trec", "dapt": True}, "dapt: 'trec' is not a built-in dataset of a text domain"),
    ({"dataset": "acl_arc", "method": "lora", "dapt": True, "tapt": True},
     "dapt and tapt together chain full fine-tuning only"),
    ({"dataset": "acl_arc", "dapt": True, "init_adapter": "x"}, "either tapt / dapt or init_adapter"),
    ({"dataset": "acl_arc", "dapt": True, "dapt_max_texts": 0}, "dapt_max_texts must be >= 1"),
])
def test_bad_pretraining_settings_of_a_study_cell(kwargs, message):
    from peftal.experiments.supervised_study import StudySupervisedConfig

    with pytest.raises(UsageError, match=message):
        StudySupervisedConfig(**kwargs)


def test_dapt_then_tapt_is_a_cell_of_full_fine_tuning():
    from peftal.experiments.supervised_study import StudySupervisedConfig

    cell = StudySupervisedConfig(dataset="acl_arc", method="full", dapt=True, tapt=True)
    assert cell.dapt and cell.tapt and cell.dapt_epochs == 1
