"""The server's handle on the background worker process (:mod:`peftal.label.worker`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from peftal.label.store import utc_now

LOG_NAME = "trainer.log"


class TrainerProcess:
    """The server's handle on the worker process.

    Args:
        folder: The project folder.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.log_path = self.folder / LOG_NAME
        self._process: subprocess.Popen | None = None

    def start(self) -> None:
        """Start the worker; call from the main thread (the parent-death signal is tied to the
        thread that starts the child)."""
        log = open(self.log_path, "a", encoding="utf-8")  # noqa: SIM115 (the child keeps it)
        log.write(f"--- trainer started {utc_now()} ---\n")
        log.flush()
        self._process = subprocess.Popen(
            [sys.executable, "-m", "peftal.label.worker", str(self.folder), "--parent", str(os.getpid())],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        log.close()

    def status(self) -> dict[str, Any]:
        if self._process is None:
            return {"running": False, "exit_code": None}
        code = self._process.poll()
        return {"running": code is None, "exit_code": code}

    def stop(self, timeout: float = 10.0) -> None:
        if self._process is None or self._process.poll() is not None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
