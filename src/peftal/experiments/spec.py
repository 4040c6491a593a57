"""Study specs: read a YAML file, check its keys, expand its grid into cells with stable ids.

A spec's keys mirror the options of the study kind's runner (``peftal run`` for
``active_learning``): a scalar sets an option for every cell; a list under a plural key
(``datasets``, ``methods``, ``strategies``, ``seeds``, ``fractions``, ``time_budgets``, or any
option name + ``s``) or a list given to a scalar option becomes an axis of the grid, and the grid is
the Cartesian product of its axes (as scikit-learn's ``ParameterGrid``). An optional ``grids:`` list
makes the study a union of sub-grids, each overriding the top-level keys; that is how a paper's
separate experiments (data fractions with no time limit; time budgets on all the data) live in one
study without their cross product.

Nothing here runs a model: :func:`expand` only builds each cell's typed config, so every bad value
is reported before any compute. Cell ids hash a cell's non-default values, so adding an option with
a default to peftal later keeps the ids of existing studies.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import itertools
import json
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from peftal.config import build_config
from peftal.errors import UsageError
from peftal.experiments.worker import config_dict

META_KEYS = ("name", "kind", "description", "grids", "claims", "recipes")  # claims: peftal.claims.grammar
# What a spec's ``recipes:`` may set per method: peftal.peft.recipes.RECIPE_KEYS, the fields of
# RecipeOptions (written out so that reading a spec does not import torch; a unit test holds them equal)
RECIPE_KEYS = ("lr", "head_lr", "min_steps", "linear_probe_init")
DEFAULT_KIND = "active_learning"
# Plural spellings that do not follow "option + s".
_IRREGULAR_PLURALS = {"strategies": "strategy"}


class SpecError(UsageError):
    """A spec with one or more problems; the message lists all of them, one per line."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        noun = "problem" if len(problems) == 1 else "problems"
        super().__init__(f"{source}: {len(problems)} {noun}:\n{lines}")


@dataclass(frozen=True)
class Cell:
    """One run of a study.

    Attributes:
        cell_id: Stable id: a hash of the kind and the cell's non-default option values.
        kind: The study kind that runs it.
        config: The typed config of the run (e.g. :class:`~peftal.experiments.active_learning.RunConfig`).
        axes: The values of the grid axes that define this cell (for labels and reports).
    """

    cell_id: str
    kind: str
    config: Any
    axes: dict[str, Any]

    @property
    def config_dict(self) -> dict[str, Any]:
        return config_dict(self.config)

    @property
    def label(self) -> str:
        return " ".join(f"{key}={value}" for key, value in self.axes.items()) or self.cell_id


@dataclass(frozen=True)
class Spec:
    """A parsed study spec.

    Attributes:
        name: Study name (default: the file's stem).
        kind: Study kind (``active_learning`` or ``supervised``).
        description: Free text.
        options: Top-level option keys → values (lists for axes), keys normalised to lower_snake.
        grids: Sub-grids, each a mapping merged over ``options``; ``[{}]`` when the spec has none.
        recipes: Method (as written in ``methods``) → its recipe in this study (``lr``,
            ``head_lr``, ``min_steps``), replacing the method's own; an option the spec sets for
            the cells (top level or sub-grid) wins over it.
        source: Where it was read from (for messages).
        raw: The parsed YAML mapping, as written.
    """

    name: str
    kind: str
    description: str
    options: dict[str, Any]
    grids: list[dict[str, Any]]
    source: str
    raw: dict[str, Any]
    recipes: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)


