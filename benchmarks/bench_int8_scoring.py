"""Where int8 pool scoring's time goes on this CPU: every int8 path against PyTorch fp32, side by side.

One trained model (a ``peftal train`` run folder, or one trained here: ``ia3`` on 300 TREC
questions, 10 epochs) scores the rest of TREC's training split (the pool of an AL round) with:

- PyTorch fp32 (peftal's scorer, :class:`peftal.al.learner.ModelClassifier`);
- PyTorch dynamic int8 (``torch.ao.quantization.quantize_dynamic`` of every ``nn.Linear``),
  per-tensor and per-channel weight scales;
- ONNX Runtime fp32 (the graph of ``peftal export``);
- ONNX Runtime int8 as ``--scoring-precision int8`` builds it (:class:`peftal.al.int8.Int8Classifier`:
  export, dynamic quantisation with each layer's feed-forward down-projection in fp32);
- ONNX Runtime int8 with every weight product quantised.

For each: the seconds to build the copy (export, quantisation), the seconds to score, the speed-up
over PyTorch fp32 without and with the build, argmax agreement with fp32 and the overlap of the
100 texts entropy ranks highest (what an AL round queries). Then ONNX Runtime's own profile of
both graphs: the share of time in weight products and how much faster the int8 products are.

    PEFTAL_DATA_DIR=../shared/data python benchmarks/bench_int8_scoring.py --threads 1
"""

from __future__ import annotations

import argparse
import collections
import copy
import json
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

TOP = 100  # texts compared in the entropy ranking


def entropy(probs: np.ndarray) -> np.ndarray:
    return -(probs * np.log(np.clip(probs, 1e-12, 1))).sum(1)


def trained_model(run: str | None) -> tuple[nn.Module, object, int]:
    """``(model, tokenizer, texts it trained on)`` of ``run``, or of ``ia3`` trained here; the pool
    scored is TREC's training split less that many texts (a speed measure: which texts is immaterial)."""
    from peftal.peft.checkpoint import load_model

    if run is None:
        from peftal.api import train

        folder = Path(tempfile.mkdtemp()) / "run"
        train(dataset="trec", method="ia3", num_train=300, epochs=10, seed=0, max_length=64,
              out=str(folder), progress=False)
        run = str(folder)
    model, tokenizer, _ = load_model(Path(run) / "model")
    summary = json.loads((Path(run) / "summary.json").read_text())
    return model, tokenizer, int(summary.get("num_train") or 0)


def ort_session(path: Path, threads: int, profile_prefix: str | None = None):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    if profile_prefix is not None:
        options.enable_profiling = True
        options.profile_file_prefix = profile_prefix
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def ort_scores(session, encoded, ids: np.ndarray, classes: int) -> np.ndarray:
    from peftal.data.encoding import inference_batches

    names = [node.name for node in session.get_inputs()]
    out = np.zeros((len(ids), classes), dtype=np.float32)
    for positions, batch in inference_batches(encoded, ids, 128):
        out[positions] = session.run(None, {name: batch[name].numpy() for name in names})[0]
    return out


