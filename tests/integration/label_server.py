"""Helpers of the labelling integration tests: a TREC CSV, and the real server as a subprocess."""

from __future__ import annotations

import csv
import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

TREC_LABELS = ("ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM")


def trec_csv(data_dir: Path, path: Path, n: int) -> dict[str, str]:
    """Write the first ``n`` TREC training questions to ``path`` (columns text, gold); returns
    text → gold label."""
    gold = {}
    with open(data_dir / "trec" / "train.jsonl", encoding="utf-8") as source:
        for line in source:
            record = json.loads(line)
            gold.setdefault(record["text"], record["label"])  # TREC repeats a few questions
            if len(gold) == n:
                break
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "gold"])
        writer.writerows(gold.items())
    return gold


class Server:
    """``peftal label start PROJECT ...`` on a free 127.0.0.1 port; ``url`` once it serves."""

    def __init__(self, project: Path, *args: str, timeout: float = 180) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "peftal", "label", "start", str(project), "--port", "0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "PYTHONWARNINGS": "ignore"})
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        self.url = self._wait_for_url(timeout)

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line)

    def _wait_for_url(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=1)
            except queue.Empty:
                if self.process.poll() is not None:
                    break
                continue
            self.output.append(line)
            match = re.search(r"serving on (http://\S+/)", line)
            if match:
                return match.group(1).rstrip("/")
        self.process.kill()
        raise AssertionError("the server did not start:\n" + "".join(self.output))

    def children(self) -> list[int]:
        """Pids of the server's child processes (the background trainer), Linux only."""
        found = []
        for task in Path(f"/proc/{self.process.pid}/task").glob("*"):
            try:
                text = (task / "children").read_text()
            except OSError:  # the thread ended between listing and reading
                continue
            found += [int(pid) for pid in text.split()]
        return found

    def request(self, method: str, path: str, body: dict | None = None, timeout: float = 30,
                headers: dict[str, str] | None = None) -> tuple[int, dict | None]:
        """One request; ``(status, JSON answer)`` (the answer is ``{"text": ...}`` when not JSON)."""
        data = None if body is None else json.dumps(body).encode()
        headers = {**({"Content-Type": "application/json"} if body is not None else {}), **(headers or {})}
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as answer:
                return answer.status, _parsed(answer.read(), answer.headers.get_content_type())
        except urllib.error.HTTPError as error:
            return error.code, _parsed(error.read(), error.headers.get_content_type())

    def stop(self) -> int:
        """SIGTERM, as Ctrl-C would: a clean shutdown; returns the exit status."""
        if self.process.poll() is None:
            self.process.terminate()
        return self.process.wait(timeout=60)


def _parsed(raw: bytes, content_type: str) -> dict | None:
    if not raw:
        return None
    return json.loads(raw) if content_type == "application/json" else {"text": raw.decode()}


def pid_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; only its parent has not reaped it yet
