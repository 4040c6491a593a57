"""Requests the labelling store refuses, each with the HTTP status the server answers with."""

from __future__ import annotations


class LabelError(Exception):
    """A request the store refuses; ``status`` is the HTTP status the server answers with."""

    status = 400


class NotFound(LabelError):
    status = 404


class Conflict(LabelError):
    status = 409


class UnsupportedMediaType(LabelError):
    status = 415
