"""Every registered PEFT method through the real CLI on the packaged MiniLM and real TREC data,
with a tiny budget; ``peftal predict`` reproduces a run's final test accuracy from its saved
adapter-only checkpoint; ``peftal methods --json`` gives exact parameter counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from safetensors.torch import load_file
from sklearn.metrics import accuracy_score

from peftal.peft import METHODS
from tests.conftest import run_cli

pytestmark = pytest.mark.integration

TINY_RUN = ("--dataset", "trec", "--strategy", "random", "--warm-start", "20", "--query-size", "10",
            "--budget", "30", "--epochs", "1", "--pool-subsample", "100", "--max-length", "32",
            "--seed", "0", "--no-progress")
PREDICT_CHECKED = ("lora", "houlsby")  # a LoRA and a bottleneck-adapter checkpoint


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("name", METHODS.names())
def test_every_method_runs_and_saves_its_trainable_weights(name, tmp_path, data_dir):
    out = tmp_path / "run"
    run_cli("run", *TINY_RUN, "--method", name, "--out", str(out))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["method"] == name
    assert [r["num_labeled"] for r in summary["rounds"]] == [20, 30]
    assert 0 < summary["trainable_params"] <= summary["total_params"]
    if name == "full":
        assert summary["trainable_params"] == summary["total_params"]
    else:
        assert summary["trainable_params"] < summary["total_params"] / 5
    weights = out / "model" / "trainable.safetensors"
    saved = sum(t.numel() for t in load_file(str(weights)).values())
    if name == "full":
        assert saved == summary["total_params"]
    else:  # adapter-only: what trained (prefix tuning keeps its prefixes, not the MLP making them)
        assert saved <= summary["trainable_params"] and weights.stat().st_size < 4_000_000

    if name in PREDICT_CHECKED:
        test_file = tmp_path / "test.jsonl"
        source = _records(data_dir / "trec" / "test.jsonl")
        test_file.write_text("".join(json.dumps({"text": r["text"]}) + "\n" for r in source))
        predictions = tmp_path / "predictions.jsonl"
        run_cli("predict", "--run", str(out), "--input", str(test_file), "--output", str(predictions))
        rows = _records(predictions)
        assert len(rows) == len(source)
        assert all(sum(key.startswith("prob_") for key in row) == 6 for row in rows)
        accuracy = accuracy_score([r["label"] for r in source], [row["label"] for row in rows])
        assert accuracy == summary["rounds"][-1]["metrics"]["accuracy"]


def test_methods_json_counts_are_exact():
    two = {row["name"]: row for row in json.loads(run_cli("methods", "--json").stdout)}
    six = {row["name"]: row for row in json.loads(run_cli("methods", "--json", "--num-labels", "6").stdout)}
    assert list(two) == METHODS.names()  # every registered method, in registry order
    hidden, layers = 384, 6  # all-MiniLM-L6-v2
    head = (hidden + 1) * 2
    for name, row in two.items():
        assert six[name]["trainable_params"] - row["trainable_params"] == (hidden + 1) * 4
        assert six[name]["total_params"] - row["total_params"] == (hidden + 1) * 4
    assert two["full"]["trainable_params"] == two["full"]["total_params"]
    assert two["lora"]["trainable_params"] == layers * 2 * (2 * 8 * hidden) + head
    assert two["prompt_tuning"]["trainable_params"] == 10 * hidden + head
    assert two["ia3"]["trainable_params"] == layers * (2 * hidden + 1536) + head

    from peftal.models.backbone import load_backbone

    encoder, _ = load_backbone(None)
    biases = sum(p.numel() for n, p in encoder.named_parameters() if n.endswith(".bias"))
    assert two["bitfit"]["trainable_params"] == biases + head
    assert two["full"]["total_params"] == sum(p.numel() for p in encoder.parameters()) + head


def test_method_that_cannot_apply_fails_before_training(tmp_path, data_dir):
    """Prompt tuning on a DistilBERT backbone (see peft/backend.py): one line, exit 2, no summary."""
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    from peftal.models.backbone import resolve_model

    tokenizer = AutoTokenizer.from_pretrained(resolve_model(None))
    config = AutoConfig.for_model("distilbert", dim=32, n_layers=1, n_heads=2, hidden_dim=64,
                                  vocab_size=tokenizer.vocab_size)
    model_dir = tmp_path / "tiny-distilbert"
    AutoModel.from_config(config).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    out = tmp_path / "run"
    result = run_cli("run", *TINY_RUN, "--model", str(model_dir), "--method", "prompt_tuning",
                     "--out", str(out), check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "peftal: error: prompt tuning does not apply to the 'distilbert' architecture: its attention "
        "mask for the virtual tokens is wrong in adapters 1.3 (wrong with SDPA, a crash with eager)"]
    assert not (out / "summary.json").exists()
