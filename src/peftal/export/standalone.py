"""Predict with an exported folder using onnxruntime, tokenizers and numpy only.

This file is copied verbatim into every export as ``predict.py``: it must not import peftal, torch,
transformers or peft, so that the folder runs wherever those three small packages install (a web
service, a batch job, a laptop). peftal itself uses the same class for ``peftal predict`` and
``peftal serve`` on an exported folder, so the two paths cannot drift.

Usage from a shell::

    python predict.py "first text" "second text"        # one JSON line per text
    python predict.py --pairs "premise" "hypothesis"     # pair tasks: texts two by two

or from Python::

    from predict import Predictor
    Predictor("exported/").predict(["some text"])   # [{"label": ..., "probabilities": {...}}]

A multi-label export answers ``{"labels": [...], "probabilities": {...}}`` per text: every label whose
sigmoid probability reaches its threshold (``thresholds`` in ``export.json``, chosen by the run).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime
from tokenizers import Tokenizer

MODEL_FILES = ("model.onnx", "model.int8.onnx")


class Predictor:
    """The exported graph (token ids -> class probabilities) behind its tokenizer.

    Args:
        folder: The exported folder (``export.json``, ``labels.json``, ``tokenizer.json``, a model).
        int8: Use ``model.int8.onnx`` (default: it when present, else ``model.onnx``).
        threads: Intra-op threads of onnxruntime (default: its own choice).
    """

    def __init__(self, folder: str | Path, int8: bool | None = None, threads: int | None = None) -> None:
        folder = Path(folder)
        self.info = json.loads((folder / "export.json").read_text())
        self.labels = json.loads((folder / "labels.json").read_text())
        name = "model.int8.onnx" if (int8 or (int8 is None and (folder / "model.int8.onnx").exists())) \
            else "model.onnx"
        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.model_file = name
        self.session = onnxruntime.InferenceSession(str(folder / name), options,
                                                    providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(self.info["max_length"])
        self.pad_id = int(self.info.get("pad_id", 0))
        self.multilabel = self.info.get("task") == "multilabel"
        self.thresholds = (np.asarray(self.info.get("thresholds") or [0.5] * len(self.labels),
                                      dtype=np.float64) if self.multilabel else None)

    def probabilities(self, texts: list[str], pairs: list[str] | None = None,
                      batch_size: int = 64) -> np.ndarray:
        """Class probabilities ``(len(texts), classes)`` (multi-label: one sigmoid per label;
        regression: the value, ``(n, 1)``)."""
        inputs = list(zip(texts, pairs)) if pairs is not None else list(texts)
        encodings = self.tokenizer.encode_batch(inputs) if inputs else []
        order = np.argsort([len(e.ids) for e in encodings], kind="stable")  # similar lengths together
        out = None
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            result = self.session.run(None, self._feed([encodings[r] for r in rows]))[0]
            if out is None:
                out = np.empty((len(encodings), result.shape[1]), dtype=np.float32)
            out[rows] = result
        return out if out is not None else np.zeros((0, len(self.labels) or 1), dtype=np.float32)

    def _feed(self, encodings: list) -> dict[str, np.ndarray]:
        width = max(len(e.ids) for e in encodings)
        ids = np.full((len(encodings), width), self.pad_id, dtype=np.int64)
        mask = np.zeros_like(ids)
        types = np.zeros_like(ids)
        for row, encoding in enumerate(encodings):
            n = len(encoding.ids)
            ids[row, :n], mask[row, :n], types[row, :n] = encoding.ids, 1, encoding.type_ids
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        return {name: feed[name] for name in self.input_names}

    def chosen(self, probabilities: np.ndarray) -> np.ndarray:
        """Multi-label: the ``(n, labels)`` booleans ``probability >= threshold`` of each label."""
        return np.asarray(probabilities, dtype=np.float64) >= self.thresholds

    def predict(self, texts: list[str], pairs: list[str] | None = None) -> list[dict]:
        """``[{"label", "probabilities": {label: p}}]`` per text (multi-label: ``{"labels": [...],
        "probabilities"}``; regression: ``{"value"}``)."""
        outputs = self.probabilities(texts, pairs)
        if not self.labels:
            return [{"value": float(row[0])} for row in outputs]
        if self.multilabel:
            return [{"labels": [name for name, yes in zip(self.labels, chosen) if yes],
                     "probabilities": {name: float(p) for name, p in zip(self.labels, row)}}
                    for row, chosen in zip(outputs, self.chosen(outputs))]
        return [{"label": self.labels[int(row.argmax())],
                 "probabilities": {name: float(p) for name, p in zip(self.labels, row)}}
                for row in outputs]


def main(argv: list[str]) -> int:
    pairs = argv[:1] == ["--pairs"]
    texts = argv[1:] if pairs else argv
    if not texts or (pairs and len(texts) % 2):
        print(__doc__.split("Usage", 1)[1], file=sys.stderr)
        return 2
    predictor = Predictor(Path(__file__).resolve().parent)
    results = (predictor.predict(texts[0::2], texts[1::2]) if pairs else predictor.predict(texts))
    for result in results:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
