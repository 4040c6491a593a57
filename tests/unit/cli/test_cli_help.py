"""Help that helps: every option of the first-hour commands has help text with its default once."""

from __future__ import annotations

import io
import re

import pytest

from peftal.cli import build_parser
from peftal.training.progress import ProgressLog, format_seconds


def _subparser(name: str):
    """The parser of a command, e.g. ``run`` or ``label start``."""
    parser = build_parser()
    for word in name.split():
        (subparsers,) = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
        parser = subparsers.choices[word]
    return parser


@pytest.mark.parametrize("command", ["run", "predict", "report", "analyze"])
def test_every_option_has_help_with_its_default_once(command):
    parser = _subparser(command)
    for action in parser._actions:
        if not action.option_strings or action.dest == "help":
            continue
        assert action.help, f"{command} {action.option_strings[0]} has no help"
    text = parser.format_help()
    for entry in re.split(r"\n  (?=-)", text):
        assert entry.count("(default:") <= 1, entry
    assert not re.search(r"\(default: (True|False|None)\)", text)


def test_every_label_start_option_has_help_with_its_default_once():
    (commands,) = [a for a in _subparser("label")._actions if a.__class__.__name__ == "_SubParsersAction"]
    parser = commands.choices["start"]
    for action in parser._actions:
        if action.option_strings and action.dest != "help":
            assert action.help, f"label start {action.option_strings[0]} has no help"
    text = parser.format_help()
    for entry in re.split(r"\n  (?=-)", text):
        assert entry.count("(default:") <= 1, entry
    assert not re.search(r"\(default: (True|False|None)\)", text)


def test_off_flags_read_naturally():
    text = " ".join(_subparser("run").format_help().split())
    assert "--no-group-by-length plain shuffled training batches (default: batches of examples" in text
    assert "--model ID_OR_PATH HF model id or local path, e.g. a peftal pretrain --method full folder " \
           "(default: the packaged all- MiniLM-L6-v2)" in text


def test_progress_log_lines_and_estimate():
    stream = io.StringIO()
    log = ProgressLog(total_steps=10, num_rounds=2, enabled=True, stream=stream, min_interval=1e9)
    for _ in range(5):
        log.step()
    log.round(0, 20, "accuracy", 0.5)
    for _ in range(5):
        log.step()
    log.round(1, 30, "accuracy", 0.75)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert "round 1/2 done · 20 labels · accuracy 0.5000 · about" in lines[0]
    assert lines[1].endswith("round 2/2 done · 30 labels · accuracy 0.7500")
    assert format_seconds(3725) == "1:02:05"
    quiet = io.StringIO()
    ProgressLog(total_steps=1, num_rounds=1, enabled=False, stream=quiet).round(0, 1, "accuracy", 1.0)
    assert quiet.getvalue() == ""


def test_run_options_are_the_run_config_fields():
    """One source: every RunConfig field is a `peftal run` option with help from its docstring."""
    import dataclasses

    from peftal.cli.config_options import field_docs
    from peftal.experiments.active_learning import RunConfig

    parser = _subparser("run")
    dests = {action.dest for action in parser._actions}
    fields = [field.name for field in dataclasses.fields(RunConfig)]
    assert set(fields) <= dests
    docs = field_docs(RunConfig)
    assert set(docs) == set(fields)
    budget = next(a for a in parser._actions if a.dest == "budget")
    assert budget.help == "total labels, warm start included; the run ends when it is spent (default: 300)"


def test_a_config_file_fills_what_the_command_line_does_not_give(tmp_path):
    from peftal.cli.config_options import config_from_args
    from peftal.errors import UsageError
    from peftal.experiments.active_learning import RunConfig

    cell = tmp_path / "cell.yaml"
    cell.write_text("budget: 40\nwarm-start: 20\nstop: [kappa_average]\nmethod: bitfit\n")
    parser = build_parser()
    args = parser.parse_args(["run", "--config", str(cell), "--budget", "30", "--seed", "3"])
    config = config_from_args(args, RunConfig)
    assert (config.budget, config.warm_start, config.seed, config.method) == (30, 20, 3, "bitfit")
    assert config.stop == ("kappa_average",) and config.query_size == RunConfig().query_size
    bare = config_from_args(parser.parse_args(["run"]), RunConfig)
    assert bare == RunConfig()
    cell.write_text("- a list\n")
    with pytest.raises(UsageError, match="expected a mapping"):
        config_from_args(parser.parse_args(["run", "--config", str(cell)]), RunConfig)


