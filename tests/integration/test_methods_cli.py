"""Every registered PEFT method through the real CLI on the packaged MiniLM and real TREC data,
with a tiny budget; ``peftal predict`` reproduces a run's final test accuracy from its saved
adapter-only checkpoint (and the ``lora`` run's folder loads with ``PeftModel.from_pretrained``);
``peftal methods --json --counts`` gives exact parameter counts.

The every-method runs call the CLI entry point in this process (``peftal.cli.main``), as
test_strategies_cli.py does: an interpreter start, a torch import and a model-class import saved per
run and per prediction (most of each test's time on this slice); everything after argument parsing
is the real command, and the other tests here start ``python -m peftal``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from safetensors.torch import load_file
from sklearn.metrics import accuracy_score

from peftal.cli import main
from peftal.peft import METHODS, LibraryMethod
from tests.conftest import run_cli
from tests.conftest import trec_slice as write_trec_slice

pytestmark = pytest.mark.integration

PER_CLASS, TEST_ROWS = 30, 60  # the every-method run: a slice of real TREC, all six classes
# The every-method run checks plumbing (two rounds, the saved weights, predict's reproduction), not
# learning (tests/integration/test_run_cli.py does): 10 then 16 labels, a 16-text CKA probe and 60
# test texts run the same code as 20/30 labels, a 120-text probe and 120 test texts, with about 40 %
# of the forward passes.
METHOD_RUN = ("--dataset", "trec", "--strategy", "random", "--warm-start", "10", "--query-size", "6",
              "--budget", "16", "--epochs", "1", "--pool-subsample", "100", "--max-length", "32",
              "--cka-probe-size", "16", "--seed", "0", "--no-progress")
# SetFit's default 20 pair passes over the labelled set train the whole encoder for minutes here;
# two passes exercise the same code.
TINY_PRESETS = {"setfit": "setfit[num_iterations=2]"}
# The lora run is also loaded with peft's PeftModel.from_pretrained and compared with `peftal
# predict`: in fp32 both sides compute alike (`auto` is bf16 on CPUs with AMX).
EXTRA = {"lora": ("--precision", "fp32")}
WHOLE_ENCODER = {"full", "setfit"}  # methods that train (and save) every weight of the encoder
PEFT_BUILT = {name for name in METHODS.names() if issubclass(METHODS.get(name), LibraryMethod)}


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def trec_slice(tmp_path_factory) -> Path:
    """A local copy of a slice of real TREC: the first 30 training questions of each class and the
    first 60 test questions. Every method runs on the real model and CLI; the slice keeps the
    encoding and evaluation, which do not differ between methods, from dominating the time."""
    return write_trec_slice(tmp_path_factory.mktemp("trec-slice"), PER_CLASS, TEST_ROWS)


@pytest.mark.parametrize("name", METHODS.names())
def test_every_method_runs_and_saves_its_trainable_weights(name, tmp_path, trec_slice):
    out = tmp_path / "run"
    run = [str(trec_slice) if value == "trec" else value for value in METHOD_RUN]
    assert main(["run", *run, *EXTRA.get(name, ()), "--method", TINY_PRESETS.get(name, name),
                 "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["method"] == TINY_PRESETS.get(name, name)
    assert [r["num_labeled"] for r in summary["rounds"]] == [10, 16]
    assert 0 < summary["trainable_params"] <= summary["total_params"]
    if name in WHOLE_ENCODER:
        assert summary["trainable_params"] == summary["total_params"]
    else:
        assert summary["trainable_params"] < summary["total_params"] / 5
    model = out / "model"
    if name in PEFT_BUILT:  # a standard peft adapter folder plus the head
        assert json.loads((model / "adapter_config.json").read_text())["peft_type"]
        files = [model / "adapter_model.safetensors", model / "head.safetensors"]
    else:
        files = [model / "trainable.safetensors"]
    # VeRA also saves its frozen random projection (vera_A/vera_B, shared by all layers), so the
    # checkpoint loads without regenerating it from a seed; it is not trained.
    saved = sum(t.numel() for path in files for key, t in load_file(str(path)).items()
                if not key.endswith(("vera_A", "vera_B")))
    if name in WHOLE_ENCODER:
        assert saved == summary["total_params"]
    else:  # adapter-only: what trained (prefix tuning keeps its prefixes, not the MLP making them)
        assert saved <= summary["trainable_params"] and sum(p.stat().st_size for p in files) < 4_000_000

    test_file = tmp_path / "test.jsonl"
    source = _records(trec_slice / "test.jsonl")
    test_file.write_text("".join(json.dumps({"text": r["text"]}) + "\n" for r in source))
    predictions = tmp_path / "predictions.jsonl"
    assert main(["predict", "--run", str(out), "--input", str(test_file), "--output", str(predictions)]) == 0
    rows = _records(predictions)
    assert len(rows) == len(source)
    assert all(sum(key.startswith("prob_") for key in row) == 6 for row in rows)
    accuracy = accuracy_score([r["label"] for r in source], [row["label"] for row in rows])
    assert accuracy == summary["rounds"][-1]["metrics"]["accuracy"]
    if name == "lora":
        _loads_with_peft_from_pretrained(out, [r["text"] for r in source], [row["label"] for row in rows])


def _loads_with_peft_from_pretrained(out: Path, texts: list[str], expected: list[str]) -> None:
    """The docs' recipe: the base model + PeftModel.from_pretrained + the saved head give the
    predictions of `peftal predict` (the run's precision is fp32 so both sides compute alike)."""
    import torch
    from peft import PeftModel
    from safetensors.torch import load_file as load_tensors
    from transformers import AutoModel, AutoTokenizer

    from peftal.models.backbone import resolve_model

    base = AutoModel.from_pretrained(resolve_model(None))
    encoder = PeftModel.from_pretrained(base, out / "model").eval()
    head = load_tensors(str(out / "model" / "head.safetensors"))
    tokenizer = AutoTokenizer.from_pretrained(resolve_model(None))
    batch = tokenizer(texts, padding=True, truncation=True, max_length=32, return_tensors="pt")
    with torch.no_grad():
        hidden = encoder(**batch).last_hidden_state  # (batch, seq, hidden)
        mask = batch["attention_mask"].unsqueeze(-1).float()
        pooled = (hidden * mask).sum(1) / mask.sum(1)  # mean pooling, as the run's head reads it
        logits = pooled @ head["head.weight"].T + head["head.bias"]
    names = json.loads((out / "model" / "peftal_model.json").read_text())["label_names"]
    assert [names[i] for i in logits.argmax(1).tolist()] == expected


def test_methods_json_counts_are_exact():
    two = {row["name"]: row for row in json.loads(run_cli("methods", "--json", "--counts").stdout)}
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
    """BitFit on a backbone without bias vectors: one line naming the method, the architecture and
    the methods that do apply; exit 2; nothing written."""
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    from peftal.models.backbone import resolve_model

    tokenizer = AutoTokenizer.from_pretrained(resolve_model(None))
    config = AutoConfig.for_model("modernbert", hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                  intermediate_size=64, vocab_size=tokenizer.vocab_size, pad_token_id=0,
                                  bos_token_id=tokenizer.cls_token_id, cls_token_id=tokenizer.cls_token_id,
                                  eos_token_id=tokenizer.sep_token_id, sep_token_id=tokenizer.sep_token_id)
    model_dir = tmp_path / "tiny-modernbert"
    AutoModel.from_config(config).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    out = tmp_path / "run"
    result = run_cli("run", *METHOD_RUN, "--model", str(model_dir), "--method", "bitfit",
                     "--out", str(out), check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "peftal: error: method 'bitfit' does not apply to the 'modernbert' architecture (it has no bias "
        "vectors); methods that do: full, houlsby, pfeiffer, lora, dora, prefix_tuning, prompt_tuning, "
        "ia3, unipelt, unipelt_prompt, vera, loha, lokr, oft, head, setfit"]
    assert not out.exists()
