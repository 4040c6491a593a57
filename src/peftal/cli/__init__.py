"""The ``peftal`` command line: one module per subcommand, each with ``register(subparsers)``."""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import sys
import threading
from typing import Any, NoReturn

from peftal.console import quiet_libraries
from peftal.errors import Terminated, UsageError
from peftal.integrity import os_error_message

_SUBCOMMANDS = ("run", "train", "pretrain", "predict", "methods", "strategies", "datasets", "analyze",
                "study", "report", "label", "export", "serve")
# Each subcommand's one-line help, as its module registers it (a test holds the two equal): the
# overview `peftal --help` is built from these alone, without importing the subcommands' modules,
# which import torch and scikit-learn (seconds).
_SUMMARIES = {
    "run": "run one active-learning experiment",
    "train": "train once on a fraction of the data or for a time budget, then evaluate",
    "pretrain": "continue masked-LM pretraining on a dataset's texts (TAPT) or a corpus (DAPT)",
    "predict": "predict labels with a saved run's model",
    "methods": "list PEFT methods and their parameter counts",
    "strategies": "list active-learning query strategies",
    "datasets": "list built-in datasets",
    "analyze": "forgetting events and CKA to the base model of stored runs",
    "study": "run a grid of experiments from a YAML spec (validate, run, status)",
    "report": "write report.html and tables/*.csv for studies and runs",
    "label": "label your own texts in the browser, with the model in the loop",
    "export": "export a run's model to ONNX (runs with onnxruntime alone)",
    "serve": "serve a run's or an export's model over HTTP (JSON)",
}


class _Parser(argparse.ArgumentParser):
    """argparse with its errors on one ``peftal: error:`` line (subcommand parsers inherit it)."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix("peftal").strip()
        where = f"{command}: " if command else ""
        self.exit(2, f"peftal: error: {where}{message} (see {self.prog} --help)\n")


def build_parser(commands: tuple[str, ...] | None = None) -> argparse.ArgumentParser:
    """The ``peftal`` parser with the subcommands ``commands`` (default: all) built in full; the
    others are named with their one-line help only, so that their modules are not imported."""
    import importlib

    from peftal.version import __version__

    parser = _Parser(
        prog="peftal",
        description="Active learning with parameter-efficient fine-tuning.",
    )
    parser.add_argument("--version", action="version", version=f"peftal {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _SUBCOMMANDS:
        if commands is None or name in commands:
            importlib.import_module(f"peftal.cli.{name}").register(subparsers)
        else:
            subparsers.add_parser(name, help=_SUMMARIES[name], add_help=False)
    return parser


def _command_in(argv: list[str]) -> tuple[str, ...]:
    """The subcommands the parser must build for ``argv``: the one named, ``run`` when none is (bare
    ``peftal`` runs the main job), none for the overview (``--help``, ``--version``)."""
    named = next((arg for arg in argv if not arg.startswith("-")), None)  # as argparse reads it
    if named in _SUBCOMMANDS:
        return (named,)
    if any(arg in ("-h", "--help", "--version") for arg in argv):
        return ()
    return ("run",)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``peftal`` console script; returns the exit status."""
    quiet_libraries()
    from peftal.plugins import load_plugins

    try:
        load_plugins()  # before parsing: plug-ins add strategies and methods the options name
    except UsageError as error:
        print(f"peftal: error: {error}", file=sys.stderr)
        return 2
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(_command_in(argv))
    args = parser.parse_args(argv)
    if args.command is None:
        # `peftal` alone runs the main job on the embedded defaults.
        args = parser.parse_args(["run", *argv])
    previous = _terminate_like_interrupt()
    try:
        return int(args.handler(args) or 0)
    except UsageError as error:
        print(f"peftal: error: {error}", file=sys.stderr)
        return 2
    except Terminated:
        print("peftal: terminated", file=sys.stderr)
        return 143
    except BrokenPipeError:
        # the reader went away (`peftal methods | head`): no traceback; stdout goes to devnull so
        # that Python's flush at exit does not raise again (the recipe of Python's signal docs)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (OSError, sqlite3.Error) as error:
        message = os_error_message(error)  # a full disk, a read-only folder: the user can fix these
        if message is None:
            raise
        print(f"peftal: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("peftal: interrupted", file=sys.stderr)
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _terminate_like_interrupt() -> Any:
    """SIGTERM raises :class:`Terminated` (a KeyboardInterrupt) in the main thread, so a stopped run
    is recorded as failed and its finished rounds stay readable; returns the previous handler."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def _raise(signum: int, frame: Any) -> None:
        raise Terminated

    return signal.signal(signal.SIGTERM, _raise)
