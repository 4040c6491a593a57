"""``peftal --help`` starts fast: the overview is built without importing any subcommand's module,
so neither torch nor scikit-learn is imported; its one-line helps are those the modules register."""

from __future__ import annotations

import importlib
import json
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


def test_methods_listing_imports_no_torch_and_names_every_method():
    """`peftal methods` (and its --json) list the methods from the torch-free catalog."""
    code = ("import json, sys\n"
            "from peftal.cli import main\n"
            "status = main(['methods', '--json'])\n"
            "print(json.dumps({'status': status, 'torch': 'torch' in sys.modules,\n"
            "                  'transformers': 'transformers' in sys.modules}), file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONWARNINGS": "ignore"})
    loaded = json.loads(result.stderr.strip().splitlines()[-1])
    assert loaded == {"status": 0, "torch": False, "transformers": False}
    from peftal.peft import METHODS

    listed = json.loads(result.stdout)
    assert [row["name"] for row in listed] == METHODS.names()
    assert all("trainable_params" not in row for row in listed)  # counts only with --counts


def test_method_catalog_is_the_registry():
    """Every field the catalog repeats equals the method class's own, in registry order; the
    listing reads the registry once it is imported (so a plug-in's methods are listed too)."""
    from peftal.cli.methods import listing_rows
    from peftal.config import config_to_dict
    from peftal.method_catalog import BUILT_IN
    from peftal.peft import METHODS

    from_classes = [{"name": name, "description": cls.description, "reference": cls.reference,
                     "lr": cls.lr, "head_lr": cls.head_lr, "defaults": config_to_dict(cls.Config())}
                    for name, cls in METHODS.items()]
    assert [entry.row() for entry in BUILT_IN] == from_classes, (
        "src/peftal/method_catalog.py must repeat the registered methods' listing fields")
    assert listing_rows() == from_classes
