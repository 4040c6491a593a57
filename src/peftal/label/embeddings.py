"""The frozen encoder's embeddings of the pool: computed in the background, cached in the project.

The linear probe (:mod:`peftal.label.probe`) suggests labels from these vectors, so they must
exist early and must never be computed twice: the background worker embeds the pool a chunk at
a time (the texts already labelled first, then the cold-start order, a random sample of the
pool at every point), and appends each chunk to the cache before it starts the next one.

Why files and not rows of ``project.sqlite``: the vectors are ~1.5 kB a text (1.5 GB for a
million texts), rewritten never and read whole; kept out of the store, they do not bloat the
file that the server, the export and backups read, and writing a chunk never holds the store's
write lock that every label needs. The cache is three files in ``PROJECT/embeddings/``:

- ``vectors.f32``: float32 rows ``(count, dim)``, appended;
- ``ids.i64``: the example id of each row, appended;
- ``state.json``: ``count`` (rows committed), ``dim`` and the ``key`` (model, pooling, maximum
  length, pool size) the vectors were made with; replaced atomically after both appends are on
  disk (fsync). A chunk is committed by that replace: rows past ``count`` (a chunk cut off by a
  kill) are cut away on the next start, and a changed key starts the cache over.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

CACHE_DIR = "embeddings"
CHUNK_SIZE = 256  # texts per committed chunk: a second or two of CPU, so other work waits little
BATCH_SIZE = 32  # texts per forward pass (~0.4 s on a busy CPU); the worker checks for labels between


class EmbeddingCache:
    """The committed rows of the cache, in memory, and appending a chunk to it.

    Args:
        folder: The project folder.
        key: What the vectors depend on; a cache made with another key is discarded.
    """

    def __init__(self, folder: Path, key: dict[str, Any]) -> None:
        self.folder = Path(folder) / CACHE_DIR
        self.key = key
        self.count = 0
        self.ids = np.zeros(0, dtype=np.int64)
        self._vectors = np.zeros((0, 0), dtype=np.float32)  # capacity grows by doubling
        self.row: dict[int, int] = {}
        state_path = self.folder / "state.json"
        state = json.loads(state_path.read_text()) if state_path.exists() else None
        if state is None or state.get("key") != key or not self._load(state):
            shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True, exist_ok=True)

    @property
    def vectors(self) -> np.ndarray:
        """``(count, dim)`` float32 vectors, row ``k`` of example ``ids[k]``."""
        return self._vectors[:self.count]

    def _load(self, state: dict[str, Any]) -> bool:
        count, dim = int(state["count"]), int(state["dim"])
        paths = (self.folder / "vectors.f32", self.folder / "ids.i64")
        sizes = (count * dim * 4, count * 8)
        if any(not p.exists() or p.stat().st_size < size for p, size in zip(paths, sizes, strict=True)):
            return False  # fewer bytes than committed: damaged, start over
        for path, size in zip(paths, sizes, strict=True):
            os.truncate(path, size)  # drop a chunk appended but never committed
        self.ids = np.fromfile(paths[1], dtype="<i8", count=count).astype(np.int64)
        self._vectors = np.fromfile(paths[0], dtype="<f4", count=count * dim).reshape(count, dim)
        self.count = count
        self.row = {int(i): k for k, i in enumerate(self.ids)}
        return True

    def append(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Commit one chunk: rows for ``ids`` (not in the cache yet), durable before it counts."""
        from peftal.store.atomic import write_json_atomic

        ids = np.asarray(ids, dtype=np.int64)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        for name, data in (("vectors.f32", vectors.astype("<f4")), ("ids.i64", ids.astype("<i8"))):
            with open(self.folder / name, "ab") as handle:
                handle.write(data.tobytes())
                handle.flush()
                os.fsync(handle.fileno())
        self._grow(len(ids), vectors.shape[1])
        self._vectors[self.count:self.count + len(ids)] = vectors
        self.ids = np.concatenate([self.ids, ids])
        self.row.update({int(i): self.count + k for k, i in enumerate(ids)})
        self.count += len(ids)
        write_json_atomic(self.folder / "state.json",
                          {"key": self.key, "count": self.count, "dim": int(vectors.shape[1])})

    def _grow(self, extra: int, dim: int) -> None:
        if self._vectors.shape[0] >= self.count + extra:
            return
        grown = np.zeros((max(2 * self._vectors.shape[0], self.count + extra), dim), dtype=np.float32)
        if self.count:
            grown[:self.count] = self._vectors[:self.count]
        self._vectors = grown

    def get(self, ids: np.ndarray) -> np.ndarray:
        """Vectors of ``ids`` (all cached), in that order."""
        return self.vectors[[self.row[int(i)] for i in ids]]


