"""One active-learning experiment: warm start, then train → evaluate → query until the budget.

Protocol of Jukić & Šnajder (2023): every round retrains from the pretrained weights (the encoder
is loaded once and copied), the head always trains, and the test split is evaluated every round
for the learning curve only; nothing is selected by its test score. ``--warm-restart`` continues
each round from the previous round's model instead; ``--stop`` ends the run early when a stopping
criterion (:mod:`peftal.al.stopping`) fires.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from peftal.al.stopping import check_criteria
from peftal.al.strategies import parse_strategy, strategies_for
from peftal.al.warm_start import random_warm_start, stratified_warm_start
from peftal.data import TaskData, load_task
from peftal.data.builtin import has_pairs
from peftal.defaults import default_method
from peftal.errors import UsageError
from peftal.models.backbone import skeleton
from peftal.models.heads import POOLINGS
from peftal.models.limits import check_max_length
from peftal.peft import parse_method
from peftal.training.device import resolve_device
from peftal.training.precision import resolve_precision
from peftal.validation import check_rate, check_seed


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines one AL run: the options of ``peftal run`` (generated from this
    class: each field below is ``--field-name``, with this text as its help).

    Attributes:
        dataset: Built-in name or path to a file/folder.
        model: HF model id or local path (default: the packaged all-MiniLM-L6-v2).
        method: PEFT method preset, e.g. ``lora`` or ``lora[r=16,alpha=32]`` (default: ``ia3``;
            ``lora`` for text pairs).
        strategy: Query strategy preset, e.g. ``entropy`` or ``mc_dropout[passes=10]``.
        warm_start: Labels drawn at random before the first round.
        query_size: Labels the strategy picks per round.
        budget: Total labels, warm start included; the run ends when it is spent.
        epochs: Training epochs per round.
        lr: Learning rate of the method's parameters (default: the method's own).
        head_lr: Learning rate of the task head (default: the method's own).
        batch_size: Training batch size.
        max_length: Texts are truncated to this many tokens.
        seed: Seed of every random choice (warm start, batches, initialisation, dropout).
        pooling: How the head reads the last layer: ``mean`` of the tokens or the first token
            (``cls``).
        pool_subsample: Score only this many random unlabelled examples per round (default: the
            whole pool).
        cka_probe_size: Test examples for the layer-wise CKA between the pretrained and the final
            encoder (0 = no CKA; stored as the ``cka`` artifact, see ``peftal analyze``; not measured
            for a method that keeps the encoder frozen, whose CKA is 1 by construction).
        cka_every_round: Measure CKA after every round, not only the last.
        stratified_warm_start: Draw a class-balanced warm start.
        warm_restart: Continue each round from the previous round's model (a fresh optimiser and
            schedule) instead of retraining from the pretrained weights.
        stop: End the run early when this stopping criterion fires (repeatable), e.g.
            ``kappa_average`` or ``max_rounds[rounds=3]``.
        text_column: Column holding the text: a name, or a 0-based position with ``--no-header``.
        text_pair_column: Column holding the second text of sentence pairs (default: none).
        label_column: Column holding the label: a name, or a 0-based position with ``--no-header``.
        task: Task of a local file: ``classification`` (default), ``regression``, or ``multilabel``
            (several labels per text: a list per row, ``--label-separator`` or ``--label-columns``).
        no_header: CSV/TSV files have no header row (default: the first row names the columns);
            give columns as 0-based positions, e.g. ``--text-column 1 --label-column 2`` for
            id,text,label rows.
        unlabeled_values: A label value that means "no label" (repeatable), besides an empty
            label and -1 in an otherwise non-negative integer column; such rows are not a class
            and are left out of a simulated run.
        min_class_count: Drop classes with fewer than this many training examples (default: keep
            all; classes with 1-2 examples get a warning).
        label_separator: Multi-label files: a label cell joins several labels with this string
            (e.g. ``,``).
        label_columns: Multi-label files: one 0/1 column per label, comma-separated names (e.g.
            ``toxic,obscene,insult``); they replace ``--label-column``.
        threshold: Multi-label: predict a label where its probability is at least this (e.g.
            0.5); default: per-label thresholds chosen by 3-fold cross-validation on the labelled
            set each round (3 extra fits per round).
        init_adapter: Start the method's weights from a ``peftal pretrain`` adapter folder.
        precision: ``auto``, ``fp32`` or ``bf16`` (autocast of training and inference); ``auto``
            = bf16 where the CPU (AMX) or GPU has bf16 matrix units, else fp32.
        group_by_length: Training batches of examples of similar length (less padding).
        device: ``auto`` (a CUDA GPU when torch sees one, else the CPU), ``cpu``, ``cuda`` or
            ``cuda:N``; ``precision="auto"`` then resolves for that device.
        acquisition_method: Query with a model of this method preset every round (e.g. ``head``: a
            linear probe on frozen embeddings, seconds a round) and train ``method`` only in the
            last round and every ``acquisition_every`` rounds (default: query with the main
            model; :mod:`peftal.al.acquisition`).
        acquisition_every: With ``acquisition_method``, also train the main method every this
            many rounds.
    """

    dataset: str = "trec"
    model: str | None = None
    method: str | None = None
    strategy: str = "entropy"
    warm_start: int = 100
    query_size: int = 50
    budget: int = 300
    epochs: int = 10
    lr: float | None = None
    head_lr: float | None = None
    batch_size: int = 16
    max_length: int = 128
    seed: int = 0
    pooling: str = "mean"
    pool_subsample: int | None = None
    cka_probe_size: int = 500
    cka_every_round: bool = False
    stratified_warm_start: bool = False
    warm_restart: bool = False
    stop: tuple[str, ...] = ()
    text_column: str = "text"
    text_pair_column: str | None = None
    label_column: str = "label"
    task: str | None = None
    no_header: bool = False
    unlabeled_values: tuple[str, ...] = ()
    min_class_count: int = 0
    label_separator: str | None = None  # multi-label data options
    label_columns: str | None = None
    threshold: float | None = None
    init_adapter: str | None = None
    precision: str = "auto"
    group_by_length: bool = True
    device: str = "auto"
    acquisition_method: str | None = None
    acquisition_every: int | None = None

    @property
    def method_preset(self) -> str:
        """The method this run trains: ``method``, or the default for its data when none is named."""
        if self.method is not None:
            return self.method
        return default_method(has_pairs(self.dataset, self.text_pair_column))

    def __post_init__(self) -> None:
        resolve_precision(self.precision)  # checks the names before any compute
        resolve_device(self.device)
        for name in ("warm_start", "query_size", "budget", "epochs", "batch_size", "max_length"):
            if getattr(self, name) < 1:
                raise UsageError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if self.budget <= self.warm_start:
            raise UsageError(f"--budget ({self.budget}) must be larger than --warm-start "
                             f"({self.warm_start})")
        for name in ("lr", "head_lr"):
            check_rate(getattr(self, name), f"--{name.replace('_', '-')}")
        check_seed(self.seed)
        if self.pooling not in POOLINGS:
            raise UsageError(f"--pooling must be one of {', '.join(POOLINGS)}, got {self.pooling!r}")
        if self.pool_subsample is not None and self.pool_subsample < 1:
            raise UsageError(f"--pool-subsample must be >= 1, got {self.pool_subsample}")
        if self.cka_probe_size < 0 or self.cka_probe_size == 1:
            raise UsageError(f"--cka-probe-size must be 0 (no CKA) or >= 2, got {self.cka_probe_size}")
        object.__setattr__(self, "stop", tuple(self.stop))  # a list from the CLI or a YAML file
        object.__setattr__(self, "unlabeled_values", tuple(str(v) for v in self.unlabeled_values))
        if self.threshold is not None and not 0 < self.threshold < 1:
            raise UsageError(f"--threshold must be between 0 and 1, got {self.threshold}")
        if self.min_class_count < 0:
            raise UsageError(f"--min-class-count must be >= 0, got {self.min_class_count}")
        check_criteria(self.stop)
        self._check_acquisition()

    def _check_acquisition(self) -> None:
        if self.acquisition_every is not None and self.acquisition_every < 1:
            raise UsageError(f"--acquisition-every must be >= 1, got {self.acquisition_every}")
        if self.acquisition_every is not None and self.acquisition_method is None:
            raise UsageError("--acquisition-every needs --acquisition-method")
        if self.acquisition_method is not None and self.stop:
            raise UsageError("--stop does not combine with --acquisition-method (the main model trains "
                             "only in some rounds)")


