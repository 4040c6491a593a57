"""Per-method test accuracy on the docs/methods.md reporting cell, over several seeds.

Runs the real `peftal run` command for every (method, seed) of the cell

    peftal run --dataset trec --method M --strategy random --warm-start 100 --query-size 50 \
               --budget 150 --epochs 10 --max-length 64 --seed S

and prints one JSON line per run and a table of the mean ± std accuracy at 100 and 150 labels.
`--peftal` names the command to run, so that two installations (e.g. before and after a backend
change) can be measured back to back on the same machine:

    PEFTAL_DATA_DIR=../shared/data python benchmarks/method_accuracy.py --seeds 0 1 2 \
        --out /tmp/acc-new --json acc-new.jsonl
    PEFTAL_DATA_DIR=../shared/data python benchmarks/method_accuracy.py --peftal OLDENV/bin/peftal \
        --methods full bitfit lora --out /tmp/acc-old --json acc-old.jsonl

Nothing here chooses anything: the cell is evaluated on TREC's test split for reporting only.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import time
from pathlib import Path


def run_cell(peftal: str, method: str, seed: int, out: Path, threads: int) -> dict:
    folder = out / f"{method}-seed{seed}"
    summary = folder / "summary.json"
    if not summary.exists():
        shutil.rmtree(folder, ignore_errors=True)
        command = [*peftal.split(), "run", "--dataset", "trec", "--method", method, "--strategy", "random",
                   "--warm-start", "100", "--query-size", "50", "--budget", "150", "--epochs", "10",
                   "--max-length", "64", "--seed", str(seed), "--threads", str(threads),
                   "--cka-probe-size", "0", "--out", str(folder)]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            return {"method": method, "seed": seed, "error": done.stderr.strip().splitlines()[-1:]}
        seconds = time.perf_counter() - started
    else:
        seconds = None
    data = json.loads(summary.read_text())
    accuracy = [r["metrics"]["accuracy"] for r in data["rounds"]]
    return {"method": method, "seed": seed, "accuracy": accuracy,
            "trainable_params": data["trainable_params"], "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peftal", default="peftal", help="the command to run (default: peftal)")
    parser.add_argument("--methods", nargs="+", default=None,
                        help="default: every method `peftal methods` lists")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True, help="folder for the run folders (resumable)")
    parser.add_argument("--json", type=Path, default=None, help="append one JSON line per run here")
    args = parser.parse_args()
    methods = args.methods
    if methods is None:
        listed = subprocess.run([*args.peftal.split(), "methods", "--json"], capture_output=True, text=True,
                                check=True)
        methods = [row["name"] for row in json.loads(listed.stdout)]
    rows = []
    for method in methods:
        for seed in args.seeds:
            row = run_cell(args.peftal, method, seed, args.out, args.threads)
            rows.append(row)
            print(json.dumps(row), flush=True)
            if args.json:
                with args.json.open("a") as handle:
                    handle.write(json.dumps(row) + "\n")
    print("\n| method | acc. @100 (mean ± std) | acc. @150 (mean ± std) | seeds |")
    print("|---|---|---|---|")
    for method in methods:
        ok = [r for r in rows if r["method"] == method and "accuracy" in r]
        if not ok:
            print(f"| `{method}` | failed | failed | 0 |")
            continue
        cells = []
        for position in (0, -1):
            values = [r["accuracy"][position] for r in ok]
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            cells.append(f"{statistics.mean(values):.3f} ± {spread:.3f}")
        print(f"| `{method}` | {cells[0]} | {cells[1]} | {len(ok)} |")


if __name__ == "__main__":
    main()
