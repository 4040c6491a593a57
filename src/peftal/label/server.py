"""The labelling web server: the page and the JSON API it uses (docs/labelling.md lists both).

Flask, served by waitress (the production WSGI server `peftal serve` runs on) with a pool of
threads, each request with its own SQLite connection. Every answer to a write is sent only after
the store has committed it. Bad requests (malformed JSON, an unknown label or id) get a 4xx
with ``{"error": "..."}`` and store nothing.

Every request that changes state is a POST (leasing the next example included; GETs only read),
and POSTs must carry ``Content-Type: application/json``: a web page on another site cannot send
that to 127.0.0.1 without a CORS preflight, which this server never grants, so such a page cannot
label, or lease every text, on the user's behalf. On a loopback address the server also answers
only requests whose Host is a loopback name (no DNS rebinding). Bodies over 64 KiB get a 413, a
full disk a 503, and no page of another site may frame this one. With a token (``--token``, and
always off loopback) every request without it gets a 401 first (:mod:`peftal.label.access`).
The reviewer's page and routes are :mod:`peftal.label.review`'s; search and the pick of a text
found, :mod:`peftal.label.search`'s; the model view, :mod:`peftal.label.model_view`'s.
"""

from __future__ import annotations

import sqlite3
from importlib import resources
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from peftal.integrity import cannot_store, is_disk_full
from peftal.label.access import require_token
from peftal.label.api_input import id_of, in_range, json_body, label_value, person
from peftal.label.errors import LabelError
from peftal.label.model_view import register_model_view
from peftal.label.project import LabelSettings
from peftal.label.review import register_review
from peftal.label.search import register_search
from peftal.label.store import LabelStore

MAX_REQUEST_BYTES = 64 * 1024  # a label request is a few hundred bytes
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
STATIC = Path(str(resources.files("peftal.label") / "static"))


def create_app(store: LabelStore, settings: LabelSettings, *, name: str = "project",
               trainer: Any = None, trusted_hosts: list[str] | None = None,
               token: str | None = None) -> Flask:
    """The Flask app of one project.

    Args:
        store: The project's store.
        settings: Its settings (labels, budget, lease time).
        name: Shown in the page title.
        trainer: A handle with ``status() -> dict`` on the background trainer, if one runs.
        trusted_hosts: Host names the server answers to (``None``: any).
        token: If given, every request must carry it (:mod:`peftal.label.access`), else 401.
    """
    app = Flask(__name__, static_folder=str(STATIC), static_url_path="/static")
    app.config["TRUSTED_HOSTS"] = trusted_hosts
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES  # larger bodies get a 413
    app.json.sort_keys = False
    if token is not None:
        require_token(app, token)  # first: nothing below runs for a request without the token

    @app.after_request
    def _no_framing(response: Response) -> Response:
        # No other site may show the page in a frame (clickjacking a label or an undo).
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    @app.errorhandler(sqlite3.OperationalError)
    def _store_failed(error: sqlite3.OperationalError) -> tuple[Response, int]:
        if is_disk_full(error):
            return jsonify(error="the disk is full: nothing was stored; free some space and try "
                                 "again"), 503
        if cannot_store(error):
            return jsonify(error=f"the store cannot write ({error}; is the disk full?): nothing was "
                                 "stored; try again later"), 503
        raise error

    @app.teardown_request
    def _close(_error: BaseException | None) -> None:
        store.close()  # one connection per request thread, closed with it

    @app.errorhandler(LabelError)
    def _refused(error: LabelError) -> tuple[Response, int]:
        return jsonify(error=str(error)), error.status

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> tuple[Response, int] | HTTPException:
        if request.path.startswith("/api/"):
            return jsonify(error=error.description), error.code or 500
        return error

    _read_routes(app, store, settings, name, trainer)
    _write_routes(app, store, settings)
    review = register_review(app, store, settings, store.path.parent)
    register_model_view(app, store, settings, review)
    register_search(app, store, settings)
    return app