def _shared_option(parser, dest):
    """What a parser makes of option ``dest``; its help without the ``(default: ...)`` the
    command's own default adds (an AL round trains 10 epochs, ``peftal train`` 3)."""
    import re

    (action,) = [a for a in parser._actions if a.dest == dest]
    text = re.sub(r" \(default: [^()]*(\([^()]*\)[^()]*)*\)$", "", action.help or "")
    return (tuple(action.option_strings), text, action.type, action.choices, action.metavar,
            action.default, type(action).__name__)


# Options of a block that do not apply to a command, which refuses them instead.
NOT_APPLICABLE = {("pretrain", "pooling")}


@pytest.mark.parametrize("block, commands", [
    ("peftal.data.options:DataOptions", ("run", "train")),
    ("peftal.data.options:TextOptions", ("run", "train", "pretrain", "label start")),
    ("peftal.models.options:TrainingOptions", ("run", "train", "pretrain", "label start")),
    ("peftal.peft.recipes:RecipeOptions", ("run", "train", "pretrain", "label start")),
])
def test_shared_option_blocks_parse_alike_in_every_command(block, commands):
    import dataclasses
    import importlib

    module, name = block.split(":")
    fields = [field.name for field in dataclasses.fields(getattr(importlib.import_module(module), name))]
    parsers = {command: _subparser(command) for command in commands}
    first, *others = commands
    for field in fields:
        expected = _shared_option(parsers[first], field)
        assert expected[1], f"{field} has no help"
        for command in others:
            if (command, field) in NOT_APPLICABLE:
                assert not [a for a in parsers[command]._actions if a.dest == field]
                continue
            assert _shared_option(parsers[command], field) == expected, (field, command)
    train = " ".join(parsers["train"].format_help().split()) if "train" in parsers else ""
    assert not train or ("--no-header" in train and "--min-class-count N" in train)


def test_each_command_shows_its_own_default_and_pretrain_refuses_pooling():
    from peftal.errors import UsageError
    from peftal.experiments.pretrain import PretrainConfig

    def help_of(command, dest):
        (action,) = [a for a in _subparser(command)._actions if a.dest == dest]
        return action.help

    assert help_of("run", "epochs").endswith("(default: 10)")
    assert help_of("train", "epochs").endswith("(default: 3)")
    assert help_of("train", "max_length").endswith("(default: 128; question answering: 384, long "
                                                   "contexts cut into overlapping windows)")
    assert help_of("label start", "max_length").endswith("(default: 128)")
    with pytest.raises(UsageError, match="--pooling does not apply to pretrain"):
        PretrainConfig(pooling="cls")


def test_the_parser_comparison_can_fail():
    import argparse

    a, b = argparse.ArgumentParser(), argparse.ArgumentParser()
    a.add_argument("--lr", type=float, help="learning rate")
    b.add_argument("--lr", type=float, help="learning rate of the method (default: 1e-3)")
    assert _shared_option(a, "lr") != _shared_option(b, "lr")
    c = argparse.ArgumentParser()
    c.add_argument("--lr", type=float, help="learning rate (default: 1e-3)")
    assert _shared_option(a, "lr") == _shared_option(c, "lr")  # only the default differs
    c.add_argument("--epochs", type=int, help="epochs")
    a.add_argument("--epochs", type=str, help="epochs")
    assert _shared_option(a, "epochs") != _shared_option(c, "epochs")


def test_a_reader_that_goes_away_ends_the_command_quietly():
    """`peftal methods | head -1`: exit 141 (SIGPIPE's status), no traceback. The reading end is
    closed before the command writes, so its first write meets a broken pipe every time."""
    import subprocess
    import sys

    process = subprocess.Popen([sys.executable, "-m", "peftal", "methods"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    process.stdout.close()
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == 141, stderr
    assert "Traceback" not in stderr
