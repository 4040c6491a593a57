"""MC-dropout scoring (T stochastic passes, texts/s): peftal's batched passes vs sequential passes.

The baseline is what a hand-written MC-dropout query does: T separate passes of the plain scorer
(dynamic padding, original order, batch 64, fp32) with dropout on. Also timed: the same T passes
length-sorted under bf16 autocast (the best plain scorer of bench_scoring.py), and peftal's
``ModelClassifier.mc_predict_proba`` (each batch replicated T times and run as one forward pass;
length-sorted batches; the precision ``auto`` resolves to) in that precision and in fp32, to show
what replication alone brings. Packaged all-MiniLM-L6-v2 + LoRA + a head, TREC training texts,
tokenised once outside the timing; interleaved repeats, median reported; matmul peak measured in
the same run. The check that the passes are the same computation: the mean probabilities of the
batched and the sequential passes agree to within dropout noise (reported).

    PEFTAL_DATA_DIR=../shared/data python benchmarks/bench_mc_dropout.py
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from _common import json_line, matmul_peak, print_table
from bench_scoring import plain_scorer

from peftal.al.learner import ModelClassifier
from peftal.data import load_task
from peftal.data.encoding import encode
from peftal.models.backbone import load_backbone
from peftal.peft import build_model, parse_method
from peftal.training import softmax
from peftal.training.precision import resolve_precision, set_threads


def sequential_passes(model, encoded, ids, passes, *, sort=False, precision="fp32") -> np.ndarray:
    """``(n, classes, passes)`` probabilities from ``passes`` separate plain scoring loops."""
    model.train()  # dropout on
    torch.manual_seed(0)
    try:
        return np.stack([softmax(plain_scorer(model, encoded, ids, batch_size=64, sort=sort,
                                              precision=precision)) for _ in range(passes)], axis=2)
    finally:
        model.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=2000, help="score the first N texts (0 = all)")
    parser.add_argument("--passes", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--precision", default="auto", help="peftal's precision")
    args = parser.parse_args()
    threads = set_threads(args.threads)
    task = load_task("trec", seed=0)
    encoder, tokenizer = load_backbone(None)
    encoded = encode(tokenizer, task.train, 64)
    ids = np.arange(min(args.limit, len(encoded)) if args.limit else len(encoded))
    model = build_model(encoder, parse_method("lora"), task.num_labels, seed=0).eval()
    with torch.no_grad():  # a head with real margins, as after training (a fresh head is ~uniform)
        model.head.weight.normal_(0, 0.5, generator=torch.Generator().manual_seed(0))
    precision = resolve_precision(args.precision)
    ours = f"peftal mc_predict_proba ({precision})"
    variants = {
        "plain sequential, dynamic fp32": lambda: sequential_passes(model, encoded, ids, args.passes),
        "plain sequential, sorted bf16": lambda: sequential_passes(model, encoded, ids, args.passes,
                                                                   sort=True, precision="bf16"),
        # both precisions, whichever `auto` picks here (`ours`, the one the ratio is taken of)
        **{f"peftal mc_predict_proba ({p})": (lambda p=p: ModelClassifier(
            model, encoded, "classification", precision=p).mc_predict_proba(ids, args.passes, 0))
           for p in ("fp32", "bf16")},
    }
    outputs = {name: fn() for name, fn in variants.items()}  # warm-up, and the agreement check
    baseline = "plain sequential, dynamic fp32"
    reference = outputs[baseline].mean(2)
    peak = {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16)}
    times = {name: [] for name in variants}
    for _ in range(args.repeats):
        for name, fn in variants.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    n = len(ids)
    print(f"\n{n} TREC train texts × {args.passes} passes, max length 64, {threads} threads, median of "
          f"{args.repeats}; matmul peak fp32 {peak['fp32']:.0f}, bf16 {peak['bf16']:.0f} GFLOP/s")
    rows = []
    base = statistics.median(times[baseline])
    for name in variants:
        seconds = statistics.median(times[name])
        mean = outputs[name].mean(2)
        diff = float(np.abs(mean - reference).mean())
        agree = float((mean.argmax(1) == reference.argmax(1)).mean())
        rows.append([name, n / seconds, f"{base / seconds:.2f}×", f"{diff:.4f}", f"{agree:.3f}"])
        json_line({"benchmark": "mc_dropout", "variant": name, "texts": n, "passes": args.passes,
                   "texts_per_s": n / seconds, "seconds": times[name], "ratio_vs_baseline": base / seconds,
                   "mean_abs_diff_of_mean_probs": diff, "argmax_agreement_of_mean": agree,
                   "threads": threads, "peak_gflops": peak})
    print_table(["variant", "texts/s (all passes)", f"vs {baseline}", "|Δ mean prob|",
                 "argmax agreement"], rows)
    json_line({"benchmark": "mc_dropout", "summary": True, "ours": ours, "baseline": baseline,
               "ratio": base / statistics.median(times[ours]), "goal": 2.0})


if __name__ == "__main__":
    main()
