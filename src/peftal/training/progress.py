"""Progress for logs: one line per round (and per 10% of a long round) when stderr is no terminal.

A run redirected to a file, run under ``nohup``, CI or a cluster scheduler has no progress bar
(tqdm draws only on a terminal); :class:`ProgressLog` writes plain lines instead, each with the
elapsed time and an estimate of the rest from the training steps done so far.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO


def format_seconds(seconds: float) -> str:
    """``0:01:05`` style."""
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def log_lines_wanted(progress: bool, stream: TextIO | None = None) -> bool:
    """Plain progress lines replace the bar where it would not draw: progress on, no terminal."""
    stream = stream or sys.stderr
    return progress and not (hasattr(stream, "isatty") and stream.isatty())


class ProgressLog:
    """Counts training steps and writes a line per round, and per ``every`` of the total steps when
    ``min_interval`` seconds have passed since the last line.

    Args:
        total_steps: Training steps of the whole run (the measure of the remaining time).
        num_rounds: Rounds of the run.
        enabled: Write anything at all.
        stream: Where to write (stderr).
        bar: A terminal progress bar (tqdm) to advance with every step as well.
    """

    def __init__(self, total_steps: int, num_rounds: int, *, enabled: bool, stream: TextIO | None = None,
                 every: float = 0.1, min_interval: float = 30.0, bar: Any = None) -> None:
        self.total_steps, self.num_rounds, self.enabled = max(1, total_steps), num_rounds, enabled
        self.stream = stream or sys.stderr
        self.every, self.min_interval, self.bar = every, min_interval, bar
        self.done = self._logged_at = 0
        self.start = self._last = time.perf_counter()

    def step(self) -> None:
        if self.bar is not None:
            self.bar.update()
        self.done += 1
        now = time.perf_counter()
        if (self.enabled and self.done - self._logged_at >= self.every * self.total_steps
                and now - self._last >= self.min_interval):
            self._write(f"step {self.done}/{self.total_steps} ({self.done / self.total_steps:.0%})")

    def round(self, index: int, num_labeled: int, metric: str, value: float) -> None:
        if self.enabled:
            self._write(f"round {index + 1}/{self.num_rounds} done · {num_labeled} labels · "
                        f"{metric} {value:.4f}")

    def _write(self, text: str) -> None:
        now = time.perf_counter()
        elapsed = now - self.start
        left = ("" if not self.done or self.done >= self.total_steps else
                f" · about {format_seconds(elapsed * (self.total_steps - self.done) / self.done)} left")
        self.stream.write(f"peftal: [{format_seconds(elapsed)}] {text}{left}\n")
        self.stream.flush()
        self._last, self._logged_at = now, self.done
