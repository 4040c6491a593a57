"""How far fine-tuning moved the encoder: layer-wise CKA between the base pretrained model and a
fine-tuned one on a fixed probe set of test examples (Kornblith et al. 2019; the representation
analysis of Jukić & Šnajder 2023).

The probe set is drawn once per run from its own generator seeded by the run's seed, so it never
touches the run's random stream (the same command gives the same queried ids with or without CKA).
The base model's representations are computed once per run; each measurement then needs one
forward pass of the fine-tuned encoder over the probe.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from torch import nn

from peftal.data.encoding import Encoded
from peftal.measures.cka import cka_matrix
from peftal.models.representations import layer_representations
from peftal.seeding import stream_rng


class RepresentationProbe:
    """Layer-wise CKA of fine-tuned encoders against the base encoder on a fixed probe set.

    Args:
        base_encoder: The pretrained encoder (left untouched).
        encoded: Token ids of the evaluation split.
        size: Probe examples, drawn without replacement (all of the split when it is smaller).
        seed: Seed of the probe draw.
        pooling: How each layer's tokens become one vector: ``mean`` or ``cls``
            (:func:`~peftal.models.representations.layer_representations`).
        batch_size: Inference batch size.
    """

    def __init__(self, base_encoder: nn.Module, encoded: Encoded, size: int, seed: int, *,
                 pooling: str = "mean", batch_size: int = 128) -> None:
        rng = stream_rng(seed, "cka_probe")
        size = min(size, len(encoded))
        self.indices = np.sort(rng.choice(len(encoded), size=size, replace=False))
        self.encoded = encoded
        self.pooling = pooling
        self.batch_size = batch_size
        # (num_layers + 1, probe, hidden)
        self.base_ = self._represent(base_encoder)

    def _represent(self, encoder: nn.Module) -> np.ndarray:
        return layer_representations(encoder, self.encoded, self.indices, pooling=self.pooling,
                                     batch_size=self.batch_size)

    def measure(self, model: nn.Module) -> dict[str, Any]:
        """CKA of ``model``'s encoder against the base encoder.

        Returns:
            ``per_layer``: linear CKA of base layer ``l`` vs fine-tuned layer ``l`` (``num_layers +
            1`` values, the embedding layer first); ``per_layer_rbf``: the same with an RBF kernel
            (median-distance bandwidth); ``matrix``: linear CKA of base layer ``i`` (rows) vs
            fine-tuned layer ``j`` (columns); ``pooling``, ``probe_size``, ``probe_ids`` (positions
            in the evaluation split), ``seconds``. A layer whose representation is the same for
            every probe example (the embedding output under ``cls`` pooling) has CKA ``None``.
        """
        start = time.perf_counter()
        tuned = self._represent(model.encoder)
        matrix = cka_matrix(list(self.base_), list(tuned), kernel="linear", constant="nan")
        per_layer_rbf = [cka_matrix([base], [layer], kernel="rbf", constant="nan")[0, 0]
                         for base, layer in zip(self.base_, tuned, strict=True)]
        return {
            "kernel": "linear",
            "pooling": self.pooling,
            "per_layer": _json(np.diag(matrix)),
            "per_layer_rbf": _json(per_layer_rbf),
            "matrix": [_json(row) for row in matrix],
            "probe_size": int(len(self.indices)),
            "probe_ids": [int(i) for i in self.indices],
            "seconds": time.perf_counter() - start,
        }


def _json(values: Any) -> list[float | None]:
    """Floats for JSON, with ``None`` where CKA is undefined (NaN is not valid JSON)."""
    return [None if np.isnan(v) else float(v) for v in values]
