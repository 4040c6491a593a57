"""A run folder's life cycle, shared by every runner (``peftal run``, ``train``, ``pretrain``, the
labelling app's final model): check ``--out``, open its results store (:func:`recorded_run`),
complete it (:func:`complete_run`), and the saved model's metadata (:func:`model_meta`).

``summary.json`` is written last and atomically, so a folder whose run was interrupted or failed
never holds a summary that looks complete; its store keeps the rounds that did finish.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from peftal.errors import UsageError
from peftal.integrity import check_sqlite, check_writable_folder
from peftal.store.atomic import write_json_atomic
from peftal.store.provenance import provenance
from peftal.store.results import STORE_NAME, ResultsStore
from peftal.training.precision import machine_numerics

SUMMARY = "summary.json"
RUN_ID = "run"


def check_out_dir(out: Path, overwrite: bool) -> None:
    """Refuse an ``--out`` that is a file, cannot be written, holds a damaged results store, or holds
    a completed run unless ``overwrite``."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} exists and is not a folder")
    if (out / SUMMARY).exists() and not overwrite:
        raise UsageError(f"{out} already holds a completed run; choose another --out or pass --overwrite")
    check_writable_folder(out, "--out")
    check_sqlite(out / STORE_NAME)  # a damaged store is named now, not after the training


def run_provenance(seed: int) -> dict[str, Any]:
    """Provenance of a run, a study cell or a labelling project's model: versions, git state and
    machine (:func:`~peftal.store.provenance.provenance`) plus the numerics the machine trains in
    (:func:`~peftal.training.precision.machine_numerics`)."""
    return {**provenance(seed), **machine_numerics()}


@contextmanager
def recorded_run(out: Path, kind: str, config: dict[str, Any], seed: int) -> Iterator[ResultsStore]:
    """Open ``out``'s results store for one run of ``kind``; the caller completes it with
    :func:`complete_run`. Any earlier summary is removed first and an exception marks the run failed,
    so ``out`` never holds a summary that looks complete for a run that did not finish."""
    out.mkdir(parents=True, exist_ok=True)
    (out / SUMMARY).unlink(missing_ok=True)
    store = ResultsStore(out / STORE_NAME)
    store.begin_run(RUN_ID, kind, config, run_provenance(seed))
    try:
        yield store
    except BaseException as error:
        store.fail_run(RUN_ID, failure_text(error))
        raise
    finally:
        store.close()


def failure_text(error: BaseException) -> str:
    """What the store records for a run that did not finish: ``terminated`` (SIGTERM),
    ``interrupted`` (Ctrl-C), else the exception's type and message."""
    from peftal.errors import Terminated

    if isinstance(error, Terminated):
        return "terminated"
    if isinstance(error, KeyboardInterrupt):
        return "interrupted"
    return f"{type(error).__name__}: {error}"


def complete_run(store: ResultsStore, out: Path, summary: dict[str, Any]) -> None:
    """Mark the run completed in the store, then write ``summary.json`` (last, atomically)."""
    store.finish_run(RUN_ID, summary)
    write_json_atomic(out / SUMMARY, summary)


def model_meta(*, model: str | None, method: str, task: str, num_outputs: int, max_length: int,
               label_names: list[str] | None = None, pooling: str = "mean",
               text_column: str | None = "text", text_pair_column: str | None = None,
               is_pair: bool = False, **extra: Any) -> dict[str, Any]:
    """What ``model/peftal_model.json`` records so that ``peftal predict`` can rebuild the model.

    A local ``model`` path is stored absolute, so the saved run works from any folder.
    """
    if model is not None and Path(model).expanduser().exists():
        model = str(Path(model).expanduser().resolve())
    return {"model": model, "method": method, "task": task, "label_names": label_names,
            "num_outputs": num_outputs, "pooling": pooling, "max_length": max_length,
            "text_column": text_column, "text_pair_column": text_pair_column, "is_pair": is_pair,
            **extra}


def thresholds_meta(model: Any) -> dict[str, Any]:
    """A multi-label model's per-label thresholds, as ``peftal predict`` applies them."""
    thresholds = getattr(model, "thresholds", None)
    return {} if thresholds is None else {"thresholds": [float(t) for t in thresholds]}
