"""Every built-in dataset spec agrees with its local copy (../shared/data): task, labels, pairs, splits."""

from __future__ import annotations

import numpy as np
import pytest

from peftal.data import DATASETS, load_task
from peftal.data.qa import load_qa
from peftal.training.metrics import METRICS

# Datasets whose local copy has no labelled test split: they are evaluated on validation.
NO_TEST = {"rte", "cola"}


@pytest.mark.parametrize("name", DATASETS.names())
def test_spec_matches_the_local_copy(name, data_dir):
    spec = DATASETS.get(name)
    if spec.task == "qa":
        task = load_qa(name, hub_id=spec.hub_id)
        assert spec.metrics == ("exact_match", "f1") and len(task.train) and len(task.test)
        return
    task = load_task(name)
    assert task.task == spec.task and task.metrics == spec.metrics
    assert all(metric in METRICS for metric in spec.metrics)
    assert task.is_pair == spec.text_pair
    assert task.eval_split == ("validation" if name in NO_TEST else "test")
    if spec.task == "classification":
        assert task.label_names == list(spec.labels)
        # Every class of the spec occurs in the training split.
        assert set(np.unique(task.train.labels)) == set(range(len(spec.labels)))
    elif spec.task == "multilabel":
        assert task.label_names == list(spec.labels)
        assert task.train.labels.shape == (len(task.train), len(spec.labels))
        assert set(np.unique(task.train.labels)) == {0, 1} and task.train.labels.sum(0).min() > 0
    else:
        assert task.train.labels.dtype == np.float32
        assert 0 <= task.train.labels.min() and task.train.labels.max() <= 5
