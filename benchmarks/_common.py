"""Shared pieces of the performance benchmarks: matmul peak, encoder FLOPs, timing, output.

Every benchmark measures the machine's matmul peak in the same run (a constant would be wrong on a
shared or throttled machine) and reports ratios measured side by side.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable

import torch


def matmul_peak(dtype: torch.dtype, size: int = 2048, repeats: int = 7, budget_s: float = 0.2) -> float:
    """Median GFLOP/s of a square matmul in ``dtype`` (2·n³ FLOPs per product), ``size``² at most.

    The size grows from 256 by doubling while one product takes under ``budget_s``: where a dtype
    has no fast kernel (bf16 on a CPU without AMX runs at well under 1 GFLOP/s, so one 2048²
    product takes half a minute), a smaller product measures the same rate in a fraction of the time.
    """
    n = min(256, size)
    while True:
        a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
        torch.mm(a, b)  # warm-up: oneDNN picks its kernel on the first call
        start = time.perf_counter()
        torch.mm(a, b)
        if time.perf_counter() - start > budget_s / 8 or n >= size:  # the next size costs 8x
            break
        n *= 2
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        rates.append(2 * n**3 / (time.perf_counter() - start) / 1e9)
    return statistics.median(rates)


def encoder_flops(lengths, config) -> float:
    """Forward FLOPs of a BERT-style encoder over sequences of the given (unpadded) lengths.

    Per layer and sequence of length L, hidden H, intermediate I: Q/K/V/O projections 8·L·H², the
    feed-forward 4·L·H·I, attention scores and weighted sum 4·L²·H (multiply-add = 2 FLOPs).
    Counting the unpadded lengths gives the *useful* work, the same for every variant, so the
    GFLOP/s of a variant that computes padding is lower by exactly its wasted share.
    """
    h, i, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    total = 0.0
    for length in lengths:
        total += 8 * length * h * h + 4 * length * h * i + 4 * length * length * h
    return layers * total


def median_seconds(fn: Callable[[], object], repeats: int) -> tuple[float, list[float]]:
    """Median wall-clock seconds of ``repeats`` calls of ``fn`` (and every measurement)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def print_table(headers: list[str], rows: list[list]) -> None:
    cells = [[f"{c:,.1f}" if isinstance(c, float) else str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[k]) for r in cells)) for k, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths)))
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)))


def json_line(record: dict) -> None:
    print(json.dumps(record, sort_keys=True), flush=True)  # visible at once when stdout is a file