def draw_warm_start(task: TaskData, config: RunConfig, rng: np.random.Generator) -> np.ndarray:
    """The labelled ids before the first round: uniform, or class-balanced with
    ``stratified_warm_start``."""
    if config.stratified_warm_start:
        return stratified_warm_start(task.train.labels, config.warm_start, rng)
    return random_warm_start(len(task.train), config.warm_start, rng)


def prepare(config: RunConfig) -> tuple[TaskData, Any, Any]:
    """Load and check everything a run needs before any compute; returns (task, method, strategy)."""
    method = parse_method(config.method_preset)
    strategy = parse_strategy(config.strategy)
    task = load_run_task(config)
    check_run(config, task, method, strategy)
    return task, method, strategy


def load_run_task(config: RunConfig) -> TaskData:
    """The dataset of ``config``, loaded with its column and label options."""
    return load_task(config.dataset, text_column=config.text_column,
                     text_pair_column=config.text_pair_column, label_column=config.label_column,
                     task=config.task, seed=config.seed, no_header=config.no_header,
                     unlabeled_values=config.unlabeled_values, min_class_count=config.min_class_count,
                     label_separator=config.label_separator, label_columns=label_columns(config))


def label_columns(config: RunConfig) -> tuple[str, ...]:
    """``--label-columns a,b,c`` as a tuple of column names."""
    return tuple(c.strip() for c in (config.label_columns or "").split(",") if c.strip())


