"""``peftal label start|export|train``: annotate with the model in the loop (docs/labelling.md)."""

from __future__ import annotations

import argparse
import json
import signal
from pathlib import Path
from typing import Any

from peftal.cli.options import positive_float, positive_int

# Options that map one-to-one onto LabelSettings fields (dest → settings key).
# The recipe options (lr, head_lr, min_steps) are the shared block every training command has.
# The shared option blocks (text columns, training, recipe) are generated and read as blocks.
_SETTINGS = ("method", "strategy", "query_size", "budget", "cold_start",
             "cv_folds", "pool_subsample", "candidates", "lease_seconds", "overlap", "multi_label")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "label", help="label your own texts in the browser, with the model in the loop",
        description="Active learning for real: peftal picks what to label, you label it in a web "
                    "page, a PEFT model retrains in the background.")
    commands = parser.add_subparsers(dest="label_command", metavar="COMMAND", required=True)
    _register_start(commands)

    export = commands.add_parser(
        "export", help="write the labelled texts as JSON lines: final label and every annotation")
    export.add_argument("project", type=Path, metavar="PROJECT")
    export.add_argument("--output", type=Path, required=True, help="JSONL file to write")
    export.add_argument("--agreement", type=Path, metavar="FILE",
                        help="also write the annotators' agreement (as GET /api/agreement) to this JSON file")
    export.set_defaults(handler=export_main)

    stats = commands.add_parser(
        "stats", help="labels per annotator and their agreement (Cohen's kappa, Krippendorff's alpha)")
    stats.add_argument("project", type=Path, metavar="PROJECT")
    stats.add_argument("--json", action="store_true", help="print the numbers as one JSON object")
    stats.set_defaults(handler=stats_main)

    train = commands.add_parser(
        "train", help="train the final model on all labels (then `peftal predict --run RUN`)")
    train.add_argument("project", type=Path, metavar="PROJECT")
    train.add_argument("--out", type=Path, required=True, help="run folder to write (model/, summary.json)")
    train.add_argument("--epochs", type=positive_int, default=None,
                       help="training epochs (default: the project's)")
    train.add_argument("--overwrite", action="store_true", help="replace a completed run in --out")
    train.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    train.set_defaults(handler=train_main)


