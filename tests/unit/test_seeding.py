"""Seeds are values: peftal never resets the caller's global torch generator, and the same seed
still gives the same model and the same training."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np
import torch

import peftal
from peftal.al.rounds import fit_round
from peftal.peft import build_model, parse_method
from peftal.seeding import torch_seeded
from peftal.training import TrainConfig
from tests.conftest import random_encoded, tiny_encoder

SOURCE = Path(peftal.__file__).parent


def _manual_seed_calls(source: str) -> list[int]:
    """Lines calling ``torch.manual_seed`` / ``torch.cuda.manual_seed(_all)`` or ``numpy.random.seed``."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            dotted = ast.unparse(node.func)
            if dotted in {"torch.manual_seed", "torch.cuda.manual_seed", "torch.cuda.manual_seed_all",
                          "np.random.seed", "numpy.random.seed", "random.seed"}:
                lines.append(node.lineno)
    return lines


def test_no_library_module_seeds_a_global_generator():
    found = {str(path.relative_to(SOURCE)): lines for path in sorted(SOURCE.rglob("*.py"))
             if (lines := _manual_seed_calls(path.read_text()))}
    assert found == {}
    assert _manual_seed_calls("import torch\ntorch.manual_seed(3)\n") == [2]  # the check can fail


def test_torch_seeded_restores_the_callers_stream():
    torch.random.default_generator.manual_seed(1234)
    expected = torch.rand(3)
    torch.random.default_generator.manual_seed(1234)
    with torch_seeded(0):
        inside = torch.rand(3)
    assert torch.equal(torch.rand(3), expected)  # as if the block had not run
    with torch_seeded(0):
        assert torch.equal(torch.rand(3), inside)  # and the block's draws depend on its seed only


def test_building_and_training_leave_the_global_generator_alone_and_repeat_exactly():
    encoder = tiny_encoder()
    encoded = random_encoded(24)
    targets = np.arange(24) % 3
    spec = parse_method("lora")
    config = TrainConfig(epochs=2, batch_size=8, lr=1e-3, head_lr=1e-2)

    def one_round():
        model, result = fit_round(spec, encoder, encoded, np.arange(24), targets, config,
                                  task="classification", num_outputs=3, pooling="mean", seed=7,
                                  device=torch.device("cpu"))
        return {name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad}

    torch.random.default_generator.manual_seed(99)
    state = torch.random.get_rng_state()
    first = one_round()
    assert torch.equal(torch.random.get_rng_state(), state)
    torch.rand(5)  # the caller draws in between: the run must not depend on it
    second = one_round()
    assert first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)
    other = build_model(encoder, spec, 3, seed=8)
    assert not torch.equal(other.head.weight, build_model(encoder, spec, 3, seed=7).head.weight)


def test_named_streams_are_the_seed_plan():
    from peftal.seeding import STREAMS, stream_rng, stream_seed

    # the keyed streams draw what default_rng([seed, key]) draws (their numbers did not change)
    for name, key in STREAMS.items():
        assert (stream_rng(7, name).integers(0, 10**6, 5)
                == np.random.default_rng([7, key]).integers(0, 10**6, 5)).all()
    # distinct streams, rounds and seeds give distinct torch seeds; each is a 32-bit value
    seeds = {stream_seed(s, name, r) for s in (0, 1) for name in ("round", "dropout") for r in range(3)}
    assert len(seeds) == 12 and all(0 <= s < 2**32 for s in seeds)
    assert len(set(STREAMS.values())) == len(STREAMS)
    try:
        stream_rng(0, "no_such_stream")
    except KeyError as error:
        assert "no_such_stream" in str(error)
    else:
        raise AssertionError("an unknown stream must raise")


def test_no_seed_arithmetic_outside_the_seed_plan():
    """Streams are derived in peftal.seeding only: no hand-made offsets or multipliers elsewhere."""
    pattern = re.compile(r"1_000_003|7919|0x5709|0xC4A|default_rng\(\[|seed\s*[*+]|[*+]\s*seed\b")
    found = [f"{path.relative_to(SOURCE)}:{number}" for path in sorted(SOURCE.rglob("*.py"))
             if path.name != "seeding.py"
             for number, line in enumerate(path.read_text().splitlines(), 1)
             if pattern.search(line.split("#")[0])]
    assert found == []
    assert pattern.search("seed = config.seed * 1_000_003 + round_index")  # the check can fail
