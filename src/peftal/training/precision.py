"""Numeric precision of training and inference: ``fp32`` or ``bf16`` autocast, and ``auto``.

bf16 autocast runs the matmuls of linear layers and attention in bfloat16 while weights, optimiser
state and reductions (LayerNorm, softmax, the loss) stay fp32, so no loss scaling is needed
(bf16 keeps fp32's exponent range). It pays off only where the hardware has bf16 matrix units:
Intel AMX CPUs and CUDA GPUs with bf16 support. Elsewhere bf16 is emulated and slower
than fp32, so ``auto`` picks fp32 there. Measurements: docs/performance.md.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator
from functools import lru_cache

import torch

from peftal.errors import UsageError

PRECISIONS = ("auto", "fp32", "bf16")


@lru_cache(maxsize=1)
def _cpu_flags() -> frozenset[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:  # not Linux: fall back on torch's own dispatch level below
        pass
    return frozenset()


def cpu_has_fast_bf16() -> bool:
    """Whether this CPU has bf16 matrix units (AMX-BF16).

    AVX512-BF16 alone does not count: on such a CPU (no AMX) a 2048² bf16 matmul ran at 143–154
    GFLOP/s against 307–309 in fp32 (``benchmarks/bench_al_cell.py`` prints both peaks), so bf16
    autocast would halve the speed of every matmul there.
    """
    flags = _cpu_flags()
    if flags:
        return "amx_bf16" in flags
    # torch reports "AVX512" also for CPUs without the bf16 extension, so only AMX counts here.
    return torch.backends.cpu.get_cpu_capability().upper().startswith("AMX")


def resolve_precision(precision: str, device: str | torch.device = "cpu") -> str:
    """Resolve ``auto`` to ``bf16`` or ``fp32`` for ``device``; check explicit choices.

    Args:
        precision: ``auto``, ``fp32`` or ``bf16``.
        device: Where the model runs.

    Returns:
        ``fp32`` or ``bf16``.

    Raises:
        UsageError: For an unknown name.
    """
    if precision not in PRECISIONS:
        raise UsageError(f"--precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision != "auto":
        return precision
    if torch.device(device).type == "cuda":
        return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if cpu_has_fast_bf16() else "fp32"


def machine_numerics() -> dict[str, str]:
    """What a result's provenance records beside :func:`peftal.store.provenance.provenance` (which
    sits below this layer): torch's CPU capability and what ``--precision auto`` resolves to on the
    ``auto`` device. With ``auto`` a machine with AMX (or a bf16 GPU) trains in bf16 autocast and one
    without in fp32, and the same seed gives different, equally valid, numbers in the two."""
    from peftal.training.device import resolve_device

    return {"cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "auto_precision": resolve_precision("auto", resolve_device("auto"))}


@contextlib.contextmanager
def autocast(precision: str, device: str | torch.device = "cpu") -> Iterator[None]:
    """``torch.autocast`` to bf16 for ``precision == "bf16"``, a no-op for ``fp32``."""
    if precision == "bf16":
        with torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16):
            yield
    elif precision == "fp32":
        yield
    else:
        raise ValueError(f"resolve the precision first, got {precision!r}")


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def set_threads(threads: int | None) -> int:
    """Set torch's intra-op threads (``None`` = one per CPU core available to this process).

    Set explicitly because torch's default can differ from the cores this process may use
    (containers, CPU affinity); one thread per usable core is the fastest setting measured here.
    More threads than cores only add contention (1000 threads on 2 cores drove the load average
    into the hundreds), so a larger number is capped with a warning. Returns the number set.
    """
    if threads is not None and threads < 1:
        raise UsageError(f"--threads must be >= 1, got {threads}")
    cores = usable_cores()
    if threads is None:
        threads = cores
    elif threads > cores:
        warnings.warn(f"--threads {threads} is more than the {cores} CPU core(s) this process may "
                      f"use; using {cores}", stacklevel=2)
        threads = cores
    torch.set_num_threads(threads)
    return threads
