"""The judge on plain values: which runs enter a row, and so which trainings its verdict rests on."""

from __future__ import annotations

from peftal.claims.grammar import parse_claim
from peftal.claims.judge import HOLDS, WITHHELD, claims_frame, judge_claim

CONFIGS = {f"{m}-{s}-{seed}": {"method": m, "strategy": s, "seed": seed}
           for m in ("lora", "full") for s in ("entropy", "random") for seed in (0, 1, 2)}
# RIPL of each AL run (the random runs have none); LoRA's well above full's every seed
RIPL = {f"lora-entropy-{seed}": 0.30 + 0.01 * seed for seed in range(3)}
RIPL |= {f"full-entropy-{seed}": 0.10 - 0.01 * seed for seed in range(3)}


def _verdict(unconverged: str | None) -> tuple[str, object]:
    converged = {run_id: run_id != unconverged for run_id in CONFIGS}
    claim = parse_claim("ripl(method=lora, strategy=entropy) > ripl(method=full)", 1)
    table = claims_frame(judge_claim(claim, CONFIGS, RIPL, RIPL, converged))
    return table["verdict"].iloc[0], table["converged"].iloc[0]


def test_ripl_rows_rest_on_their_random_baselines_too():
    assert _verdict(None) == (HOLDS, True)
    assert _verdict("full-entropy-1") == (WITHHELD, False)  # the right side's AL run
    assert _verdict("lora-random-2") == (WITHHELD, False)  # the left side's random baseline
    assert _verdict("full-random-0") == (WITHHELD, False)  # the right side's random baseline
