"""How fast are the labelling app's instant suggestions? Embedding throughput and probe refit time.

Creates a project of ``--texts`` TREC questions, embeds the pool with the packaged MiniLM
exactly as the background worker does (chunks committed to the project's cache, one torch
thread as the worker uses on a 2-core machine), then gives ``--labels`` gold labels and times
the linear probe's refit + rank + publish (what follows every label), and the probe's
accuracy on the texts not labelled, against the majority class.

With ``--serve`` it measures the whole app instead: ``peftal label start`` on ``--texts``
questions (defaults: query size 20, cross-validation on), one client labelling with the gold
labels through the API, and the time from each ``POST /api/label`` until ``/api/stats`` shows the
probe refitted on that label (polled every 20 ms), retrains included.

    PEFTAL_DATA_DIR=../shared/data python benchmarks/label_probe.py --texts 5000 --labels 100
    PEFTAL_DATA_DIR=../shared/data python benchmarks/label_probe.py --serve --texts 1000 --labels 60
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
from label_latency import write_questions  # the same TREC slice as the latency benchmark

LABELS = ("ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM")

def call(base: str, path: str, body: dict | None = None) -> dict | None:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method="GET" if data is None else "POST",
                                     headers={"Content-Type": "application/json"} if data else {})
    with urllib.request.urlopen(request, timeout=60) as answer:
        raw = answer.read()
    return json.loads(raw) if raw else None


def serve(args: argparse.Namespace) -> int:
    """Probe refresh time after each label in the running app, retrains included."""
    with tempfile.TemporaryDirectory() as tmp:
        gold = write_questions(Path(tmp) / "q.csv", args.texts)
        server = subprocess.Popen(
            [sys.executable, "-m", "peftal", "label", "start", str(Path(tmp) / "p"), "--data",
             str(Path(tmp) / "q.csv"), "--labels", ",".join(LABELS), "--max-length", "64", "--port", "0"],
            stdout=subprocess.PIPE, text=True)
        try:
            base = next(line for line in server.stdout if "serving on" in line)
            base = base.split("serving on ")[1].split()[0].rstrip("/")
            refresh, post, classes = [], [], set()
            for n in range(1, args.labels + 1):
                item = call(base, "/api/next", {"annotator": "bench"})
                started = time.perf_counter()
                call(base, "/api/label",
                     {"id": item["id"], "label": gold[item["text"]], "annotator": "bench"})
                post.append(time.perf_counter() - started)
                classes.add(gold[item["text"]])
                while len(classes) >= 2 and time.perf_counter() - started < 60:
                    stats = call(base, "/api/stats")
                    if stats["ranking"].get("suggester") == "model":
                        break  # the model suggests: the probe no longer publishes
                    if stats["probe"] and stats["probe"]["labels"] >= n:
                        refresh.append(time.perf_counter() - started)
                        break
                    time.sleep(0.02)
            stats = call(base, "/api/stats")
        finally:
            server.terminate()
            server.wait(timeout=60)
    refresh.sort()
    post.sort()
    print(f"probe refreshed after {len(refresh)} labels: median {statistics.median(refresh):.2f} s, "
          f"p95 {refresh[int(0.95 * len(refresh)) - 1]:.2f} s, max {refresh[-1]:.2f} s (the first "
          "of two classes waits for the model to load and the first chunk)")
    print(f"POST /api/label: median {1000 * statistics.median(post):.0f} ms, "
          f"p95 {1000 * post[int(0.95 * len(post)) - 1]:.0f} ms")
    print(f"at the end: model generation {stats['model'].get('generation', 0)} "
          f"({stats['model'].get('activity')}), suggestions by {stats['ranking'].get('suggester')}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--texts", type=int, default=5000)
    parser.add_argument("--labels", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the worker's on 2 cores)")
    parser.add_argument("--max-seconds", type=float, default=240, help="stop embedding after this")
    parser.add_argument("--serve", action="store_true", help="time the probe's refresh in the app")
    args = parser.parse_args()
    if args.serve:
        return serve(args)

    import torch

    from peftal.label import LabelSettings, create
    from peftal.label.embeddings import PoolEmbedder
    from peftal.label.probe import Probe
    from peftal.models.backbone import load_backbone

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        gold = write_questions(Path(tmp) / "q.csv", args.texts)
        texts = list(gold)
        store = create(Path(tmp) / "p", Path(tmp) / "q.csv", LabelSettings(labels=LABELS))
        settings = LabelSettings.from_dict(store.get_meta("settings"))
        encoder, tokenizer = load_backbone(None)
        embedder = PoolEmbedder(store, settings, encoder, tokenizer, Path(tmp) / "p")
        started = time.perf_counter()
        while embedder.pending() and time.perf_counter() - started < args.max_seconds:
            embedder.embed_chunk()
        seconds = time.perf_counter() - started
        done = embedder.cache.count
        print(f"embedded {done} of {len(texts)} texts in {seconds:.1f} s: {done / seconds:.0f} texts/s "
              f"({args.threads} torch thread{'s' if args.threads > 1 else ''}, chunks of "
              f"{embedder.chunk_size})")

        probe = Probe(store, settings, embedder.cache)
        order = [int(i) for i in embedder.cache.ids]
        for n, example_id in enumerate(order[:args.labels]):
            store.add_label(example_id, gold[texts[example_id]], "bench")
            if n + 1 in (20, 50, 100) or n + 1 == args.labels:
                probe.publish()
                rest = order[args.labels:]
                suggested = [store.example(i)["suggestion"] for i in rest]
                truth = np.array([gold[texts[i]] for i in rest])
                accuracy = float(np.mean(np.array(suggested) == truth))
                majority = max(float(np.mean(truth == label)) for label in LABELS)
                print(f"  {n + 1:4d} labels: probe accuracy on {len(rest)} unlabelled texts "
                      f"{accuracy:.3f} (majority class {majority:.3f})")
        times = []
        for _ in range(10):
            started = time.perf_counter()
            probe.publish()
            times.append(time.perf_counter() - started)
        fit = store.get_meta("probe")["fit_seconds"]
        print(f"probe refit + rank + publish on {args.labels} labels, {done} embedded texts: "
              f"median {1000 * statistics.median(times):.0f} ms, max {1000 * max(times):.0f} ms "
              f"(of which fit + predict {1000 * fit:.0f} ms)")
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
