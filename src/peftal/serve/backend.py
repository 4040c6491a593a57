"""What the server predicts with: an exported folder (onnxruntime) or a run's model (PyTorch).

Both give class probabilities for a list of texts (and text pairs) — one sigmoid probability per
label for a multi-label model, with the thresholds that choose its labels — and describe themselves
for ``GET /info``; only the batching thread calls :meth:`Backend.probabilities`, so neither needs locks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from peftal.errors import UsageError


@dataclass
class Backend:
    """A loaded model: ``probabilities(texts, pairs) -> (n, classes)`` and what ``/info`` says;
    ``thresholds`` ``(labels,)`` for a multi-label model (``None``: one label per text, the argmax)."""

    probabilities: Callable[[list[str], list[str] | None], np.ndarray]
    labels: list[str]
    is_pair: bool
    info: dict[str, Any] = field(default_factory=dict)
    thresholds: np.ndarray | None = None

    @property
    def multilabel(self) -> bool:
        return self.thresholds is not None


def load_backend(path: Path, *, int8: bool | None = None) -> Backend:
    """The model in ``path``: an export folder, a run folder or a ``model/`` folder."""
    from peftal.export.folder import is_export

    if is_export(path):
        return _export_backend(path, int8)
    folder = path / "model" if (path / "model").is_dir() else path
    if not (folder / "peftal_model.json").is_file():
        raise UsageError(f"{path}: not a run folder, a model/ folder or a `peftal export` folder")
    return _torch_backend(path, folder)


def _export_backend(path: Path, int8: bool | None) -> Backend:
    from peftal.export.folder import require

    require("onnxruntime", "tokenizers")
    from peftal.export.standalone import Predictor

    predictor = Predictor(path, int8=int8)
    info = predictor.info
    if info.get("task") not in ("classification", "multilabel"):
        raise UsageError(f"{path}: `peftal serve` serves classification and multi-label models; "
                         f"this one is {info.get('task')}")
    return Backend(lambda texts, pairs: predictor.probabilities(texts, pairs), predictor.labels,
                   bool(info.get("is_pair")),
                   {"method": info.get("method"), "task": info.get("task"),
                    "base_model": info.get("base_model"), "metrics": info.get("metrics", {}),
                    "runtime": f"onnxruntime ({predictor.model_file})"}, predictor.thresholds)


def _torch_backend(path: Path, folder: Path) -> Backend:
    from peftal.data.dataset import Split
    from peftal.data.encoding import encode
    from peftal.export.folder import run_metrics
    from peftal.peft.checkpoint import load_model
    from peftal.training import predict, softmax
    from peftal.training.metrics import sigmoid

    model, tokenizer, meta = load_model(folder)
    task = meta.get("task")
    if task not in ("classification", "multilabel"):
        raise UsageError(f"{path}: `peftal serve` serves classification and multi-label models; "
                         f"this one is {task}")

    def probabilities(texts: list[str], pairs: list[str] | None) -> np.ndarray:
        split = Split(texts=texts, labels=np.zeros(len(texts)), text_pairs=pairs)
        encoded = encode(tokenizer, split, meta["max_length"])
        outputs = predict(model, encoded, np.arange(len(texts)), precision=meta.get("precision", "fp32"))
        return sigmoid(outputs) if task == "multilabel" else softmax(outputs)

    thresholds = None
    if task == "multilabel":  # as `peftal predict` cuts them: 0.5 where the run recorded none
        thresholds = np.asarray(meta.get("thresholds") or [0.5] * len(meta["label_names"]), dtype=np.float64)
    return Backend(probabilities, list(meta["label_names"]), bool(meta.get("is_pair")),
                   {"method": meta["method"], "task": task, "metrics": run_metrics(path),
                    "runtime": "pytorch"}, thresholds)
