"""The review's contradictions on real embeddings: what they cost, and whether they find mistakes.

Creates a project of ``--texts`` TREC questions, embeds them with the packaged MiniLM as the
background worker does, then labels the first texts of the cache with the gold label, except a
random ``--mistakes`` fraction that get another label. At each count of ``--labels`` it times what
``GET /api/review`` computes (the probe's out-of-fold probabilities, 5 folds, on one thread as in
the server) and counts the planted mistakes among the texts listed, and among the first k listed
(k = the number of mistakes; at random, the first k would hold ``--mistakes`` × k of them).

    PEFTAL_DATA_DIR=../shared/data python benchmarks/label_review.py --texts 2000 --labels 100,300,1000,2000
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from label_latency import write_questions  # the same TREC slice as the latency benchmark

LABELS = ("ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--texts", type=int, default=2000)
    parser.add_argument("--labels", default="100,300,1000,2000", help="label counts, comma-separated")
    parser.add_argument("--mistakes", type=float, default=0.05, help="fraction of labels given wrong")
    parser.add_argument("--threads", type=int, default=1, help="torch threads while embedding")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    counts = [int(n) for n in args.labels.split(",")]

    import torch

    from peftal.label import LabelSettings, create
    from peftal.label.embeddings import PoolEmbedder
    from peftal.label.review import Review
    from peftal.models.backbone import load_backbone

    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        gold = write_questions(Path(tmp) / "q.csv", args.texts)
        texts = list(gold)
        folder = Path(tmp) / "p"
        store = create(folder, Path(tmp) / "q.csv", LabelSettings(labels=LABELS, max_length=64))
        settings = LabelSettings.from_dict(store.get_meta("settings"))
        embedder = PoolEmbedder(store, settings, *load_backbone(None), folder)
        started = time.perf_counter()
        while embedder.pending():
            embedder.embed_chunk()
        print(f"embedded {embedder.cache.count} texts in {time.perf_counter() - started:.1f} s")
        order = [int(i) for i in embedder.cache.ids]
        wrong: set[int] = set()
        labelled: set[int] = set()
        for n in counts:
            for example_id in order[:n]:
                if example_id in labelled:
                    continue
                labelled.add(example_id)
                label = gold[texts[example_id]]
                if rng.random() < args.mistakes:
                    label = LABELS[(LABELS.index(label) + int(rng.integers(1, len(LABELS)))) % len(LABELS)]
                    wrong.add(example_id)
                store.add_label(example_id, label, "bench")
            review = Review(store, settings, folder)  # a fresh one: nothing computed yet
            started = time.perf_counter()
            found = review.contradictions(limit=n)
            seconds = time.perf_counter() - started
            listed = [item["id"] for item in found["items"]]
            top = set(listed[:len(wrong)])
            record = {"labels": n, "mistakes": len(wrong), "seconds": round(seconds, 3),
                      "listed": found["total"], "mistakes_listed": len(wrong & set(listed)),
                      "mistakes_in_first_k": len(wrong & top), "k": len(wrong)}
            print(json.dumps(record))
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
