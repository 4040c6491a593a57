"""Typed configs: presets such as ``lora[r=16,alpha=32]`` and validated frozen dataclasses.

Plug-in hyper-parameters live in small frozen dataclasses; :func:`build_config` creates one from
``key=value`` overrides, checking every key and the type of every value, and names the bad one.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from typing import Any, TypeVar

import yaml

from peftal.errors import UsageError

C = TypeVar("C")

_PRESET = re.compile(r"^\s*([A-Za-z0-9_\-]+)\s*(?:\[(.*)\])?\s*$", re.DOTALL)


def parse_preset(text: str) -> tuple[str, dict[str, Any]]:
    """Split ``"name[k=v,k2=v2]"`` into ``("name", {"k": v, "k2": v2})``.

    Values are read as YAML scalars, so ``r=8`` is an int, ``dropout=0.1`` a float,
    ``modules=[query,value]`` a list. Commas inside ``[...]`` values are kept together.
    """
    match = _PRESET.match(text)
    if not match:
        raise UsageError(f"cannot read preset {text!r}; expected NAME or NAME[key=value,...]")
    name, body = match.group(1), match.group(2)
    overrides: dict[str, Any] = {}
    for item in _split_top_level(body or ""):
        if "=" not in item:
            raise UsageError(f"preset {text!r}: expected key=value, got {item!r}")
        key, value = (part.strip() for part in item.split("=", 1))
        try:
            overrides[key] = yaml.safe_load(value) if value else None
        except yaml.YAMLError as error:
            problem = getattr(error, "problem", None) or type(error).__name__
            raise UsageError(f"preset {text!r}: cannot read the value of {key!r} ({problem})") from None
    return name.lower().replace("-", "_"), overrides


def _split_top_level(body: str) -> list[str]:
    """Split on commas that are not inside brackets."""
    parts, depth, current = [], 0, []
    for char in body:
        depth += char == "["
        depth -= char == "]"
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if "".join(current).strip():
        parts.append("".join(current))
    return [part for part in parts if part.strip()]


def build_config(cls: type[C], overrides: dict[str, Any], *, owner: str) -> C:
    """Create dataclass ``cls`` from ``overrides``; unknown keys or ill-typed values raise UsageError.

    Args:
        cls: A dataclass whose fields are the valid keys.
        overrides: Values to set; the rest keep their defaults.
        owner: Name used in error messages (e.g. ``"lora"``).
    """
    fields = {field.name: field for field in dataclasses.fields(cls)}
    unknown = [key for key in overrides if key not in fields]
    if unknown:
        valid = ", ".join(fields) or "(none)"
        raise UsageError(f"{owner}: unknown key {unknown[0]!r}; valid keys: {valid}")
    hints = typing.get_type_hints(cls)
    values = {key: _coerce(value, hints[key], f"{owner}.{key}") for key, value in overrides.items()}
    try:
        return cls(**values)
    except (TypeError, ValueError) as error:
        raise UsageError(f"{owner}: {error}") from None


def _coerce(value: Any, hint: Any, where: str) -> Any:
    """Check ``value`` against a simple type hint, converting int → float and scalars → tuples."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, where)
            except UsageError as error:
                errors.append(error)
        raise errors[0]
    if origin is tuple:
        items = value if isinstance(value, list | tuple) else [value]
        (item_hint, *_) = typing.get_args(hint) or (Any,)
        return tuple(_coerce(item, item_hint, where) for item in items)
    if hint is Any:
        return value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is str and isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if hint in (int, float) and isinstance(value, bool):
        raise UsageError(f"{where} must be {hint.__name__}, got {value!r}")
    if isinstance(hint, type) and not isinstance(value, hint):
        raise UsageError(f"{where} must be {hint.__name__}, got {value!r}")
    return value


def config_to_dict(config: Any) -> dict[str, Any]:
    """A JSON-friendly dict of a (possibly nested) dataclass."""
    return {
        key: list(value) if isinstance(value, tuple) else value
        for key, value in dataclasses.asdict(config).items()
    }


def format_preset(name: str, config: Any) -> str:
    """The preset string that rebuilds ``config`` (only non-default values are shown)."""
    defaults = type(config)()
    changed = [
        f"{field.name}={_format_value(getattr(config, field.name))}"
        for field in dataclasses.fields(config)
        if getattr(config, field.name) != getattr(defaults, field.name)
    ]
    return f"{name}[{','.join(changed)}]" if changed else name


def _format_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()  # YAML's spelling, as users type it: flat=true
    if isinstance(value, tuple | list):
        return "[" + ",".join(str(item) for item in value) + "]"
    return str(value)
