"""Every registered method exports to one ONNX graph whose probabilities match PyTorch's, on inputs
of another batch size and length than the graph was traced on (a traced shape would show there).

Trained parameters are set to random values first: freshly initialised adapters are often the
identity (LoRA's B = 0), which would hide a wrong merge or a module left out of the graph.
"""

from __future__ import annotations

import numpy as np
import onnxruntime
import pytest
import torch

from peftal.peft import METHODS, build_model, parse_method
from peftal.peft.onnx_graph import export_graph
from tests.conftest import tiny_encoder

# Methods whose graph still holds peft's adapter modules after export (nothing to fold).
UNMERGED = {"prompt_tuning"}


def _inputs(batch: int, width: int, seed: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, 120, (batch, width), generator=generator)
    mask = torch.ones_like(ids)
    mask[0, width // 2:] = 0  # one padded row
    ids[mask == 0] = 0
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": torch.zeros_like(ids)}


@pytest.mark.parametrize("name", METHODS.names())
def test_graph_matches_pytorch(name, tmp_path):
    method = METHODS.get(name)()
    model = build_model(tiny_encoder("bert"), parse_method(name), 3, seed=0)
    with torch.no_grad():
        generator = torch.Generator().manual_seed(1)
        for parameter in model.parameters():
            if parameter.requires_grad:
                parameter.add_(0.05 * torch.randn(parameter.shape, generator=generator))
    method.for_inference(model)
    model.eval()
    check = _inputs(5, 11, seed=3)
    with torch.inference_mode():
        expected = torch.softmax(model(**check), -1).numpy()
    merged = export_graph(model, "classification", _inputs(2, 7, seed=2), tmp_path / "m.onnx")
    session = onnxruntime.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    feed = {i.name: check[i.name].numpy() for i in session.get_inputs()}
    got = session.run(None, feed)[0]
    assert got.shape == (5, 3)
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
    assert np.allclose(got.sum(1), 1.0, atol=1e-5)
    if name == "lora":
        assert merged  # LoRA is folded into the weights: no adapter left in the graph
    if name in UNMERGED:
        assert not merged


def test_int8_keeps_the_feed_forward_down_projections_in_fp32(tmp_path):
    import onnx

    from peftal.peft import arch
    from peftal.peft.onnx_graph import quantize

    model = build_model(tiny_encoder("bert"), parse_method("lora"), 3, seed=0)
    export_graph(model, "classification", _inputs(2, 7, seed=2), tmp_path / "m.onnx")
    quantize(tmp_path / "m.onnx", tmp_path / "q.onnx", arch.ARCHITECTURES["bert"])
    nodes = onnx.load(str(tmp_path / "q.onnx")).graph.node
    fp32 = sorted(n.name for n in nodes if n.op_type == "MatMul" and "/output/dense/" in n.name
                  and "attention" not in n.name)
    assert fp32 == [f"/model/encoder/encoder/layer.{i}/output/dense/MatMul" for i in range(2)]
    # the other weight products (Q, K, V, attention output, feed-forward up: 5 per layer) are int8
    assert sum(n.op_type == "MatMulInteger" for n in nodes) >= 2 * 5
    session = onnxruntime.InferenceSession(str(tmp_path / "q.onnx"), providers=["CPUExecutionProvider"])
    check = _inputs(3, 9, seed=4)
    got = session.run(None, {i.name: check[i.name].numpy() for i in session.get_inputs()})[0]
    assert got.shape == (3, 3) and np.allclose(got.sum(1), 1.0, atol=1e-5)
