"""Save and load a trained model: only the trainable tensors (adapter + head, or everything for
``full``) in safetensors, plus a JSON file naming what rebuilds the rest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from safetensors.torch import load_file, save_file
from torch import nn

from peftal.errors import UsageError

WEIGHTS = "trainable.safetensors"
META = "peftal_model.json"


def save_checkpoint(model: nn.Module, folder: Path, meta: dict[str, Any]) -> None:
    """Write ``folder/trainable.safetensors`` and ``folder/peftal_model.json``."""
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {name: p.detach().cpu().contiguous() for name, p in model.named_parameters() if p.requires_grad}
    save_file(tensors, str(folder / WEIGHTS))
    (folder / META).write_text(json.dumps(meta, indent=2))


def read_meta(folder: Path) -> dict[str, Any]:
    path = folder / META
    if not path.exists():
        raise UsageError(f"{folder}: no saved model ({META} missing)")
    return json.loads(path.read_text())


def load_weights(model: nn.Module, folder: Path) -> None:
    """Load the saved trainable tensors into a freshly built ``model``; every tensor must fit."""
    tensors = load_file(str(folder / WEIGHTS))
    own = dict(model.named_parameters())
    missing = [name for name in tensors if name not in own]
    if missing:
        raise UsageError(f"{folder}: saved tensor {missing[0]!r} does not fit the rebuilt model")
    model.load_state_dict(tensors, strict=False)


def load_model(folder: Path) -> tuple[nn.Module, Any, dict[str, Any]]:
    """Rebuild a saved model: ``(model, tokenizer, meta)`` in eval mode."""
    from peftal.models.backbone import load_backbone
    from peftal.peft import build_model, parse_method

    meta = read_meta(folder)
    encoder, tokenizer = load_backbone(meta["model"])
    spec = parse_method(meta["method"])
    model = build_model(encoder, spec, meta["num_outputs"], pooling=meta["pooling"],
                        task=meta.get("task", "classification"))
    spec.method.for_inference(model)  # the form the run saved (see PeftMethod.for_inference)
    load_weights(model, folder)
    model.eval()
    return model, tokenizer, meta
