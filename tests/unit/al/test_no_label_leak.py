"""A strategy never sees a label it should not: in a simulated run the gold labels of the
unlabelled pool are poisoned, and every registered strategy queries through the loop without
anything reading them."""

from __future__ import annotations

import numpy as np
import pytest

from peftal.al import loop
from peftal.al.strategies import STRATEGIES, parse_strategy
from peftal.data.dataset import Split, TaskData
from tests.unit.al.fakes import FakeClassifier

POOL = 200
LABELED = np.arange(0, POOL, 4)


class Poisoned(np.ndarray):
    """Labels whose unlabelled entries raise when anything reads them."""

    def __array_finalize__(self, obj):
        self.secret = getattr(obj, "secret", None)

    def __getitem__(self, key):
        wanted = np.arange(len(self))[key] if self.secret is not None else None
        if wanted is not None and np.isin(wanted, self.secret).any():
            raise AssertionError(f"read the label of unlabelled ids {np.intersect1d(wanted, self.secret)}")
        return np.asarray(super().__getitem__(key))


def poisoned_task() -> TaskData:
    labels = (np.arange(POOL) % 4).view(Poisoned)
    labels.secret = np.setdiff1d(np.arange(POOL), LABELED)
    texts = [f"text {i}" for i in range(POOL)]
    return TaskData(name="poisoned", task="classification", label_names=list("abcd"),
                    metrics=("accuracy",), train=Split(texts, labels),
                    test=Split(["t"], np.zeros(1, dtype=np.int64)))


def test_the_poison_works():
    task = poisoned_task()
    assert task.train.labels[LABELED].tolist() == (LABELED % 4).tolist()
    with pytest.raises(AssertionError):
        task.train.labels[[0, 1]]


@pytest.mark.parametrize("name", STRATEGIES.names())
@pytest.mark.parametrize("subsample", [None, 60])
def test_no_strategy_reads_an_unlabelled_label(name, subsample, monkeypatch):
    monkeypatch.setattr(loop, "ModelClassifier", lambda model, pool, task, precision: FakeClassifier(
        POOL, num_classes=4))
    seen = {}
    strategy = parse_strategy(name)
    original = type(strategy).query

    def spy(self, **kwargs):
        seen.update(kwargs)
        return original(self, **kwargs)

    monkeypatch.setattr(type(strategy), "query", spy)
    config = loop.RunConfig(dataset="poisoned", warm_start=50, query_size=10, budget=60,
                            pool_subsample=subsample)
    queried, _ = loop._query(strategy, config, poisoned_task(), None, None, LABELED, 10,
                             np.random.default_rng(0))
    assert len(set(queried.tolist())) == 10 and not np.isin(queried, LABELED).any()
    assert "dataset" not in seen and seen["labels_labeled"].tolist() == (LABELED % 4).tolist()