def _register_start(commands: argparse._SubParsersAction) -> None:
    from peftal.al.strategies import STRATEGIES
    from peftal.cli.config_options import add_block_options
    from peftal.data.options import TextOptions
    from peftal.defaults import DEFAULT_MULTILABEL_STRATEGY
    from peftal.label.project import COLD_STARTS, LARGE_POOL, LabelSettings
    from peftal.models.options import TrainingOptions
    from peftal.peft import METHODS
    from peftal.peft.recipes import RecipeOptions

    d = LabelSettings(labels=("a", "b"))
    start = commands.add_parser(
        "start", help="create or resume a project and serve the labelling page",
        description="Create PROJECT from --data and --labels, or resume it, and serve the page on "
                    "127.0.0.1. Options left out keep the project's stored value (defaults shown "
                    "apply to a new project). Label names, text columns and the seed are fixed "
                    "at creation.")
    start.add_argument("project", type=Path, metavar="PROJECT", help="project folder")
    start.add_argument("--data", type=Path, help="CSV/TSV/JSONL/Parquet file of unlabelled texts "
                                                 "(needed to create a project)")
    start.add_argument("--labels", help="comma-separated label names, e.g. positive,negative "
                                        "(needed to create a project)")
    # The options every command shares, generated from their blocks (help and checks written
    # once), with this command's defaults: the texts' columns, the training, the recipe.
    for block in (TextOptions, TrainingOptions, RecipeOptions):
        add_block_options(start, LabelSettings, block)
    start.add_argument("--method", help=f"PEFT method preset (default: {d.method}; lora for text "
                                        f"pairs); one of: {', '.join(METHODS.names())}")
    start.add_argument("--strategy", help=f"query strategy preset (default: {d.strategy}; "
                                          f"{DEFAULT_MULTILABEL_STRATEGY} with --multi-label); one of: "
                                          f"{', '.join(STRATEGIES.names())}")
    start.add_argument("--query-size", type=positive_int,
                       help=f"retrain after this many new labels (default: {d.query_size})")
    start.add_argument("--budget", type=positive_int,
                       help="labels wanted in all (default: the whole pool)")
    start.add_argument("--cold-start", choices=COLD_STARTS,
                       help=f"order before the first model (default: {d.cold_start})")
    start.add_argument("--cv-folds", type=int,
                       help=f"folds of the cross-validated accuracy shown; 0 = none (default: {d.cv_folds})")
    start.add_argument("--pool-subsample", type=positive_int,
                       help=f"score only this many random unlabelled texts per retrain (default: all "
                            f"of a pool up to {LARGE_POOL:,} texts, {LARGE_POOL:,} random ones beyond)")
    start.add_argument("--candidates", type=int, metavar="K",
                       help=f"each text handed out is the strategy's pick among K texts drawn at "
                            f"random; 0 = among the whole pool, 1 = random order (default: {d.candidates})")
    start.add_argument("--lease-seconds", type=positive_float,
                       help=f"how long a text shown to one annotator is kept from the others "
                            f"(default: {d.lease_seconds:g})")
    start.add_argument("--overlap", type=float, metavar="F",
                       help=f"fraction of the texts (0 to 1, a seeded choice) that two different "
                            f"annotators label each, to measure agreement (default: {d.overlap:g})")
    start.add_argument("--multi-label", action="store_const", const=True, default=None,
                       help="each text takes any number of the labels (check boxes; the default "
                            "strategy becomes br_entropy_mean); fixed when the project is created")
    start.add_argument("--guidelines", type=Path, metavar="FILE.md",
                       help="annotation guidelines (Markdown) shown beside the text; copied into the "
                            "project, so they stay (default: the project's copy, if any)")
    start.add_argument("--host", default="127.0.0.1",
                       help="address to serve on; on anything but loopback every request must carry "
                            "the access token (--token)")
    start.add_argument("--token", help="access token every request must carry (default: none on "
                                       "loopback, a random one printed at start on any other --host)")
    start.add_argument("--port", type=int, default=8765, help="port (0 = any free port)")
    start.add_argument("--no-trainer", action="store_true",
                       help="serve without the background trainer (labels keep the cold-start order)")
    start.set_defaults(handler=start_main)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    from peftal.cli.config_options import config_values
    from peftal.data.options import TextOptions
    from peftal.label.project import parse_labels
    from peftal.models.options import TrainingOptions
    from peftal.peft.recipes import RecipeOptions

    values = {key: getattr(args, key) for key in _SETTINGS if getattr(args, key) is not None}
    for block in (TextOptions, TrainingOptions, RecipeOptions):
        values.update(config_values(args, block))  # only the ones given (argparse.SUPPRESS)
    if args.labels is not None:
        values["labels"] = list(parse_labels(args.labels))
    if args.data is not None:
        values["data"] = str(args.data.expanduser().resolve())
    return values


def open_or_create(args: argparse.Namespace):
    """``(store, settings, created)`` for ``peftal label start``; every check before any write."""
    from peftal.errors import UsageError
    from peftal.label import project

    overrides = _overrides(args)
    if project.exists(args.project):
        store, settings = project.resume(args.project, overrides)
        return store, settings, False
    missing = [option for option, key in (("--data", "data"), ("--labels", "labels"))
               if key not in overrides]
    if missing:
        raise UsageError(f"{args.project} is not a project yet; creating one needs "
                         f"{' and '.join(missing)}")
    overrides["labels"] = tuple(overrides["labels"])
    if "method" not in overrides:
        from peftal.defaults import default_method

        overrides["method"] = default_method(overrides.get("text_pair_column") is not None)
    if "strategy" not in overrides:
        from peftal.defaults import default_strategy

        overrides["strategy"] = default_strategy(bool(overrides.get("multi_label")))
    settings = project.LabelSettings(**overrides)
    return project.create(args.project, args.data, settings), settings, True


