"""A Ray started by peftal listens on loopback only (Ray has no authentication)."""

from __future__ import annotations

import ipaddress
import os
import sys

import pytest

from tests.integration.listening import descendants, listening


@pytest.mark.skipif(sys.platform != "linux", reason="reads listening sockets from /proc")
def test_ray_started_by_peftal_listens_only_on_loopback(monkeypatch, one_ray_at_a_time):
    ray = pytest.importorskip("ray", reason="ray is not installed")
    from peftal.experiments.executors import RayExecutor

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    if ray.is_initialized():
        pytest.skip("Ray is already running in this process")
    executor = RayExecutor(None, cpus_per_cell=1)
    assert executor.start()
    try:
        # A task makes Ray start a worker, which opens its own port too.
        assert ray.get(ray.remote(_pid).remote()) != os.getpid()
        sockets = listening(descendants(os.getpid()))
    finally:
        ray.shutdown()
    assert len(sockets) >= 3  # at least the GCS, the raylet and a worker: the probe sees them
    wide = [(pid, address, port) for pid, address, port in sockets
            if not _loopback(address)]
    assert not wide, f"Ray listens beyond loopback: {wide}"


def _pid() -> int:
    return os.getpid()


def _loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback
