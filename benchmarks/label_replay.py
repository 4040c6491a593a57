"""Replay gold labels through the labelling app: how often is the suggestion right, and how early?

For each dataset, ``peftal label start`` on ``--texts`` texts of its training split (defaults
otherwise), and one annotator who answers every text the app serves with its gold label, at
``--pace`` seconds a text (the app's background work runs meanwhile, as it would for a person).
For every served text it records whether the page showed a suggestion and whether it was right;
it prints the suggestion accuracy (no suggestion counts as wrong) on the ``--window`` texts served
after 20, 50 and 100 labels, and the number of labels after which suggestions first appeared.

``--seeds 0,1,2`` repeats it with other seeds (the project's cold-start order and every model's
seed): on 20 texts a window one text moves the accuracy by 0.05, and one run a side is not enough
to tell two apps apart; the means over seeds are printed last.

``--baseline-src DIR`` runs the same replay a second time with another peftal source tree on
``PYTHONPATH`` (e.g. the app before instant suggestions: ``git worktree add /tmp/before a3aa8f9``
then ``--baseline-src /tmp/before/src``), so the two apps are compared on the same texts, order
seed and pace, one after the other on the same machine.

    PEFTAL_DATA_DIR=../shared/data python benchmarks/label_replay.py --datasets trec,ag_news \\
        --baseline-src /tmp/before/src
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _label_app import api_call, wait_until_serving, write_texts

CHECKPOINTS = (20, 50, 100)


def mean(values) -> float | None:
    """The mean of the values that are not ``None`` (``None`` if none are)."""
    known = [value for value in values if value is not None]
    return sum(known) / len(known) if known else None


def replay(dataset: str, args: argparse.Namespace, src: str | None, port: int,
           seed: int) -> tuple[list[tuple[bool, bool]], list[str | None]]:
    """``(had a suggestion, it was right)`` for each text served, in order, and who suggested
    (``ranking.suggester`` of ``/api/stats``: ``probe``, ``model`` or none) at each checkpoint."""
    with tempfile.TemporaryDirectory() as tmp:
        gold = write_texts(Path(tmp) / "texts.csv", dataset, args.texts)
        labels = sorted(set(gold.values()))
        env = dict(os.environ)
        if src is not None:
            env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
        server = subprocess.Popen(
            [sys.executable, "-m", "peftal", "label", "start", str(Path(tmp) / "project"), "--data",
             str(Path(tmp) / "texts.csv"), "--labels", ",".join(labels), "--port", str(port),
             "--seed", str(seed)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_serving(base, server)
            served, suggesters = [], []
            for k in range(max(CHECKPOINTS) + args.window):
                if k in CHECKPOINTS:
                    stats = api_call(base, "/api/stats")[1]
                    suggesters.append((stats.get("ranking") or {}).get("suggester"))
                _, item = api_call(base, "/api/next", {"annotator": "replay"})
                if item is None or "id" not in item:
                    break
                truth = gold[item["text"]]
                served.append((item.get("suggestion") is not None, item.get("suggestion") == truth))
                api_call(base, "/api/label", {"id": item["id"], "label": truth, "annotator": "replay"})
                time.sleep(args.pace)
        finally:
            server.terminate()
            server.wait(timeout=60)
    return served, suggesters


def summary(served: list[tuple[bool, bool]], suggesters: list[str | None],
            window: int) -> dict[str, float | int | str | None]:
    row: dict[str, float | int | str | None] = {
        "first_suggestion_after": next((k for k, (had, _) in enumerate(served) if had), None),
        **{f"suggester_at_{n}": who for n, who in zip(CHECKPOINTS, suggesters, strict=False)}}
    for labelled in CHECKPOINTS:
        part = served[labelled:labelled + window]
        row[f"accuracy_at_{labelled}"] = sum(right for _, right in part) / len(part) if part else None
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", default="trec,ag_news")
    parser.add_argument("--texts", type=int, default=1000, help="texts of each dataset's training split")
    parser.add_argument("--pace", type=float, default=2.0, help="seconds between labels")
    parser.add_argument("--window", type=int, default=20, help="texts after each checkpoint scored")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds, one replay each")
    parser.add_argument("--baseline-src", default=None, help="another peftal source tree to compare")
    parser.add_argument("--port", type=int, default=8793)
    args = parser.parse_args()
    sides = [("this app", None)] + ([("baseline", args.baseline_src)] if args.baseline_src else [])
    rows = []
    for dataset in args.datasets.split(","):
        for seed in [int(value) for value in args.seeds.split(",")]:
            for side, src in sides:
                started = time.perf_counter()
                served, suggesters = replay(dataset, args, src, args.port, seed)
                row = {"dataset": dataset, "side": side, "seed": seed,
                       **summary(served, suggesters, args.window),
                       "seconds": round(time.perf_counter() - started, 1)}
                print(json.dumps(row), flush=True)
                rows.append(row)
    accuracies = [f"accuracy_at_{n}" for n in CHECKPOINTS]
    header = ["dataset", "side", "seed", "first_suggestion_after", *accuracies,
              *(f"suggester_at_{n}" for n in CHECKPOINTS)]
    print("\n" + " | ".join(header))
    for row in rows:
        print(" | ".join("—" if row.get(key) is None else f"{row[key]:.2f}" if isinstance(row[key], float)
                         else str(row[key]) for key in header))
    print("\nmeans over seeds\n" + " | ".join(["dataset", "side", "runs", "first_suggestion_after",
                                                *accuracies]))
    for dataset in args.datasets.split(","):
        for side, _ in sides:
            runs = [row for row in rows if (row["dataset"], row["side"]) == (dataset, side)]
            means = [mean(row[key] for row in runs) for key in ["first_suggestion_after", *accuracies]]
            print(" | ".join([dataset, side, str(len(runs)),
                              *("—" if m is None else f"{m:.2f}" for m in means)]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
