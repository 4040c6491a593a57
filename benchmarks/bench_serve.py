"""`peftal serve` under load against a one-request-at-a-time fp32 transformers server.

    python benchmarks/bench_serve.py RUN [--export DIR] [--clients 16] [--seconds 60]

Both servers run side by side on the same machine in one run, each in its own process on loopback,
one after the other, under the same load: ``--clients`` threads that each send one text per request
(texts from TREC's test split) for ``--seconds``. Printed per side: requests answered, errors (any
status but 200), dropped (no answer: reset, timeout), p50 / p99 latency and throughput; then the
throughput ratio. ``peftal serve`` serves the run's ONNX export (int8 where the export has it) with
micro-batching; the baseline is the run's own PyTorch fp32 model (peftal's checkpoint, i.e.
transformers + peft) behind Python's single-threaded ``http.server``, one forward pass per request.
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
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def baseline_server(run: Path) -> None:
    """The simple baseline: load the model, answer each request alone (fp32 PyTorch)."""
    import numpy as np

    from peftal.data.dataset import Split
    from peftal.data.encoding import encode
    from peftal.peft.checkpoint import load_model
    from peftal.training import predict, softmax

    model, tokenizer, meta = load_model(run / "model")
    labels = meta["label_names"]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            texts = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["texts"]
            encoded = encode(tokenizer, Split(texts=texts, labels=np.zeros(len(texts))), meta["max_length"])
            probs = softmax(predict(model, encoded, np.arange(len(texts))))
            body = json.dumps({"predictions": [{"label": labels[int(p.argmax())]} for p in probs]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    HTTPServer.request_queue_size = 128  # 16 clients wait in the backlog instead of being refused
    server = HTTPServer(("127.0.0.1", 0), Handler)
    print(f"listening on http://127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever()


def start(command: list[str]) -> tuple[subprocess.Popen, int]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    line = process.stdout.readline()
    if "http://127.0.0.1:" not in line:
        raise SystemExit(f"server did not start: {line!r}")
    return process, int(line.strip().rsplit(":", 1)[1])


def load(port: int, texts: list[str], clients: int, seconds: float) -> dict:
    """``clients`` threads posting one text each, back to back, for ``seconds``."""
    latencies: list[float] = []
    errors, dropped = [0], [0]
    lock = threading.Lock()
    end = time.monotonic() + seconds

    def client(offset: int) -> None:
        n = offset
        while time.monotonic() < end:
            body = json.dumps({"texts": [texts[n % len(texts)]]}).encode()
            n += clients
            request = urllib.request.Request(f"http://127.0.0.1:{port}/predict", data=body,
                                             headers={"Content-Type": "application/json"})
            start_time = time.perf_counter()
            try:
                with urllib.request.urlopen(request, timeout=120) as response:
                    response.read()
                    ok = response.status == 200
            except urllib.error.HTTPError:
                ok = False
            except (OSError, urllib.error.URLError):
                with lock:
                    dropped[0] += 1
                continue
            with lock:
                if ok:
                    latencies.append(time.perf_counter() - start_time)
                else:
                    errors[0] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    latencies.sort()
    return {"answered": len(latencies), "errors": errors[0], "dropped": dropped[0],
            "p50_ms": 1000 * statistics.median(latencies) if latencies else None,
            "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))] if latencies else None,
            "throughput_rps": len(latencies) / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a run folder (holding model/)")
    parser.add_argument("--export", type=Path,
                        help="its `peftal export` folder (default: exported now, with --int8)")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--data", type=Path, default=None, help="JSONL of texts (default: TREC's test split)")
    parser.add_argument("--baseline-server", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline_server:
        return baseline_server(args.run)
    root = Path(os.environ.get("PEFTAL_DATA_DIR", REPO.parent / "shared" / "data"))
    data = args.data or root / "trec" / "test.jsonl"
    texts = [json.loads(line)["text"] for line in data.read_text().splitlines()]
    export = args.export
    if export is None:
        export = Path(tempfile.mkdtemp()) / "export"
        subprocess.run([sys.executable, "-m", "peftal", "export", str(args.run), "--int8",
                        "--out", str(export)], check=True,
                       env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    sides = {"peftal serve": [sys.executable, "-m", "peftal", "serve", str(export), "--port", "0"],
             "baseline": [sys.executable, __file__, str(args.run), "--baseline-server"]}
    results = {}
    for name, command in sides.items():
        process, port = start(command)
        try:
            load(port, texts, args.clients, 3.0)  # warm-up, not counted
            results[name] = load(port, texts, args.clients, args.seconds)
        finally:
            process.terminate()
            process.wait(60)
        print(json.dumps({"side": name, **results[name]}), flush=True)
    print(f"\n{'side':<14}{'answered':>9}{'errors':>8}{'dropped':>9}{'p50 ms':>9}{'p99 ms':>9}{'req/s':>8}")
    for name, r in results.items():
        print(f"{name:<14}{r['answered']:>9}{r['errors']:>8}{r['dropped']:>9}{r['p50_ms']:>9.1f}"
              f"{r['p99_ms']:>9.1f}{r['throughput_rps']:>8.1f}")
    ratio = results["peftal serve"]["throughput_rps"] / results["baseline"]["throughput_rps"]
    print(f"\nthroughput ratio peftal serve / baseline: {ratio:.2f}x "
          f"({args.clients} clients, {args.seconds:g} s each, {os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
