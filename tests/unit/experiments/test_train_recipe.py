"""Training-recipe options: a step budget (min_steps) and a linear-probe-initialised head (LP-FT)."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

from peftal.al.rounds import fit_round
from peftal.peft import build_model, parse_method
from peftal.training import TrainConfig, embed
from tests.conftest import random_encoded, tiny_encoder


def _fit(config, n=40, method="lora"):
    return fit_round(parse_method(method), tiny_encoder(), random_encoded(n), np.arange(n),
                     np.arange(n) % 3, config, task="classification", num_outputs=3, pooling="mean",
                     seed=0, device=torch.device("cpu"))


def test_min_steps_raises_the_epochs_of_a_small_labelled_set():
    config = TrainConfig(epochs=2, batch_size=8, min_steps=23)  # 5 steps an epoch on 40 examples
    _, result = _fit(config)
    assert config.epochs_for(40) == 5 and result.steps == 25 and len(result.epochs) == 5
    assert parse_method("lora").num_steps(40, config) == 25  # progress bars agree
    assert TrainConfig(epochs=8, batch_size=8, min_steps=23).epochs_for(40) == 8  # never fewer


def test_linear_probe_init_starts_the_head_at_the_logistic_regression_fit():
    # lr 0: the head stays where the probe put it, which must equal scikit-learn's fit on the
    # embeddings of the model as built (computed here without peftal's probe code)
    config = TrainConfig(epochs=1, batch_size=8, lr=0.0, head_lr=0.0, linear_probe_init=True)
    model, _ = _fit(config)
    fresh = build_model(tiny_encoder(), parse_method("lora"), 3, seed=0)
    vectors = embed(fresh, random_encoded(40), np.arange(40)).astype(np.float64)
    reference = LogisticRegression(C=1.0, max_iter=1000).fit(vectors, np.arange(40) % 3)
    np.testing.assert_allclose(model.head.weight.detach().numpy(), reference.coef_, atol=1e-4)
    np.testing.assert_allclose(model.head.bias.detach().numpy(), reference.intercept_, atol=1e-4)


def test_time_budget_counts_the_linear_probe_fit(monkeypatch):
    """A fake clock: the probe's fit takes 2 s, each optimiser step 1 s. Under a 3.5 s budget the
    run takes 2 steps, not the 4 it would if the probe were free time."""
    import time

    import peftal.peft.base as base

    clock = [0.0]
    monkeypatch.setattr(time, "perf_counter", lambda: clock[0])
    probe = base.fit_linear_head

    def slow_probe(*args, **kwargs):
        clock[0] += 2.0
        return probe(*args, **kwargs)

    def on_step():
        clock[0] += 1.0

    monkeypatch.setattr(base, "fit_linear_head", slow_probe)
    config = TrainConfig(epochs=5, batch_size=8, linear_probe_init=True, time_budget=3.5)
    _, result = fit_round(parse_method("lora"), tiny_encoder(), random_encoded(40), np.arange(40),
                          np.arange(40) % 3, config, task="classification", num_outputs=3,
                          pooling="mean", seed=0, device=torch.device("cpu"), on_step=on_step)
    assert result.stopped_by_budget and result.steps == 2
    assert result.seconds == 4.0 and result.max_step_seconds == 1.0  # the probe is no step
