"""``peftal predict``: label a JSONL file with the model a run saved."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from peftal.cli.options import HelpFormatter


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "predict", help="predict labels with a saved run's model",
        description="Reads a JSONL/CSV/TSV/Parquet file (the text column the run trained on, and a "
                    "pair column for pair tasks) and writes one row per input row: its id (the "
                    "--id-column, else an 'id' column, else the 0-based 'row' number), the --keep "
                    "columns, the predicted 'label' and one 'prob_<label>' per class ('labels', a "
                    "list, and one sigmoid 'prob_<label>' per label for multi-label; 'value' for "
                    "regression; 'answer' for QA, from 'question' and 'context'). The output's "
                    "suffix picks the format: .csv, .tsv, else JSON lines.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--run", type=Path, required=True,
                        help="a run folder (holding model/), a model/ folder, or a `peftal export` folder "
                             "(predicts with onnxruntime: its int8 model where it has one)")
    parser.add_argument("--input", type=Path, required=True, help="JSONL/CSV/TSV/Parquet file")
    parser.add_argument("--output", type=Path, required=True,
                        help="file to write: .csv, .tsv or JSONL (any other suffix)")
    parser.add_argument("--batch-size", type=int, default=128, help="texts per forward pass")
    parser.add_argument("--id-column", default=None, metavar="COLUMN",
                        help="input column copied to every output row to join on (default: 'id' where "
                             "the input has it, else the 0-based row number as 'row')")
    header = parser.add_mutually_exclusive_group()
    header.add_argument("--header", action="store_true",
                        help="the CSV/TSV input has a header row (default: as the run read its "
                             "training file); a position the run trained on picks the column there")
    header.add_argument("--no-header", action="store_true",
                        help="the CSV/TSV input has no header row (default: as the run read its "
                             "training file); columns by 0-based position, as in training")
    parser.add_argument("--keep", action="append", default=[], metavar="COLUMN",
                        help="also copy this input column to the output (repeatable)")
    parser.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    from peftal.export import is_export

    check_predict_args(args)  # before the model is loaded
    if is_export(args.run):  # onnxruntime: torch is never imported
        from peftal.export.folder import require

        require("onnxruntime", "tokenizers")
        return _predict_export(args)
    import numpy as np

    from peftal.cli.predictions import key_columns, prediction_rows, write_rows
    from peftal.data import read_records
    from peftal.data.dataset import Split
    from peftal.data.encoding import encode
    from peftal.errors import UsageError
    from peftal.peft.checkpoint import load_model
    from peftal.training import predict, softmax
    from peftal.training.metrics import decisions, sigmoid

    folder = args.run / "model" if (args.run / "model").is_dir() else args.run
    model, tokenizer, meta = load_model(folder)
    headerless = ((args.no_header or (meta.get("no_header") and not args.header))
                  and args.input.suffix.lower() in (".csv", ".tsv"))
    records = read_records(args.input, header=not headerless)
    if meta["task"] == "qa":
        return _predict_qa(args, model, tokenizer, meta, records)
    text_col = _column(meta.get("text_column") or "text", records)
    pair_col = _column(meta.get("text_pair_column") or "text_pair", records) if meta.get("is_pair") else None
    id_column, keep = key_columns(records, args.id_column, args.keep, args.input)
    for column in filter(None, (text_col, pair_col)):
        if column not in records[0]:
            raise UsageError(f"{args.input}: column {column!r} not found; columns are: "
                             f"{', '.join(map(str, records[0]))}")
    split = Split(texts=[str(r[text_col]) for r in records], labels=np.zeros(len(records)),
                  text_pairs=[str(r[pair_col]) for r in records] if pair_col else None)
    outputs = predict(model, encode(tokenizer, split, meta["max_length"]), np.arange(len(records)),
                      args.batch_size, precision=meta.get("precision", "fp32"))
    label_names = None if meta["task"] == "regression" else meta["label_names"]
    if meta["task"] == "multilabel":
        rows = prediction_rows(records, id_column, keep, outputs, label_names, sigmoid(outputs),
                               decisions(outputs, "multilabel", meta.get("thresholds")))
    else:
        rows = prediction_rows(records, id_column, keep, outputs, label_names,
                               None if label_names is None else softmax(outputs))
    write_rows(args.output, rows)
    print(f"wrote {len(records)} predictions to {args.output}")
    return 0


def _predict_export(args: argparse.Namespace) -> int:
    """Predict with an exported folder through its own standalone predictor (onnxruntime)."""
    from peftal.cli.predictions import key_columns, prediction_rows, write_rows
    from peftal.data import read_records
    from peftal.errors import UsageError
    from peftal.export.standalone import Predictor

    predictor = Predictor(args.run)
    info = predictor.info
    records = read_records(args.input, header=not args.no_header)
    id_column, keep = key_columns(records, args.id_column, args.keep, args.input)
    text_col = _column(info.get("text_column") or "text", records)
    pair_col = _column(info.get("text_pair_column") or "text_pair", records) if info.get("is_pair") else None
    for column in filter(None, (text_col, pair_col)):
        if column not in records[0]:
            raise UsageError(f"{args.input}: column {column!r} not found; columns are: "
                             f"{', '.join(map(str, records[0]))}")
    outputs = predictor.probabilities([str(r[text_col]) for r in records],
                                      [str(r[pair_col]) for r in records] if pair_col else None,
                                      batch_size=args.batch_size)
    labels = predictor.labels or None
    write_rows(args.output, prediction_rows(records, id_column, keep, outputs, labels,
                                            outputs if labels else None,
                                            predictor.chosen(outputs) if predictor.multilabel else None))
    print(f"wrote {len(records)} predictions to {args.output} ({predictor.model_file})")
    return 0


def _column(column: str, records: list[dict]) -> str:
    """A run trained on a header-less file names its columns by position ("1"); an input with a
    header has that column at the same position."""
    names = list(records[0])
    if column not in names and column.isdigit() and int(column) < len(names):
        return names[int(column)]
    return column


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
    from peftal.store.atomic import write_text_atomic
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
    write_text_atomic(args.output, "".join(json.dumps({"answer": answer}) + "\n" for answer in answers))
    print(f"wrote {n} answers to {args.output}")
    return 0
