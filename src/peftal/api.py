"""The Python API: ``peftal.run``, ``peftal.train`` and ``peftal.load_run`` (docs/python.md).

Each does what its command does (``peftal run``, ``peftal train``, reading a run folder), with the
same config dataclasses and the same checks, and gives back a :class:`Run`: the summary, the typed
round records, and the model with a ``predict`` for new texts.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from peftal.errors import UsageError
from peftal.experiments.active_learning import RunConfig, prepare, run_active_learning
from peftal.experiments.run_folder import RUN_ID, SUMMARY
from peftal.experiments.supervised import SupervisedConfig
from peftal.records import RoundRecord
from peftal.store.results import STORE_NAME, ResultsStore


@dataclasses.dataclass
class Run:
    """A finished run: what ``summary.json`` holds, every round's record, and its model.

    Attributes:
        summary: The run's summary (as in ``summary.json``).
        records: One :class:`~peftal.records.RoundRecord` per round.
        folder: The run folder, where the run wrote one (``out=``) or was loaded from.
    """

    summary: dict[str, Any]
    records: list[RoundRecord]
    folder: Path | None = None
    _model: Any = dataclasses.field(default=None, repr=False)
    _tokenizer: Any = dataclasses.field(default=None, repr=False)
    _meta: dict[str, Any] | None = dataclasses.field(default=None, repr=False)

    @property
    def metric(self) -> str:
        """The metric the run reports first (e.g. ``accuracy``)."""
        return self.summary.get("metric") or next(iter(self.records[-1].metrics))

    def learning_curve(self, metric: str | None = None) -> list[tuple[int, float]]:
        """``(num_labeled, value)`` per round of ``metric`` (default: :attr:`metric`)."""
        metric = metric or self.metric
        return [(record.num_labeled, record.metrics[metric]) for record in self.records]

    @property
    def model(self) -> Any:
        """The final model (loaded from ``folder/model`` on first use for a loaded run)."""
        self._load()
        return self._model

    def predict(self, texts: Sequence[str], text_pairs: Sequence[str] | None = None,
                batch_size: int = 128) -> list[dict[str, Any]]:
        """Label new texts: per text ``{"label", "probs": {label: p}}`` (``{"labels": [...], "probs"}``
        for multi-label, ``{"value"}`` for regression), as ``peftal predict`` writes them."""
        from peftal.data.dataset import Split
        from peftal.data.encoding import encode
        from peftal.training import predict, softmax

        self._load()
        meta = self._meta
        if meta["task"] not in ("classification", "multilabel", "regression"):
            raise UsageError(f"Run.predict labels texts; this run's task is {meta['task']!r}")
        if meta.get("is_pair") and text_pairs is None:
            raise UsageError("this run trained on text pairs: give text_pairs as well")
        split = Split(texts=[str(t) for t in texts], labels=np.zeros(len(texts)),
                      text_pairs=None if text_pairs is None else [str(t) for t in text_pairs])
        outputs = predict(self._model, encode(self._tokenizer, split, meta["max_length"]),
                          np.arange(len(texts)), batch_size, precision=meta.get("precision", "fp32"))
        if meta["task"] == "regression":
            return [{"value": float(row[0])} for row in outputs]
        names = meta["label_names"]
        if meta["task"] == "multilabel":
            from peftal.training.metrics import decisions, sigmoid

            chosen = decisions(outputs, "multilabel", getattr(self._model, "thresholds", None))
            return [{"labels": [n for n, c in zip(names, row) if c],
                     "probs": dict(zip(names, map(float, p), strict=True))}
                    for row, p in zip(chosen, sigmoid(outputs), strict=True)]
        return [{"label": names[int(p.argmax())], "probs": dict(zip(names, map(float, p), strict=True))}
                for p in softmax(outputs)]

    def _load(self) -> None:
        if self._model is not None and self._tokenizer is not None:
            return
        if self.folder is None:
            raise UsageError("this run kept no model")
        from peftal.peft.checkpoint import load_model

        self._model, self._tokenizer, self._meta = load_model(self.folder / "model")


def run(config: RunConfig | None = None, out: str | Path | None = None, *, progress: bool = False,
        overwrite: bool = False, **options: Any) -> Run:
    """Run one active-learning experiment, as ``peftal run`` does.

    Args:
        config: The run's settings; or give them as keyword ``options`` (``dataset="trec"``, ...).
        out: A folder to write the run into (results store, summary, model, plot), as ``--out``;
            ``None`` keeps everything in memory.
        progress: Show a progress bar.
        overwrite: Replace a completed run in ``out``.
    """
    config = _config(RunConfig, config, options)
    if out is not None:
        from peftal.experiments.active_learning import execute_run

        execute_run(config, Path(out), overwrite=overwrite, progress=progress)
        return load_run(out)
    prepared = prepare(config)
    records: list[RoundRecord] = []
    summary, model = run_active_learning(config, on_round=records.append, progress=progress,
                                         prepared=prepared)
    task = prepared[0]
    return _in_memory(summary, records, model, config.model, task, config.max_length, config.precision)


def train(config: SupervisedConfig | None = None, out: str | Path | None = None, *,
          progress: bool = False, overwrite: bool = False, **options: Any) -> Run:
    """Fine-tune on labelled data without active learning, as ``peftal train`` does; the run has
    one record. Arguments as for :func:`run`."""
    config = _config(SupervisedConfig, config, options)
    if out is not None:
        from peftal.experiments.supervised import execute_train

        execute_train(config, Path(out), overwrite=overwrite, progress=progress)
        return load_run(out)
    from peftal.experiments.supervised import fit_prepared
    from peftal.experiments.supervised import prepare as prepare_train

    prepared = prepare_train(config)
    summary, model, record, _meta = fit_prepared(config, prepared, progress)
    task = prepared.task
    return _in_memory(summary, [record], model, config.model, task, prepared.max_length, "fp32")


def load_run(folder: str | Path) -> Run:
    """A run folder written by ``peftal run``/``peftal train`` (or :func:`run` with ``out``)."""
    folder = Path(folder)
    if not (folder / SUMMARY).is_file():
        raise UsageError(f"{folder} holds no completed run (no {SUMMARY})")
    summary = json.loads((folder / SUMMARY).read_text())
    with ResultsStore(folder / STORE_NAME) as store:
        records = store.round_records(RUN_ID)
    return Run(summary, records, folder)


def _config(cls: type, config: Any, options: dict[str, Any]) -> Any:
    if config is not None and options:
        raise TypeError("give a config or keyword options, not both")
    if config is None:
        return cls(**options)
    if not isinstance(config, cls):
        raise TypeError(f"expected a {cls.__name__}, got {type(config).__name__}")
    return config


def _in_memory(summary: dict[str, Any], records: list[RoundRecord], model: Any, model_name: str | None,
               task: Any, max_length: int, precision: str) -> Run:
    from peftal.models.backbone import load_tokenizer
    from peftal.training.precision import resolve_precision

    tokenizer = load_tokenizer(model_name)  # the run's model is in memory; its weights need not load again
    meta = {"task": task.task, "label_names": getattr(task, "label_names", None),
            "max_length": max_length, "is_pair": getattr(task, "is_pair", False),
            "precision": resolve_precision(precision)}
    return Run(summary, records, None, model, tokenizer, meta)
