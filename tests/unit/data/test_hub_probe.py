"""A built-in dataset with no local copy and no reachable hub fails within 2 s with one line
(datasets' own retries took ~23 s), offline mode or not."""

from __future__ import annotations

import socket
import time

import pytest

from peftal.data import load_task
from peftal.data.hub import hub_reachable
from peftal.errors import UsageError


def _closed_port() -> int:
    with socket.socket() as sock:  # bound then released: nothing listens there
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("endpoint", ["refused", "unroutable"])
def test_no_local_copy_and_no_hub_fails_fast(endpoint, tmp_path, monkeypatch):
    monkeypatch.setenv("PEFTAL_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    # a refused connection, and an address that never answers (TEST-NET-1, RFC 5737)
    url = f"http://127.0.0.1:{_closed_port()}" if endpoint == "refused" else "http://192.0.2.1:443"
    monkeypatch.setenv("HF_ENDPOINT", url)
    start = time.monotonic()
    with pytest.raises(UsageError, match="no local copy .* the Hugging Face hub cannot be reached"):
        load_task("ag_news")
    assert time.monotonic() - start < 2.0


def test_offline_mode_skips_the_probe(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.monotonic()
    assert not hub_reachable()
    assert time.monotonic() - start < 0.1


def test_a_listening_endpoint_is_reachable(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.getsockname()[1]}")
        assert hub_reachable()
