"""Run one AL experiment into an output folder: results store, summary, plot and saved model.

``summary.json`` is written last and atomically, so a folder whose run was interrupted or failed
never holds a summary that looks complete; its store keeps the rounds that did finish.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from peftal.al.loop import RunConfig, prepare, run_active_learning
from peftal.errors import UsageError
from peftal.experiments.provenance import provenance
from peftal.experiments.store import STORE_NAME, ResultsStore
from peftal.models.checkpoint import save_checkpoint

SUMMARY = "summary.json"
RUN_ID = "run"


def write_json_atomic(path: Path, value: Any) -> None:
    """Write JSON to ``path`` via a temporary file and a rename, so readers never see half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(value, indent=2))
    os.replace(tmp, path)


def check_out_dir(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} exists and is not a folder")
    if (out / SUMMARY).exists() and not overwrite:
        raise UsageError(f"{out} already holds a completed run; choose another --out or pass --overwrite")


def execute_run(config: RunConfig, out: Path, *, overwrite: bool = False,
                progress: bool = True) -> dict[str, Any]:
    """Run ``config`` and write its outputs into ``out``; returns the summary."""
    from peftal.reports.plots import plot_learning_curve

    check_out_dir(out, overwrite)
    prepared = prepare(config)  # every input check happens before the folder is touched
    out.mkdir(parents=True, exist_ok=True)
    (out / SUMMARY).unlink(missing_ok=True)
    store = ResultsStore(out / STORE_NAME)
    store.begin_run(RUN_ID, "active_learning", dataclasses.asdict(config), provenance(config.seed))
    try:
        summary, model = run_active_learning(
            config, on_round=lambda record: store.add_round(RUN_ID, record), progress=progress,
            prepared=prepared,
        )
        task = prepared[0]
        save_checkpoint(model, out / "model", {
            "model": config.model, "method": summary["method"], "task": task.task,
            "label_names": task.label_names, "num_outputs": task.num_labels,
            "pooling": config.pooling, "max_length": config.max_length,
            "text_column": config.text_column, "text_pair_column": config.text_pair_column,
            "is_pair": task.is_pair,
        })
        metric = summary["metric"]
        plot_learning_curve([r["num_labeled"] for r in summary["rounds"]],
                            [r["metrics"][metric] for r in summary["rounds"]],
                            out / "learning_curve.png", metric=metric,
                            title=f"{summary['dataset']} · {summary['method']} · {summary['strategy']}"
                                  f" · seed {summary['seed']} (AUC {summary['auc']:.3f})")
        store.finish_run(RUN_ID, summary)
        write_json_atomic(out / SUMMARY, summary)
    except BaseException as error:
        store.fail_run(RUN_ID, f"{type(error).__name__}: {error}")
        raise
    finally:
        store.close()
    return summary
