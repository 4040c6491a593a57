"""A labelling project: a folder holding its SQLite store, and the settings it was created with.

``PROJECT/project.sqlite`` holds everything (texts, labels, settings, ranking), so the project
does not depend on the imported file staying where it was. Creating a project reads and checks
the data before anything is written, and builds the store under a temporary name that is renamed
into place only when complete: a failed ``start`` never leaves a half-made project behind.
"""

from __future__ import annotations

import dataclasses
import itertools
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from peftal.data.options import TextOptions
from peftal.defaults import DEFAULT_METHOD
from peftal.errors import UsageError
from peftal.integrity import check_sqlite
from peftal.label.store import STORE_NAME, LabelStore
from peftal.models.options import TrainingOptions
from peftal.peft.recipes import RecipeOptions
from peftal.store.atomic import atomic_path
from peftal.validation import check_rate

COLD_STARTS = ("random", "kmeans")
_MAX_LABEL_LENGTH = 60

# Beyond this many texts a retrain scores a random sample of this size unless --pool-subsample
# says otherwise: scoring with the PEFT model runs at a few hundred texts a second on a CPU, so a
# whole pool of a million would hold every retrain's suggestions back by an hour.
LARGE_POOL = 10_000

# Each text handed out is the strategy's best of this many random texts (--candidates). Chosen by
# an offline replay of the probe on the validation splits of SUBJ, SST-2, ChemProt and SciERC
# (never TREC or AG News, the replay benchmark's datasets), 10 seeds, 1,000 texts each, K in
# {0, 3, 5, 10} (benchmarks/label_serving.py, code 4fd45bd): K = 3 raised the share of right
# suggestions on the texts served after 20 and 50 labels from .380 / .431 (K = 0, the plain order)
# to .471 / .488, the most of the four, and left the probe's accuracy on the texts not labelled
# where it was (.618 vs .615 after 50 labels, .656 vs .657 after 100); docs/labelling.md, "Which
# texts are served".
DEFAULT_CANDIDATES = 3

# Settings fixed at creation: they define what the stored ids and labels mean.
FIXED = ("labels", "text_column", "text_pair_column", "no_header", "data", "seed", "multi_label")


