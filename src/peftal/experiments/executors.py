"""Executors: where a study's cells run. Each yields ``(cell, outcome)`` as cells finish.

- :class:`LocalExecutor` (the embedded default, no server): every cell runs in its own child
  process, ``--workers`` at a time. A fresh process per cell gives each cell its own peak-memory
  figure and lets the study survive a worker that segfaults or is killed for memory (the cell is
  recorded as failed with its exit status). On Linux the child is forked from the driver, which has
  already imported torch, so a cell starts in milliseconds, not seconds.
- :class:`RayExecutor`: every cell is a Ray task, on a local Ray instance or the cluster at
  ``--ray-address`` (how a study goes beyond one machine). Ray is an optional dependency
  (``pip install 'peftal[ray]'``), imported only here and only when chosen.

Workers only compute; the driver (:mod:`peftal.experiments.study`) is the only writer of the
results store, so there is never a write race, even across machines.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from multiprocessing.connection import Connection, wait
from typing import Any, Protocol

from peftal.errors import UsageError
from peftal.experiments.spec import Cell
from peftal.experiments.worker import config_dict, execute_cell

EXECUTORS = ("local", "ray")
Outcome = dict[str, Any]


class Executor(Protocol):
    """Runs cells and yields ``(cell, outcome)`` in completion order (see ``execute_cell``)."""

    name: str

    def run(self, cells: Sequence[Cell]) -> Iterator[tuple[Cell, Outcome]]: ...


def crashed_outcome(cell: Cell, error: str, executor: str) -> Outcome:
    """The outcome of a cell whose worker died before it could report."""
    return {"status": "failed", "summary": None, "records": [], "error": error,
            "provenance": {"cell_id": cell.cell_id, "kind": cell.kind, "executor": executor,
                           "config": config_dict(cell.config)}}


# -- local ------------------------------------------------------------------------------------------

def _exit_with_parent(parent_pid: int) -> None:
    """End this child if the driver dies (e.g. ``kill -9``), so no orphan keeps computing."""

    def watch() -> None:
        while True:
            if os.getppid() != parent_pid:
                os._exit(1)
            time.sleep(1.0)

    threading.Thread(target=watch, daemon=True, name="peftal-parent-watch").start()


def _child_main(conn: Connection, kind: str, config: dict[str, Any], cell_id: str,
                threads: int | None, parent_pid: int) -> None:
    """Entry point of a local worker process: run one cell, send its outcome, exit."""
    # Ctrl-C reaches the whole process group; the driver decides what to do (it kills us), so an
    # interrupted cell is never recorded as a failure of the cell itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_with_parent(parent_pid)
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    conn.send(execute_cell(kind, config, cell_id=cell_id, executor="local"))
    conn.close()


def _describe_exit(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


class LocalExecutor:
    """Run cells on this machine, each in a fresh child process, ``workers`` at a time.

    Args:
        workers: Cells run at once.
        threads: Torch threads per cell; ``None`` = torch's default for one worker, else
            ``cpu_count // workers`` so parallel cells do not oversubscribe the cores (on a busy
            machine, oversubscribed cores slow every cell down several times).
    """

    name = "local"

    def __init__(self, workers: int = 1, threads: int | None = None) -> None:
        if workers < 1:
            raise UsageError(f"--workers must be >= 1, got {workers}")
        if threads is not None and threads < 1:
            raise UsageError(f"--threads must be >= 1, got {threads}")
        self.workers = workers
        self.threads = threads
        # fork: the child inherits the imported libraries. It is safe because the driver never
        # runs torch ops (no thread pools, no CUDA context to inherit). Elsewhere (macOS) forking
        # a process that imported torch is unsafe, so children are spawned and import peftal.
        method = "fork" if sys.platform.startswith("linux") else "spawn"
        self._context = multiprocessing.get_context(method)

    def run(self, cells: Sequence[Cell]) -> Iterator[tuple[Cell, Outcome]]:
        threads = self.threads
        if threads is None and self.workers > 1:
            threads = max(1, (os.cpu_count() or 1) // self.workers)
        queue = list(cells)
        running: dict[Connection, tuple[Cell, Any]] = {}
        try:
            while queue or running:
                while queue and len(running) < self.workers:
                    cell = queue.pop(0)
                    reader, writer = self._context.Pipe(duplex=False)
                    process = self._context.Process(
                        target=_child_main, name=f"peftal-cell-{cell.cell_id}",
                        args=(writer, cell.kind, config_dict(cell.config), cell.cell_id, threads,
                              os.getpid()))
                    process.start()
                    writer.close()  # the child holds the only writer: EOF when it dies
                    running[reader] = (cell, process)
                for reader in wait(list(running)):
                    cell, process = running.pop(reader)
                    try:
                        outcome = reader.recv()
                    except (EOFError, OSError):
                        outcome = None
                    reader.close()
                    process.join()
                    if outcome is None:
                        outcome = crashed_outcome(
                            cell, f"worker died ({_describe_exit(process.exitcode)})", self.name)
                    yield cell, outcome
        finally:
            for reader, (_cell, process) in running.items():
                process.kill()
                process.join()
                reader.close()


# -- ray --------------------------------------------------------------------------------------------

def import_ray() -> Any:
    """The ``ray`` module, or a clear error naming the extra that installs it."""
    try:
        import ray
    except ImportError:
        raise UsageError("--executor ray needs Ray: pip install 'peftal[ray]'") from None
    return ray


LOOPBACK = "127.0.0.1"
_RAY_CLUSTER_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"  # Ray's switch between local-only and cluster


class RayExecutor:
    """Run every cell as a Ray task.

    Args:
        address: A Ray cluster address (``ray://host:10001`` or ``host:6379``); ``None`` starts a
            local Ray instance (or joins the one ``RAY_ADDRESS`` names). Cluster nodes need the
            same peftal version installed and the datasets reachable (``PEFTAL_DATA_DIR``).
        cpus_per_cell: CPUs Ray reserves for each cell (Ray also sets its torch threads to this).
        gpus_per_cell: GPUs Ray reserves for each cell (fractions share a GPU).
    """

    name = "ray"

    def __init__(self, address: str | None = None, cpus_per_cell: float = 1,
                 gpus_per_cell: float = 0) -> None:
        if cpus_per_cell <= 0 or gpus_per_cell < 0:
            raise UsageError("--cpus-per-cell must be > 0 and --gpus-per-cell >= 0")
        self.address = address
        self.cpus_per_cell = cpus_per_cell
        self.gpus_per_cell = gpus_per_cell
        if self._starts_local_ray():
            # Ray reads this when imported and hands it to every process it starts: "no cluster"
            # makes the node's address loopback, so GCS, raylet and workers bind 127.0.0.1 only.
            os.environ.setdefault(_RAY_CLUSTER_ENV, "0")
        self._ray = import_ray()  # fail before any work if Ray is missing

    def start(self) -> bool:
        """Start (or join) Ray unless this process already did; True when it was started here."""
        if self._ray.is_initialized():
            return False
        self._ray.init(address=self.address, include_dashboard=False, log_to_driver=False,
                       logging_level="ERROR", configure_logging=True, **self._local_only())
        return True

    def _starts_local_ray(self) -> bool:
        return self.address is None and not os.environ.get("RAY_ADDRESS")

    def _local_only(self) -> dict[str, Any]:
        """``ray.init`` arguments that keep a Ray started here on loopback.

        Ray has no authentication: a local instance listening on every interface would let anyone
        on the network run code as this user. A cluster named by ``--ray-address`` or
        ``RAY_ADDRESS`` is joined as it is configured.
        """
        if not self._starts_local_ray():
            return {}
        constants = getattr(getattr(self._ray, "_private", None), "ray_constants", None)
        if constants is not None and hasattr(constants, "ENABLE_RAY_CLUSTER"):
            constants.ENABLE_RAY_CLUSTER = False  # Ray was imported before the variable was set
        return {"_node_ip_address": LOOPBACK}

    def run(self, cells: Sequence[Cell]) -> Iterator[tuple[Cell, Outcome]]:
        ray = self._ray
        started_here = self.start()
        task = ray.remote(num_cpus=self.cpus_per_cell, num_gpus=self.gpus_per_cell)(execute_cell)
        pending = {task.remote(cell.kind, config_dict(cell.config), cell_id=cell.cell_id,
                               executor=self.name): cell for cell in cells}
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    cell = pending.pop(ref)
                    try:
                        outcome = ray.get(ref)
                    except Exception as error:  # noqa: BLE001 — a lost worker fails its cell only
                        outcome = crashed_outcome(cell, f"Ray task failed: {type(error).__name__}: "
                                                        f"{str(error).splitlines()[0]}", self.name)
                    yield cell, outcome
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)
            if started_here:
                ray.shutdown()


def _cap_threads(workers: int, threads: int | None) -> int | None:
    """Threads per cell, capped (with a warning) so that all workers together fit the cores."""
    import warnings

    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cores = os.cpu_count() or 1
    if threads is None or workers * threads <= cores:
        return threads
    capped = max(1, cores // workers)
    warnings.warn(f"--workers {workers} × --threads {threads} is more than the {cores} CPU core(s) "
                  f"this process may use; using {capped} thread(s) per cell", stacklevel=2)
    return capped


def make_executor(name: str, *, workers: int = 1, threads: int | None = None,
                  ray_address: str | None = None, cpus_per_cell: float = 1,
                  gpus_per_cell: float = 0) -> Executor:
    """The executor called ``name`` (``local`` or ``ray``)."""
    if name == "local":
        if ray_address or cpus_per_cell != 1 or gpus_per_cell:
            raise UsageError("--ray-address, --cpus-per-cell and --gpus-per-cell need --executor ray")
        return LocalExecutor(workers, _cap_threads(workers, threads))
    if name == "ray":
        if workers != 1 or threads is not None:
            raise UsageError("--workers and --threads are for the local executor; with Ray, "
                             "--cpus-per-cell sets both (Ray runs as many cells as fit)")
        return RayExecutor(ray_address, cpus_per_cell, gpus_per_cell)
    raise UsageError(f"unknown executor {name!r}; valid executors: {', '.join(EXECUTORS)}")