def load_spec(path: str | Path) -> Spec:
    """Read and parse the spec at ``path`` (keys are checked later, by :func:`expand`)."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"study spec {path} not found")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"study spec {path} is not UTF-8 text") from None
    return parse_spec(text, source=str(path), default_name=path.stem)


def parse_spec(text: str, *, source: str = "<spec>", default_name: str = "study") -> Spec:
    """Parse spec YAML ``text``; malformed YAML or a non-mapping raise a :class:`UsageError`."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise UsageError(f"{source}: malformed YAML{where}: {problem}") from None
    if raw is None:
        raise UsageError(f"{source}: the spec is empty")
    if not isinstance(raw, dict):
        raise UsageError(f"{source}: a study spec is a YAML mapping of option: value, "
                         f"got a {type(raw).__name__}")
    raw = {str(key): value for key, value in raw.items()}
    options = {_normalise(key): value for key, value in raw.items() if key not in META_KEYS}
    grids = raw.get("grids")
    if grids is None:
        grids = [{}]
    elif not isinstance(grids, list) or not all(isinstance(g, dict) for g in grids):
        raise UsageError(f"{source}: 'grids' must be a list of mappings (each a sub-grid)")
    elif not grids:
        raise UsageError(f"{source}: 'grids' is an empty list: the study has no cells")
    recipes = raw.get("recipes") or {}
    if not isinstance(recipes, dict) or not all(isinstance(r, dict) for r in recipes.values()):
        raise UsageError(f"{source}: 'recipes' must map a method to its settings, e.g. "
                         "'recipes: {bitfit: {lr: 1.0e-3}}'")
    for method, recipe in recipes.items():
        unknown = sorted(set(map(_normalise, recipe)) - set(RECIPE_KEYS))
        if unknown:
            raise UsageError(f"{source}: recipes: {method}: unknown key {unknown[0]!r}; a recipe sets "
                             f"{', '.join(RECIPE_KEYS)}")
    return Spec(
        name=str(raw.get("name") or default_name),
        kind=str(raw.get("kind") or DEFAULT_KIND),
        description=str(raw.get("description") or ""),
        options=options,
        grids=[{_normalise(str(key)): value for key, value in grid.items()} for grid in grids],
        source=source,
        raw=raw,
        recipes={str(method): {_normalise(k): v for k, v in recipe.items()}
                 for method, recipe in recipes.items()},
    )


def _normalise(key: str) -> str:
    """``warm-start`` → ``warm_start``: spec keys may be spelled like the CLI options."""
    return key.strip().replace("-", "_").lower()


def singular(key: str, fields: set[str]) -> str | None:
    """The option a plural key stands for (``seeds`` → ``seed``), or ``None`` if it is not one."""
    if key in _IRREGULAR_PLURALS and _IRREGULAR_PLURALS[key] in fields:
        return _IRREGULAR_PLURALS[key]
    for candidate in (key[:-3] + "y" if key.endswith("ies") else None, key[:-1] if key.endswith("s")
                      else None):
        if candidate and candidate in fields:
            return candidate
    return None


def plural(field: str) -> str:
    """The plural key of option ``field`` (``strategy`` → ``strategies``)."""
    for many, one in _IRREGULAR_PLURALS.items():
        if one == field:
            return many
    return field + "s"


def _axes_of(values: dict[str, Any], fields: dict[str, Any],
             problems: list[str]) -> dict[str, list[Any]]:
    """Option → list of values (length 1 for scalars), after checking every key.

    ``fields`` maps each option to its type hint.
    """
    names = set(fields)
    valid = sorted(set(META_KEYS) | names | {plural(name) for name in names})
    axes: dict[str, list[Any]] = {}
    for key, value in values.items():
        option = key if key in names else singular(key, names)
        if option is None:
            close = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else f"; valid keys: {', '.join(valid)}"
            problems.append(f"unknown key {key!r}{hint}")
            continue
        if option in axes:
            problems.append(f"{option!r} is given twice (as {option!r} and {plural(option)!r})")
            continue
        # A plural key always lists values; a singular key lists values only when the option
        # itself does not take a sequence (``tags: [a, b]`` sets a tuple option).
        if key != option:
            listed = value if isinstance(value, list) else [value]
        elif isinstance(value, list) and not _takes_list(fields[option]):
            listed = value
        else:
            listed = [value]
        if not listed:
            problems.append(f"{key!r} is an empty list: the grid has no cells")
            continue
        axes[option] = list(listed)
    return axes


