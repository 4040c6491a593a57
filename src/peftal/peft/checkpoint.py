"""Save and load a trained model: only the trainable tensors (adapter + head, or everything for
``full``) in safetensors, plus a JSON file naming what rebuilds the rest.

When the encoder is a Hugging Face ``peft`` model (``lora``, ``ia3``, ``prompt_tuning`` and their
relatives), the folder is a standard peft adapter folder (``adapter_config.json`` +
``adapter_model.safetensors``, written by peft itself) and the task head goes beside it in
``head.safetensors``; otherwise every trainable tensor is in ``trainable.safetensors``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.torch import load_file, save_file
from torch import nn

from peftal.errors import UsageError

WEIGHTS = "trainable.safetensors"
HEAD = "head.safetensors"
PEFT_CONFIG = "adapter_config.json"
META = "peftal_model.json"
CARD = "README.md"


def _is_peft(encoder: nn.Module) -> bool:
    return hasattr(encoder, "peft_config") and hasattr(encoder, "save_pretrained")


def save_checkpoint(model: nn.Module, folder: Path, meta: dict[str, Any],
                    facts: dict[str, Any] | None = None) -> None:
    """Write the model's trained tensors into ``folder`` (see the module docstring),
    ``folder/peftal_model.json`` and the model card ``folder/README.md`` (with the run's ``facts``,
    see :func:`peftal.peft.card.render_card`).

    The folder is portable: no file names a path of this machine. peft records the base model's
    load path (for the packaged default, a folder inside site-packages); it is replaced by the
    model's public id, which peftal maps back to the packaged copy when it loads the folder.
    """
    from peftal.peft.card import render_card

    folder.mkdir(parents=True, exist_ok=True)
    trainable = {name: p.detach().cpu().contiguous() for name, p in model.named_parameters()
                 if p.requires_grad}
    encoder = getattr(model, "encoder", None)
    meta = {**meta, "model": portable_model_name(meta.get("model")),
            "trainable_params": sum(t.numel() for t in trainable.values())}
    if encoder is not None and _is_peft(encoder):
        encoder.save_pretrained(str(folder), safe_serialization=True)
        _portable_peft_config(folder / PEFT_CONFIG, meta.get("model"))
        save_file({name: t for name, t in trainable.items() if not name.startswith("encoder.")},
                  str(folder / HEAD))
        meta["peft_adapter"] = True
    else:
        save_file(trainable, str(folder / WEIGHTS))
    (folder / META).write_text(json.dumps(meta, indent=2))
    (folder / CARD).write_text(render_card(meta, facts), encoding="utf-8")


def portable_model_name(model: str | None) -> str | None:
    """``model`` as a saved folder records it: the packaged default's install path becomes ``None``
    (the default), any other name is kept."""
    from peftal.models.backbone import resolve_model

    if model is not None and Path(model).expanduser().exists():
        try:
            if Path(model).expanduser().resolve() == Path(resolve_model(None)).resolve():
                return None
        except UsageError:  # the packaged model is not installed: nothing to map
            pass
    return model


def _portable_peft_config(path: Path, model: str | None) -> None:
    """Name the base model in peft's ``adapter_config.json`` by its public id (see
    :func:`save_checkpoint`)."""
    from peftal.peft.card import base_model_id

    config = json.loads(path.read_text())
    config["base_model_name_or_path"] = base_model_id(model)
    path.write_text(json.dumps(config, indent=2, sort_keys=True))


def read_meta(folder: Path) -> dict[str, Any]:
    path = folder / META
    if not path.exists():
        raise UsageError(f"{folder}: no saved model ({META} missing)")
    return json.loads(path.read_text())


def load_weights(model: nn.Module, folder: Path) -> None:
    """Load the saved trainable tensors into a freshly built ``model``; every tensor must fit."""
    if (folder / PEFT_CONFIG).exists():
        _load_peft_adapter(model.encoder, folder)
        tensors = load_file(str(folder / HEAD))
    else:
        tensors = load_file(str(folder / WEIGHTS))
    own = dict(model.named_parameters())
    missing = [name for name in tensors if name not in own]
    if missing:
        raise UsageError(f"{folder}: saved tensor {missing[0]!r} does not fit the rebuilt model")
    model.load_state_dict(tensors, strict=False)


def _load_peft_adapter(encoder: nn.Module, folder: Path) -> None:
    from peft import set_peft_model_state_dict

    if not _is_peft(encoder):
        raise UsageError(f"{folder}: holds a peft adapter, but its method does not build one")
    result = set_peft_model_state_dict(encoder, load_file(str(folder / "adapter_model.safetensors")))
    # peft loads a soft prompt by hand and still reports its tensor among the unexpected keys
    unexpected = [key for key in getattr(result, "unexpected_keys", None) or [] if key != "prompt_embeddings"]
    if unexpected:
        raise UsageError(f"{folder}: saved tensor {unexpected[0]!r} does not fit the rebuilt model")


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
    if meta.get("thresholds") is not None:  # a multi-label model's per-label cuts
        model.thresholds = np.asarray(meta["thresholds"], dtype=np.float64)
    model.eval()
    return model, tokenizer, meta