def check_run(config: RunConfig, task: TaskData, method: Any, strategy: Any) -> None:
    """Every check of ``config`` against its loaded ``task`` (``peftal run`` and ``peftal study
    validate`` both call it); raises :class:`UsageError` naming the first problem."""
    if task.task == "regression" and strategy.needs_probabilities:
        raise UsageError(f"strategy {strategy.name!r} needs class probabilities and does not apply to "
                         f"the regression task {task.name!r}; use one of: "
                         f"{', '.join(strategies_for('regression'))}")
    if strategy.name not in strategies_for(task.task):
        kind = "several labels per text" if task.task == "multilabel" else "one label per text"
        raise UsageError(f"strategy {strategy.name!r} does not apply to the {task.task} task "
                         f"{task.name!r} ({kind}); use one of: {', '.join(strategies_for(task.task))}")
    if config.init_adapter is not None:
        from peftal.peft.pretrained_adapter import check_init_adapter

        check_init_adapter(config.init_adapter, method.preset, config.model)
    check_criteria(config.stop, task.task)
    method.check_task(task.task)
    if config.acquisition_method is not None:
        parse_method(config.acquisition_method).check_task(task.task)
    method.method.check_backbone(skeleton(config.model), method.config)
    check_max_length(config.model, config.max_length, method.config)
    if config.stratified_warm_start and task.task in ("regression", "multilabel"):
        raise UsageError("--stratified-warm-start needs one class per text; it does not apply to the "
                         f"{task.task} task {task.name!r}")
    if config.threshold is not None and task.task != "multilabel":
        raise UsageError("--threshold applies to the multilabel task only")
    if config.budget > len(task.train):
        raise UsageError(f"--budget ({config.budget}) is larger than the pool of {task.name!r} "
                         f"({len(task.train)} training examples)")
