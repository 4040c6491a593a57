"""``peftal predict``: label a JSONL file with the model a run saved."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "predict", help="predict labels with a saved run's model",
        description="Reads one JSON object per line (a text column, and a pair column for pair "
                    "tasks) and writes one object per line with \"label\" and \"probs\" "
                    "(\"value\" for regression; \"answer\" for QA, from \"question\" and "
                    "\"context\").",
    )
    parser.add_argument("--run", type=Path, required=True, help="a run folder (holding model/)")
    parser.add_argument("--input", type=Path, required=True, help="JSONL/CSV/TSV/Parquet file")
    parser.add_argument("--output", type=Path, required=True, help="JSONL file to write")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    import numpy as np

    from peftal.data import read_records
    from peftal.data.dataset import Split
    from peftal.data.encoding import encode
    from peftal.errors import UsageError
    from peftal.models.checkpoint import load_model
    from peftal.training import predict, softmax

    check_predict_args(args)  # before the model is loaded
    folder = args.run / "model" if (args.run / "model").is_dir() else args.run
    model, tokenizer, meta = load_model(folder)
    records = read_records(args.input)
    if meta["task"] == "qa":
        return _predict_qa(args, model, tokenizer, meta, records)
    text_col = meta.get("text_column") or "text"
    pair_col = (meta.get("text_pair_column") or "text_pair") if meta.get("is_pair") else None
    for column in filter(None, (text_col, pair_col)):
        if column not in records[0]:
            raise UsageError(f"{args.input}: column {column!r} not found; columns are: "
                             f"{', '.join(map(str, records[0]))}")
    split = Split(texts=[str(r[text_col]) for r in records], labels=np.zeros(len(records)),
                  text_pairs=[str(r[pair_col]) for r in records] if pair_col else None)
    outputs = predict(model, encode(tokenizer, split, meta["max_length"]), np.arange(len(records)),
                      args.batch_size, precision=meta.get("precision", "fp32"))
    tmp = args.output.with_name(args.output.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        for row in outputs:
            if meta["task"] == "regression":
                handle.write(json.dumps({"value": float(row[0])}) + "\n")
            else:
                probs = softmax(row[None])[0]
                handle.write(json.dumps({"label": meta["label_names"][int(probs.argmax())],
                                         "probs": [round(float(p), 6) for p in probs]}) + "\n")
    tmp.replace(args.output)
    print(f"wrote {len(records)} predictions to {args.output}")
    return 0


def check_predict_args(args: argparse.Namespace) -> None:
    """One line for a bad --batch-size, --input or --output, before any work."""
    from peftal.cli.options import check_output_file
    from peftal.errors import UsageError

    if args.batch_size < 1:
        raise UsageError(f"--batch-size must be >= 1, got {args.batch_size}")
    if not args.input.is_file():
        raise UsageError(f"--input {args.input}: no such file")
    check_output_file(args.output)
    if args.output.expanduser().resolve() == args.input.expanduser().resolve():
        raise UsageError(f"--output {args.output} is the --input file; write the predictions elsewhere")


def _predict_qa(args: argparse.Namespace, model, tokenizer, meta: dict, records: list[dict]) -> int:
    """Answer each record's ``question`` from its ``context``: ``{"answer": ...}`` per line."""
    from peftal.data.qa import QASplit
    from peftal.data.qa_encoding import encode_qa
    from peftal.errors import UsageError
    from peftal.training.qa import answers_from_logits, predict_spans

    for column in ("question", "context"):
        if column not in records[0]:
            raise UsageError(f"{args.input}: column {column!r} not found; columns are: "
                             f"{', '.join(map(str, records[0]))}")
    n = len(records)
    split = QASplit(ids=[str(i) for i in range(n)], questions=[str(r["question"]) for r in records],
                    contexts=[str(r["context"]) for r in records], answers=[[] for _ in range(n)],
                    answer_starts=[[] for _ in range(n)], titles=[""] * n)
    features = encode_qa(tokenizer, split, meta["max_length"], with_targets=False)
    starts, ends = predict_spans(model, features.encoded, args.batch_size)
    answers = answers_from_logits(features, split.contexts, starts, ends,
                                  n_best=meta.get("n_best", 20),
                                  max_answer_length=meta.get("max_answer_length", 30))
    tmp = args.output.with_name(args.output.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        for answer in answers:
            handle.write(json.dumps({"answer": answer}) + "\n")
    tmp.replace(args.output)
    print(f"wrote {n} answers to {args.output}")
    return 0
