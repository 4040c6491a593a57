"""The labelling app on a large pool: a project of a million texts, created and served.

Writes a CSV of ``--texts`` real texts (SST-2, IMDB (first 500 characters), AG News and TREC
training texts from ``PEFTAL_DATA_DIR``, cycled until there are enough; a text's label is the
dataset it came from, so suggestions can be checked), starts ``peftal label start`` on it as a
user would, and measures:

- the time from the command's start until ``POST /api/next`` answers (creation streams the file
  into the project; nothing is embedded yet);
- the server's resident memory (RSS) once serving and at the end, and the worker's;
- ``POST /api/next`` and ``POST /api/label`` latency while one annotator labels ``--labels``
  texts at ``--pace`` seconds a text (the embedding, the probe and a PEFT retrain run meanwhile);
- after how many labels the served texts carry a suggestion, and how often it is right;
- the embedding rate (texts a second) over the first ``--embed-seconds`` with no label given (no
  retrain competing for the worker), and what the whole pool would take at that rate;
- the first PEFT retrain's training and query (pool scoring) time, with the default scoring of a
  10,000-text sample of a large pool.

    PEFTAL_DATA_DIR=../shared/data python benchmarks/label_scale.py --texts 1000000 --labels 60
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _label_app import api_call, wait_until_serving

SOURCES = ("sst2", "imdb", "ag_news", "trec")


def write_pool(path: Path, n: int) -> list[str]:
    """Write ``n`` texts as a one-column CSV; returns each row's source (its gold label)."""
    root = Path(os.environ.get("PEFTAL_DATA_DIR", "../shared/data"))
    texts: list[tuple[str, str]] = []
    for name in SOURCES:
        for file in sorted((root / name).glob("train.jsonl*")):
            opener = gzip.open if file.suffix == ".gz" else open
            with opener(file, "rt", encoding="utf-8") as handle:
                texts += [(json.loads(line)["text"][:500], name) for line in handle if line.strip()]
    gold = []
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text"])
        for i in range(n):
            text, source = texts[i % len(texts)]
            writer.writerow([text])
            gold.append(source)
    return gold


def rss_mb(pid: int) -> tuple[float, float]:
    """``(server, worker)`` resident memory in MB of the server process and its children."""
    import psutil

    process = psutil.Process(pid)
    children = process.children(recursive=True)
    return (process.memory_info().rss / 2**20,
            sum(child.memory_info().rss for child in children) / 2**20)


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(q * len(ordered)) - 1)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--texts", type=int, default=1_000_000)
    parser.add_argument("--labels", type=int, default=60)
    parser.add_argument("--pace", type=float, default=1.0, help="seconds between an annotator's labels")
    parser.add_argument("--port", type=int, default=8791)
    parser.add_argument("--max-wait", type=float, default=600, help="wait this long for the first retrain")
    parser.add_argument("--embed-seconds", type=float, default=60,
                        help="measure the embedding rate this long before labelling")
    args = parser.parse_args()
    base = f"http://127.0.0.1:{args.port}"
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        gold = write_pool(Path(tmp) / "pool.csv", args.texts)
        print(f"wrote {args.texts:,} texts ({(Path(tmp) / 'pool.csv').stat().st_size / 2**20:.0f} MB) "
              f"in {time.perf_counter() - started:.1f} s")
        command = [sys.executable, "-m", "peftal", "label", "start", str(Path(tmp) / "project"),
                   "--data", str(Path(tmp) / "pool.csv"), "--labels", ",".join(SOURCES),
                   "--port", str(args.port)]
        started = time.perf_counter()
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            wait_until_serving(base, server)
            serving = time.perf_counter() - started
            server_rss, worker_rss = rss_mb(server.pid)
            print(f"created and serving after {serving:.1f} s; RSS server {server_rss:.0f} MB, "
                  f"worker {worker_rss:.0f} MB")
            embed_start = None
            deadline = time.perf_counter() + args.embed_seconds + 120
            while time.perf_counter() < deadline:  # the first chunk waits for the model to load
                embedded = (api_call(base, "/api/stats")[1].get("embedding") or {}).get("embedded") or 0
                if embed_start is None and embedded:
                    embed_start = (time.perf_counter(), embedded)
                elif embed_start is not None and time.perf_counter() - embed_start[0] >= args.embed_seconds:
                    break
                time.sleep(1)
            rate = 0.0 if embed_start is None else (
                (embedded - embed_start[1]) / (time.perf_counter() - embed_start[0]))
            nexts, posts, first_suggested, right, suggested = [], [], None, 0, 0
            for k in range(args.labels):
                took, item = api_call(base, "/api/next", {"annotator": "bench"})
                nexts.append(took)
                if item.get("suggestion") is not None:
                    suggested += 1
                    right += item["suggestion"] == gold[item["id"]]
                    first_suggested = k if first_suggested is None else first_suggested
                took, _ = api_call(base, "/api/label", {"id": item["id"], "label": gold[item["id"]],
                                                    "annotator": "bench"})
                posts.append(took)
                time.sleep(args.pace)
            deadline = time.perf_counter() + args.max_wait
            while True:
                stats = api_call(base, "/api/stats")[1]
                model = stats["model"]
                if model.get("generation", 0) >= 1 or time.perf_counter() > deadline:
                    break
                time.sleep(2)
            server_rss_end, worker_rss_end = rss_mb(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=60)
    print(f"POST /api/next: median {1000 * statistics.median(nexts):.1f} ms, p95 "
          f"{1000 * quantile(nexts, 0.95):.1f} ms, max {1000 * max(nexts):.1f} ms ({len(nexts)} requests)")
    print(f"POST /api/label: median {1000 * statistics.median(posts):.1f} ms, p95 "
          f"{1000 * quantile(posts, 0.95):.1f} ms, max {1000 * max(posts):.1f} ms")
    print(f"suggestions: first on the text served after {first_suggested} labels; {suggested} of "
          f"{args.labels} served texts had one, {right} right")
    print(f"embedding with no label given: {rate:.0f} texts/s over {args.embed_seconds:.0f} s, so the "
          f"whole pool of {args.texts:,} in {args.texts / max(rate, 1e-9) / 3600:.1f} h at this rate")
    if model.get("generation", 0) >= 1:
        print(f"first PEFT retrain ({model['method']}, {model['trained_on']} labels): training "
              f"{model['train_seconds']:.1f} s, query {model['query_seconds']:.1f} s")
    else:
        print(f"no PEFT retrain finished within {args.max_wait:.0f} s ({model.get('activity')})")
    print(f"RSS at the end: server {server_rss_end:.0f} MB, worker {worker_rss_end:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
