"""Tiny encoders run fastest on one thread: with two or more, torch's inter-thread hand-offs cost
more than the arithmetic, and far more when other processes share the cores."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
