"""A strategy never sees a label it should not: in a simulated run the gold labels of the
unlabelled pool are poisoned, and the real round engine runs every registered strategy through
three rounds without anything — strategy, training or evaluation — reading them."""

from __future__ import annotations

import numpy as np
import pytest

from peftal.al import engine
from peftal.al.strategies import STRATEGIES, parse_strategy
from peftal.data.dataset import Split, TaskData
from peftal.experiments.active_learning import RunConfig, round_plan
from peftal.training import TrainResult
from tests.unit.al.fakes import FakeClassifier

POOL = 200
WARM = np.arange(0, POOL, 10)


class Poisoned(np.ndarray):
    """Labels of which only the ``allowed`` entries (ids labelled so far) may be read."""

    def __array_finalize__(self, obj):
        self.allowed = getattr(obj, "allowed", None)

    def __getitem__(self, key):
        if self.allowed is not None:
            wanted = np.arange(len(self))[key]
            if not np.isin(wanted, list(self.allowed)).all():
                raise AssertionError("read the label of an unlabelled id")
        return np.asarray(super().__getitem__(key))


def poisoned_task(task: str = "classification") -> TaskData:
    """Class ``id % 4``; multi-label: the one-hot matrix of that class."""
    classes = np.arange(POOL) % 4
    labels = (np.eye(4, dtype=np.int64)[classes] if task == "multilabel" else classes).view(Poisoned)
    labels.allowed = set(WARM.tolist())
    test = np.arange(8) % 4
    return TaskData(name="poisoned", task=task, label_names=list("abcd"),
                    metrics=("accuracy",), train=Split([f"text {i}" for i in range(POOL)], labels),
                    test=Split(["t"] * 8, np.eye(4, dtype=np.int64)[test] if task == "multilabel" else test))


def test_the_poison_works():
    labels = poisoned_task().train.labels
    assert labels[WARM].tolist() == (WARM % 4).tolist()
    with pytest.raises(AssertionError):
        labels[[0, 1]]


@pytest.mark.parametrize("name", STRATEGIES.names())
@pytest.mark.parametrize("subsample", [None, 60])
def test_no_round_reads_an_unlabelled_label(name, subsample, monkeypatch):
    trained_on = []

    def fake_fit(spec, encoder, inputs, labeled, targets, train_config, **kwargs):
        trained_on.append(targets.tolist())
        return "model", TrainResult(seconds=0.0, steps=1)

    monkeypatch.setattr(engine, "fit_round", fake_fit)
    monkeypatch.setattr(engine, "count_parameters", lambda model: (1, 2))
    # logits +1 for the class of ``id % 4``, -1 elsewhere: right under argmax and under sigmoid >= 0.5
    monkeypatch.setattr(engine, "predict", lambda model, encoded, ids, **kw: np.eye(4)[ids % 4] * 2 - 1)
    kind = "multilabel" if "multilabel" in (STRATEGIES.get(name).tasks or ()) else "classification"
    monkeypatch.setattr(engine, "ModelClassifier", lambda *args, **kw: FakeClassifier(POOL, 4, task=kind))
    seen = []
    strategy = parse_strategy(name)
    original = type(strategy).query

    def spy(self, **kwargs):
        seen.append(kwargs)
        return original(self, **kwargs)

    monkeypatch.setattr(type(strategy), "query", spy)
    task = poisoned_task(kind)
    config = RunConfig(dataset="poisoned", warm_start=len(WARM), query_size=10, budget=50,
                       pool_subsample=subsample, cka_probe_size=0)
    setup = engine.RunSetup(plan=round_plan(config), task=task, method=None, strategy=strategy, device="cpu",
                            encoder=None, pool=None, test=None, train_config=None,
                            precision="fp32", num_rounds=4)
    state = engine.RunState(labeled=WARM)
    records = []
    for record in engine.run_rounds(setup, state, np.random.default_rng(0)):
        records.append(record)
        task.train.labels.allowed |= set(record.indices_queried)  # the oracle answers the query
    assert [r.num_labeled for r in records] == [20, 30, 40, 50]
    assert len(seen) == 3 and all("dataset" not in kwargs for kwargs in seen)
    for kwargs, targets in zip(seen, trained_on):
        expected = kwargs["indices_labeled"] % 4
        if kind == "multilabel":
            expected = np.eye(4, dtype=np.int64)[expected]
        assert kwargs["labels_labeled"].tolist() == targets == expected.tolist()
    assert records[-1].metrics == {"accuracy": 1.0}
