"""``peftal label train``: the final model from every label given, saved as a run folder.

The folder has the layout ``peftal predict --run RUN`` reads (``RUN/model/``) and a
``RUN/summary.json`` written last and atomically, so an interrupted training never leaves a
folder that looks complete.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from peftal.errors import UsageError
from peftal.experiments.run_folder import SUMMARY, check_out_dir, thresholds_meta
from peftal.label.label_sets import decode
from peftal.label.project import open_project
from peftal.store.atomic import write_json_atomic


def train_final(project: Path, out: Path, *, epochs: int | None = None, overwrite: bool = False,
                progress: bool = True) -> dict[str, Any]:
    """Train the project's method on all live labels and write ``out/model`` and ``out/summary.json``.

    Args:
        project: The project folder.
        out: The run folder to write.
        epochs: Training epochs (default: the project's).
        overwrite: Replace a completed run in ``out``.
        progress: Show a progress bar on stderr.
    """
    from tqdm.auto import tqdm

    from peftal.label.model import LabelModel
    from peftal.peft.checkpoint import save_checkpoint

    store, settings = open_project(project)
    check_out_dir(out, overwrite)
    ids, labels, _ = store.label_snapshot()
    if not ids:
        raise UsageError(f"project {project} has no labels yet; label some with `peftal label start`")
    if len(set(labels)) == 1 and not settings.multi_label:
        warnings.warn(f"every label given is {labels[0]!r}: the model can only ever predict that",
                      stacklevel=2)
    if epochs is not None:
        settings = dataclasses.replace(settings, epochs=epochs)
    out.mkdir(parents=True, exist_ok=True)
    (out / SUMMARY).unlink(missing_ok=True)
    lm = LabelModel(store, settings)
    steps = -(-len(ids) // settings.batch_size) * settings.epochs
    with tqdm(total=steps, disable=None if progress else True, unit="step", leave=False,
              desc=f"{settings.method} on {len(ids)} labels") as bar:
        model, result = lm.fit(np.asarray(ids, dtype=np.int64), lm.targets(labels), settings.seed,
                               on_step=bar.update, thresholds="cv")
    save_checkpoint(model, out / "model", {
        "model": settings.model, "method": lm.method.preset, "task": settings.task,
        **thresholds_meta(model),
        "label_names": list(settings.labels), "num_outputs": len(settings.labels),
        "pooling": settings.pooling, "max_length": settings.max_length,
        "text_column": settings.text_column, "text_pair_column": settings.text_pair_column,
        "is_pair": settings.text_pair_column is not None,
    })
    summary = _summary(project, store, settings, lm, model, result, ids, labels)
    write_json_atomic(out / SUMMARY, summary)
    return summary


def _summary(project: Path, store: Any, settings: Any, lm: Any, model: Any, result: Any,
             ids: list[int], labels: list[str]) -> dict[str, Any]:
    """What ``summary.json`` of a final model records: the labels, who gave them, the training."""
    from peftal.experiments.run_folder import run_provenance
    from peftal.models.backbone import display_name
    from peftal.peft import count_parameters

    trainable, total = count_parameters(model)
    status = store.get_meta("model", {})
    counts = Counter(name for label in labels
                     for name in (decode(label) if settings.multi_label else [label]))
    return {
        "project": str(Path(project).resolve()),
        "dataset": settings.data,
        "model": display_name(settings.model),
        "method": lm.method.preset,
        "task": settings.task,
        "label_names": list(settings.labels),
        "num_labeled": len(ids),
        "label_counts": {label: counts.get(label, 0) for label in settings.labels},
        "annotators": dict(Counter(row["annotator"] for row in store.live_labels())),
        "seed": settings.seed,
        "trainable_params": trainable,
        "total_params": total,
        "train_seconds": result.seconds,
        "epochs": result.epochs,
        # The last estimate the page showed; it was made on the labels given by then.
        "cross_validation": {key: status[key] for key in ("accuracy", "f1_macro", "accuracy_folds",
                                                          "accuracy_on") if key in status} or None,
        "settings": settings.to_dict(),
        "indices_labeled": [int(i) for i in ids],
        "provenance": run_provenance(settings.seed),
    }
