"""``peftal run --dry-run``: the plan of a run and an estimate of its time from a quick measurement.

Everything :func:`~peftal.experiments.active_learning.prepare` checks is checked; then one model is built (its
trainable parameters), a few training steps are timed on warm-start-sized batches and one scoring
batch on the pool, and the run's total is extrapolated from the number of steps and of scored
examples per round. Nothing is written.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np

from peftal.data.encoding import encode
from peftal.experiments.active_learning import RunConfig, prepare
from peftal.models.backbone import display_name, load_backbone
from peftal.peft import build_model, count_parameters
from peftal.peft.recipes import task_type
from peftal.peft.recipes import train_config as make_train_config
from peftal.training import predict
from peftal.training.device import resolve_device
from peftal.training.precision import resolve_precision

_MEASURE_STEPS = 3


def plan_run(config: RunConfig) -> dict[str, Any]:
    """The run's plan and its estimated seconds (``estimate_seconds``), measured on this machine."""
    task, method, strategy = prepare(config)
    device = resolve_device(config.device)
    precision = resolve_precision(config.precision, device)
    encoder, tokenizer = load_backbone(config.model)
    encoder = encoder.to(device)
    model = build_model(encoder, method, task.num_labels, pooling=config.pooling, seed=config.seed).to(device)
    trainable, total = count_parameters(model)
    rng = np.random.default_rng(config.seed)
    sample = rng.choice(len(task.train), size=min(len(task.train), _MEASURE_STEPS * config.batch_size),
                        replace=False)
    pool = encode(tokenizer, task.train.subset(sample), config.max_length)
    train_config = make_train_config(method, task_type(task.task, task.is_pair), config, epochs=1,
                                     batch_size=config.batch_size, precision=precision)
    local = np.arange(len(sample))
    start = time.perf_counter()
    result = method.fit(model, pool, local, task.train.labels[sample], train_config, task=task.task, rng=rng)
    step_seconds = (time.perf_counter() - start) / max(1, result.steps)
    start = time.perf_counter()
    predict(model, pool, local, precision=precision)
    example_seconds = (time.perf_counter() - start) / len(local)

    sizes = config.round_sizes()
    round_config = dataclasses.replace(train_config, epochs=config.epochs)
    steps = sum(method.num_steps(n, round_config) for n in sizes)
    scored = sum(min(len(task.train) - n, config.pool_subsample or len(task.train)) for n in sizes[:-1])
    scored *= getattr(strategy.strategy, "mc_samples", 1) if hasattr(strategy, "strategy") else 1
    evaluated = len(task.test) * len(sizes)
    if method.method.frozen_encoder:  # every example is embedded once per run and reused (PooledFeatures)
        scored, evaluated = min(scored, len(task.train)), len(task.test)
    estimate = steps * step_seconds + (scored + evaluated) * example_seconds
    return {"dataset": task.name, "model": display_name(config.model), "method": method.preset,
            "strategy": strategy.preset, "rounds": len(sizes), "labels_per_round": sizes,
            "pool": len(task.train), "test": len(task.test), "eval_split": task.eval_split,
            "classes": task.num_labels, "trainable_params": trainable, "total_params": total,
            "training_steps": steps, "scored_examples": scored, "step_seconds": step_seconds,
            "estimate_seconds": estimate}
