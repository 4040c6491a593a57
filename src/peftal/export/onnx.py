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
import logging
import re
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from peftal.errors import UsageError
from peftal.export.folder import EXPORT_META, LABELS, portable_json, run_metrics
from peftal.peft import arch
from peftal.peft.card import base_model_id

OPSET = 18
_STANDALONE = Path(__file__).with_name("standalone.py")


class ProbabilityModel(nn.Module):
    """``model`` followed by a softmax over classes (classification), a sigmoid per label
    (multi-label: each label is its own yes/no, cut at its threshold outside the graph) or nothing
    (regression)."""

    def __init__(self, model: nn.Module, task: str) -> None:
        super().__init__()
        self.model, self.task = model, task

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        outputs = self.model(input_ids, attention_mask, token_type_ids)  # (batch, classes)
        if self.task == "multilabel":
            return torch.sigmoid(outputs)
        return torch.softmax(outputs, dim=-1) if self.task == "classification" else outputs


def merged(model: nn.Module) -> bool:
    """Fold a peft adapter into the encoder's weights where peft can; whether it did."""
    encoder = model.encoder
    if not (hasattr(encoder, "peft_config") and hasattr(encoder, "merge_and_unload")):
        return False
    if encoder.active_peft_config.is_prompt_learning:
        return False  # soft prompts are inputs, not weights: nothing to fold
    try:
        model.encoder = encoder.merge_and_unload()
    except (NotImplementedError, ValueError, AttributeError, TypeError):
        return False  # traced with the adapter as it runs
    return True


def export_graph(model: nn.Module, task: str, inputs: dict[str, torch.Tensor], path: Path) -> bool:
    """Write ``model`` (merged where it can be, :func:`merged`) as one ONNX graph to ``path``, traced
    on ``inputs`` with free batch and sequence axes, and check it against the model; returns whether
    the adapter was merged."""
    was_merged = merged(model)
    wrapper = ProbabilityModel(model.eval(), task).eval()
    names = list(inputs)
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")  # tracer warnings about Python values in the graph
        expected = wrapper(**inputs).numpy()
        torch.onnx.export(wrapper, tuple(inputs.values()), str(path), input_names=names,
                          output_names=["probabilities"], opset_version=OPSET, dynamo=False,
                          dynamic_axes={**{n: {0: "batch", 1: "sequence"} for n in names},
                                        "probabilities": {0: "batch"}})
    _check_graph(path, inputs, expected)
    return was_merged


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
    layout = arch.ARCHITECTURES.get(arch.model_type(model.encoder))
    was_merged = export_graph(model, meta["task"], inputs, out / "model.onnx")
    if int8:
        quantize(out / "model.onnx", out / "model.int8.onnx", layout)
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


def quantize(source: Path, target: Path, layout: arch.LayerMap | None) -> None:
    """Dynamic int8 quantisation of the weight matrix products of ``source`` into ``target``.

    Kept in fp32: products of two activations (attention scores; ``MatMulConstBOnly``), each
    layer's feed-forward down-projection, whose input (the GELU output) has the widest and most
    outlying range of the layer, so that one int8 scale per tensor at run time loses most there, and
    peftal's own adapter modules (small: nothing to gain). Measured on TREC's 500 test texts, argmax
    agreement with fp32 and accuracy change: LoRA, everything in int8, 0.98 and +0.8 points; as here
    0.99 and -0.2; Houlsby as here 0.988 and -0.6 (per-tensor scales, signed weights, or the last
    layer in fp32 too did not do better on both). A third of the layer's products stay in fp32.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    keep = []
    if layout is not None:
        pattern = re.compile(rf"{re.escape(layout.layers.split('.')[-1])}\.\d+/"
                             rf"{re.escape(layout.ffn_out.replace('.', '/'))}/MatMul$")
        keep = [node.name for node in onnx.load(str(source), load_external_data=False).graph.node
                if node.op_type == "MatMul" and (pattern.search(node.name) or "/peftal_" in node.name)]
    root, level = logging.getLogger(), logging.getLogger().level
    root.setLevel(logging.ERROR)  # its advice to pre-process the graph is for convolutions
    try:
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QUInt8, per_channel=True,
                         op_types_to_quantize=["MatMul"], nodes_to_exclude=keep,
                         extra_options={"MatMulConstBOnly": True})
    finally:
        root.setLevel(level)


def _example_inputs(tokenizer: Any, with_types: bool) -> dict[str, torch.Tensor]:
    """Two texts of different lengths (so padding and the batch axis are in the traced graph)."""
    batch = tokenizer(["an example to trace the graph with", "short"], padding=True,
                      return_tensors="pt")
    inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    if with_types:
        inputs["token_type_ids"] = batch.get("token_type_ids", torch.zeros_like(batch["input_ids"]))
    return inputs


def _check_graph(path: Path, inputs: dict[str, torch.Tensor], expected: np.ndarray) -> None:
    """Refuse an export whose graph does not compute what the model does (a traced Python branch)."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {name: value.numpy() for name, value in inputs.items()})[0]
    difference = float(np.abs(got - expected).max())
    if difference > 1e-4:
        raise UsageError(f"the exported graph differs from the model by {difference:.2g}; "
                         "this method does not export faithfully")


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
