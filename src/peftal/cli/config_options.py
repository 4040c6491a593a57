"""Command-line options generated from a config dataclass: one source for the option names,
types, defaults and help of ``peftal run`` / ``train`` / ``pretrain``.

Each field of the dataclass becomes ``--field-name``: its type from the annotation, its default
from the field, its help from the ``Attributes:`` section of the class docstring (Google style)
plus ``(default: …)``. What a field's docstring cannot say (a flag name for a list, the list of
registered names) is given per field in ``extra``. Options are parsed with
``default=argparse.SUPPRESS``, so :func:`config_from_args` knows exactly which were given: a
``--config FILE`` (the keys of a study cell) fills the rest, and flags given on the command line
win over the file.

argparse is used as it is; what is hand-written here is only the docstring reading and the
type → option mapping, which no argparse extension in the dependencies does for frozen dataclasses
with Google-style docstrings.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import types
import typing
from pathlib import Path
from typing import Any

from peftal.cli.options import positive_float, positive_int
from peftal.errors import UsageError


def field_docs(cls: type) -> dict[str, str]:
    """Field name → its one-paragraph description from the ``Attributes:`` docstring sections of
    ``cls`` and the classes it inherits fields from (shared option blocks such as
    :class:`~peftal.data.options.DataOptions`); an entry may name several fields: ``a, b, c: text``."""
    docs: dict[str, str] = {}
    for base in reversed(cls.__mro__):
        if dataclasses.is_dataclass(base):
            docs.update(_own_field_docs(base))
    return docs


def _own_field_docs(cls: type) -> dict[str, str]:
    doc = (cls.__dict__.get("__doc__") or "").split("Attributes:", 1)
    if len(doc) < 2:
        return {}
    docs: dict[str, str] = {}
    names: list[str] = []
    indent = None
    for line in doc[1].splitlines():
        if not line.strip():
            continue
        depth = len(line) - len(line.lstrip())
        indent = depth if indent is None else indent
        entry = re.match(r"([\w, ]+):\s*(.*)", line.strip())
        if depth == indent and entry:
            names = [name.strip() for name in entry.group(1).split(",")]
            for name in names:
                docs[name] = entry.group(2)
        elif depth > indent and names:
            for name in names:
                docs[name] += " " + line.strip()
        elif depth < indent:
            break
    return {name: re.sub(r"``(.*?)``", r"\1", text).rstrip(".") for name, text in docs.items()}


def _base_type(hint: Any) -> tuple[Any, bool]:
    """``(type, optional)`` of a field's annotation."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return args[0], True
    return hint, False


def add_config_options(parser: argparse.ArgumentParser, cls: type, *, example: str,
                       extra: dict[str, dict[str, Any]] | None = None,
                       positive: tuple[str, ...] = (), skip: tuple[str, ...] = ()) -> None:
    """Add ``--config FILE`` and one option per field of dataclass ``cls`` to ``parser``.

    Args:
        parser: The subcommand's parser.
        cls: The config dataclass.
        example: A line of the config file for ``--config``'s help, e.g. ``budget: 200``.
        extra: Per field, argparse keywords that replace the generated ones (``flag`` renames the
            option, ``help_suffix`` is appended to the docstring's text).
        positive: Numeric fields that must be > 0 (checked by argparse, as the other commands do).
        skip: Fields that get no option.
    """
    parser.add_argument("--config", type=Path, default=None, metavar="FILE",
                        help=f"YAML file of these options (e.g. {example}), as in a study cell; "
                             "options given on the command line win")
    add_field_options(parser, cls, extra=extra, positive=positive, skip=skip)


