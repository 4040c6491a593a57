"""Option helpers shared by subcommands."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


class HelpFormatter(argparse.HelpFormatter):
    """Help that shows each option's default once: appended as ``(default: X)`` unless the text
    already speaks of its default, and never for on/off flags (their text says what they change)
    or for options without a default."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if ("default" in text.lower() or action.default in (None, argparse.SUPPRESS)
                or isinstance(action.default, bool) or not action.option_strings):
            return text
        return f"{text} (default: %(default)s)" if text else "(default: %(default)s)"


def check_output_file(path: Path, option: str = "--output") -> None:
    """Refuse an output file that is a folder, lies in a missing folder or cannot be written."""
    import os

    from peftal.errors import UsageError

    path = Path(path).expanduser()
    if path.is_dir():
        raise UsageError(f"{option} {path} is a folder; give a file name")
    parent = path.parent
    if not parent.is_dir():
        raise UsageError(f"{option} {path}: the folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UsageError(f"{option} {path}: not writable; choose another place")


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2)
    sys.stdout.write("\n")


def print_table(headers: list[str], rows: list[list[Any]]) -> None:
    """A plain aligned text table on stdout."""
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
        if n == 0:
            print("  ".join("-" * width for width in widths))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def add_folder_arguments(parser: argparse.ArgumentParser, folders_help: str, out_help: str) -> None:
    """The folders a reading command compares (``peftal report``, ``peftal analyze``), their names
    and where outputs go."""
    from pathlib import Path

    parser.add_argument("dirs", type=Path, nargs="+", metavar="RUN_OR_STUDY", help=folders_help)
    parser.add_argument("--name", action="append", default=[],
                        help="name of the run (or study) of each folder, in order (default: the "
                             "folder's name)")
    parser.add_argument("--out", type=Path, default=None, help=out_help)