def _read_routes(app: Flask, store: LabelStore, settings: LabelSettings, name: str,
                 trainer: Any) -> None:
    labels = list(settings.labels)

    @app.get("/")
    def page() -> Response:
        response = app.send_static_file("index.html")
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.get("/api/project")
    def project() -> Response:
        return jsonify(name=name, labels=labels, shortcuts={label: str(i + 1) for i, label in
                                                           enumerate(labels[:9])},
                       is_pair=settings.text_pair_column is not None, budget=settings.budget,
                       query_size=settings.query_size, method=settings.method,
                       strategy=settings.strategy, cold_start=settings.cold_start,
                       multi_label=settings.multi_label)

    @app.get("/api/example/<int:example_id>")
    def example(example_id: int) -> Response:
        return jsonify(store.example(in_range(example_id)))

    @app.get("/api/stats")
    def stats() -> Response:
        counts = store.counts(settings.multi_label)
        model = store.get_meta("model", {})
        model.setdefault("status", "none")
        if model.get("accuracy") is not None:
            model["accuracy_method"] = (f"{model['accuracy_folds']}-fold cross-validation on the "
                                        f"{model['accuracy_on']} labels given by then")
        goal = settings.budget if settings.budget is not None else counts["pool"]
        until = max(0, settings.query_size - store.new_labels_since(int(model.get("last_seq", 0))))
        # Who suggests now ("probe" / "model" / none) and the ranking's version (the page asks
        # again for the suggestion on screen when it changes); the probe's own record.
        ranking = store.get_meta("ranking", {"suggester": None, "version": 0})
        return jsonify(**counts, budget=goal, query_size=settings.query_size,
                       overlap=settings.overlap, labels_until_retrain=until,
                       model=model, ranking=ranking, probe=store.get_meta("probe"),
                       embedding=store.get_meta("embedding"),
                       trainer=trainer.status() if trainer is not None else None)

    @app.get("/api/guidelines")
    def guidelines() -> Response:
        from peftal.label import guidelines as annotation_guidelines

        text = annotation_guidelines.load(store.path.parent)
        return jsonify(markdown=text, html=None if text is None else annotation_guidelines.render(text))

    @app.get("/api/agreement")
    def agreement() -> Response:
        from peftal.label.agreement import measure_project

        rows = store.live_labels()
        found = measure_project([(r["example_id"], r["annotator"], r["label"]) for r in rows], settings)
        return jsonify(overlap=settings.overlap, **found.to_dict())


def _write_routes(app: Flask, store: LabelStore, settings: LabelSettings) -> None:
    # A POST with a JSON body, not a GET: handing out an example leases it, and a foreign page can
    # fire a GET (<img src=...>) but cannot send JSON here without a preflight this server refuses.
    @app.post("/api/next")
    def next_example() -> Response | tuple[str, int]:
        annotator = person(json_body().get("annotator"))
        item = store.next_for(annotator, lease_seconds=settings.lease_seconds, budget=settings.budget,
                              overlap=settings.overlap)
        if item is None:
            return "", 204
        return jsonify(item)

    @app.post("/api/label")
    def label() -> Response:
        body = json_body()
        example_id = id_of(body)
        annotator = person(body.get("annotator"))
        value = label_value(body, settings)
        created = store.add_label(example_id, value, annotator, overlap=settings.overlap)
        return jsonify(ok=True, id=example_id, duplicate=not created)

    @app.post("/api/undo")
    def undo() -> Response:
        annotator = person(json_body().get("annotator"))
        item = store.undo(annotator, lease_seconds=settings.lease_seconds)
        if item is None:
            raise LabelError(f"annotator {annotator!r} has no label to undo")
        return jsonify(ok=True, example=item)

    @app.post("/api/skip")
    def skip() -> Response:
        body = json_body()
        example_id = id_of(body)
        store.skip(example_id, person(body.get("annotator")))
        return jsonify(ok=True)
