"""The current model as strategies see it: probabilities and embeddings for global ids.

Embeddings are the pooled last-layer representation that feeds the head (attention-masked mean of
the last hidden states by default, the first token with ``--pooling cls``; see
:mod:`peftal.models.heads`), taken with dropout off.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from peftal.data.encoding import Encoded, inference_batches
from peftal.seeding import torch_seeded
from peftal.training.device import model_device, to_device
from peftal.training.features import PooledFeatures, head_outputs
from peftal.training.metrics import sigmoid
from peftal.training.precision import autocast
from peftal.training.trainer import embed, predict, softmax


class ModelClassifier:
    """Wraps a trained model and the encoded pool (:class:`~peftal.al.strategies.Classifier`).

    Args:
        model: The trained task model.
        encoded: Token ids of the whole pool, indexed by global id, or their cached embeddings
            (:class:`~peftal.training.features.PooledFeatures`) when the encoder is frozen.
        task: ``classification``, ``multilabel`` or ``regression``. Multi-label probabilities are
            one sigmoid per label (``(n, labels)``, rows need not sum to 1), not a softmax.
        batch_size: Inference batch size.
        precision: ``fp32`` or ``bf16`` autocast for the forward passes.
    """

    def __init__(self, model: nn.Module, encoded: Encoded | PooledFeatures, task: str, batch_size: int = 128,
                 precision: str = "fp32") -> None:
        self.model = model
        self.encoded = encoded
        self.task = task
        self.batch_size = batch_size
        self.precision = precision

    def predict_logits(self, indices: np.ndarray) -> np.ndarray:
        return predict(self.model, self.encoded, indices, self.batch_size, self.precision)

    def predict_proba(self, indices: np.ndarray) -> np.ndarray:
        """``(len(indices), classes)`` class probabilities, dropout off."""
        self._check_classification()
        return self._probabilities(self.predict_logits(indices))

    def embed(self, indices: np.ndarray) -> np.ndarray:
        """``(len(indices), hidden)`` pooled last-layer representations, dropout off."""
        return embed(self.model, self.encoded, indices, self.batch_size, self.precision)

    @torch.inference_mode()
    def embed_proba(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Embeddings ``(n, hidden)`` and class probabilities ``(n, classes)`` from one forward pass."""
        self._check_classification()
        if isinstance(self.encoded, PooledFeatures):  # a frozen encoder's cached embeddings
            vectors = self.encoded.vectors(indices)
            return vectors, self._probabilities(head_outputs(self.model, vectors))
        self.model.eval()
        device = model_device(self.model)
        indices = np.asarray(indices, dtype=np.int64)
        hidden = self.model.head.in_features
        vectors = np.zeros((len(indices), hidden), dtype=np.float32)
        logits = np.zeros((len(indices), self.model.head.out_features), dtype=np.float32)
        for positions, batch in inference_batches(self.encoded, indices, self.batch_size):
            with autocast(self.precision, device):
                pooled = self.model.pooled(**to_device(batch, device))  # (batch, hidden)
                # In eval mode the dropout before the head is the identity, so this equals forward().
                logits[positions] = self.model.head(pooled).float().cpu().numpy()
            vectors[positions] = pooled.float().cpu().numpy()
        return vectors, self._probabilities(logits)

    @torch.inference_mode()
    def mc_predict_proba(self, indices: np.ndarray, passes: int, seed: int) -> np.ndarray:
        """``(len(indices), classes, passes)`` probabilities from ``passes`` forward passes with
        dropout on (MC dropout, Gal & Ghahramani 2016).

        Each inference batch is replicated ``passes`` times and run as one forward pass: dropout
        draws an independent mask per row, so the replicas are independent stochastic passes, at a
        fraction of the cost of ``passes`` separate loops. Batches hold ``batch_size // passes``
        examples so that the replicated batch keeps the usual memory footprint.

        Args:
            indices: Global ids.
            passes: Number of stochastic forward passes ``T``.
            seed: Seeds the dropout masks (torch's global generator is forked, not disturbed).
        """
        self._check_classification()
        if passes < 1:
            raise ValueError(f"passes must be >= 1, got {passes}")
        indices = np.asarray(indices, dtype=np.int64)
        out = np.zeros((len(indices), self.model.head.out_features, passes), dtype=np.float32)
        per_batch = max(1, self.batch_size // passes)
        # Dropout acts inside the encoder too, so cached embeddings of a frozen encoder do not serve.
        encoded = self.encoded.encoded if isinstance(self.encoded, PooledFeatures) else self.encoded
        was_training = self.model.training
        device = model_device(self.model)
        with torch_seeded(seed):
            self.model.train()  # dropout on: every dropout module of the encoder, method and head
            try:
                for positions, batch in inference_batches(encoded, indices, per_batch):
                    replicated = {key: value.repeat_interleave(passes, dim=0).to(device)
                                  for key, value in batch.items()}  # (batch * passes, seq)
                    with autocast(self.precision, device):
                        logits = self.model(**replicated).float()  # (batch * passes, classes)
                    probs = (torch.sigmoid(logits) if self.task == "multilabel"
                             else torch.softmax(logits, dim=-1)).reshape(len(positions), passes, -1)
                    out[positions] = probs.permute(0, 2, 1).cpu().numpy()  # (batch, classes, passes)
            finally:
                self.model.train(was_training)
        return out

    def _probabilities(self, logits: np.ndarray) -> np.ndarray:
        if self.task == "multilabel":
            return sigmoid(logits).astype(np.float32)
        return softmax(logits)

    def _check_classification(self) -> None:
        if self.task == "regression":
            raise ValueError("a regression model has no class probabilities")
