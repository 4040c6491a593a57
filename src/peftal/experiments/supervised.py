"""One supervised training run (``peftal train``): a data fraction or a time budget, then evaluation.

The setting of the BitFit study (Doering et al. 2024): train a method on a seeded, stratified
fraction of the training split (``--fraction`` / ``--num-train``) or for a wall-clock budget
(``--time-budget``, checked every step), then evaluate the model as it is on the test split, or on
the validation split where the dataset has no labelled test split. Classification, multi-label and
regression go through the same round as active learning (:func:`peftal.al.rounds.fit_round`: for
multi-label a sigmoid head with binary cross-entropy, and per-label thresholds cross-validated on the
training subset, never on the evaluation split); extractive QA adds the span head and SQuAD metrics.

The output folder is laid out like an AL run's (:mod:`peftal.experiments.run_folder`): ``results.sqlite``
(kind ``supervised``, one round holding the training ids), ``model/`` for ``peftal predict``, and
``summary.json`` written last.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from peftal.data import TaskData, load_task
from peftal.data.options import DataOptions
from peftal.data.qa import QATask, load_qa
from peftal.data.sampling import sample_training_ids, subset_size
from peftal.defaults import DEFAULT_METHOD
from peftal.errors import UsageError
from peftal.experiments.model_card import card_facts
from peftal.experiments.run_folder import (
    RUN_ID,
    check_out_dir,
    complete_run,
    model_meta,
    recorded_run,
    thresholds_meta,
)
from peftal.models.backbone import display_name, load_backbone, skeleton
from peftal.models.limits import check_max_length
from peftal.models.options import TrainingOptions
from peftal.peft import MethodSpec, count_parameters, parse_method
from peftal.peft.checkpoint import save_checkpoint
from peftal.peft.pretrained_adapter import check_init_adapter
from peftal.peft.recipes import RecipeOptions, task_type
from peftal.peft.recipes import train_config as make_train_config
from peftal.records import RoundRecord, epochs_of
from peftal.seeding import stream_rng
from peftal.training import compute_metrics, predict
from peftal.training.metrics import above_chance

DEFAULT_MAX_LENGTH = {"classification": 128, "multilabel": 128, "regression": 128, "qa": 384}


@dataclass(frozen=True)
class SupervisedConfig(DataOptions, TrainingOptions, RecipeOptions):
    """Everything that defines one ``peftal train`` run: its options (generated from this class;
    each field below, and those of the option blocks it inherits, is ``--field-name``, with this
    text as its help). The training options (model, epochs, batch size, max length, seed,
    pooling) are :class:`~peftal.models.options.TrainingOptions`, with other defaults here.

    Attributes:
        dataset: Built-in name or path to a file/folder.
        method: PEFT method preset, e.g. ``lora[r=16]``.
        fraction: Train on this share (0, 1] of the training split, seeded and stratified by class.
        num_train: Or on this many training examples (QA: questions) (default: all).
        time_budget: Stop training after this many seconds (checked every step), then evaluate.
        init_adapter: Start the method's weights from a ``peftal pretrain`` adapter folder.
        max_eval: Evaluate on a seeded sample of this many evaluation examples (quick checks).
        threshold: Multi-label: predict a label where its probability is at least this (e.g.
            0.5); default: per-label thresholds chosen by 3-fold cross-validation on the training
            subset (3 extra fits).
    """

    dataset: str = "trec"
    method: str = DEFAULT_METHOD
    fraction: float | None = None
    num_train: int | None = None
    time_budget: float | None = None
    epochs: int = 3
    # the default's help: said here, where the default is decided (per task, by DEFAULT_MAX_LENGTH)
    max_length: int | None = field(default=None, metadata={
        "default_help": "128; question answering: 384, long contexts cut into overlapping windows"})
    init_adapter: str | None = None
    max_eval: int | None = None
    threshold: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.threshold is not None and not 0 < self.threshold < 1:
            raise UsageError(f"--threshold must be between 0 and 1, got {self.threshold}")
        if self.fraction is not None and self.num_train is not None:
            raise UsageError("give either --fraction or --num-train, not both")
        if self.fraction is not None and not 0 < self.fraction <= 1:
            raise UsageError(f"--fraction must lie in (0, 1], got {self.fraction}")
        if self.time_budget is not None and not self.time_budget > 0:
            raise UsageError(f"--time-budget must be a positive number of seconds, got {self.time_budget}")
        for name in ("num_train", "max_eval"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise UsageError(f"--{name.replace('_', '-')} must be >= 1, got {value}")


@dataclass
class Prepared:
    """The checked inputs of a run: data, method, subset size and token limit."""

    task: TaskData | QATask
    method: MethodSpec
    num_train: int
    max_length: int


def prepare(config: SupervisedConfig) -> Prepared:
    """Load and check everything before any compute; every problem is a one-line UsageError."""
    method = parse_method(config.method)
    check_cell(config, method)
    return check_data(config, method, load_train_task(config))


def check_cell(config: SupervisedConfig, method: MethodSpec) -> None:
    """The checks that need no data: the backbone and the adapter to start from."""
    method.method.check_backbone(skeleton(config.model), method.config)
    if config.init_adapter is not None:
        check_init_adapter(config.init_adapter, method.preset, config.model)


def load_train_task(config: SupervisedConfig) -> TaskData | QATask:
    """The dataset of ``config``: a QA dataset, or a labelled one read with the data options."""
    from peftal.data import DATASETS

    builtin = DATASETS.get(config.dataset) if config.dataset in DATASETS else None
    if (builtin and builtin.task == "qa") or config.task == "qa":
        return load_qa(config.dataset, hub_id=builtin.hub_id if builtin else None)
    return load_task(config.dataset, seed=config.seed, **config.load_options())


def check_data(config: SupervisedConfig, method: MethodSpec, task: TaskData | QATask) -> Prepared:
    """The checks of ``config`` against its loaded ``task``; the checked inputs of the run."""
    method.check_task(task.task)
    if config.threshold is not None and task.task != "multilabel":
        raise UsageError("--threshold applies to the multilabel task only")
    num_train = subset_size(len(task.train), fraction=config.fraction, num_train=config.num_train)
    max_length = config.max_length or DEFAULT_MAX_LENGTH[task.task]
    if task.task == "qa":
        from peftal.data.qa_encoding import window_sizes

        window_sizes(max_length)  # raises for windows too short to hold a question and context
    check_max_length(config.model, max_length, method.config)
    return Prepared(task, method, num_train, max_length)


def execute_train(config: SupervisedConfig, out: Path, *, overwrite: bool = False,
                  progress: bool = True) -> dict[str, Any]:
    """Run ``config`` and write its outputs into ``out``; returns the summary."""
    check_out_dir(out, overwrite)
    prepared = prepare(config)  # every input check happens before the folder is touched
    with recorded_run(out, "supervised", dataclasses.asdict(config), config.seed) as store:
        summary, model, record, extra_meta = fit_prepared(config, prepared, progress)
        store.add_round(RUN_ID, record)
        task = prepared.task
        meta = model_meta(
            model=config.model, method=prepared.method.preset, task=task.task,
            label_names=getattr(task, "label_names", None),
            num_outputs=2 if task.task == "qa" else task.num_labels, pooling=config.pooling,
            max_length=prepared.max_length, text_column=config.text_column,
            text_pair_column=config.text_pair_column, is_pair=getattr(task, "is_pair", False),
            no_header=config.no_header,
        )
        save_checkpoint(model, out / "model", {**meta, **extra_meta},
                        card_facts(summary, getattr(task, "source", None)))
        answers = record.artifacts.get("qa_predictions")
        if answers is not None:  # question id -> answer, the official script's prediction format
            (out / "predictions.json").write_text(json.dumps(answers, indent=1))
        complete_run(store, out, summary)
    return summary


def fit_prepared(config: SupervisedConfig, prepared: Prepared,
                 progress: bool) -> tuple[dict[str, Any], Any, RoundRecord, dict[str, Any]]:
    """Train and evaluate a prepared run: ``(summary, model, record, extra model metadata)``."""
    fit = _fit_qa if prepared.task.task == "qa" else _fit_text
    return fit(config, prepared, progress)


def _fit_text(config: SupervisedConfig, prepared: Prepared, progress: bool):
    """Train and evaluate a classification, multi-label or regression task."""
    from peftal.data.encoding import encode

    task: TaskData = prepared.task
    # the training subset keeps every class's or label's share (multi-label: iterative stratification)
    ids = sample_training_ids(len(task.train), prepared.num_train, np.random.default_rng(config.seed),
                              task.train.labels if task.task in ("classification", "multilabel") else None)
    # the evaluation sample: stratified by class; multi-label and regression samples are uniform
    eval_ids = _eval_ids(config, len(task.test), task.test.labels if task.task == "classification" else None)
    encoder, tokenizer = load_backbone(config.model)
    train_encoded = encode(tokenizer, task.train.subset(ids), prepared.max_length)
    test = task.test.subset(eval_ids)
    model, result, train_config = _train(config, prepared, encoder, train_encoded,
                                         task.train.labels[ids], progress, num_outputs=task.num_labels)
    eval_start = time.perf_counter()
    outputs = predict(model, encode(tokenizer, test, prepared.max_length), np.arange(len(test)),
                      train_config.eval_batch_size)
    # multi-label: cut at the thresholds chosen on the training subset, as `peftal predict` cuts
    metrics = compute_metrics(task.metrics, test.labels, outputs, task.task,
                              getattr(model, "thresholds", None))
    learned, chance = above_chance(test.labels, outputs, task.task, getattr(model, "thresholds", None))
    record = _record(ids, metrics, result, time.perf_counter() - eval_start, learned=learned,
                     chance=chance)
    summary = _summary(config, prepared, model, result, metrics, len(test))
    summary.update(learned=learned, chance=chance)
    return summary, model, record, thresholds_meta(model)


def _fit_qa(config: SupervisedConfig, prepared: Prepared, progress: bool):
    """Train a span extractor on QA questions and evaluate it with SQuAD exact match and F1."""
    from peftal.data.qa_encoding import encode_qa, window_sizes
    from peftal.training.qa import MAX_ANSWER_LENGTH, N_BEST, evaluate_qa, span_loss

    task: QATask = prepared.task
    ids = sample_training_ids(len(task.train), prepared.num_train, np.random.default_rng(config.seed))
    test = task.test.subset(_eval_ids(config, len(task.test), None))
    encoder, tokenizer = load_backbone(config.model)
    features = encode_qa(tokenizer, task.train.subset(ids), prepared.max_length, with_targets=True)
    model, result, train_config = _train(config, prepared, encoder, features.encoded, None, progress,
                                         num_outputs=2, batch_loss=span_loss(features.targets))
    eval_start = time.perf_counter()
    test_features = encode_qa(tokenizer, test, prepared.max_length, with_targets=False)
    metrics, answers = evaluate_qa(model, test_features, test, train_config.eval_batch_size)
    record = _record(ids, metrics, result, time.perf_counter() - eval_start,
                     num_train_items=len(features),
                     artifacts={"qa_predictions": dict(zip(test.ids, answers, strict=True))})
    summary = _summary(config, prepared, model, result, metrics, len(test))
    summary["split"] = task.split_note
    summary["num_train_features"] = len(features)
    max_query, stride = window_sizes(prepared.max_length)
    qa_meta = {"doc_stride": stride, "max_query_length": max_query, "n_best": N_BEST,
               "max_answer_length": MAX_ANSWER_LENGTH, "text_column": "question",
               "text_pair_column": "context"}
    return summary, model, record, qa_meta


def _eval_ids(config: SupervisedConfig, num_eval: int, labels: np.ndarray | None) -> np.ndarray:
    """All evaluation examples, or a seeded sample of ``--max-eval`` of them (its own generator, so
    the training subset does not depend on it)."""
    size = min(config.max_eval or num_eval, num_eval)
    return sample_training_ids(num_eval, size, stream_rng(config.seed, "eval_sample"), labels)


def _train(config: SupervisedConfig, prepared: Prepared, encoder, encoded, targets, progress: bool, *,
           num_outputs: int, batch_loss=None):
    """The run as one round (:func:`peftal.al.rounds.fit_round`): ``(model, result, train_config)``.
    Its batch order comes from the ``batches`` stream of the seed plan (:mod:`peftal.seeding`), so
    that it does not depend on how the training subset was drawn (``default_rng(seed)``)."""
    from tqdm.auto import tqdm

    from peftal.al.rounds import fit_round

    train_config = make_train_config(prepared.method,
                                     task_type(prepared.task.task, getattr(prepared.task, "is_pair", False)),
                                     config, epochs=config.epochs, batch_size=config.batch_size,
                                     time_budget=config.time_budget)
    steps = prepared.method.num_steps(len(encoded), train_config)
    # a frozen encoder (head) embeds each example once, not again in each threshold fold
    inputs = prepared.method.method.inputs(encoder, encoded, pooling=config.pooling,
                                           precision=train_config.precision)
    with tqdm(total=steps, disable=None if progress else True, unit="step", leave=False,
              desc=f"{prepared.task.name} {prepared.method.preset}") as bar:
        model, result = fit_round(prepared.method, encoder, inputs, np.arange(len(encoded)), targets,
                                  train_config, task=prepared.task.task, num_outputs=num_outputs,
                                  pooling=config.pooling, seed=config.seed,
                                  device=next(encoder.parameters()).device, on_step=bar.update,
                                  init_adapter=config.init_adapter,
                                  rng=stream_rng(config.seed, "batches"), batch_loss=batch_loss,
                                  threshold=config.threshold)
    return model, result, train_config


def _record(ids: np.ndarray, metrics: dict[str, float], result, eval_seconds: float,
            **more: Any) -> RoundRecord:
    """The run as one round of the results store: the training ids are its labelled set."""
    return RoundRecord(round=0, num_labeled=len(ids), metrics=metrics, train_seconds=result.seconds,
                       eval_seconds=eval_seconds, epochs=epochs_of(result.epochs), indices_added=ids,
                       correct=result.correct, correct_ids=ids, steps=result.steps,
                       stopped_by_budget=result.stopped_by_budget, converged=result.converged,
                       convergence=result.convergence, **more)


def _summary(config: SupervisedConfig, prepared: Prepared, model, result, metrics: dict[str, float],
             num_eval: int) -> dict[str, Any]:
    trainable, total = count_parameters(model)
    task = prepared.task
    return {
        "dataset": task.name,
        "model": display_name(config.model),
        "method": prepared.method.preset,
        "seed": config.seed,
        "fraction": config.fraction,
        "num_train": prepared.num_train,
        "time_budget": config.time_budget,
        "train_seconds": result.seconds,
        "epochs_completed": len(result.epochs),
        "trainable_params": trainable,
        "total_params": total,
        "metrics": metrics,
        "eval_split": task.eval_split,
        "task": task.task,
        "num_eval": num_eval,
        "steps": result.steps,
        "stopped_by_budget": result.stopped_by_budget,
        "converged": result.converged,
        "convergence": result.convergence,
        "max_step_seconds": result.max_step_seconds,
        "init_adapter": config.init_adapter,
        "config": {**dataclasses.asdict(config), "max_length": prepared.max_length},
    }