@dataclass(frozen=True)
class LabelSettings(TextOptions, TrainingOptions, RecipeOptions):
    """Everything ``peftal label start`` is configured with (stored in the project). The options
    every command shares come from their blocks, with their help and checks: the texts' columns
    (:class:`~peftal.data.options.TextOptions`), the training of every retrain
    (:class:`~peftal.models.options.TrainingOptions`: model, epochs, batch size, max length,
    pooling, and the seed, which also seeds the cold-start order and every query) and the recipe
    (:class:`~peftal.peft.recipes.RecipeOptions`: ``lr``, ``head_lr``, ``min_steps``; default: the
    method's own).

    Attributes:
        labels: The label names, in button / shortcut order.
        data: The file the texts were imported from (kept for the record only).
        method: PEFT method preset retrained in the background, e.g. ``lora``.
        strategy: Query strategy preset that ranks the pool after each retrain.
        query_size: Retrain after this many new labels.
        budget: Labels wanted in all; ``None`` = the whole pool. Nothing is handed out beyond it.
        cold_start: ``random`` (seeded order) or ``kmeans`` (the examples nearest to k-means
            centres of the base model's embeddings come first) until a first model exists.
        cv_folds: Folds of the cross-validation that estimates the model's accuracy on the labels
            so far (0 = none).
        pool_subsample: Score only this many random unlabelled examples per retrain; ``None``: the
            whole pool up to ``LARGE_POOL`` texts, ``LARGE_POOL`` random ones beyond
            (:meth:`scored_pool`).
        candidates: Each text handed out is the strategy's best of this many texts drawn at
            random from the ranked pool (:func:`peftal.label.probe.serving_order`); 0: the
            strategy's order over the whole pool; 1: a random order.
        lease_seconds: How long an example handed to one annotator is kept from the others.
        overlap: Fraction of the texts (0 to 1, chosen by a seeded order) that two different
            annotators label each, to measure their agreement (:mod:`peftal.label.agreement`).
        multi_label: Each text takes any number of the labels (check boxes; a sigmoid head; the
            label sets stored as :mod:`peftal.label.label_sets` says); else exactly one.
    """

    labels: tuple[str, ...] = ()  # a default only because the recipe options before it have one
    data: str = ""
    method: str = DEFAULT_METHOD
    strategy: str = "entropy"
    query_size: int = 20
    budget: int | None = None
    cold_start: str = "random"
    cv_folds: int = 5
    pool_subsample: int | None = None
    candidates: int = DEFAULT_CANDIDATES
    lease_seconds: float = 600.0
    overlap: float = 0.0
    multi_label: bool = False

    def scored_pool(self, pool_size: int) -> int | None:
        """How many random unlabelled texts a retrain scores in a pool of ``pool_size`` (``None``:
        all): ``pool_subsample`` when given, else all of a pool up to ``LARGE_POOL`` texts."""
        if self.pool_subsample is not None:
            return self.pool_subsample
        return LARGE_POOL if pool_size > LARGE_POOL else None

    @property
    def task(self) -> str:
        """The engine's task of the project's model: ``multilabel`` or ``classification``."""
        return "multilabel" if self.multi_label else "classification"

    def __post_init__(self) -> None:
        super().__post_init__()  # the recipe options' checks
        check_labels(self.labels)
        if self.max_length is None:  # the block allows none for commands that choose it by task
            raise UsageError("--max-length must be an integer >= 1, got None")
        for name in ("query_size",):
            if getattr(self, name) < 1:
                raise UsageError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        for name in ("budget", "pool_subsample"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise UsageError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
        if self.cold_start not in COLD_STARTS:
            raise UsageError(f"--cold-start must be one of {', '.join(COLD_STARTS)}, "
                             f"got {self.cold_start!r}")
        if isinstance(self.candidates, bool) or not isinstance(self.candidates, int) or self.candidates < 0:
            raise UsageError(f"--candidates must be an integer >= 0, got {self.candidates!r}")
        if self.cv_folds == 1 or self.cv_folds < 0:
            raise UsageError(f"--cv-folds must be 0 (none) or >= 2, got {self.cv_folds}")
        check_rate(self.lease_seconds, "--lease-seconds")
        if isinstance(self.overlap, bool) or not isinstance(self.overlap, int | float) or not (
                0 <= self.overlap <= 1):
            raise UsageError(f"--overlap must be a fraction between 0 and 1, got {self.overlap!r}")

    def to_dict(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        values["labels"] = list(self.labels)
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> LabelSettings:
        known = {field.name for field in dataclasses.fields(cls)}
        return cls(**{k: tuple(v) if k == "labels" else v for k, v in values.items() if k in known})


def parse_labels(text: str) -> tuple[str, ...]:
    """``"positive,negative"`` → ``("positive", "negative")``, checked."""
    labels = tuple(part.strip() for part in text.split(","))
    check_labels(labels)
    return labels


def check_labels(labels: tuple[str, ...]) -> None:
    if len(labels) < 2:
        raise UsageError(f"--labels needs at least 2 label names separated by commas, got {list(labels)}")
    if any(not label for label in labels):
        raise UsageError("--labels holds an empty label name")
    long = [label for label in labels if len(label) > _MAX_LABEL_LENGTH]
    if long:
        raise UsageError(f"label name {long[0][:20]!r}... is longer than {_MAX_LABEL_LENGTH} characters")
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise UsageError(f"label {repeated[0]!r} is given twice in --labels")


def check_plugins(settings: LabelSettings) -> None:
    """Resolve the method and strategy presets now, so a typo fails before the server starts."""
    from peftal.al.strategies import parse_strategy
    from peftal.al.strategies.base import STRATEGIES, applies, strategies_for
    from peftal.models.limits import check_max_length
    from peftal.peft import parse_method

    method = parse_method(settings.method)
    strategy = parse_strategy(settings.strategy)
    if not applies(STRATEGIES.get(strategy.name), settings.task):
        kind = "multi-label" if settings.multi_label else "single-label"
        raise UsageError(f"--strategy {settings.strategy} does not apply to a {kind} project; one of: "
                         f"{', '.join(strategies_for(settings.task))}")
    check_max_length(settings.model, settings.max_length, method.config)


def store_path(folder: Path) -> Path:
    return Path(folder) / STORE_NAME


def exists(folder: Path) -> bool:
    return store_path(folder).exists()


def read_examples(path: Path, text_column: str, text_pair_column: str | None,
                  no_header: bool = False) -> Iterator[tuple[str, str | None]]:
    """The ``(text, text_pair)`` rows of a CSV/TSV/JSONL/Parquet file, checked as they are read
    (``no_header``: a CSV/TSV file without a header row, its columns named by 0-based positions).
    The file is streamed, never held whole; its first row is read (and its columns checked) before
    this returns, so a wrong file or column stops before anything is written."""
    from peftal.data.files import iter_records

    if not path.exists():
        raise UsageError(f"--data {path}: no such file")
    if path.is_dir():
        raise UsageError(f"--data {path} is a folder; give one CSV/TSV/JSONL/Parquet file")
    records = iter_records(path, header=not no_header)
    first = next(records, None)
    if first is None:
        raise UsageError(f"--data {path}: no texts in the file")
    columns = list(filter(None, (text_column, text_pair_column)))
    for column in columns:
        if column not in first:
            raise UsageError(f"{path}: column {column!r} not found; columns are: "
                             f"{', '.join(map(str, first))}")

    def rows() -> Iterator[tuple[str, str | None]]:
        for number, record in enumerate(itertools.chain([first], records), 1):
            values = []
            for column in columns:
                value = record.get(column)
                if not isinstance(value, str) or not value.strip():
                    raise UsageError(f"{path}: empty text in column {column!r}, row {number}")
                values.append(value)
            yield values[0], values[1] if text_pair_column else None

    return rows()


def create(folder: Path, data: Path, settings: LabelSettings, chunk_rows: int = 10_000) -> LabelStore:
    """Create a project in ``folder`` from the texts in ``data``, streamed into the store; returns
    its open store, ``chunk_rows`` texts at a time. A file that fails part-way leaves nothing behind
    (no store, no new folder)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"project {folder} exists and is not a folder")
    check_plugins(settings)
    rows = read_examples(Path(data), settings.text_column, settings.text_pair_column,
                         settings.no_header)
    new_folder = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    target = store_path(folder)
    tmp = target.with_name(target.name + ".creating")
    try:
        with atomic_path(target, suffix=".creating"):
            for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
                leftover.unlink(missing_ok=True)
            store = LabelStore(tmp)
            try:
                count = store.initialise(settings.to_dict(), rows, chunk_rows)
                if settings.budget is not None and settings.budget > count:
                    raise UsageError(f"--budget ({settings.budget}) is larger than the {count} texts "
                                     f"in {data}")
            finally:
                store.close()  # the last close checkpoints the WAL into the file and removes it
    except BaseException:
        for leftover in (Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
            leftover.unlink(missing_ok=True)
        if new_folder:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    return LabelStore(store_path(folder))


def open_project(folder: Path) -> tuple[LabelStore, LabelSettings]:
    """Open an existing project; a clear error when ``folder`` holds none."""
    if not exists(folder):
        raise UsageError(f"{folder} is not a labelling project (no {STORE_NAME}); create one with "
                         "`peftal label start PROJECT --data FILE --labels A,B`")
    check_sqlite(store_path(folder))  # a damaged project is named before the server or trainer uses it
    store = LabelStore(store_path(folder))
    return store, LabelSettings.from_dict(store.get_meta("settings"))


def resume(folder: Path, overrides: dict[str, Any]) -> tuple[LabelStore, LabelSettings]:
    """Open a project and apply the options given again on the command line.

    The settings that define the stored labels (label names, text columns, the data, the seed)
    cannot change; giving them again with the same value is fine. Training settings can.
    """
    store, settings = open_project(folder)
    current = settings.to_dict()
    for key in FIXED:
        if key in overrides and overrides[key] != current[key]:
            raise UsageError(f"project {folder} was created with {key.replace('_', '-')} "
                             f"{_show(current[key])}; it cannot change to {_show(overrides[key])}")
    changes = {k: v for k, v in overrides.items() if k not in FIXED and current.get(k) != v}
    if changes:
        settings = LabelSettings.from_dict({**current, **changes})
        check_plugins(settings)
        if settings.budget is not None and settings.budget > store.num_examples():
            raise UsageError(f"--budget ({settings.budget}) is larger than the project's "
                             f"{store.num_examples()} texts")
        store.set_meta("settings", settings.to_dict())
    return store, settings


def _show(value: Any) -> str:
    return ",".join(value) if isinstance(value, list | tuple) else repr(value)
