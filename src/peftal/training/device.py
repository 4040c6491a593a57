"""Where a model runs: ``auto`` (a CUDA GPU when torch sees one, else the CPU), ``cpu``, ``cuda[:N]``.

Batches are built on the CPU (tokenised ids, dynamic padding) and moved to the model's device just
before its forward pass; outputs come back as CPU numpy arrays, so strategies, metrics and the
results store never see device tensors.
"""

from __future__ import annotations

import torch
from torch import nn

from peftal.errors import UsageError


def resolve_device(name: str) -> torch.device:
    """``torch.device`` for ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.

    Raises:
        UsageError: For another name, or a CUDA device that torch cannot use here.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        device = None
    if device is None or device.type not in ("cpu", "cuda"):
        raise UsageError(f"--device must be auto, cpu, cuda or cuda:N, got {name!r}")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UsageError(f"--device {name}: torch sees no CUDA GPU here (a CPU-only torch build, "
                             f"or no GPU); use --device cpu or auto")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise UsageError(f"--device {name}: only {torch.cuda.device_count()} CUDA GPU(s) are visible")
    return device


def model_device(model: nn.Module) -> torch.device:
    """The device of a model's parameters (the CPU for a model, or any callable, without any)."""
    parameter = next(model.parameters(), None) if isinstance(model, nn.Module) else None
    return parameter.device if parameter is not None else torch.device("cpu")


def to_device(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    """The batch's tensors on ``device`` (the batch itself when it is already there)."""
    if all(value.device == device for value in batch.values()):
        return batch
    return {key: value.to(device, non_blocking=True) for key, value in batch.items()}
