"""Shared pieces of the labelling-app benchmarks: a pool of real texts as a CSV, one JSON API call,
and waiting for a started app to serve."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import time
import urllib.request
from pathlib import Path


def write_texts(path: Path, dataset: str, n: int) -> dict[str, str]:
    """The first ``n`` distinct texts of ``dataset``'s training split (``PEFTAL_DATA_DIR``) as a
    one-column CSV at ``path``; returns ``{text: gold label}``."""
    source = Path(os.environ.get("PEFTAL_DATA_DIR", "../shared/data")) / dataset / "train.jsonl"
    gold: dict[str, str] = {}
    with open(source, encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            gold.setdefault(record["text"], str(record["label"]))
            if len(gold) == n:
                break
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text"])
        writer.writerows([text] for text in gold)
    return gold


def api_call(base: str, path: str, body: dict | None = None,
             timeout: float = 120) -> tuple[float, dict | None]:
    """``(seconds, answer)`` of one call: a POST with ``body`` as JSON, else a GET."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method="GET" if data is None else "POST",
                                     headers={"Content-Type": "application/json"} if data else {})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        raw = answer.read()
    return time.perf_counter() - started, json.loads(raw) if raw else None


def wait_until_serving(base: str, server: subprocess.Popen) -> None:
    """Poll ``/api/stats`` until the app answers; stop with its error output if it exits first."""
    while True:
        try:
            api_call(base, "/api/stats")
            return
        except OSError:
            if server.poll() is not None:
                output = server.stderr.read()[-2000:] if server.stderr else ""
                raise SystemExit(f"the labelling app stopped before serving: {output}") from None
            time.sleep(0.2)
