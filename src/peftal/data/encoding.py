"""Tokenise once per run, then build dynamically padded batches from global ids.

Texts are tokenised a single time into unpadded id arrays; a batch is padded only to its own longest
example, and inference batches are sorted by length so that little padding is computed at all.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from peftal.data.dataset import Split


@dataclass
class Encoded:
    """Token ids of a split, unpadded. ``token_type_ids`` is ``None`` for models without them."""

    input_ids: list[np.ndarray]
    token_type_ids: list[np.ndarray] | None
    pad_id: int

    @property
    def lengths(self) -> np.ndarray:
        return np.fromiter((len(ids) for ids in self.input_ids), dtype=np.int64,
                           count=len(self.input_ids))

    def lengths_of(self, indices: np.ndarray) -> np.ndarray:
        """Token counts of the examples at ``indices``; only those examples are looked at."""
        return np.fromiter((len(self.input_ids[i]) for i in indices), dtype=np.int64, count=len(indices))

    def __len__(self) -> int:
        return len(self.input_ids)


class _Tokenised(Sequence):
    """One field (token ids or token type ids) of a :class:`LazyEncoded`, indexed like a list."""

    def __init__(self, owner: LazyEncoded, field: int) -> None:
        self.owner, self.field = owner, field

    def __len__(self) -> int:
        return len(self.owner.texts)

    def __getitem__(self, index: int) -> np.ndarray:  # type: ignore[override]
        return self.owner.row(int(index))[self.field]


class LazyEncoded(Encoded):
    """An :class:`Encoded` whose texts are tokenised when first asked for, keeping the latest
    ``cache_size`` results (a text is re-tokenised, identically, after it drops out).

    For the labelling app's pool: tokenising a million texts up front took minutes and gigabytes
    before the first label could train anything, while a retrain, a scored subsample and an
    embedded chunk each touch a few thousand of them. Written here because ``datasets``' lazy
    ``map``/``set_transform`` would add a second copy of the texts in Arrow and give rows, not the
    unpadded id arrays the batching code indexes.

    Args:
        tokenizer: A Hugging Face tokenizer.
        texts: The texts; ``pairs`` their second texts, or ``None``.
        max_length: Truncation length in tokens.
        cache_size: How many tokenised texts to keep.
    """

    def __init__(self, tokenizer, texts: Sequence[str], pairs: Sequence[str] | None, max_length: int,
                 cache_size: int = 200_000) -> None:
        self.texts, self.pairs = texts, pairs
        self._tokenizer, self._max_length = tokenizer, max_length
        # A fast tokenizer's truncation settings are shared state: one caller at a time.
        self._lock = threading.Lock()
        self.row = functools.lru_cache(maxsize=cache_size)(self._tokenise)
        with_types = ("token_type_ids" in tokenizer.model_input_names and len(texts) > 0
                      and self._tokenise(0)[1] is not None)
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        super().__init__(input_ids=_Tokenised(self, 0),
                         token_type_ids=_Tokenised(self, 1) if with_types else None, pad_id=pad_id)

    def _tokenise(self, index: int) -> tuple[np.ndarray, np.ndarray | None]:
        pair = None if self.pairs is None else self.pairs[index]
        with self._lock:
            output = self._tokenizer(self.texts[index], pair, truncation=True, max_length=self._max_length,
                                     padding=False, return_attention_mask=False)
        types = output.get("token_type_ids")
        return (np.asarray(output["input_ids"], dtype=np.int64),
                None if types is None else np.asarray(types, dtype=np.int64))


def encode(tokenizer, split: Split, max_length: int) -> Encoded:
    """Tokenise ``split`` (with its text pairs) truncated to ``max_length`` tokens."""
    output = tokenizer(
        split.texts, split.text_pairs, truncation=True, max_length=max_length, padding=False,
        return_attention_mask=False,
    )
    with_types = "token_type_ids" in tokenizer.model_input_names and "token_type_ids" in output
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    return Encoded(
        input_ids=[np.asarray(ids, dtype=np.int64) for ids in output["input_ids"]],
        token_type_ids=[np.asarray(t, dtype=np.int64) for t in output["token_type_ids"]]
        if with_types else None,
        pad_id=pad_id,
    )


def collate(encoded: Encoded, indices: np.ndarray) -> dict[str, torch.Tensor]:
    """Pad the examples at ``indices`` to the longest of them: ``input_ids (batch, seq)`` etc."""
    rows = [encoded.input_ids[i] for i in indices]
    width = max(len(row) for row in rows)
    input_ids = np.full((len(rows), width), encoded.pad_id, dtype=np.int64)
    attention_mask = np.zeros((len(rows), width), dtype=np.int64)
    for r, row in enumerate(rows):
        input_ids[r, : len(row)] = row
        attention_mask[r, : len(row)] = 1
    batch = {"input_ids": torch.from_numpy(input_ids), "attention_mask": torch.from_numpy(attention_mask)}
    if encoded.token_type_ids is not None:
        types = np.zeros((len(rows), width), dtype=np.int64)
        for r, i in enumerate(indices):
            types[r, : len(encoded.token_type_ids[i])] = encoded.token_type_ids[i]
        batch["token_type_ids"] = torch.from_numpy(types)
    return batch


def inference_batches(encoded: Encoded, indices: np.ndarray,
                      batch_size: int) -> Iterator[tuple[np.ndarray, dict[str, torch.Tensor]]]:
    """Length-sorted batches over ``indices``; yields ``(positions in indices, batch)``."""
    indices = np.asarray(indices, dtype=np.int64)
    order = np.argsort(encoded.lengths_of(indices), kind="stable")
    for start in range(0, len(order), batch_size):
        positions = order[start : start + batch_size]
        yield positions, collate(encoded, indices[positions])


GROUP_SPAN = 4
"""Batches per length group in :func:`training_batches` (see there)."""


def training_batches(encoded: Encoded, indices: np.ndarray, batch_size: int, rng: np.random.Generator,
                     group_by_length: bool = False) -> Iterator[tuple[np.ndarray, dict[str, torch.Tensor]]]:
    """Shuffled batches over ``indices``; yields ``(positions in indices, batch)``.

    With ``group_by_length``, the shuffled order is cut into groups of ``GROUP_SPAN`` batches, each
    group is sorted by length and cut into batches, and the batches are shuffled: batches hold
    examples of similar length, so less padding is computed, while every epoch still draws new
    groups (HF ``Trainer``'s ``group_by_length`` sorts groups of 50 batches; a span of 4 keeps more
    of the randomness of the batches that a few hundred labels give). Measured on TREC: 10-25%
    more examples/s (docs/performance.md).
    """
    indices = np.asarray(indices)
    order = rng.permutation(len(indices))
    batches = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
    if group_by_length and len(batches) > 1:
        lengths = encoded.lengths_of(indices)
        span = batch_size * GROUP_SPAN
        batches = []
        for start in range(0, len(order), span):
            group = order[start : start + span]
            group = group[np.argsort(lengths[group], kind="stable")]
            batches += [group[k : k + batch_size] for k in range(0, len(group), batch_size)]
        batches = [batches[b] for b in rng.permutation(len(batches))]
    for positions in batches:
        yield positions, collate(encoded, indices[positions])
