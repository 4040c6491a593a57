"""Faults survived: SIGKILL of train, pretrain and label train; a full disk during a run and during
labelling; a Ray started by peftal listening on loopback only.

(SIGKILL of ``run``, ``study run`` and ``label start`` is tested in test_run_cli.py,
test_study_cli.py and test_label_cli.py.)
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import run_cli


@pytest.fixture
def tiny_disk(tmp_path):
    """A 16 MiB tmpfs mounted for the test (needs root and mount rights; skipped otherwise)."""
    if sys.platform != "linux" or os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root on Linux")
    mount = tmp_path / "disk"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path, leave: int) -> None:
    """Write a filler file until only about ``leave`` bytes are free on ``disk``."""
    free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    with open(disk / "filler", "wb") as handle:
        with contextlib.suppress(OSError):
            handle.write(b"\0" * max(0, free - leave))


def test_a_full_disk_during_a_run_is_one_line(tiny_disk, toy_csv, tiny_model_dir):
    fill(tiny_disk, leave=64 * 1024)  # room for the store to open, not for the saved model
    out = tiny_disk / "run"
    result = run_cli("run", "--dataset", str(toy_csv), "--model", str(tiny_model_dir), "--warm-start", "10",
                     "--query-size", "10", "--budget", "20", "--epochs", "1", "--max-length", "16",
                     "--cka-probe-size", "0", "--no-progress", "--out", str(out), check=False)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("peftal: error:")]
    assert len(errors) == 1 and "disk is full" in errors[0]
    assert not (out / "summary.json").exists()  # never a result that looks complete


def test_a_full_disk_while_labelling_is_a_503_and_loses_nothing(tiny_disk):
    from peftal.label import LabelSettings, create
    from peftal.label.server import create_app

    data = tiny_disk / "texts.jsonl"
    data.write_text("".join(json.dumps({"text": f"text number {i} " + "x" * 200}) + "\n"
                            for i in range(200)))
    settings = LabelSettings(labels=("a", "b"), data=str(data))
    store = create(tiny_disk / "project", data, settings)
    client = create_app(store, settings, trusted_hosts=["localhost"]).test_client()
    post = lambda path, body: client.post(path, data=json.dumps(body),  # noqa: E731
                                          content_type="application/json")
    first = post("/api/next", {"annotator": "A"}).get_json()
    assert post("/api/label", {"id": first["id"], "label": "a", "annotator": "A"}).status_code == 200
    fill(tiny_disk, leave=0)
    statuses = []
    for _ in range(40):  # the WAL has some room left; keep labelling until the disk refuses
        item = post("/api/next", {"annotator": "A"})
        if item.status_code != 200:
            statuses.append(item.status_code)
            break
        answer = post("/api/label", {"id": item.get_json()["id"], "label": "b", "annotator": "A"})
        statuses.append(answer.status_code)
        if answer.status_code != 200:
            break
    assert statuses[-1] == 503, statuses
    assert "disk" in (item if item.status_code != 200 else answer).get_json()["error"]
    acknowledged = statuses.count(200) + 1
    (tiny_disk / "filler").unlink()
    assert len(store.live_labels()) == acknowledged  # every 200 is stored, the 503 is not


def _kill_when(process: subprocess.Popen, ready, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline and process.poll() is None and not ready():
        time.sleep(0.3)
    time.sleep(2)  # well into the training
    assert process.poll() is None, "the command ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)


@pytest.mark.parametrize("kind", ["train", "pretrain", "label train"])
def test_sigkill_leaves_no_complete_looking_result(kind, tmp_path, toy_csv, tiny_model_dir):
    out = tmp_path / "out"
    common = ["--model", str(tiny_model_dir), "--epochs", "200", "--max-length", "16", "--no-progress",
              "--out", str(out)]
    if kind == "train":
        argv = ["train", "--dataset", str(toy_csv), *common]
    elif kind == "pretrain":
        argv = ["pretrain", "--dataset", str(toy_csv), *common]
    else:
        from peftal.label import LabelSettings, create

        texts = tmp_path / "texts.jsonl"
        texts.write_text("".join(json.dumps({"text": f"{w} text {i}"}) + "\n"
                                 for i, w in enumerate(["apple", "river"] * 10)))
        store = create(tmp_path / "project", texts,
                       LabelSettings(labels=("a", "b"), model=str(tiny_model_dir), max_length=16))
        for _ in range(20):
            item = store.next_for("A", lease_seconds=60, budget=None)
            store.add_label(item["id"], "ab"[item["id"] % 2], "A")
        store.close()
        argv = ["label", "train", str(tmp_path / "project"), "--epochs", "5000", "--no-progress",
                "--out", str(out)]
    process = subprocess.Popen([sys.executable, "-m", "peftal", *argv], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    _kill_when(process, out.is_dir)
    assert not (out / "summary.json").exists()
    # The folder is not taken for a completed run: the same command may run into it again.
    check = run_cli(*argv[:-2], "--out", str(out), "--epochs", "1", check=False)
    assert check.returncode == 0, check.stderr[-2000:]
    assert (out / "summary.json").exists()
