"""``peftal export``: a trained model as a folder that runs without peftal (docs/deploy.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

from peftal.cli.options import HelpFormatter


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export", help="export a run's model to ONNX (runs with onnxruntime alone)",
        description="Writes one ONNX graph from token ids to class probabilities (encoder, method, "
                    "pooling and head inside; peft adapters merged where they can be), the tokenizer "
                    "files, labels.json, export.json, the model card and predict.py, a predictor that "
                    "needs only onnxruntime, tokenizers and numpy. `peftal predict --run` and `peftal "
                    "serve` take the folder too.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("run", type=Path, metavar="RUN",
                        help="a run folder (holding model/) or a model/ folder")
    parser.add_argument("--format", choices=("onnx",), default="onnx", help="export format")
    parser.add_argument("--int8", action="store_true",
                        help="also write model.int8.onnx (dynamic int8 quantisation: ~4x smaller, "
                             "faster on CPUs; the predictor then uses it)")
    parser.add_argument("--out", type=Path, required=True, help="folder to write (created)")
    parser.add_argument("--overwrite", action="store_true", help="replace an earlier export in --out")
    parser.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    from peftal.errors import UsageError
    from peftal.export import export_onnx, is_export
    from peftal.export.folder import require

    require("onnx", "onnxruntime")

    folder = args.run / "model" if (args.run / "model").is_dir() else args.run
    if not (folder / "peftal_model.json").is_file():
        raise UsageError(f"{args.run}: not a run folder or a saved model (no model/peftal_model.json)")
    if args.out.exists() and not args.out.is_dir():
        raise UsageError(f"--out {args.out} exists and is not a folder")
    if args.out.exists() and any(args.out.iterdir()) and not (args.overwrite and is_export(args.out)):
        raise UsageError(f"--out {args.out} is not empty; choose another folder "
                         "(--overwrite replaces an earlier export, nothing else)")
    info = export_onnx(args.run, args.out, int8=args.int8)
    print(f"exported {info['method']} ({', '.join(info['models'])}) to {args.out}")
    return 0
