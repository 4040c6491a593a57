"""The WSGI application: ``POST /predict``, ``GET /health``, ``GET /info``.

A prediction is ``{"label", "probabilities"}`` per text, or for a multi-label model ``{"labels": [...],
"probabilities"}`` (each label whose sigmoid probability reaches its threshold; ``/info`` gives the
task and the thresholds).

Every malformed request gets a 4xx status and a JSON body ``{"error": "..."}`` that says what to
change; the checks run before anything reaches the model, so a bad request never costs a forward pass.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from peftal.serve.backend import Backend
from peftal.serve.batcher import MicroBatcher

Environ = dict[str, Any]
StartResponse = Callable[..., Any]


@dataclass(frozen=True)
class Limits:
    """What one request may hold.

    Attributes:
        max_body_bytes: Request body size at most (413 beyond).
        max_texts: Texts per request at most (413 beyond).
        max_chars: Characters per text at most (413 beyond; the model reads its first tokens only).
        timeout: Seconds a request waits for its batch before a 503.
    """

    max_body_bytes: int = 1_000_000
    max_texts: int = 256
    max_chars: int = 20_000
    timeout: float = 60.0


class BadRequest(Exception):
    """A request the API refuses: its HTTP status and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
            411: "Length Required", 413: "Payload Too Large", 415: "Unsupported Media Type",
            422: "Unprocessable Entity", 500: "Internal Server Error", 503: "Service Unavailable"}


class PredictionApp:
    """The API over ``backend`` with micro-batching; counts requests in flight for the shutdown."""

    def __init__(self, backend: Backend, batcher: MicroBatcher, limits: Limits = Limits()) -> None:
        self.backend, self.batcher, self.limits = backend, batcher, limits
        self.draining = False
        self._in_flight = 0
        self._lock = threading.Lock()
        self.idle = threading.Event()
        self.idle.set()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        with self._lock:
            self._in_flight += 1
            self.idle.clear()
        try:
            status, body = self._answer(environ)
        except BadRequest as error:
            status, body = error.status, {"error": str(error)}
        finally:
            with self._lock:
                self._in_flight -= 1
                if self._in_flight == 0:
                    self.idle.set()
        data = json.dumps(body).encode()
        # no Connection header: a WSGI app may not set hop-by-hop headers (PEP 3333); the server
        # closes connections itself at shutdown
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
        start_response(f"{status} {_REASONS.get(status, '')}", headers)
        return [data]

    def _answer(self, environ: Environ) -> tuple[int, Any]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
        routes = {"/health": ("GET", self._health), "/info": ("GET", self._info),
                  "/predict": ("POST", self._predict)}
        if path not in routes:
            raise BadRequest(404, f"no route {path!r}; routes are POST /predict, GET /health, GET /info")
        allowed, handler = routes[path]
        if method != allowed:
            raise BadRequest(405, f"{path} takes {allowed}, not {method}")
        if self.draining and path == "/predict":
            raise BadRequest(503, "the server is shutting down; retry on another instance")
        return handler(environ)

    def _health(self, environ: Environ) -> tuple[int, Any]:
        return 200, {"status": "draining" if self.draining else "ok"}

    def _info(self, environ: Environ) -> tuple[int, Any]:
        backend = self.backend
        thresholds = ({"thresholds": {name: float(t) for name, t in zip(backend.labels, backend.thresholds)}}
                      if backend.multilabel else {})
        return 200, {"labels": backend.labels, "pairs": backend.is_pair, "task": "classification",
                     **backend.info, **thresholds,
                     "limits": {"max_body_bytes": self.limits.max_body_bytes,
                                "max_texts": self.limits.max_texts, "max_chars": self.limits.max_chars}}

    def _predict(self, environ: Environ) -> tuple[int, Any]:
        texts, pairs = self._parse(self._body(environ))
        future = self.batcher.submit(texts, pairs)
        try:
            probabilities = future.result(timeout=self.limits.timeout)
        except FutureTimeout:
            raise BadRequest(503, f"no answer within {self.limits.timeout:g} s; the server is "
                                  "overloaded") from None
        labels, thresholds = self.backend.labels, self.backend.thresholds
        if self.backend.multilabel:  # every label whose probability reaches its threshold
            return 200, {"predictions": [
                {"labels": [name for name, p, t in zip(labels, row, thresholds) if p >= t],
                 "probabilities": {name: float(p) for name, p in zip(labels, row)}} for row in probabilities]}
        return 200, {"predictions": [
            {"label": labels[int(row.argmax())],
             "probabilities": {name: float(p) for name, p in zip(labels, row)}} for row in probabilities]}

    def _body(self, environ: Environ) -> Any:
        content_type = environ.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise BadRequest(415, f"send JSON with Content-Type: application/json (got {content_type!r})")
        length = environ.get("CONTENT_LENGTH") or ""
        if not length.isdigit():
            raise BadRequest(411, "the request needs a Content-Length header")
        if int(length) > self.limits.max_body_bytes:
            raise BadRequest(413, f"the body is {length} bytes; at most {self.limits.max_body_bytes}")
        raw = environ["wsgi.input"].read(int(length))
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError) as error:
            raise BadRequest(400, f"the body is not valid JSON: {error}") from None

    def _parse(self, body: Any) -> tuple[list[str], list[str] | None]:
        """``texts`` (and ``pairs`` for a pair model) from ``{"texts": [...], "pairs": [...]}``."""
        if not isinstance(body, dict):
            raise BadRequest(400, 'the body must be a JSON object such as {"texts": ["some text"]}')
        unknown = sorted(set(body) - {"texts", "pairs"})
        if unknown:
            raise BadRequest(400, f"unknown field {unknown[0]!r}; fields are 'texts' and 'pairs'")
        texts = self._strings(body, "texts")
        if self.backend.is_pair and "pairs" not in body:
            raise BadRequest(400, "this model reads text pairs: give 'pairs', one second text per text")
        if not self.backend.is_pair and "pairs" in body:
            raise BadRequest(400, "this model reads single texts: leave out 'pairs'")
        pairs = self._strings(body, "pairs") if self.backend.is_pair else None
        if pairs is not None and len(pairs) != len(texts):
            raise BadRequest(400, f"'pairs' has {len(pairs)} items and 'texts' {len(texts)}; give one each")
        return texts, pairs

    def _strings(self, body: dict, field: str) -> list[str]:
        if field not in body:
            raise BadRequest(400, f"missing field {field!r}: a list of strings")
        values = body[field]
        if not isinstance(values, list):
            raise BadRequest(400, f"{field!r} must be a list of strings, got {type(values).__name__}")
        if not values:
            raise BadRequest(400, f"{field!r} is empty; give at least one text")
        if len(values) > self.limits.max_texts:
            raise BadRequest(413, f"{len(values)} texts in one request; at most {self.limits.max_texts}")
        for n, value in enumerate(values):
            if not isinstance(value, str):
                raise BadRequest(400, f"{field}[{n}] must be a string, got {type(value).__name__}")
            if not value.strip():
                raise BadRequest(422, f"{field}[{n}] is empty")
            if len(value) > self.limits.max_chars:
                raise BadRequest(413, f"{field}[{n}] has {len(value)} characters; "
                                      f"at most {self.limits.max_chars}")
        return values
