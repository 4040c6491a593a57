"""One ONNX graph from token ids to probabilities, from a trained model, and its int8 copy.

Used by ``peftal export --format onnx`` (:mod:`peftal.export.onnx`) and by int8 pool scoring in AL
rounds (:mod:`peftal.al.int8`). ``torch.onnx.export`` is used because optimum's exporters do not
install beside transformers 5; the int8 copy is ONNX Runtime's dynamic quantisation (int8 weights,
activations quantised at run time), which needs no calibration data.
"""

from __future__ import annotations

import logging
import re
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from peftal.errors import UsageError
from peftal.peft import arch

OPSET = 18


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


def write_graphs(model: nn.Module, task: str, inputs: dict[str, torch.Tensor], folder: Path,
                 *, int8: bool) -> bool:
    """``folder/model.onnx`` (:func:`export_graph`) and, with ``int8``, ``folder/model.int8.onnx``
    (:func:`quantize`, the layers to keep in fp32 found from the model's architecture before its
    adapter is folded); returns whether the adapter was merged."""
    layout = arch.ARCHITECTURES.get(arch.model_type(model.encoder))
    was_merged = export_graph(model, task, inputs, folder / "model.onnx")
    if int8:
        quantize(folder / "model.onnx", folder / "model.int8.onnx", layout)
    return was_merged


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


def _check_graph(path: Path, inputs: dict[str, torch.Tensor], expected: np.ndarray) -> None:
    """Refuse an export whose graph does not compute what the model does (a traced Python branch)."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {name: value.numpy() for name, value in inputs.items()})[0]
    difference = float(np.abs(got - expected).max())
    if difference > 1e-4:
        raise UsageError(f"the exported graph differs from the model by {difference:.2g}; "
                         "this method does not export faithfully")
