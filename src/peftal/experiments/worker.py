"""The worker side of a study: run one cell and return its records (never touch the store).

:func:`execute_cell` is what every executor runs, in a forked process or a Ray task, possibly on
another machine. It takes plain data (kind name, config dict), so it pickles cheaply, and it never
raises for a failing cell: the outcome says ``completed`` or ``failed`` with the error, so the
driver records it and the study goes on.
"""

from __future__ import annotations

import dataclasses
import resource
import socket
import sys
import time
import traceback
from typing import Any


def peak_memory_mb() -> float:
    """Peak resident memory of this process so far, in MiB (``getrusage`` ``ru_maxrss``).

    A process runs one cell with the local executor, so this is the cell's peak; a reused Ray
    worker reports the peak over the cells it has run so far (an upper bound).
    """
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return maxrss / (1024 * 1024) if sys.platform == "darwin" else maxrss / 1024


def execute_cell(kind_name: str, config: dict[str, Any], *, cell_id: str = "",
                 executor: str = "local", progress: bool = False) -> dict[str, Any]:
    """Run one cell; returns ``{"status", "summary", "records", "provenance", "error", "started_at"}``
    (``started_at``: Unix time at which the cell began).

    Args:
        kind_name: The study kind (see :mod:`peftal.experiments.kinds`).
        config: The cell's merged config as a dict (``dataclasses.asdict`` of its config).
        cell_id: The cell's id, recorded in the provenance.
        executor: Which executor ran it, recorded in the provenance.
        progress: Show the run's own progress bar.
    """
    from peftal.config import build_config
    from peftal.experiments.run_folder import run_provenance
    from peftal.experiments.study_kinds import get_kind
    from peftal.plugins import load_plugins

    start = time.perf_counter()
    outcome: dict[str, Any] = {"status": "failed", "summary": None, "records": [], "error": None,
                               "started_at": time.time()}
    seed = config.get("seed")
    try:
        load_plugins()  # a fresh worker process (Ray) registers the driver's plug-ins too
        kind = get_kind(kind_name)
        typed = build_config(kind.config_cls, config, owner="cell")
        summary, records = kind.run(typed, progress=progress)
        outcome.update(status="completed", summary=summary, records=records)
        seed = getattr(typed, "seed", seed)
    except Exception as error:  # noqa: BLE001 — a failing cell is recorded, the study goes on
        outcome["error"] = f"{type(error).__name__}: {error}"
        outcome["traceback"] = traceback.format_exc(limit=20)
    outcome["provenance"] = {
        **run_provenance(seed),
        "cell_id": cell_id,
        "kind": kind_name,
        "config": config,
        "executor": executor,
        "host": socket.gethostname(),
        "wall_seconds": time.perf_counter() - start,
        "peak_memory_mb": peak_memory_mb(),
    }
    return outcome


def config_dict(config: Any) -> dict[str, Any]:
    """A cell config as the plain dict :func:`execute_cell` takes (and a study stores): a method or
    strategy left to the default is stored as the one the cell uses (``ia3``, ``lora`` on text pairs;
    ``entropy``, ``br_entropy_mean`` on multi-label data)."""
    values = dataclasses.asdict(config)
    if values.get("method") is None and hasattr(config, "method_preset"):
        values["method"] = config.method_preset
    if values.get("strategy") is None and hasattr(config, "strategy_preset"):
        values["strategy"] = config.strategy_preset
    return values