def op_times(session) -> dict[str, float]:
    """Seconds per operator type from an ONNX Runtime profile."""
    events = json.loads(Path(session.end_profiling()).read_text())
    times: dict[str, float] = collections.Counter()
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            times[event["args"]["op_name"]] += event["dur"] / 1e6
    return dict(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", default=None, help="a peftal train/run folder (default: train one)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--limit", type=int, default=None, help="score at most this many pool texts")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from torch.ao.quantization import default_dynamic_qconfig, per_channel_dynamic_qconfig, quantize_dynamic

    from peftal.al.int8 import Int8Classifier
    from peftal.al.learner import ModelClassifier
    from peftal.data import load_task
    from peftal.data.encoding import collate, encode
    from peftal.peft.onnx_graph import export_graph, quantize

    model, tokenizer, labelled = trained_model(args.run)
    task = load_task("trec")
    encoded = encode(tokenizer, task.train, 64)
    ids = np.arange(labelled, len(task.train))[:args.limit]
    classes = model.head.out_features

    start = time.perf_counter()
    reference = ModelClassifier(model, encoded, "classification").predict_proba(ids)
    fp32_seconds = time.perf_counter() - start
    top = set(np.argsort(-entropy(reference))[:TOP].tolist())
    rows = []

    def record(side: str, build: float, seconds: float, probs: np.ndarray) -> None:
        ranked = set(np.argsort(-entropy(probs))[:TOP].tolist())
        row = {"side": side, "build_s": round(build, 2), "score_s": round(seconds, 2),
               "speedup": round(fp32_seconds / seconds, 2),
               "speedup_with_build": round(fp32_seconds / (seconds + build), 2),
               "argmax_agreement": round(float((probs.argmax(1) == reference.argmax(1)).mean()), 4),
               f"top{TOP}_overlap": round(len(top & ranked) / TOP, 2)}
        rows.append(row)
        print(json.dumps(row), flush=True)

    record("pytorch fp32", 0.0, fp32_seconds, reference)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization's deprecation notice
        for side, qconfig in (("pytorch dynamic int8, per-tensor", default_dynamic_qconfig),
                              ("pytorch dynamic int8, per-channel", per_channel_dynamic_qconfig)):
            start = time.perf_counter()
            quantised = quantize_dynamic(copy.deepcopy(model), {nn.Linear: qconfig}, dtype=torch.qint8)
            build = time.perf_counter() - start
            start = time.perf_counter()
            probs = ModelClassifier(quantised, encoded, "classification").predict_proba(ids)
            record(side, build, time.perf_counter() - start, probs)

    folder = Path(tempfile.mkdtemp())
    start = time.perf_counter()
    export_graph(copy.deepcopy(model), "classification", collate(encoded, np.array([0, 1])),
                 folder / "model.onnx")
    export_seconds = time.perf_counter() - start
    start = time.perf_counter()
    probs = ort_scores(ort_session(folder / "model.onnx", args.threads), encoded, ids, classes)
    record("onnx runtime fp32", export_seconds, time.perf_counter() - start, probs)

    scorer = Int8Classifier(model, encoded, "classification")
    start = time.perf_counter()
    scorer._build()
    build = time.perf_counter() - start
    start = time.perf_counter()
    probs = scorer.predict_proba(ids)
    record("onnx runtime int8 (--scoring-precision int8)", build, time.perf_counter() - start, probs)

    start = time.perf_counter()
    quantize(folder / "model.onnx", folder / "all.int8.onnx", None)
    build = export_seconds + time.perf_counter() - start
    start = time.perf_counter()
    probs = ort_scores(ort_session(folder / "all.int8.onnx", args.threads), encoded, ids, classes)
    record("onnx runtime int8, every product", build, time.perf_counter() - start, probs)

    # Where the time goes: one more pass of each graph under ONNX Runtime's profiler.
    profiles = {}
    for name, path in (("fp32", folder / "model.onnx"), ("int8", folder / "all.int8.onnx")):
        session = ort_session(path, args.threads, str(folder / name))
        ort_scores(session, encoded, ids, classes)
        profiles[name] = op_times(session)
    products = {"fp32": profiles["fp32"].get("MatMul", 0.0),
                "int8": sum(seconds for op, seconds in profiles["int8"].items()
                            if op in ("DynamicQuantizeMatMul", "MatMulIntegerToFloat", "MatMulInteger",
                                      "DynamicQuantizeLinear"))}
    summary = {"summary": True, "texts": len(ids), "threads": args.threads,
               "weight_products_share_fp32": round(products["fp32"] / sum(profiles["fp32"].values()), 3),
               "weight_products_s": {k: round(v, 2) for k, v in products.items()},
               "int8_products_speedup": round(products["fp32"] / max(products["int8"], 1e-9), 2),
               "best_speedup_with_build": max(row["speedup_with_build"] for row in rows[1:])}
    print(json.dumps(summary), flush=True)
    print(f"\n{len(ids)} TREC pool texts, {args.threads} thread(s); PyTorch fp32 {fp32_seconds:.1f} s")
    print(" | ".join(["side", "build s", "score s", "speed-up", "with build", "argmax agreement",
                      f"top-{TOP} overlap"]))
    for row in rows:
        print(" | ".join(str(value) for value in row.values()))
    print(f"weight products: {100 * summary['weight_products_share_fp32']:.0f} % of the fp32 graph's time; "
          f"int8 products {summary['int8_products_speedup']:.2f}x faster than fp32 ones")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