def _takes_list(hint: Any) -> bool:
    """Whether an option's own value is a sequence (then a list sets it rather than expanding)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_takes_list(arg) for arg in typing.get_args(hint))
    return hint in (tuple, list) or origin in (tuple, list)


def expand(spec: Spec, config_cls: type, *, problems: list[str] | None = None) -> list[Cell]:
    """All cells of ``spec`` for a kind whose cell config is the dataclass ``config_cls``.

    Every problem is collected (unknown keys with a "did you mean", bad values per cell, empty
    axes, duplicate cells) and raised together as one :class:`SpecError`, unless the caller passes
    its own ``problems`` list to keep collecting.
    """
    own = problems is None
    problems = [] if own else problems
    fields = typing.get_type_hints(config_cls)
    fields = {field.name: fields[field.name] for field in dataclasses.fields(config_cls)}
    cells: list[Cell] = []
    seen: dict[str, int] = {}  # cell id → the sub-grid that first produced it
    bad_values: dict[str, list[str]] = {}
    top = _axes_of(spec.options, fields, problems)
    methods: set[str] = set()
    for grid_index, grid in enumerate(spec.grids):
        axes = {**top, **_axes_of(grid, fields, problems)}
        varying = [name for name, values in axes.items() if len(values) > 1 or name == "seed"]
        for combination in itertools.product(*axes.values()):
            values = dict(zip(axes, combination, strict=True))
            # the study's recipe of the cell's method under what the spec sets for the cells
            values = {**spec.recipes.get(str(values.get("method")), {}), **values}
            methods.add(str(values.get("method")))
            try:
                config = build_config(config_cls, values, owner="cell")
            except UsageError as error:
                bad_values.setdefault(str(error), []).append(_describe(values, varying))
                continue
            cell_id = cell_id_of(spec.kind, config)
            label = {name: values[name] for name in varying if name in values}
            if cell_id in seen:
                # Sub-grids are a union: overlapping ones share cells. Within one grid a repeat can
                # only come from a repeated value (seeds: [1, 1]), which is a mistake.
                if seen[cell_id] == grid_index:
                    problems.append(f"duplicate cell {_describe(values, varying)}: a value is "
                                    "repeated in a list")
                continue
            seen[cell_id] = grid_index
            cells.append(Cell(cell_id, spec.kind, config, label))
    for message, where in bad_values.items():
        problems.append(_with_cells(message, where))
    for method in sorted(set(spec.recipes) - methods):
        problems.append(f"recipes: {method!r} is not a method of the study's cells "
                        f"({', '.join(sorted(methods))})")
    if not cells and not problems:
        problems.append("the grid has no cells")
    if own and problems:
        raise SpecError(spec.source, _unique(problems))
    return cells


def _describe(values: dict[str, Any], varying: list[str]) -> str:
    shown = {name: values[name] for name in varying if name in values}
    return ", ".join(f"{key}={value}" for key, value in shown.items()) or "the only cell"


def _with_cells(message: str, where: list[str]) -> str:
    """One problem shared by several cells, named once with the cells it hits."""
    if len(where) == 1:
        return f"{message} ({where[0]})"
    return f"{message} ({len(where)} cells, e.g. {where[0]})"


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


# The default method when cell ids were first made. The default has changed since (``ia3``; ``lora``
# for text pairs); ids compare with this one, so a stored cell keeps its id and a cell that leaves
# the method to the default gets the id of the cell naming the method it trains.
_FIRST_DEFAULT_METHOD = "lora"
# The strategy a cell queried with by default before the default resolved by data (``entropy``;
# ``br_entropy_mean`` on multi-label data): a stored cell keeps its id the same way.
_FIRST_DEFAULT_STRATEGY = "entropy"


def cell_id_of(kind: str, config: Any) -> str:
    """A stable 16-hex-digit id: SHA-256 of the kind and the config's non-default values.

    Defaults are left out so that a field added to the config later (with a default) does not
    change the ids of cells that were already run.
    """
    defaults = {field.name: _default(field) for field in dataclasses.fields(config)}
    values = config_dict(config)  # a method left to the default: the one the cell trains
    if "method" in values:
        defaults["method"] = _FIRST_DEFAULT_METHOD
    if "strategy" in values and hasattr(config, "strategy_preset"):
        defaults["strategy"] = _FIRST_DEFAULT_STRATEGY
    values = {key: value for key, value in values.items()
              if value != defaults.get(key, dataclasses.MISSING)}
    payload = json.dumps({"kind": kind, "config": values}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _default(field: dataclasses.Field) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return dataclasses.MISSING
