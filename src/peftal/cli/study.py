"""``peftal study validate|run|status``: grids of runs from a YAML spec, resumable, local or on Ray."""

from __future__ import annotations

import argparse
from pathlib import Path

from peftal.cli.options import positive_float, positive_int, print_json, print_table


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "study", help="run a grid of experiments from a YAML spec (validate, run, status)",
        description="A study spec is a YAML file whose keys mirror the `peftal run` options; "
                    "lists (datasets, methods, strategies, seeds, ...) expand into a grid. "
                    "See docs/studies.md.",
    )
    commands = parser.add_subparsers(dest="study_command", metavar="ACTION", required=True)

    validate = commands.add_parser("validate", help="check every cell of a spec without running it")
    validate.add_argument("spec", type=Path, help="study spec (YAML)")
    validate.add_argument("--json", action="store_true", help="print the expanded cells as JSON")
    validate.set_defaults(handler=validate_main)

    run = commands.add_parser(
        "run", help="run the cells of a spec that are not completed yet",
        description="Runs every cell not yet completed in --out (re-running the same command after "
                    "an interruption resumes). Exit status 1 if any cell failed.")
    run.add_argument("spec", type=Path, help="study spec (YAML)")
    run.add_argument("--out", type=Path, default=None,
                     help="study directory (default: studies/<name of the spec>)")
    run.add_argument("--executor", choices=("local", "ray"), default="local",
                     help="local (default): child processes on this machine; ray: Ray tasks")
    run.add_argument("--workers", type=positive_int, default=1,
                     help="local executor: cells run at once (default: 1)")
    run.add_argument("--threads", type=positive_int, default=None,
                     help="local executor: torch threads per cell (default: torch's own for one "
                          "worker, cores / workers for several)")
    run.add_argument("--ray-address", default=None,
                     help="ray executor: cluster address (default: start a local Ray instance)")
    run.add_argument("--cpus-per-cell", type=positive_float, default=1.0,
                     help="ray executor: CPUs reserved per cell (default: 1)")
    run.add_argument("--gpus-per-cell", type=float, default=0.0,
                     help="ray executor: GPUs reserved per cell (default: 0)")
    run.add_argument("--force", action="store_true",
                     help="switch an existing study directory to a changed spec")
    run.add_argument("--rerun", action="append", default=[], metavar="KEY=VALUE[,VALUE]",
                     help="run the completed cells whose option KEY has one of these values again "
                          "(repeat for several keys: a cell must match all); their earlier results "
                          "stay in the store as superseded runs, out of the report")
    run.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    run.set_defaults(handler=run_main)

    status = commands.add_parser("status", help="how many cells of a study are done or failed")
    status.add_argument("dir", type=Path, help="study directory")
    status.add_argument("--json", action="store_true", help='print {"total", "done", "failed"}')
    status.set_defaults(handler=status_main)


def validate_main(args: argparse.Namespace) -> int:
    from peftal.experiments.study import plan_study

    spec, cells = plan_study(args.spec)
    if args.json:
        print_json([{"cell_id": cell.cell_id, "axes": cell.axes, "config": cell.config_dict}
                    for cell in cells])
        return 0
    axes: dict[str, list] = {}
    for cell in cells:
        for key, value in cell.axes.items():
            axes.setdefault(key, [])
            if value not in axes[key]:
                axes[key].append(value)
    print(f"{args.spec}: OK · study {spec.name!r} ({spec.kind}) · {len(cells)} cells")
    for key, values in axes.items():
        print(f"  {key}: {', '.join(map(str, values))}")
    return 0


def run_main(args: argparse.Namespace) -> int:
    from peftal.experiments.executors import make_executor
    from peftal.experiments.study import parse_rerun, plan_study, run_study, select_cells

    planned = plan_study(args.spec)  # every problem is reported before an executor starts
    rerun = parse_rerun(args.rerun)
    if rerun:
        print(f"re-running {len(select_cells(planned[1], rerun))} cells; their earlier results "
              "are kept in the store as superseded runs")
    out = args.out or Path("studies") / planned[0].name
    executor = make_executor(args.executor, workers=args.workers, threads=args.threads,
                             ray_address=args.ray_address,
                             cpus_per_cell=args.cpus_per_cell, gpus_per_cell=args.gpus_per_cell)
    status = run_study(args.spec, out, executor, force=args.force, progress=not args.no_progress,
                       planned=planned, rerun=rerun)
    print(f"study {status.name!r}: {status.total} cells · {status.done} done · "
          f"{status.failed} failed · {status.pending} not run")
    print(f"results in {out}/results.sqlite · report: peftal report {out}")
    return 1 if status.failed or status.pending else 0


def status_main(args: argparse.Namespace) -> int:
    from peftal.experiments.study import study_status

    status = study_status(args.dir)
    if args.json:
        print_json(status.counts())
        return 0
    print(f"study {status.name!r}: {status.total} cells · {status.done} done · "
          f"{status.failed} failed · {status.pending} not run"
          + (f" · {status.superseded} superseded results kept" if status.superseded else ""))
    if status.errors:
        print_table(["cell", "config", "error"],
                    [[cell_id, status.labels.get(cell_id, ""), error.splitlines()[0] if error else ""]
                     for cell_id, error in status.errors.items()])
    return 0
