"""Micro-batching: concurrent requests wait a few milliseconds so that one forward pass answers them
all. A transformer's cost per text falls steeply with batch size on a CPU (one matrix product per
layer instead of one per request), so under load this multiplies throughput at a small latency cost;
a lone request waits at most ``max_wait`` seconds.
"""

from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import Future

import numpy as np

from peftal.serve.backend import Backend

_STOP = object()


class MicroBatcher:
    """One thread that runs ``backend`` on batches collected from :meth:`submit` calls.

    Args:
        backend: The model.
        max_batch: Texts per forward pass at most.
        max_wait: Seconds the first request of a batch waits for others.
    """

    def __init__(self, backend: Backend, max_batch: int = 64, max_wait: float = 0.005) -> None:
        self.backend, self.max_batch, self.max_wait = backend, max_batch, max_wait
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="peftal-batcher", daemon=True)
        self._thread.start()

    def submit(self, texts: list[str], pairs: list[str] | None) -> Future:
        """A future of the ``(len(texts), classes)`` probabilities."""
        future: Future = Future()
        self._queue.put((texts, pairs, future))
        return future

    def close(self) -> None:
        """Answer what is queued, then stop the thread."""
        self._queue.put(_STOP)
        self._thread.join()

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch, size, stop = [first], len(first[0]), False
            deadline = time.monotonic() + self.max_wait
            while size < self.max_batch:
                try:
                    item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                batch.append(item)
                size += len(item[0])
            self._run(batch)
            if stop:
                return

    def _run(self, batch: list) -> None:
        texts = [text for item in batch for text in item[0]]
        pairs = [pair for item in batch for pair in item[1]] if batch[0][1] is not None else None
        try:
            probabilities = self.backend.probabilities(texts, pairs)
        except Exception as error:  # every waiting request learns of it, the thread lives on
            for _, _, future in batch:
                future.set_exception(error)
            return
        offsets = np.cumsum([0] + [len(item[0]) for item in batch])
        for (_, _, future), start, end in zip(batch, offsets[:-1], offsets[1:]):
            future.set_result(probabilities[start:end])