def read_committed(folder: Path, expected: dict[str, Any]) -> tuple[np.ndarray, np.ndarray] | None:
    """``(ids, vectors)`` of the cache's committed rows, for a reader in another process (the
    server's review): memory-mapped, nothing written or cut, only rows that ``state.json`` counts.

    Args:
        folder: The project folder.
        expected: Entries of the cache's key that must match (e.g. ``pool``, ``pooling``,
            ``max_length``); ``None`` when they do not, or when there is no cache yet.
    """
    cache = Path(folder) / CACHE_DIR
    try:
        state = json.loads((cache / "state.json").read_text())
        count, dim = int(state["count"]), int(state["dim"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if count == 0 or any(state.get("key", {}).get(k) != v for k, v in expected.items()):
        return None
    try:
        ids = np.memmap(cache / "ids.i64", dtype="<i8", mode="r", shape=(count,))
        vectors = np.memmap(cache / "vectors.f32", dtype="<f4", mode="r", shape=(count, dim))
    except (OSError, ValueError):  # shorter than committed: being rebuilt
        return None
    return np.asarray(ids, dtype=np.int64), vectors


class PoolEmbedder:
    """Embeds the project's pool with the frozen encoder into an :class:`EmbeddingCache`.

    Mean (or the project's) pooling of the pretrained encoder's last layer, as
    ``peftal.training.embed`` computes it for a plain :class:`~peftal.models.TextClassifier`.

    Args:
        store: The project's store.
        settings: Its settings (model, pooling, maximum length).
        encoder, tokenizer: The pretrained encoder (only read, never trained) and its tokenizer.
        folder: The project folder holding the cache.
        chunk_size: Texts per committed chunk.
    """

    def __init__(self, store: Any, settings: Any, encoder: Any, tokenizer: Any, folder: Path,
                 chunk_size: int = CHUNK_SIZE) -> None:
        from peftal.models.backbone import display_name
        from peftal.models.heads import TextClassifier

        self.store = store
        self.settings = settings
        self.tokenizer = tokenizer
        self.chunk_size = chunk_size
        self.base = TextClassifier(encoder, len(settings.labels), pooling=settings.pooling)
        self.order = np.asarray(store.cold_order(), dtype=np.int64)
        key = {"model": display_name(settings.model), "pooling": settings.pooling,
               "max_length": settings.max_length, "hidden": int(encoder.config.hidden_size),
               "pool": len(self.order)}
        self.cache = EmbeddingCache(folder, key)
        self._next = 0  # position in ``order`` before which every id is cached

    @property
    def pool_size(self) -> int:
        return len(self.order)

    def pending(self) -> int:
        """Texts not embedded yet."""
        return self.pool_size - self.cache.count

    def next_chunk(self, first: np.ndarray | None = None) -> np.ndarray:
        """The ids of the next chunk: uncached ids of ``first`` (labelled texts), then the cold
        order."""
        chunk = [int(i) for i in (first if first is not None else []) if int(i) not in self.cache.row]
        chunk = chunk[:self.chunk_size]
        while len(chunk) < self.chunk_size and self._next < len(self.order):
            candidate = int(self.order[self._next])
            if candidate not in self.cache.row and candidate not in chunk:
                chunk.append(candidate)
            self._next += 1
        return np.asarray(chunk, dtype=np.int64)

    def embed_chunk(self, first: np.ndarray | None = None,
                    between: Callable[[], None] | None = None) -> int:
        """Embed and commit the next chunk; returns how many texts it held. ``between`` is called
        after each forward pass (the worker's chance to refit the probe or notice its parent)."""
        ids = self.next_chunk(first)
        if len(ids):
            self.cache.append(ids, self.vectors_of(ids, between))
        return len(ids)

    def ensure(self, ids: np.ndarray, between: Callable[[], None] | None = None) -> None:
        """Embed and commit, a chunk at a time, whichever of ``ids`` is not cached yet."""
        missing = np.asarray([i for i in dict.fromkeys(int(i) for i in ids) if i not in self.cache.row],
                             dtype=np.int64)
        for start in range(0, len(missing), self.chunk_size):
            chunk = missing[start:start + self.chunk_size]
            self.cache.append(chunk, self.vectors_of(chunk, between))

    def vectors_of(self, ids: np.ndarray, between: Callable[[], None] | None = None) -> np.ndarray:
        """``(len(ids), hidden)`` pooled embeddings of the texts ``ids``, computed now."""
        from peftal.data.dataset import Split
        from peftal.data.encoding import encode
        from peftal.training import embed

        texts, pairs = self.store.texts(ids)
        encoded = encode(self.tokenizer, Split(texts, np.zeros(len(texts)), pairs),
                         self.settings.max_length)
        parts = []
        for start in range(0, len(ids), BATCH_SIZE):
            positions = np.arange(start, min(start + BATCH_SIZE, len(ids)))
            parts.append(embed(self.base, encoded, positions, batch_size=BATCH_SIZE))
            if between is not None:
                between()
        return np.concatenate(parts).astype(np.float32)
