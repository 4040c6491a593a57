"""Adapters that were pretrained with the masked-LM objective, and how later runs start from them.

``peftal pretrain --method lora`` saves only the method's own encoder tensors (``encoder.*``) into
``adapter.safetensors`` with ``peftal_pretrain.json``; ``--init-adapter DIR`` copies them into a
freshly built model before training, the "adapter TAPT" of Jukić & Šnajder (2023). The MLM head is
not carried over: the task gets a new head as always. Names agree because the pretraining model and
the task models both hold the backbone as ``encoder``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from peftal.errors import UsageError

ADAPTER_FILE = "adapter.safetensors"
PRETRAIN_META = "peftal_pretrain.json"


def save_pretrained_adapter(model: nn.Module, folder: Path, meta: dict[str, Any]) -> int:
    """Write the trainable ``encoder.*`` tensors of ``model`` and ``meta``; returns how many tensors."""
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {name: p.detach().contiguous() for name, p in model.named_parameters()
               if p.requires_grad and name.startswith("encoder.")}
    save_file(tensors, str(folder / ADAPTER_FILE))
    write_pretrain_meta(folder, {**meta, "kind": "adapter"})
    return len(tensors)


def write_pretrain_meta(folder: Path, meta: dict[str, Any]) -> None:
    (folder / PRETRAIN_META).write_text(json.dumps(meta, indent=2))


def read_pretrain_meta(folder: Path) -> dict[str, Any]:
    """The metadata of a pretraining output folder; a clear error when ``folder`` is not one."""
    path = Path(folder) / PRETRAIN_META
    if not path.exists():
        raise UsageError(f"--init-adapter {folder}: not a `peftal pretrain` output ({PRETRAIN_META} missing)")
    return json.loads(path.read_text())


def check_init_adapter(folder: str | Path, method_preset: str, model: str | None) -> dict[str, Any]:
    """Check before any compute that ``folder`` holds an adapter for ``method_preset`` on ``model``.

    Args:
        folder: A ``peftal pretrain --method <peft method>`` output folder.
        method_preset: The run's method preset (``lora``, ``lora[r=16]``, ...).
        model: The run's model (``None`` = the packaged default).
    """
    from peftal.models.backbone import display_name
    from peftal.peft import parse_method

    meta = read_pretrain_meta(Path(folder))
    if meta.get("kind") != "adapter":
        raise UsageError(f"--init-adapter {folder}: holds a fully pretrained model, not an adapter; "
                         f"pass it as --model {folder}")
    wanted, saved = parse_method(method_preset).preset, meta.get("method")
    if saved != wanted:
        raise UsageError(f"--init-adapter {folder}: the adapter was pretrained with method {saved!r}, "
                         f"this run uses {wanted!r}")
    if display_name(meta.get("model")) != display_name(model) and not _same_path(meta.get("model"), model):
        raise UsageError(f"--init-adapter {folder}: the adapter was pretrained on model "
                         f"{display_name(meta.get('model'))!r}, this run uses {display_name(model)!r}")
    if not (Path(folder) / ADAPTER_FILE).exists():
        raise UsageError(f"--init-adapter {folder}: {ADAPTER_FILE} is missing")
    return meta


def load_pretrained_adapter(model: nn.Module, folder: str | Path) -> int:
    """Copy the pretrained adapter tensors into ``model``'s own parameters; returns how many.

    Every saved tensor must match a trainable parameter of the same name and shape.
    """
    tensors = load_file(str(Path(folder) / ADAPTER_FILE))
    own = dict(model.named_parameters())
    with torch.no_grad():
        for name, tensor in tensors.items():
            target = own.get(name)
            if target is None or not target.requires_grad or target.shape != tensor.shape:
                raise UsageError(f"--init-adapter {folder}: tensor {name!r} does not fit this run's model")
            target.copy_(tensor)
    return len(tensors)


def _same_path(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return False
    return Path(a).expanduser().resolve() == Path(b).expanduser().resolve()
