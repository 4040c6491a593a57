"""Which texts should the labelling app serve? An offline replay of its probe, by ``--candidates``.

For each dataset split, ``--texts`` distinct texts are embedded once with the frozen encoder (as
the app embeds its pool: mean pooling, the packaged MiniLM); then, for each ``--candidates`` value
and seed, one annotator labels ``--labels`` texts with their gold labels in the order the app would
serve them: after every label the probe (:func:`peftal.label.probe.fit_probe`) is refitted and
the next text is the entropy-best of K random unlabelled texts (:func:`~peftal.label.probe.
serving_order`; 0: the most uncertain of all). Before any two classes are labelled, texts come in a
random order, as the app's cold start.

Printed per dataset and K, means over seeds:

- ``right_after_N``: share of the ``--window`` texts served after N labels whose probe suggestion
  (made before the label) was right, as ``benchmarks/label_replay.py`` scores the real app;
- ``probe_accuracy_at_N``: accuracy on every text not labelled of the probe fitted on the first
  N labels (what the served texts taught it: the active-learning side of the trade).

Choose K on datasets other than the replay benchmark's (TREC, AG News); the defaults here are
validation splits of four others.

    PEFTAL_DATA_DIR=../shared/data python benchmarks/label_serving.py
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

CHECKPOINTS = (20, 50)
ACCURACY_AT = (50, 100)


def embedded(name: str, split: str, texts: int, threads: int) -> tuple[np.ndarray, np.ndarray]:
    """``(vectors, labels)`` of the first ``texts`` distinct texts of a seeded shuffle of the split."""
    import torch

    from peftal.data.dataset import Split
    from peftal.data.encoding import encode
    from peftal.models.backbone import load_backbone
    from peftal.models.heads import TextClassifier
    from peftal.training import embed

    torch.set_num_threads(threads)
    path = Path(os.environ.get("PEFTAL_DATA_DIR", "../shared/data")) / name / f"{split}.jsonl"
    with open(path, encoding="utf-8") as lines:  # not splitlines(): texts may hold U+2028
        rows = [json.loads(line) for line in lines if line.strip()]
    seen, picked = set(), []
    for k in np.random.default_rng(0).permutation(len(rows)):
        if rows[k]["text"] not in seen:
            seen.add(rows[k]["text"])
            picked.append(rows[k])
        if len(picked) == texts:
            break
    encoder, tokenizer = load_backbone(None)
    encoded = encode(tokenizer, Split([r["text"] for r in picked], np.zeros(len(picked))), 128)
    vectors = embed(TextClassifier(encoder, 2, pooling="mean"), encoded, np.arange(len(picked)))
    return np.asarray(vectors), np.asarray([str(r["label"]) for r in picked])


def replay(vectors: np.ndarray, labels: np.ndarray, candidates: int, seed: int, budget: int,
           window: int) -> dict[str, float]:
    from peftal.al.strategies.uncertainty import entropy
    from peftal.label.probe import fit_probe, learnable, normalise, serving_order

    classes = sorted(set(labels.tolist()))
    targets = np.asarray([classes.index(label) for label in labels])
    rng = np.random.default_rng(seed)
    cold = rng.permutation(len(targets))
    labelled: list[int] = []
    right: list[bool] = []
    fitted = {}
    for _ in range(budget):
        free = np.setdiff1d(np.arange(len(targets)), labelled)
        probe = fit_probe(vectors[labelled], targets[labelled]) if learnable(targets[labelled]) else None
        if probe is None:
            chosen = next(int(i) for i in cold if i not in labelled)
            right.append(False)
        else:
            probs = np.zeros((len(free), len(classes)))
            probs[:, probe.classes_] = probe.predict_proba(normalise(vectors[free]))
            chosen = int(free[serving_order(entropy(probs), candidates, rng)[0]])
            right.append(bool(probs[list(free).index(chosen)].argmax() == targets[chosen]))
        labelled.append(chosen)
        if len(labelled) in ACCURACY_AT:
            fitted[len(labelled)] = list(labelled)
    row = {f"right_after_{n}": float(np.mean(right[n:n + window])) for n in CHECKPOINTS}
    for n, ids in fitted.items():
        rest = np.setdiff1d(np.arange(len(targets)), ids)
        probe = fit_probe(vectors[ids], targets[ids])
        predicted = probe.predict(normalise(vectors[rest]))
        row[f"probe_accuracy_at_{n}"] = float(np.mean(predicted == targets[rest]))
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", default="subj:validation,sst2:validation,chemprot:validation,"
                                              "sciie:validation", help="name:split, comma-separated")
    parser.add_argument("--candidates", default="0,3,5,10", help="K values, comma-separated")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--texts", type=int, default=1000)
    parser.add_argument("--labels", type=int, default=max(ACCURACY_AT) + 10)
    parser.add_argument("--window", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    from threadpoolctl import threadpool_limits

    ks = [int(k) for k in args.candidates.split(",")]
    table: dict[int, list[dict[str, float]]] = {k: [] for k in ks}
    for entry in args.datasets.split(","):
        name, split = entry.split(":")
        vectors, labels = embedded(name, split, args.texts, args.threads)
        for k in ks:
            with threadpool_limits(1):
                runs = [replay(vectors, labels, k, seed, args.labels, args.window)
                        for seed in range(args.seeds)]
            row = {key: round(float(np.mean([run[key] for run in runs])), 4) for key in runs[0]}
            table[k].append(row)
            print(json.dumps({"dataset": name, "split": split, "candidates": k, "seeds": args.seeds, **row}),
                  flush=True)
    keys = list(table[ks[0]][0])
    print("\nmeans over datasets\ncandidates | " + " | ".join(keys))
    for k in ks:
        print(f"{k} | " + " | ".join(f"{np.mean([row[key] for row in table[k]]):.3f}" for key in keys))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
