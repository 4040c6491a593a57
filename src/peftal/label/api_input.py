"""Reading a request of the labelling API: its JSON body, an example id, a person's name.

Shared by the labelling routes (:mod:`peftal.label.server`) and the review routes
(:mod:`peftal.label.review`); each refusal is a :class:`~peftal.label.errors.LabelError` that the
app answers with a 4xx and ``{"error": "..."}``.
"""

from __future__ import annotations

import json
from typing import Any

from flask import request

from peftal.label.errors import LabelError, NotFound, UnsupportedMediaType

MAX_NAME_LENGTH = 80


def json_body() -> dict[str, Any]:
    """The request's JSON object; refused unless sent as ``application/json`` (no CSRF by form)."""
    if not request.is_json:
        raise UnsupportedMediaType("send a JSON object with Content-Type: application/json")
    try:
        text = request.get_data().decode("utf-8")  # strict: no replacement characters stored
    except UnicodeDecodeError:
        raise LabelError("the request body is not valid UTF-8") from None
    try:
        body = json.loads(text)
    except json.JSONDecodeError as error:
        raise LabelError(f"the request body is not valid JSON ({error})") from None
    except RecursionError:
        raise LabelError("the request body is nested too deeply") from None
    if not isinstance(body, dict):
        raise LabelError("the request body must be a JSON object")
    return body


def id_of(body: dict[str, Any]) -> int:
    """The body's ``"id"``: an integer naming an example."""
    value = body.get("id")
    if isinstance(value, bool) or not isinstance(value, int):
        raise LabelError(f"\"id\" must be an integer example id, got {value!r}")
    return in_range(value)


def in_range(value: int) -> int:
    """Ids are non-negative and fit SQLite's 64-bit integers; anything else names no example."""
    if not 0 <= value < 2**63:
        raise NotFound(f"no example with id {value}")
    return value


def person(value: Any, field: str = "annotator", role: str = "the person labelling") -> str:
    """A person's name from the body's ``field``: non-blank Unicode text of at most
    :data:`MAX_NAME_LENGTH` characters, stripped."""
    if not isinstance(value, str) or not value.strip():
        raise LabelError(f"\"{field}\" (the name of {role}) is required")
    value = value.strip()
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a \\ud800 escape
        raise LabelError(f"\"{field}\" is not valid Unicode text") from None
    if len(value) > MAX_NAME_LENGTH:
        raise LabelError(f"\"{field}\" is longer than {MAX_NAME_LENGTH} characters")
    return value


def read_limit(value: str | None, *, default: int, maximum: int) -> int:
    """A ``?limit=`` query value: ``default`` when absent, else an integer from 1 to ``maximum``."""
    if value is None:
        return default
    try:
        limit = int(value)
    except ValueError:
        limit = 0
    if not 1 <= limit <= maximum:
        raise LabelError(f"\"limit\" must be an integer from 1 to {maximum}, got {value!r}")
    return limit


def label_value(body: dict[str, Any], settings: Any, field: str = "label") -> str:
    """The label a request gives, as the store holds it: the body's ``field`` (one of the project's
    labels), or in a multi-label project its ``labels`` (a list of them, possibly empty), encoded by
    :func:`peftal.label.label_sets.encode`."""
    labels = list(settings.labels)
    if settings.multi_label:
        from peftal.label.label_sets import encode

        if "labels" not in body:
            raise LabelError("this project is multi-label: send \"labels\", a list of label names "
                             "(an empty list: none applies)")
        return encode(body["labels"], labels)
    value = body.get(field)
    if value not in labels:
        hint = " (this project takes one label per text)" if isinstance(value, list) else ""
        raise LabelError(f"unknown label {value!r}{hint}; valid labels: {', '.join(labels)}")
    return value
