"""The current model as strategies see it: probabilities and embeddings for global ids."""

from __future__ import annotations

import numpy as np
from torch import nn

from peftal.data.encoding import Encoded
from peftal.training.trainer import embed, predict, softmax


class ModelClassifier:
    """Wraps a trained model and the encoded pool (:class:`~peftal.al.strategies.Classifier`).

    Args:
        model: The trained task model.
        encoded: Token ids of the whole pool, indexed by global id.
        task: ``classification`` or ``regression``.
        batch_size: Inference batch size.
        precision: ``fp32`` or ``bf16`` autocast for the forward passes.
    """

    def __init__(self, model: nn.Module, encoded: Encoded, task: str, batch_size: int = 128,
                 precision: str = "fp32") -> None:
        self.model = model
        self.encoded = encoded
        self.task = task
        self.batch_size = batch_size
        self.precision = precision

    def predict_logits(self, indices: np.ndarray) -> np.ndarray:
        return predict(self.model, self.encoded, indices, self.batch_size, self.precision)

    def predict_proba(self, indices: np.ndarray) -> np.ndarray:
        if self.task == "regression":
            raise ValueError("a regression model has no class probabilities")
        return softmax(self.predict_logits(indices))

    def embed(self, indices: np.ndarray) -> np.ndarray:
        return embed(self.model, self.encoded, indices, self.batch_size, self.precision)
