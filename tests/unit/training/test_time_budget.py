"""The trainer's wall-clock budget (checked every step) and pluggable batch losses."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from peftal.peft import build_model, parse_method
from peftal.training import TrainConfig, train
from tests.conftest import random_encoded, tiny_encoder


def _model(num_outputs=2):
    return build_model(tiny_encoder("bert"), parse_method("lora"), num_outputs, seed=0)


def test_budget_stops_after_the_step_that_spends_it(monkeypatch):
    """A fake clock that advances one second per optimiser step: a 3.5 s budget allows 4 steps."""
    clock = [0.0]
    monkeypatch.setattr(time, "perf_counter", lambda: clock[0])
    encoded = random_encoded(64)
    steps = []

    def on_step():
        steps.append(clock[0])
        clock[0] += 1.0

    config = TrainConfig(epochs=5, batch_size=8, time_budget=3.5)
    result = train(_model(), encoded, np.arange(64), np.arange(64) % 2, config, task="classification",
                   rng=np.random.default_rng(0), on_step=on_step)
    assert result.stopped_by_budget and result.steps == 4 == len(steps)
    assert result.epochs == []  # the first epoch (8 steps) never completed
    assert result.seconds == 4.0 and result.max_step_seconds == 1.0


def test_budget_aware_schedule_anneals_by_the_end_of_the_budget(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(time, "perf_counter", lambda: clock[0])
    lrs = []
    model = _model()

    def on_step():
        clock[0] += 1.0

    original_step = torch.optim.AdamW.step

    def spy(self, *args, **kwargs):
        lrs.append(self.param_groups[0]["lr"])
        return original_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "step", spy)
    config = TrainConfig(epochs=100, batch_size=8, lr=1e-3, warmup_ratio=0.0, time_budget=10)
    train(model, random_encoded(64), np.arange(64), np.arange(64) % 2, config, task="classification",
          rng=np.random.default_rng(0), on_step=on_step)
    # 800 planned steps; the rate of the 10th step is set after the 9th, 8 of the 10 seconds in,
    # so 20% of the schedule remains (a step-based schedule would still be at 99%).
    assert len(lrs) == 10
    assert lrs[0] == 1e-3 and lrs[-1] == pytest.approx(0.2e-3)
    assert all(a >= b for a, b in zip(lrs, lrs[1:], strict=False))


def test_no_budget_runs_every_epoch_and_regression_records_no_accuracy():
    encoded = random_encoded(24)
    targets = np.linspace(0, 5, 24).astype(np.float32)
    result = train(_model(1), encoded, np.arange(24), targets, TrainConfig(epochs=2, batch_size=8),
                   task="regression", rng=np.random.default_rng(0))
    assert not result.stopped_by_budget and result.steps == 6 and len(result.epochs) == 2
    assert "train_accuracy" not in result.epochs[0] and result.correct.size == 0


def test_a_custom_batch_loss_replaces_the_task_loss():
    calls = []

    def batch_loss(model, batch, positions):
        calls.append(len(positions))
        return model(**batch).pow(2).mean(), None

    result = train(_model(), random_encoded(20), np.arange(20), None, TrainConfig(epochs=1, batch_size=8),
                   task="anything", rng=np.random.default_rng(0), batch_loss=batch_loss)
    assert sorted(calls) == [4, 8, 8] and result.steps == 3  # batches come in shuffled order