def start_main(args: argparse.Namespace) -> int:
    import logging

    from waitress import create_server

    from peftal.errors import UsageError
    from peftal.label.access import check_token, new_token
    from peftal.label.guidelines import read as read_guidelines
    from peftal.label.guidelines import save as save_guidelines
    from peftal.label.server import LOOPBACK_HOSTS, create_app
    from peftal.label.trainer_process import TrainerProcess

    check_can_serve(args.host, args.port)  # before the project folder is created
    loopback = args.host in LOOPBACK_HOSTS or args.host.startswith("127.")
    # A token on any address others can reach; on loopback only when asked for.
    token = check_token(args.token) if args.token is not None else (None if loopback else new_token())
    guidelines = read_guidelines(args.guidelines) if args.guidelines is not None else None
    store, settings, created = open_or_create(args)
    if guidelines is not None:
        save_guidelines(args.project, guidelines)
    # "Task queue depth is N": requests wait for one of the threads, which is what they are for
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    counts = store.counts()
    trainer = None if args.no_trainer else TrainerProcess(args.project)
    app = create_app(store, settings, name=args.project.resolve().name, trainer=trainer,
                     trusted_hosts=[*LOOPBACK_HOSTS, args.host] if loopback else None, token=token)
    try:
        # the production server `peftal serve` runs on (why waitress: peftal/serve/server.py);
        # requests are small JSON bodies, so 1 MiB bounds them with room to spare
        server = create_server(app, host=args.host, port=args.port, threads=8, ident="peftal-label",
                               max_request_body_size=1 << 20, channel_timeout=120)
    except OSError as error:
        raise UsageError(f"cannot serve on {args.host}:{args.port} ({error.strerror or error}); "
                         "choose another --port or --host") from None
    # A killed server may have left "training" behind: the trainer of this run says what it does.
    store.update_model(activity="off" if trainer is None else "starting")
    if trainer is not None:
        trainer.start()
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"peftal label: {'created' if created else 'resumed'} {args.project} · "
          f"{counts['labelled']} of {counts['pool']} texts labelled · labels: "
          f"{', '.join(settings.labels)}"
          + (f" · {settings.overlap:.0%} of the texts go to two annotators" if settings.overlap else ""),
          flush=True)
    if token is not None:
        print(f"peftal label: every request needs the access token {token}: open "
              f"http://{host}:{server.effective_port}/?token={token} once in each browser (scripts send "
              f"'Authorization: Bearer {token}')", flush=True)
    if not loopback:
        print(f"peftal: warning: serving on {args.host} over plain HTTP: the token and the texts "
              "cross the network unencrypted (use a network you trust, or an HTTPS proxy)", flush=True)
    print(f"peftal label: serving on http://{host}:{server.effective_port}/ (Ctrl-C to stop)", flush=True)
    # SIGTERM ends the server the same way as Ctrl-C: the trainer is stopped on the way out.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.run()  # until Ctrl-C or SIGTERM; a label is committed before its answer is sent
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        if trainer is not None:
            trainer.stop()
    print("peftal label: stopped; every acknowledged label is saved", flush=True)
    return 0


def check_can_serve(host: str, port: int) -> None:
    """Refuse a port out of range or already in use, with one line, before anything is written."""
    import socket

    from peftal.errors import UsageError

    if not 0 <= port <= 65535:
        raise UsageError(f"--port must be between 1 and 65535 (0 = any free port), got {port}")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise UsageError(f"--host {host!r}: cannot resolve it ({error})") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the web server does
        try:
            probe.bind(address)
        except OSError as error:
            raise UsageError(f"cannot serve on {host}:{port} ({error.strerror or error}); "
                             "choose another --port or --host") from None


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def export_main(args: argparse.Namespace) -> int:
    from peftal.label.label_sets import decode
    from peftal.label.project import open_project
    from peftal.store.atomic import atomic_path, write_json_atomic

    check_export_target(args.output, args.project)
    if args.agreement is not None:
        check_export_target(args.agreement, args.project, option="--agreement")
    store, settings = open_project(args.project)
    texts = store.labelled_texts()
    with atomic_path(args.output) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        for text in texts:
            record = {"id": text["id"], "text": text["text"]}
            if text["text_pair"] is not None:
                record["text_pair"] = text["text_pair"]
            if settings.multi_label:  # label sets as lists of names, not their stored JSON text
                record.update(labels=None if text["label"] is None else decode(text["label"]),
                              resolution=text["resolution"],
                              annotations=[{"annotator": a["annotator"], "labels": decode(a["label"]),
                                            "labelled_at": a["labelled_at"]} for a in text["annotations"]])
            else:
                record.update(label=text["label"], resolution=text["resolution"],
                              annotations=text["annotations"])
            if "reviewed" in text:
                record["reviewed"] = text["reviewed"]
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    found = _agreement(store, settings)
    if args.agreement is not None:
        write_json_atomic(args.agreement, {"overlap": settings.overlap, **found.to_dict()})
    annotations = sum(len(text["annotations"]) for text in texts)
    ties = sum(text["label"] is None for text in texts)
    key = "labels" if settings.multi_label else "label"
    print(f"wrote {len(texts)} texts ({annotations} annotations) to {args.output}"
          + (f"; {ties} unresolved (\"{key}\": null)" if ties else "")
          + (f"; Krippendorff's alpha {_number(found.alpha)} on the {found.texts} texts labelled "
             "more than once" if found.texts else ""))
    return 0


