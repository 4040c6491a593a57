"""Wall time of ``peftal run --method head`` against the default method on the default cell, side by
side in one process (issue contract: ``head`` under a tenth of the default's time).

The default cell is ``RunConfig()`` as ``peftal run`` uses it (TREC, ``entropy``, warm start 100,
50 per query, budget 300, the default epochs and max length), with only the method changed. Both
sides run the whole ``run_active_learning`` (backbone load, encoding, every round's training,
querying and test evaluation), without the CKA probe, which is the same cost on both sides.

    PEFTAL_DATA_DIR=../shared/data python benchmarks/bench_head_cell.py --methods lora,head
    # smoke
    PEFTAL_DATA_DIR=../shared/data python benchmarks/bench_head_cell.py --budget 120 \\
        --warm-start 100 --query-size 20 --pool-subsample 200 --max-length 32 --threads 1
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import torch
from _common import json_line, matmul_peak, print_table

from peftal.experiments.active_learning import RunConfig, run_active_learning
from peftal.training.precision import set_threads


def run_side(config: RunConfig) -> tuple[float, float, dict]:
    """``(wall seconds, CPU seconds, the run's summary)`` of one whole AL run."""
    wall, cpu = time.perf_counter(), time.process_time()
    summary, _ = run_active_learning(config, progress=False)
    return time.perf_counter() - wall, time.process_time() - cpu, summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = RunConfig()
    parser.add_argument("--methods", default=f"{defaults.method_preset},head",
                        help="comma-separated: the reference method first, then the one timed against it")
    parser.add_argument("--budget", type=int, default=defaults.budget)
    parser.add_argument("--warm-start", type=int, default=defaults.warm_start)
    parser.add_argument("--query-size", type=int, default=defaults.query_size)
    parser.add_argument("--max-length", type=int, default=defaults.max_length)
    parser.add_argument("--pool-subsample", type=int, default=defaults.pool_subsample)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        set_threads(args.threads)
    base = dataclasses.replace(defaults, budget=args.budget, warm_start=args.warm_start,
                               query_size=args.query_size, max_length=args.max_length,
                               pool_subsample=args.pool_subsample, seed=args.seed, cka_probe_size=0)
    print(f"matmul peak: fp32 {matmul_peak(torch.float32):.0f} GFLOP/s, "
          f"{torch.get_num_threads()} thread(s)")
    rows, walls = [], {}
    for method in args.methods.split(","):
        wall, cpu, summary = run_side(dataclasses.replace(base, method=method))
        walls[method] = wall
        final = summary["rounds"][-1]
        rows.append([method, wall, cpu, f"{final['metrics']['accuracy']:.3f}"])
        json_line({"method": method, "wall_seconds": round(wall, 1), "cpu_seconds": round(cpu, 1),
                   "final_accuracy": final["metrics"]["accuracy"], "labels": final["num_labeled"]})
    print_table(["method", "wall s", "CPU s", "final accuracy"], rows)
    reference, *others = args.methods.split(",")
    for method in others:
        print(f"{method} / {reference} wall time: {walls[method] / walls[reference]:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
