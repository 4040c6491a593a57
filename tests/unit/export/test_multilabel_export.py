"""A multi-label model shipped: the export ends in sigmoid probabilities that match PyTorch's, records
the run's per-label thresholds, and its standalone predictor, ``peftal predict`` on the export and on
the run, and ``peftal serve`` on either all choose the same labels (probability >= threshold, worked
out here from the PyTorch outputs). A tiny random BERT with random trained parameters, so that the
probabilities spread around the thresholds."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from peftal.cli import main
from peftal.experiments.run_folder import model_meta
from peftal.models.backbone import load_backbone
from peftal.peft import build_model, parse_method
from peftal.peft.checkpoint import save_checkpoint

LABELS = ["anger", "joy", "fear", "surprise"]
THRESHOLDS = [0.3, 0.5, 0.55, 0.45]
TEXTS = ["what a day this has been", "no", "I can't believe it happened again, truly amazing",
         "the cat sat", "why would anyone do that", "so scared right now", "ok then", "wow!"]


@pytest.fixture(scope="module")
def shipped(tiny_model_dir, tmp_path_factory):
    """``(run folder, export folder)`` of a multi-label LoRA model on the tiny BERT."""
    from peftal.export.onnx import export_onnx

    root = tmp_path_factory.mktemp("multilabel")
    encoder, _ = load_backbone(str(tiny_model_dir))
    model = build_model(encoder, parse_method("lora"), len(LABELS), seed=0, task="multilabel")
    with torch.no_grad():
        generator = torch.Generator().manual_seed(1)
        for parameter in model.parameters():
            if parameter.requires_grad:
                parameter.add_(0.3 * torch.randn(parameter.shape, generator=generator))
    meta = model_meta(model=str(tiny_model_dir), method="lora", task="multilabel", label_names=LABELS,
                      num_outputs=len(LABELS), max_length=16, thresholds=THRESHOLDS)
    save_checkpoint(model, root / "run" / "model", meta)
    export_onnx(root / "run", root / "export", int8=True)
    return root / "run", root / "export"


def _torch_probabilities(run, texts):
    from peftal.data.dataset import Split
    from peftal.data.encoding import encode
    from peftal.peft.checkpoint import load_model
    from peftal.training import predict

    model, tokenizer, meta = load_model(run / "model")
    split = Split(texts=texts, labels=np.zeros(len(texts)))
    logits = predict(model, encode(tokenizer, split, meta["max_length"]), np.arange(len(texts)))
    return 1 / (1 + np.exp(-logits.astype(np.float64)))


def test_export_records_thresholds_and_ends_in_sigmoids(shipped):
    from peftal.export.standalone import Predictor

    run, export = shipped
    info = json.loads((export / "export.json").read_text())
    assert info["task"] == "multilabel" and info["thresholds"] == THRESHOLDS
    assert json.loads((export / "labels.json").read_text()) == LABELS
    assert "one sigmoid probability per label" in (export / "README.md").read_text()
    expected = _torch_probabilities(run, TEXTS)
    predictor = Predictor(export, int8=False)
    got = predictor.probabilities(TEXTS)
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
    assert not np.allclose(got.sum(1), 1.0, atol=1e-2)  # independent sigmoids, not a softmax
    chosen = expected >= np.array(THRESHOLDS)
    assert chosen.any() and not chosen.all()  # the thresholds decide something in this test
    answers = predictor.predict(TEXTS)
    assert [a["labels"] for a in answers] == [[n for n, c in zip(LABELS, row) if c] for row in chosen]
    assert list(answers[0]["probabilities"]) == LABELS
    int8 = Predictor(export, int8=True).probabilities(TEXTS)
    assert int8.shape == expected.shape and np.abs(int8 - expected).max() < 0.05


def test_predict_py_runs_without_peftal_or_torch(shipped):
    _, export = shipped
    # torch, transformers, peft and peftal made unimportable: predict.py needs none of them
    script = ("import sys, runpy\n"
              "for name in ('torch', 'transformers', 'peft', 'peftal'): sys.modules[name] = None\n"
              "sys.argv = ['predict.py', *sys.argv[1:]]\n"
              "runpy.run_path('predict.py', run_name='__main__')")
    result = subprocess.run([sys.executable, "-c", script, *TEXTS[:3]], cwd=export, capture_output=True,
                            text=True, timeout=120, check=True)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    from peftal.export.standalone import Predictor

    assert lines == Predictor(export).predict(TEXTS[:3])  # int8 where present, as the script picks
    assert all(set(line) == {"labels", "probabilities"} for line in lines)


def test_peftal_predict_on_the_export_reproduces_the_run(shipped, tmp_path):
    run, export = shipped
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": n, "text": t}) + "\n" for n, t in enumerate(TEXTS)))
    (export / "model.int8.onnx").rename(tmp_path / "int8.onnx")  # predict reads int8 where present
    try:
        for folder, name in ((run, "torch.jsonl"), (export, "onnx.jsonl")):
            assert main(["predict", "--run", str(folder), "--input", str(source),
                         "--output", str(tmp_path / name)]) == 0
    finally:
        (tmp_path / "int8.onnx").rename(export / "model.int8.onnx")
    torch_rows, onnx_rows = ([json.loads(line) for line in (tmp_path / name).read_text().splitlines()]
                             for name in ("torch.jsonl", "onnx.jsonl"))
    assert [list(r) for r in onnx_rows] == [list(r) for r in torch_rows]  # the same columns
    assert list(torch_rows[0]) == ["id", "labels", *[f"prob_{n}" for n in LABELS]]
    probs = {name: np.array([[r[f"prob_{n}"] for n in LABELS] for r in rows])
             for name, rows in (("torch", torch_rows), ("onnx", onnx_rows))}
    assert np.abs(probs["torch"] - probs["onnx"]).max() <= 1e-4
    assert [r["labels"] for r in onnx_rows] == [r["labels"] for r in torch_rows]
    expected = _torch_probabilities(run, TEXTS) >= np.array(THRESHOLDS)
    assert [r["labels"] for r in torch_rows] == [[n for n, c in zip(LABELS, row) if c] for row in expected]


def _call(app, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else b""
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "CONTENT_TYPE": "application/json",
               "CONTENT_LENGTH": str(len(data)), "wsgi.input": io.BytesIO(data)}
    status = []
    out = b"".join(app(environ, lambda s, headers: status.append(s)))
    return int(status[0].split()[0]), json.loads(out)


@pytest.mark.parametrize("which", ["run", "export"])
def test_serve_answers_label_lists(shipped, which):
    from peftal.serve.app import PredictionApp
    from peftal.serve.backend import load_backend
    from peftal.serve.batcher import MicroBatcher

    run, export = shipped
    backend = load_backend(run if which == "run" else export, int8=False)
    app = PredictionApp(backend, MicroBatcher(backend, max_wait=0.0))
    try:
        status, body = _call(app, "POST", "/predict", {"texts": TEXTS})
        _, info = _call(app, "GET", "/info")
    finally:
        app.batcher.close()
    assert status == 200
    expected = _torch_probabilities(run, TEXTS)
    got = np.array([[p["probabilities"][n] for n in LABELS] for p in body["predictions"]])
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
    margin = np.abs(expected - np.array(THRESHOLDS)).min(1) > 1e-5
    chosen = [[n for n, c in zip(LABELS, row) if c] for row in expected >= np.array(THRESHOLDS)]
    answers = [p["labels"] for p in body["predictions"]]
    assert [a for a, m in zip(answers, margin) if m] == [c for c, m in zip(chosen, margin) if m]
    assert all("label" not in p for p in body["predictions"])
    assert info["task"] == "multilabel" and info["labels"] == LABELS
    assert info["thresholds"] == dict(zip(LABELS, THRESHOLDS))
