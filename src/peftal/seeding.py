"""The seed plan: every random stream of a run, derived from its one seed here, and the one place
where peftal seeds torch's generators.

A stream is named; its generator (:func:`stream_rng`) or its integer seed (:func:`stream_seed`)
comes from ``numpy.random.SeedSequence([seed, key, *index])``, the key being the stream's entry in
:data:`STREAMS` and ``index`` a round, generation or fold where a stream has one per step. No
module does arithmetic on seeds; a new stream is a new row below.

===============  =======  ==================================================================
stream           key      draws
===============  =======  ==================================================================
(root)           —        ``default_rng(seed)``: warm start and every round's query (AL), the
                          training subset (``train``), the cold-start order (labelling app)
eval_sample      1        ``--max-eval``'s sample of the evaluation split
batches          2        batch order of a single training (``train``, ``pretrain``)
round            3        per AL round ``r``: the torch seed of the round's model initialisation
                          and the generator of its batch order
dropout          4        per training (and AL round ``r``): torch's dropout masks, apart from
                          the initialisation's draws
generation       6        per labelling-app generation ``g``: as ``round``
fold             7        per generation ``g`` and cross-validation fold ``f`` (labelling app)
threshold_fold   8        per round model seed: the folds of the multi-label thresholds'
                          cross-validation, and (per fold ``f``) the seed of that fold's model
overlap          9        the labelling app's order of texts given to several annotators
                          (``--overlap``: the first fraction of this order)
review           10       the folds of the labelling app's review: the probe's out-of-fold
                          probabilities of the labels given
serve            11       per label row ``s``: the labelling app's random groups of
                          ``--candidates`` texts (the probe's order published after label ``s``)
cka_probe        0xC4A    the test examples of the CKA probe
stop_set         0x5709   the stop set of the stopping criteria
===============  =======  ==================================================================

Library code never calls ``torch.manual_seed``: that would reset the global generator of whoever
imports peftal. Where torch draws from its global generators (weight initialisers, dropout masks),
the draw runs inside :func:`torch_seeded`, which forks torch's CPU and CUDA generators
(``torch.random.fork_rng``), seeds the fork and restores the caller's state on exit. NumPy draws
always go through ``numpy.random.Generator`` values, never through ``numpy.random.seed``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

STREAMS: dict[str, int] = {"eval_sample": 1, "batches": 2, "round": 3, "dropout": 4, "generation": 6,
                           "fold": 7, "threshold_fold": 8, "overlap": 9, "review": 10, "serve": 11,
                           "cka_probe": 0xC4A, "stop_set": 0x5709}
"""Stream name -> its key in the seed sequence (the table above). Keys are fixed: changing one
changes every number drawn from that stream."""


def _sequence(seed: int, stream: str, index: tuple[int, ...]) -> np.random.SeedSequence:
    if stream not in STREAMS:
        raise KeyError(f"unknown seed stream {stream!r}; streams: {', '.join(STREAMS)}")
    return np.random.SeedSequence([int(seed), STREAMS[stream], *(int(i) for i in index)])


def stream_rng(seed: int, stream: str, *index: int) -> np.random.Generator:
    """The generator of ``stream`` (at ``index``: a round, generation, fold) of the run seeded ``seed``."""
    return np.random.default_rng(_sequence(seed, stream, index))


def stream_seed(seed: int, stream: str, *index: int) -> int:
    """An integer seed (32 bits: torch, scikit-learn) for ``stream`` at ``index`` of the run seeded
    ``seed``."""
    return int(_sequence(seed, stream, index).generate_state(1)[0])


@contextmanager
def torch_seeded(seed: int) -> Iterator[None]:
    """Run the block with torch's generators (CPU and every visible CUDA device) seeded from
    ``seed``; the caller's generator states are restored afterwards."""
    import torch  # here, not above: the labelling server draws seeds and never imports torch

    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.random.default_generator.manual_seed(seed)
        for index in devices:
            torch.cuda.default_generators[index].manual_seed(seed)
        yield
