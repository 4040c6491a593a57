"""Pooled embeddings of a frozen encoder, computed once per example and reused.

A method that keeps the encoder frozen (``PeftMethod.frozen_encoder``, e.g. the ``head`` linear
probe) gets, every round, a fresh copy of the same pretrained encoder: the pooled vector of an
example is then the same in every round. :class:`PooledFeatures` stands wherever an
:class:`~peftal.data.encoding.Encoded` is accepted by :func:`~peftal.training.trainer.predict`,
:func:`~peftal.training.trainer.embed` and the strategies' classifier: each example goes through
the encoder at most once per run, and a round's predictions are one matrix product with the head.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from peftal.data.encoding import Encoded, inference_batches
from peftal.training.device import model_device, to_device
from peftal.training.precision import autocast


class PooledFeatures:
    """Lazily computed, memoised pooled embeddings ``(len(encoded), hidden)`` of ``encoded``.

    Args:
        model: A :class:`~peftal.models.TextClassifier` whose ``pooled`` gives the embeddings (the
            pretrained encoder with the run's pooling); it is only read.
        encoded: Token ids of the split, indexed by global id.
        batch_size: Inference batch size.
        precision: ``fp32`` or ``bf16`` autocast, as the run's other forward passes.
    """

    def __init__(self, model: nn.Module, encoded: Encoded, batch_size: int = 128,
                 precision: str = "fp32") -> None:
        self.model = model
        self.encoded = encoded
        self.batch_size = batch_size
        self.precision = precision
        self._vectors: np.ndarray | None = None  # (len(encoded), hidden), filled on demand
        self._done = np.zeros(len(encoded), dtype=bool)

    def __len__(self) -> int:
        return len(self.encoded)

    @property
    def lengths(self) -> np.ndarray:
        return self.encoded.lengths

    @property
    def num_computed(self) -> int:
        """How many examples have gone through the encoder so far."""
        return int(self._done.sum())

    @torch.inference_mode()
    def vectors(self, indices: np.ndarray) -> np.ndarray:
        """``(len(indices), hidden)`` float32 pooled embeddings, in the order of ``indices``."""
        indices = np.asarray(indices, dtype=np.int64)
        missing = np.unique(indices[~self._done[indices]])
        if len(missing):
            self.model.eval()
            device = model_device(self.model)
            for positions, batch in inference_batches(self.encoded, missing, self.batch_size):
                with autocast(self.precision, device):
                    pooled = self.model.pooled(**to_device(batch, device)).float().cpu().numpy()
                if self._vectors is None:
                    self._vectors = np.zeros((len(self.encoded), pooled.shape[1]), dtype=np.float32)
                self._vectors[missing[positions]] = pooled  # (batch, hidden)
            self._done[missing] = True
        if self._vectors is None:  # nothing asked for yet
            return np.zeros((0, 0), dtype=np.float32)
        return self._vectors[indices]


@torch.inference_mode()
def head_outputs(model: nn.Module, vectors: np.ndarray) -> np.ndarray:
    """The model's head on pooled embeddings ``(n, hidden)``: ``(n, outputs)`` float32 (dropout off,
    as in :func:`~peftal.training.trainer.predict`)."""
    weight = model.head.weight.detach().float().cpu()
    bias = model.head.bias.detach().float().cpu()
    return (torch.from_numpy(np.ascontiguousarray(vectors, dtype=np.float32)) @ weight.T + bias).numpy()
