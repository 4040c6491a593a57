"""`peftal run` stores correctness and CKA; `peftal analyze` summarises them (real CLI, packaged MiniLM,
real TREC data, a tiny budget)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.integration


@pytest.mark.slow  # minutes on two cores: not in the default run
def test_run_then_analyze(data_dir, tmp_path):
    """The issue's contract command (at --max-length 32, plus --cka-every-round) then analyze."""
    out = tmp_path / "run"
    run_cli("run", "--dataset", "trec", "--method", "lora", "--strategy", "random", "--warm-start", "60",
            "--query-size", "30", "--budget", "90", "--epochs", "4", "--seed", "0", "--max-length", "32",
            "--cka-every-round", "--out", str(out), "--no-progress")
    result = json.loads(run_cli("analyze", str(out), "--json").stdout)

    forgetting = result["forgetting"]["run"]
    assert (forgetting["method"], forgetting["strategy"], forgetting["seed"]) == ("lora", "random", 0)
    assert [r["num_labeled"] for r in forgetting["rounds"]] == [60, 90]
    final = forgetting["final"]
    assert final["num_examples"] == 90 and final["num_epochs"] == 4
    assert final["forgettable"] + final["unforgettable"] + final["never_learned"] == 90
    assert len(final["histogram"]) == 3  # 4 epochs allow at most 2 events
    assert sum(final["histogram"]) == 90 - final["never_learned"]
    assert final["unforgettable"] == final["histogram"][0]
    assert {k: v["num_examples"] for k, v in final["by_acquisition_round"].items()} == {"0": 60, "1": 30}
    assert {k: v["num_examples"] for k, v in final["by_source"].items()} == {"warm_start": 60, "random": 30}

    cka = result["cka"]["run"]
    assert cka["round"] == 1 and cka["num_labeled"] == 90 and cka["probe_size"] == 500
    assert len(cka["per_layer"]) == 7  # embedding output + 6 layers of all-MiniLM-L6-v2
    assert all(0.0 <= v <= 1.0 for v in cka["per_layer"] + cka["per_layer_rbf"])
    assert len(cka["matrix"]) == 7 and all(len(row) == 7 for row in cka["matrix"])
    assert [cka["matrix"][i][i] for i in range(7)] == pytest.approx(cka["per_layer"])
    # LoRA leaves the embeddings alone: the embedding output is unchanged.
    assert cka["per_layer"][0] == pytest.approx(1.0, abs=1e-6)
    assert [r["num_labeled"] for r in cka["by_round"]] == [60, 90]

    text = run_cli("analyze", str(out), "--plots").stdout
    assert "forgettable" in text and "L6" in text
    for name in ("cka_by_layer.png", "cka_by_labels.png", "forgetting_histogram.png"):
        assert (out / name).stat().st_size > 1000


def test_bad_probe_size_is_rejected_before_any_compute(data_dir, tmp_path):
    result = run_cli("run", "--cka-probe-size", "1", "--out", str(tmp_path / "x"), check=False)
    assert result.returncode == 2 and "--cka-probe-size" in result.stderr
    assert not (tmp_path / "x").exists()
