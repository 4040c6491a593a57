"""``peftal --help`` starts fast: the overview is built without importing any subcommand's module,
so neither torch nor scikit-learn is imported; its one-line helps are those the modules register."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import time

import peftal.cli as cli


def test_overview_imports_no_torch_and_takes_under_a_second():
    code = ("import sys, time; t = time.perf_counter()\n"
            "from peftal.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(time.perf_counter() - t, 'torch' in sys.modules, 'sklearn' in sys.modules,\n"
            "      file=sys.stderr)")
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONWARNINGS": "ignore"})
    wall = time.perf_counter() - start
    seconds, torch_loaded, sklearn_loaded = result.stderr.split()[-3:]
    assert "serve" in result.stdout and "export" in result.stdout
    assert torch_loaded == "False" and sklearn_loaded == "False"
    assert float(seconds) < 1.0, f"`peftal --help` took {seconds} s inside Python ({wall:.1f} s in all)"


def test_overview_help_lines_are_the_modules_own():
    full = cli.build_parser()
    registered = {action.dest: action.help for group in full._subparsers._group_actions
                  for action in group._choices_actions}
    assert registered == cli._SUMMARIES


def test_one_command_builds_only_that_command():
    assert cli._command_in(["serve", "run-folder"]) == ("serve",)
    assert cli._command_in(["--help"]) == ()
    assert cli._command_in([]) == ("run",)
    assert importlib.import_module("peftal.cli.serve")