def add_field_options(parser: argparse.ArgumentParser, cls: type, *,
                      extra: dict[str, dict[str, Any]] | None = None,
                      positive: tuple[str, ...] = (), skip: tuple[str, ...] = ()) -> None:
    """One option per field of dataclass ``cls`` (a config, or a shared option block such as
    :class:`~peftal.peft.recipes.RecipeOptions`): name, type and help from the field, the shared
    blocks' keywords from :func:`shared_option_extras`; an option not given is absent from the
    parsed namespace (``argparse.SUPPRESS``), so the config's own default applies. Arguments as
    :func:`add_config_options`."""
    docs, hints, extra = field_docs(cls), typing.get_type_hints(cls), extra or {}
    shared = shared_option_extras()
    for field in dataclasses.fields(cls):
        if field.name in skip:
            continue
        given = dict(shared[field.name] if field.name in shared else extra.get(field.name, {}))
        kind, optional = _base_type(hints[field.name])
        default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
        flag = given.pop("flag", "--" + field.name.replace("_", "-"))
        text = docs.get(field.name, "") + given.pop("help_suffix", "")
        kwargs: dict[str, Any] = {"dest": field.name, "default": argparse.SUPPRESS}
        if kind is bool:
            kwargs["action"] = "store_true" if not default else "store_false"
            if default:
                flag = "--no-" + field.name.replace("_", "-")
        elif typing.get_origin(kind) is tuple:
            kwargs.update(action="append", metavar=field.name.upper().rstrip("S"))
        else:
            kwargs["type"] = {int: positive_int, float: positive_float}[kind] if (
                field.name in positive) else kind
            if field.metadata.get("default_help"):  # a default that depends on the data
                text += f" (default: {field.metadata['default_help']})"
            elif default is not None and "default" not in text.lower():
                text += f" (default: {default})"
        if len(text) > 1 and text[1].islower():  # "Training batch size" → "training batch size"
            text = text[0].lower() + text[1:]
        kwargs["help"] = given.pop("help", text.replace("%", "%%"))  # argparse formats help with %
        kwargs.update(given)
        parser.add_argument(flag, **kwargs)


def SHARED_BLOCKS() -> tuple[type, ...]:  # noqa: N802 (a constant, computed late: lazy imports)
    """The shared option blocks: text and data options, training options, recipe options."""
    from peftal.data.options import DataOptions
    from peftal.models.options import TrainingOptions
    from peftal.peft.recipes import RecipeOptions

    return DataOptions, TrainingOptions, RecipeOptions


def add_block_options(parser: argparse.ArgumentParser, cls: type, block: type) -> None:
    """The options of the shared option block ``block`` that config ``cls`` inherits, with
    ``cls``'s defaults (for a command whose other options are written by hand)."""
    own = {field.name for field in dataclasses.fields(block)}
    add_field_options(parser, cls, skip=tuple(f.name for f in dataclasses.fields(cls) if f.name not in own))


def shared_option_extras() -> dict[str, dict[str, Any]]:
    """Per field of a shared option block (:class:`~peftal.data.options.DataOptions`,
    :class:`~peftal.peft.recipes.RecipeOptions`), the argparse keywords its option gets in every
    command: written once here, so ``peftal run``, ``train`` and ``pretrain`` parse them alike."""
    from peftal.data.options import TASKS
    from peftal.models.options import POOLINGS

    extras: dict[str, dict[str, Any]] = {field.name: {} for block in SHARED_BLOCKS()
                                         for field in dataclasses.fields(block)}
    extras.update({
        "epochs": {"type": positive_int, "metavar": "N"},
        "batch_size": {"type": positive_int, "metavar": "N"},
        "max_length": {"type": positive_int, "metavar": "TOKENS"},
        "seed": {"type": int, "metavar": "N"}, "pooling": {"choices": POOLINGS},
        "model": {"metavar": "ID_OR_PATH"},
        "lr": {"type": positive_float}, "head_lr": {"type": positive_float},
        "min_steps": {"metavar": "N"}, "task": {"choices": TASKS},
        # on or off over the method's recipe (--no-linear-probe-init where a recipe turns it on)
        "linear_probe_init": {"action": argparse.BooleanOptionalAction},
        "unlabeled_values": {"flag": "--unlabeled-value", "metavar": "VALUE"},
        "min_class_count": {"metavar": "N"},
        "label_separator": {"metavar": "SEP"}, "label_columns": {"metavar": "A,B,C"},
    })
    return extras


def config_values(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    """The fields of ``cls`` given on the command line (lists as tuples)."""
    values = {}
    for field in dataclasses.fields(cls):
        if hasattr(args, field.name):
            value = getattr(args, field.name)
            values[field.name] = tuple(value) if isinstance(value, list) else value
    return values


def config_from_args(args: argparse.Namespace, cls: type) -> Any:
    """``cls`` from ``--config FILE`` (if given) with the options given on the command line over it."""
    from peftal.config import build_config

    given = config_values(args, cls)
    if getattr(args, "config", None) is None:
        return cls(**given)
    from_file = build_config(cls, read_config_file(args.config), owner=f"--config {args.config}")
    return dataclasses.replace(from_file, **given)


def read_config_file(path: Path) -> dict[str, Any]:
    """The mapping of a YAML (or JSON) config file; a clear error for anything else."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise UsageError(f"--config {path}: no such file")
    try:
        values = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise UsageError(f"--config {path}: not valid YAML ({str(error).splitlines()[0]})") from None
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise UsageError(f"--config {path}: expected a mapping of option names to values")
    return {str(key).replace("-", "_"): value for key, value in values.items()}
