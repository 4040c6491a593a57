"""Pool scoring with an int8 copy of the round's model (``--scoring-precision int8``).

After a round trains, a copy of its model is written as one ONNX graph (token ids to
probabilities; adapters folded into the weights where peft can, :mod:`peftal.peft.onnx_graph`),
quantised to int8 with ONNX Runtime's dynamic quantisation, and the pool is scored with ONNX
Runtime (the graph, its quantisation and the fp32 parts kept are those of ``peftal export
--int8``, docs/deploy.md). Only the probabilities are computed this way; embeddings (diversity
strategies) and dropout passes (MC dropout, BALD) still come from the PyTorch model, and training
and test evaluation stay as they are.
"""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from peftal.al.learner import ModelClassifier
from peftal.data.encoding import Encoded, collate, inference_batches
from peftal.errors import UsageError
from peftal.peft.onnx_graph import write_graphs

SCORING_PRECISIONS = ("fp32", "int8")
_TINY = 1e-7  # probabilities are clipped here before logits are taken back from them


def check_int8_available() -> None:
    """One line naming the extra to install when ONNX Runtime or onnx is missing."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        raise UsageError("--scoring-precision int8 needs onnx and onnxruntime: "
                         "pip install 'peftal[export]'") from None


class Int8Classifier(ModelClassifier):
    """A :class:`~peftal.al.learner.ModelClassifier` whose probabilities come from an int8 ONNX
    Runtime copy of ``model``, built on first use (a few seconds) and kept for the round.

    Logits are given back as ``log p`` (classification: softmax gives ``p`` again) or
    ``log(p / (1 - p))`` (multi-label: the sigmoid gives ``p``), so every strategy that reads
    probabilities or logits sees the int8 model's.
    """

    def __init__(self, model: nn.Module, encoded: Encoded, task: str, batch_size: int = 128,
                 precision: str = "fp32") -> None:
        super().__init__(model, encoded, task, batch_size, precision)
        self._session = None
        self._names: list[str] = []

    def _build(self) -> None:
        import onnxruntime

        ids = np.argsort(self.encoded.lengths_of(np.arange(min(len(self.encoded), 64))))
        inputs = collate(self.encoded, ids[[0, -1]])  # two rows of different lengths: padding is traced
        twin = copy.deepcopy(self.model).cpu().eval()  # folding adapters changes the copy only
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        with tempfile.TemporaryDirectory() as tmp:
            write_graphs(twin, self.task, inputs, Path(tmp), int8=True)
            self._session = onnxruntime.InferenceSession(str(Path(tmp) / "model.int8.onnx"), options,
                                                         providers=["CPUExecutionProvider"])
        self._names = [node.name for node in self._session.get_inputs()]

    def predict_logits(self, indices: np.ndarray) -> np.ndarray:
        if self._session is None:
            self._build()
        indices = np.asarray(indices, dtype=np.int64)
        outputs = np.zeros((len(indices), self.model.head.out_features), dtype=np.float32)
        for positions, batch in inference_batches(self.encoded, indices, self.batch_size):
            feed = {name: batch[name].numpy() for name in self._names}
            outputs[positions] = self._session.run(None, feed)[0]
        if self.task == "regression":
            return outputs
        clipped = np.clip(outputs, _TINY, 1 - _TINY)
        return np.log(clipped / (1 - clipped)) if self.task == "multilabel" else np.log(clipped)
