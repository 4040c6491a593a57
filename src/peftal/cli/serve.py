"""``peftal serve``: a trained model behind an HTTP JSON API (docs/deploy.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

from peftal.cli.options import HelpFormatter


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve", help="serve a run's or an export's model over HTTP (JSON)",
        description="POST /predict {\"texts\": [...]} (and \"pairs\" for pair models) answers a label and "
                    "the probabilities per text ('labels', a list, for a multi-label model); GET "
                    "/health; GET /info gives the task, labels, thresholds (multi-label), method and "
                    "metrics. Concurrent requests are answered in shared batches. SIGTERM stops "
                    "gracefully: requests already received are answered.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("model", type=Path, metavar="RUN|EXPORT_DIR",
                        help="a run folder, a model/ folder, or a `peftal export` folder (onnxruntime)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (0.0.0.0 exposes the model to the network)")
    parser.add_argument("--port", type=int, default=8000, help="port (0: any free port, printed)")
    parser.add_argument("--threads", type=int, default=16, help="request threads of the server")
    parser.add_argument("--max-batch", type=int, default=64, help="texts per forward pass at most")
    parser.add_argument("--max-wait-ms", type=float, default=5.0,
                        help="how long the first request of a batch waits for others")
    parser.add_argument("--max-texts", type=int, default=256, help="texts per request at most")
    parser.add_argument("--max-body-bytes", type=int, default=1_000_000, help="request body size at most")
    parser.add_argument("--fp32", action="store_true",
                        help="with an export holding model.int8.onnx, serve model.onnx instead")
    parser.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    from peftal.errors import UsageError

    for name in ("threads", "max_batch", "max_texts", "max_body_bytes"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be in 0..65535, got {args.port}")
    if not args.max_wait_ms >= 0:
        raise UsageError(f"--max-wait-ms must be >= 0, got {args.max_wait_ms}")
    if not args.model.is_dir():
        raise UsageError(f"{args.model}: no such folder")
    from peftal.serve.app import Limits, PredictionApp
    from peftal.serve.backend import load_backend
    from peftal.serve.batcher import MicroBatcher
    from peftal.serve.server import serve

    backend = load_backend(args.model, int8=False if args.fp32 else None)
    app = PredictionApp(backend, MicroBatcher(backend, args.max_batch, args.max_wait_ms / 1000),
                        Limits(max_body_bytes=args.max_body_bytes, max_texts=args.max_texts))
    serve(app, host=args.host, port=args.port, threads=args.threads,
          on_ready=lambda port: print(f"peftal serve: {backend.info.get('method')} "
                                      f"({backend.info.get('runtime')}) on http://{args.host}:{port}",
                                      flush=True))
    return 0
