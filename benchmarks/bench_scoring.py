"""Pool scoring throughput (texts/s): four plain variants vs peftal's scorer, side by side.

Scores the TREC training texts with the packaged all-MiniLM-L6-v2 + a classification head (as in
an AL query) in inference mode. The plain variants are what a hand-written loop does (batch 64):
pad every text to 64 tokens (fp32); dynamic padding in the original order (fp32); dynamic padding
with length-sorted batches (fp32); the same under bf16 autocast. peftal's scorer is
``peftal.training.predict`` with the precision ``auto`` resolves to and the eval batch size 128.
All variants are tokenised once, outside the timing, so only the model's work is compared. Each
variant is timed ``--repeats`` times, interleaved (median reported), and the matmul peak is
measured in the same run.

``--levers`` also times what else was tried for peftal's scorer (docs/performance.md says what did
not help and why): LoRA merged into the base weights; merged and cast to bf16 weights (no
autocast); ``torch.compile`` (its compile time printed separately); dynamic int8 quantisation of
the linear layers; inference batches of 256 and 512.

    PEFTAL_DATA_DIR=/work/shared/data PYTHONPATH=src python benchmarks/bench_scoring.py
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import numpy as np
import torch
from _common import encoder_flops, json_line, matmul_peak, print_table

from peftal.data import load_task
from peftal.data.encoding import collate, encode
from peftal.models.backbone import load_backbone
from peftal.peft import backend, build_model, parse_method
from peftal.training import predict
from peftal.training.precision import autocast, resolve_precision, set_threads


def plain_scorer(model, encoded, ids, *, batch_size, pad_to=None, sort=False, precision="fp32"):
    """A hand-written scoring loop: returns ``(len(ids), classes)`` logits."""
    order = np.argsort(encoded.lengths[ids], kind="stable") if sort else np.arange(len(ids))
    out = np.empty((len(ids), model.head.out_features), dtype=np.float32)
    with torch.inference_mode(), autocast(precision):
        for start in range(0, len(order), batch_size):
            positions = order[start:start + batch_size]
            batch = collate(encoded, ids[positions])
            if pad_to is not None:  # pad every batch to the maximum length
                width = batch["input_ids"].shape[1]
                batch = {k: torch.nn.functional.pad(v, (0, pad_to - width),
                                                    value=encoded.pad_id if k == "input_ids" else 0)
                         for k, v in batch.items()}
            out[positions] = model(**batch).float().numpy()
    return out


def lever_variants(model, encoded, ids, precision) -> dict:
    """Variants of peftal's scorer with the levers that were tried (``--levers``)."""
    import warnings

    merged = copy.deepcopy(model)
    merged.encoder = backend.merge(merged.encoder)
    bf16_weights = copy.deepcopy(merged).to(torch.bfloat16)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao's deprecation notice
        int8 = torch.ao.quantization.quantize_dynamic(copy.deepcopy(merged), {torch.nn.Linear},
                                                      dtype=torch.qint8)
    compiled = torch.compile(copy.deepcopy(merged), dynamic=True)
    start = time.perf_counter()
    predict(compiled, encoded, ids[:256], 128, precision=precision)
    print(f"torch.compile: {time.perf_counter() - start:.1f} s to compile (once per trained model)")
    return {
        f"lever: LoRA merged ({precision})": lambda: predict(merged, encoded, ids, 128, precision=precision),
        "lever: merged, bf16 weights": lambda: predict(bf16_weights, encoded, ids, 128, precision="fp32"),
        f"lever: torch.compile ({precision})": lambda: predict(compiled, encoded, ids, 128,
                                                              precision=precision),
        "lever: dynamic int8": lambda: predict(int8, encoded, ids, 128, precision="fp32"),
        f"lever: batch 256 ({precision})": lambda: predict(model, encoded, ids, 256, precision=precision),
        f"lever: batch 512 ({precision})": lambda: predict(model, encoded, ids, 512, precision=precision),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="score only the first N texts")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--precision", default="auto", help="peftal's scorer precision")
    parser.add_argument("--levers", action="store_true", help="also time the levers that were tried")
    args = parser.parse_args()
    threads = set_threads(args.threads)
    task = load_task("trec", seed=0)
    encoder, tokenizer = load_backbone(None)
    encoded = encode(tokenizer, task.train, args.max_length)
    ids = np.arange(len(encoded) if args.limit is None else min(args.limit, len(encoded)))
    model = build_model(encoder, parse_method("lora"), task.num_labels, seed=0).eval()
    precision = resolve_precision(args.precision)
    variants = {
        "plain pad-to-64 fp32": lambda: plain_scorer(model, encoded, ids, batch_size=64,
                                                     pad_to=args.max_length),
        "plain dynamic fp32": lambda: plain_scorer(model, encoded, ids, batch_size=64),
        "plain dynamic sorted fp32": lambda: plain_scorer(model, encoded, ids, batch_size=64,
                                                          sort=True),
        "plain dynamic sorted bf16": lambda: plain_scorer(model, encoded, ids, batch_size=64,
                                                          sort=True, precision="bf16"),
        f"peftal predict ({precision})": lambda: predict(model, encoded, ids, 128,
                                                         precision=precision),
    }
    if args.levers:
        variants.update(lever_variants(model, encoded, ids, precision))
    reference = variants["plain dynamic sorted fp32"]()
    for name, fn in variants.items():  # warm-up + agreement with the fp32 reference
        agree = float((fn().argmax(1) == reference.argmax(1)).mean())
        print(f"warm-up {name}: argmax agreement with fp32 {agree:.4f}", flush=True)
    peak = {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16)}
    times = {name: [] for name in variants}
    for _ in range(args.repeats):  # interleaved, so a busy spell hits every variant alike
        for name, fn in variants.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    peak_after = {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16)}
    flops = encoder_flops(encoded.lengths[ids], encoder.config)
    rows, records = [], []
    best_plain = max((name for name in variants if name.startswith("plain")),
                     key=lambda n: -statistics.median(times[n]))
    ours = f"peftal predict ({precision})"
    for name in variants:
        seconds = statistics.median(times[name])
        dtype = "bf16" if "bf16" in name else "fp32"
        gflops = flops / seconds / 1e9
        peak_dtype = max(peak[dtype], peak_after[dtype])
        ratio = statistics.median(times[best_plain]) / seconds
        # int8 has no matmul peak measured here; its % of a float peak would mean nothing
        pct = None if "int8" in name else 100 * gflops / peak_dtype
        rows.append([name, len(ids) / seconds, gflops, "—" if pct is None else pct, f"{ratio:.2f}×"])
        records.append({"benchmark": "scoring", "variant": name, "texts": int(len(ids)),
                        "texts_per_s": len(ids) / seconds, "seconds": times[name],
                        "gflops": gflops, "peak_gflops": peak_dtype, "peak_dtype": dtype,
                        "pct_of_peak": pct, "threads": threads,
                        "ratio_vs_best_plain": ratio, "best_plain": best_plain})
    print(f"\n{len(ids)} TREC train texts, max length {args.max_length}, {threads} threads, "
          f"median of {args.repeats}; matmul peak fp32 {peak['fp32']:.0f}/"
          f"{peak_after['fp32']:.0f}, bf16 {peak['bf16']:.0f}/{peak_after['bf16']:.0f} GFLOP/s "
          f"(before/after)")
    print_table(["variant", "texts/s", "GFLOP/s", "% of peak", f"vs {best_plain}"], rows)
    for record in records:
        json_line(record)
    json_line({"benchmark": "scoring", "summary": True, "ours": ours, "best_plain": best_plain,
               "ratio": statistics.median(times[best_plain]) / statistics.median(times[ours]),
               "ours_texts_per_s": len(ids) / statistics.median(times[ours]),
               "best_plain_texts_per_s": len(ids) / statistics.median(times[best_plain]),
               "peak_gflops_before": peak, "peak_gflops_after": peak_after})


if __name__ == "__main__":
    main()
