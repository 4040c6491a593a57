"""Seeds as values: the one place where peftal seeds torch's generators.

Library code never calls ``torch.manual_seed``: that would reset the global generator of whoever
imports peftal (a notebook's own sampling, another library's initialisation). Where torch draws
from its global generators (weight initialisers, dropout masks), the draw runs inside
:func:`torch_seeded`, which forks torch's CPU and CUDA generators (``torch.random.fork_rng``),
seeds the fork from the run's seed and restores the caller's state on exit. NumPy draws always go
through ``numpy.random.Generator`` values built from the run seed (e.g. ``default_rng([seed, 2])``
for a supervised run's batch order), never through ``numpy.random.seed``.

The streams of an AL run, all derived from ``--seed``: warm start and per-round queries
(``default_rng(seed)`` in the loop), the model's initialisation (``torch_seeded(seed)`` around
``build_model``), batch order (``default_rng(seed)`` per fit), dropout (``torch_seeded(seed)``
around each fit), the stop set (``default_rng([seed, …])`` in :mod:`peftal.al.stopping`), MC
dropout (``torch_seeded`` with the strategy's seed).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def torch_seeded(seed: int) -> Iterator[None]:
    """Run the block with torch's generators (CPU and every visible CUDA device) seeded from
    ``seed``; the caller's generator states are restored afterwards."""
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.random.default_generator.manual_seed(seed)
        for index in devices:
            torch.cuda.default_generators[index].manual_seed(seed)
        yield
