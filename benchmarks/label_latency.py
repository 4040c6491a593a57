"""Does the labelling page stay fast while the model retrains? Background process vs thread.

Measures the latency of ``POST /api/next`` (a write transaction: it renews the caller's lease)
while no model trains and while a retrain runs, for the trainer as it ships (a separate process)
and as a thread inside the server process (sharing the GIL with the request threads). Both sides
train the same model with the same number of torch threads, on the same project, one after the
other. Prints median / 95th percentile / max per case and the ratios.

    PEFTAL_DATA_DIR=../shared/data python benchmarks/label_latency.py --texts 500 --query-size 40
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from _label_app import write_texts

LABELS = ("ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM")


def write_questions(path: Path, n: int) -> dict[str, str]:
    """The first ``n`` distinct TREC training questions as a CSV; ``{text: label}``."""
    return write_texts(path, "trec", n)


def call(url: str, method: str = "GET", body: dict | None = None) -> tuple[float, dict | None]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"} if data else {})
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as answer:
        raw = answer.read()
    return time.perf_counter() - start, json.loads(raw) if raw else None


def label(base: str, gold: dict[str, str], n: int) -> None:
    for _ in range(n):
        _, item = call(f"{base}/api/next", "POST", {"annotator": "bench"})
        call(f"{base}/api/label", "POST", {"id": item["id"], "label": gold[item["text"]],
                                           "annotator": "bench"})


def sample(base: str, while_activity: str | None, count: int, interval: float = 0.05) -> list[float]:
    """Latencies of ``POST /api/next`` (``count`` of them, or as long as the trainer's activity is
    ``while_activity``)."""
    latencies = []
    while len(latencies) < count:
        if while_activity is not None and len(latencies) % 10 == 0:
            _, stats = call(f"{base}/api/stats")
            if stats["model"].get("activity") != while_activity:
                break
        latencies.append(call(f"{base}/api/next", "POST", {"annotator": "probe"})[0])
        time.sleep(interval)
    return latencies


def wait_for_activity(base: str, activity: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if call(f"{base}/api/stats")[1]["model"].get("activity") == activity:
            return
        time.sleep(0.05)
    raise TimeoutError(f"the trainer never reached {activity!r}")


def run_process_mode(folder: Path, data: Path, gold: dict, args) -> dict[str, list[float]]:
    server = subprocess.Popen(
        [sys.executable, "-m", "peftal", "label", "start", str(folder), "--data", str(data),
         "--labels", ",".join(LABELS), "--query-size", str(args.query_size), "--epochs",
         str(args.epochs), "--max-length", str(args.max_length), "--cv-folds", "0", "--port", "0"],
        stdout=subprocess.PIPE, text=True)
    try:
        for line in server.stdout:
            if "serving on" in line:
                base = line.split("serving on ")[1].split()[0].rstrip("/")
                break
        wait_for_activity(base, "idle")
        idle = sample(base, None, args.samples)
        label(base, gold, args.query_size)
        wait_for_activity(base, "training")
        busy = sample(base, "training", 10**6)
        return {"idle": idle, "training": busy}
    finally:
        server.terminate()
        server.wait()


def run_thread_mode(folder: Path, data: Path, gold: dict, args) -> dict[str, list[float]]:
    import torch
    from werkzeug.serving import make_server

    from peftal.label import LabelSettings, create
    from peftal.label.server import create_app
    from peftal.label.worker import Worker

    torch.set_num_threads(max(1, (os.cpu_count() or 2) - 1))  # as the worker process does
    settings = LabelSettings(labels=LABELS, query_size=args.query_size, epochs=args.epochs,
                             max_length=args.max_length, cv_folds=0)
    store = create(folder, data, settings)
    server = make_server("127.0.0.1", 0, create_app(store, settings), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    worker = Worker(store, settings)
    worker.run(max_jobs=0)  # load the model
    idle = sample(base, None, args.samples)
    label(base, gold, args.query_size)
    trainer = threading.Thread(target=worker.step)
    trainer.start()
    wait_for_activity(base, "training")
    busy = sample(base, "training", 10**6)
    trainer.join()
    server.shutdown()
    return {"idle": idle, "training": busy}


def summary(values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    p95 = ms[min(len(ms) - 1, int(0.95 * len(ms)))]
    return f"median {statistics.median(ms):7.1f} ms  p95 {p95:7.1f} ms  max {ms[-1]:7.1f} ms  (n={len(ms)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=500)
    parser.add_argument("--query-size", type=int, default=40)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--samples", type=int, default=100, help="idle samples")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "questions.csv"
        gold = write_questions(data, args.texts)
        results = {"process": run_process_mode(Path(tmp) / "p1", data, gold, args),
                   "thread": run_thread_mode(Path(tmp) / "p2", data, gold, args)}
    print(f"POST /api/next latency, {args.texts} texts, retrain on {args.query_size} labels "
          f"x {args.epochs} epochs, {os.cpu_count()} cores")
    for mode, cases in results.items():
        for case, values in cases.items():
            print(f"  trainer as {mode:7s} {case:8s}: {summary(values)}")
    for case in ("idle", "training"):
        ratio = statistics.median(results["thread"][case]) / statistics.median(results["process"][case])
        print(f"  median, thread / process, {case}: {ratio:.2f}x")


if __name__ == "__main__":
    main()
