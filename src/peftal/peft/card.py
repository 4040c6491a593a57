"""The model card ``model/README.md``: what a saved model is, how it was trained, and how to load it.

peft writes an empty template there ("[More Information Needed]" in every field); peftal replaces it
with what it knows: the task and labels, the method and its trained parameters, the learning curve
and final metrics with the split they were measured on, the data file's hash and size (the data is
identified by its hash, never by a path on the machine that trained), the command with paths reduced
to file names, the library versions, and the three ways to load the folder.

Rendering only: the caller (experiments/model_card.py) gathers the facts.
"""

from __future__ import annotations

import json
from typing import Any

PUBLIC_DEFAULT = "sentence-transformers/all-MiniLM-L6-v2"  # the packaged model's hub id


def base_model_id(model: str | None) -> str:
    """The name a card and ``adapter_config.json`` give the base model: the public hub id for the
    packaged default, else the name the run was given."""
    from peftal.models.backbone import DEFAULT_MODEL, display_name

    return PUBLIC_DEFAULT if display_name(model) == DEFAULT_MODEL else str(model)


def render_card(meta: dict[str, Any], facts: dict[str, Any] | None = None) -> str:
    """Markdown for ``model/README.md`` from ``peftal_model.json``'s ``meta`` and optional run
    ``facts`` (keys: ``summary``, ``data``, ``command``, ``versions``)."""
    facts = facts or {}
    base = base_model_id(meta.get("model"))
    labels = meta.get("label_names")
    lines = ["---", "library_name: peft" if _is_peft_folder(meta) else "library_name: peftal",
             f"base_model: {base}", "pipeline_tag: text-classification", "tags: [peftal, active-learning]",
             "---", "", f"# {meta.get('method', 'model')} on {base}", "",
             "Trained with [peftal](https://pypi.org/project/peftal/) (active learning with "
             "parameter-efficient fine-tuning).", "", "## Task", "",
             f"- task: {meta.get('task')}"]
    if labels:
        lines.append(f"- labels ({len(labels)}): {', '.join(map(str, labels))}")
    pair = " (text pairs: `" + str(meta.get("text_pair_column")) + "`)" if meta.get("is_pair") else ""
    lines += [f"- input: `{meta.get('text_column')}`{pair}, at most {meta.get('max_length')} tokens, "
              f"{meta.get('pooling')} pooling", "", "## Method", "",
              f"- method: `{meta.get('method')}`",
              f"- trained parameters: {meta.get('trainable_params', 'n/a')}"]
    lines += _training(facts)
    lines += _usage(meta, base)
    return "\n".join(lines) + "\n"


def _is_peft_folder(meta: dict[str, Any]) -> bool:
    return bool(meta.get("peft_adapter"))


def _training(facts: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    summary = facts.get("summary") or {}
    if summary:
        metric = summary.get("metric", "accuracy")
        split = summary.get("eval_split", "test")
        lines += ["", "## Training and evaluation", "",
                  f"- dataset: {summary.get('dataset')}; strategy: {summary.get('strategy', '-')}; "
                  f"seed: {summary.get('seed')}",
                  f"- metrics measured on the **{split}** split", ""]
        rounds = summary.get("rounds") or []
        if rounds:
            names = list(rounds[-1].get("metrics", {}))
            lines += ["| labels | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
            for record in rounds:
                values = [f"{record['metrics'].get(n, float('nan')):.4f}" for n in names]
                lines.append(f"| {record.get('num_labeled')} | " + " | ".join(values) + " |")
            final = rounds[-1]["metrics"]
            lines += ["", f"Final {metric} on {split}: **{final.get(metric, float('nan')):.4f}**"
                      + (f"; AUC of the learning curve {summary['auc']:.4f}" if "auc" in summary else "")]
    data = facts.get("data")
    if data:
        lines += ["", "## Data", ""]
        lines += [f"- `{item['name']}`: sha256 `{item['sha256']}`, {item['bytes']} bytes" for item in data]
    if facts.get("command"):
        lines += ["", "## Command", "", "```", facts["command"], "```"]
    if facts.get("versions"):
        lines += ["", "## Versions", "", "```json", json.dumps(facts["versions"], indent=1), "```"]
    return lines


def _usage(meta: dict[str, Any], base: str) -> list[str]:
    lines = ["", "## How to load it", "", "With peftal (the folder, or the run folder holding it):", "",
             "```", "peftal predict --run MODEL_FOLDER --input texts.jsonl --output predictions.jsonl",
             "peftal serve MODEL_FOLDER", "```", "",
             "```python", "from pathlib import Path", "from peftal.peft.checkpoint import load_model",
             "model, tokenizer, meta = load_model(Path('model'))", "```"]
    if _is_peft_folder(meta):
        lines += ["", "With peft and the head (no peftal): the encoder adapter is a standard peft folder, "
                  "the linear head is `head.safetensors` (`head.weight`, `head.bias`) applied to the "
                  f"{meta.get('pooling')}-pooled last hidden states:", "", "```python",
                  "import torch; from peft import PeftModel; from safetensors.torch import load_file",
                  "from transformers import AutoModel, AutoTokenizer",
                  f"tok = AutoTokenizer.from_pretrained('{base}')",
                  f"enc = PeftModel.from_pretrained(AutoModel.from_pretrained('{base}'), 'model').eval()",
                  "head = load_file('model/head.safetensors')",
                  "batch = tok(['some text'], return_tensors='pt', padding=True, truncation=True)",
                  "hidden = enc(**batch).last_hidden_state; mask = batch['attention_mask'].unsqueeze(-1)",
                  "pooled = (hidden * mask).sum(1) / mask.sum(1)",
                  "probs = torch.softmax(pooled @ head['head.weight'].T + head['head.bias'], -1)", "```"]
    lines += ["", "As ONNX (onnxruntime, tokenizers and numpy only):", "", "```",
              "peftal export RUN_FOLDER --format onnx [--int8] --out exported/",
              "python exported/predict.py 'some text'", "```"]
    return lines
