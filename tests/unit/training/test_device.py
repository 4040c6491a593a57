"""Device selection: names, clear errors, and batches/outputs crossing between devices."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from peftal.errors import UsageError
from peftal.experiments.active_learning import RunConfig
from peftal.training.device import model_device, resolve_device, to_device


def test_auto_is_cuda_only_when_torch_sees_a_gpu():
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == torch.device("cpu")


@pytest.mark.parametrize("name", ["tpu", "gpu", "cuda:x", ""])
def test_unknown_devices_are_refused_by_name(name):
    with pytest.raises(UsageError, match="--device must be auto, cpu, cuda or cuda:N"):
        resolve_device(name)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_cuda_without_a_gpu_is_a_usage_error_before_any_compute():
    with pytest.raises(UsageError, match="torch sees no CUDA GPU"):
        resolve_device("cuda")
    with pytest.raises(UsageError, match="no CUDA GPU"):
        RunConfig(device="cuda:0")


def test_model_device_and_to_device():
    assert model_device(torch.nn.Linear(2, 2)) == torch.device("cpu")
    assert model_device(torch.nn.ReLU()) == torch.device("cpu")  # no parameters
    batch = {"input_ids": torch.from_numpy(np.arange(6).reshape(2, 3))}
    assert to_device(batch, torch.device("cpu")) is batch
    moved = to_device(batch, torch.device("meta"))
    assert moved["input_ids"].device.type == "meta" and moved["input_ids"].shape == (2, 3)
