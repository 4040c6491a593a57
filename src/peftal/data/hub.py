"""Whether the Hugging Face hub can be reached, decided within a second or two.

Without a network, ``datasets.load_dataset`` retries five times with back-off before it fails
(about 23 s of retry messages); a built-in dataset with no local copy should instead fail at once
with its one line. The probe opens one TCP connection to the hub's host in a daemon thread, so a
slow DNS resolver cannot hold the command either.
"""

from __future__ import annotations

import os
import socket
import threading
from urllib.parse import urlparse

from peftal.errors import UsageError

PROBE_SECONDS = 1.5


def check_hub(name: str, holding: str) -> None:
    """The one line for built-in dataset ``name`` that has no local copy (``holding`` says which
    files one would hold) when the hub cannot be reached: in a second or two, not after retries."""
    if not hub_reachable():
        raise UsageError(f"dataset {name!r}: no local copy (set PEFTAL_DATA_DIR to a folder holding "
                         f"{holding}) and the Hugging Face hub cannot be reached")


def hub_reachable(timeout: float = PROBE_SECONDS) -> bool:
    """False when the hub is switched off (``HF_HUB_OFFLINE``/``HF_DATASETS_OFFLINE``) or cannot be
    connected to within ``timeout`` seconds."""
    if any(os.environ.get(name, "").lower() in ("1", "true", "yes", "on")
           for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")):
        return False
    url = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    host, port = url.hostname or "huggingface.co", url.port or (80 if url.scheme == "http" else 443)
    result: list[bool] = []

    def _connect() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=_connect, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])
