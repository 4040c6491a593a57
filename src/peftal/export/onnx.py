"""``peftal export --format onnx``: one ONNX graph from token ids to class probabilities.

The graph holds the whole model, encoder, the method's parameters, the pooling and the head, ending
in a softmax (one sigmoid per label for multi-label; the regression value for regression), so a
consumer feeds token ids and reads probabilities; nothing of peftal's Python is needed to run it.
peft's methods that can be folded into the backbone's weights (LoRA and its relatives, IA3) are
merged first, so the graph is a plain encoder with no adapter overhead; the others, and peftal's
own modules (Houlsby and Pfeiffer adapters, prefix tuning, ...), are traced as they run.

``torch.onnx.export`` is used because optimum's exporters do not install beside transformers 5;
``--int8`` adds ``model.int8.onnx``, quantised with ONNX Runtime's dynamic quantisation
(per-channel int8 weights, activations quantised at run time), which needs no calibration data.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch

from peftal.errors import UsageError
from peftal.export.folder import EXPORT_META, LABELS, portable_json, run_metrics
from peftal.peft.card import base_model_id
from peftal.peft.onnx_graph import OPSET, write_graphs

_STANDALONE = Path(__file__).with_name("standalone.py")


def export_onnx(source: Path, out: Path, *, int8: bool = False) -> dict[str, Any]:
    """Export the model saved in ``source`` (a run folder or its ``model/``) into ``out``; returns
    what ``out/export.json`` records."""
    from peftal.peft.checkpoint import load_model

    folder = source / "model" if (source / "model").is_dir() else source
    model, tokenizer, meta = load_model(folder)
    if meta.get("task") == "qa":
        raise UsageError(f"{source}: question-answering models are not exported (span outputs); "
                         "classification, multi-label and regression models are")
    out.mkdir(parents=True, exist_ok=True)
    with_types = "token_type_ids" in tokenizer.model_input_names
    inputs = _example_inputs(tokenizer, with_types)
    names = list(inputs)
    was_merged = write_graphs(model, meta["task"], inputs, out, int8=int8)
    tokenizer.save_pretrained(str(out))
    _keep_tokenizer_files(out)
    labels = meta.get("label_names") if meta["task"] != "regression" else []
    (out / LABELS).write_text(json.dumps(labels or [], indent=1))
    info = {"format": "onnx", "task": meta["task"], "method": meta["method"],
            "base_model": base_model_id(meta.get("model")), "merged": was_merged,
            "max_length": meta["max_length"], "pooling": meta["pooling"], "is_pair": meta.get("is_pair"),
            "text_column": meta.get("text_column"), "text_pair_column": meta.get("text_pair_column"),
            "pad_id": tokenizer.pad_token_id or 0, "inputs": names, "opset": OPSET,
            "models": ["model.onnx"] + (["model.int8.onnx"] if int8 else []),
            "metrics": run_metrics(source), **_thresholds(meta)}
    (out / EXPORT_META).write_text(json.dumps(info, indent=2))
    shutil.copyfile(_STANDALONE, out / "predict.py")
    (out / "requirements.txt").write_text("onnxruntime\ntokenizers\nnumpy\n")
    card = (folder / "README.md").read_text(encoding="utf-8") if (folder / "README.md").exists() else ""
    (out / "README.md").write_text(card + _export_section(info), encoding="utf-8")
    return info


def _thresholds(meta: dict[str, Any]) -> dict[str, Any]:
    """A multi-label model's per-label thresholds in ``labels.json``'s order (0.5 each where the run
    recorded none), which the standalone predictor cuts the sigmoid probabilities at."""
    if meta["task"] != "multilabel":
        return {}
    recorded = meta.get("thresholds") or [0.5] * len(meta["label_names"])
    return {"thresholds": [float(t) for t in recorded]}


def _example_inputs(tokenizer: Any, with_types: bool) -> dict[str, torch.Tensor]:
    """Two texts of different lengths (so padding and the batch axis are in the traced graph)."""
    batch = tokenizer(["an example to trace the graph with", "short"], padding=True,
                      return_tensors="pt")
    inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    if with_types:
        inputs["token_type_ids"] = batch.get("token_type_ids", torch.zeros_like(batch["input_ids"]))
    return inputs


def _keep_tokenizer_files(out: Path) -> None:
    """The tokenizer files, with any path of this machine they record replaced (portable_json)."""
    for path in out.glob("*.json"):
        if path.name != "tokenizer.json":  # the vocabulary and rules: no paths, and large
            value = portable_json(json.loads(path.read_text(encoding="utf-8")))
            path.write_text(json.dumps(value, indent=2, ensure_ascii=False), encoding="utf-8")


def _export_section(info: dict[str, Any]) -> str:
    models = ", ".join(f"`{m}`" for m in info["models"])
    output = ("`(batch, labels)`, one sigmoid probability per label, in the order of `labels.json`; a "
              "text has each label whose probability reaches its threshold (`thresholds` in "
              "`export.json`)" if info["task"] == "multilabel" else
              "`(batch, classes)` in the order of `labels.json`")
    return (f"\n## This export\n\nONNX opset {info['opset']}: {models}, inputs "
            f"{', '.join(info['inputs'])} (int64, `(batch, sequence)`), output `probabilities` "
            f"{output}. The adapter was "
            f"{'merged into the encoder' if info['merged'] else 'traced as it runs'}.\n\n"
            "Runs with `pip install onnxruntime tokenizers numpy` (requirements.txt):\n\n"
            "```\npython predict.py 'some text'\n```\n\n```python\nfrom predict import Predictor\n"
            "Predictor('.').predict(['some text'])\n```\n")