def _agreement(store: Any, settings: Any) -> Any:
    from peftal.label.agreement import measure_project

    rows = store.live_labels()
    return measure_project([(r["example_id"], r["annotator"], r["label"]) for r in rows], settings)


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def stats_main(args: argparse.Namespace) -> int:
    from peftal.label.project import open_project

    store, settings = open_project(args.project)
    counts = store.counts(settings.multi_label)
    found = _agreement(store, settings)
    if args.json:
        print(json.dumps({**counts, "overlap": settings.overlap, "disagreements": len(store.disagreements()),
                          "reviewed": len(store.reviewed()), "agreement": found.to_dict()},
                         ensure_ascii=False, indent=2))
        return 0
    print(f"{args.project}: {counts['labelled']} of {counts['pool']} texts labelled, "
          f"{counts['annotations']} annotations by {len(counts['by_annotator'])} annotators "
          f"(--overlap {settings.overlap:g})")
    print(f"texts labelled more than once: {counts['multiple']}; unresolved ties: "
          f"{counts['unresolved']} (left out of training until a review sets their label)")
    print(f"disagreements to review (the page /review): {len(store.disagreements())}; texts reviewed: "
          f"{len(store.reviewed())}")
    width = max([len("annotator"), *map(len, counts["by_annotator"])])
    print(f"\n{'annotator':<{width}}  annotations")
    for name, number in sorted(counts["by_annotator"].items()):
        print(f"{name:<{width}}  {number:>11}")
    if not found.pairs:
        print("\nno text is labelled by two annotators yet: no agreement to measure")
        return 0
    names = [" / ".join(pair.annotators) for pair in found.pairs]
    width = max(len("annotators"), *map(len, names))
    print(f"\nCohen's kappa per pair, on the texts both labelled\n"
          f"{'annotators':<{width}}  texts  agreement  kappa")
    for name, pair in zip(names, found.pairs, strict=True):
        print(f"{name:<{width}}  {pair.texts:>5}  {pair.observed:>9.1%}  {_number(pair.kappa):>5}")
    width = max(len("(all labels)"), *map(len, settings.labels))
    print(f"\nKrippendorff's alpha (nominal), on the {found.texts} texts labelled more than once\n"
          f"{'label':<{width}}  alpha\n{'(all labels)':<{width}}  {_number(found.alpha)}")
    for label, value in found.alpha_per_label.items():
        print(f"{label:<{width}}  {_number(value)}")
    return 0


# Files that mark a folder as a labelling project or a run folder: never overwritten by an export.
_PROTECTED_MARKERS = ("project.sqlite", "results.sqlite", "summary.json", "study.json",
                      "peftal_model.json")


def check_export_target(output: Path, project: Path, option: str = "--output") -> None:
    """Refuse an export that would replace a file of a project or run folder (its database above all)."""
    from peftal.cli.options import check_output_file
    from peftal.errors import UsageError

    check_output_file(output, option)
    target = output.expanduser().resolve()
    folder = target.parent
    inside = folder == project.expanduser().resolve() or any(
        (folder / marker).exists() for marker in _PROTECTED_MARKERS)
    if target.exists() and inside:
        raise UsageError(f"{option} {output} is a file of the project or run folder {folder}; "
                         "refusing to overwrite it (write the export elsewhere)")


def train_main(args: argparse.Namespace) -> int:
    from peftal.label.final import train_final

    summary = train_final(args.project, args.out, epochs=args.epochs, overwrite=args.overwrite,
                          progress=not args.no_progress)
    print(f"trained {summary['method']} on {summary['num_labeled']} labels "
          f"({', '.join(f'{k} {v}' for k, v in summary['label_counts'].items())}) in "
          f"{summary['train_seconds']:.1f} s")
    print(f"outputs in {args.out}/: summary.json, model/  ·  next: peftal predict --run {args.out} "
          "--input FILE --output FILE")
    return 0
