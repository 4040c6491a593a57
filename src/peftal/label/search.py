"""Find and filter: search the pool by keywords or a regular expression, and pick a text to label.

``GET /api/search`` reads the texts from the store in the order the app hands them out (the
ranking) and keeps those that match, counting every match and returning the first ``limit``.

- **Keywords** (default): every whitespace-separated word must occur in the text (or its pair),
  case-insensitively (:meth:`str.casefold`, so ``STRASSE`` finds ``Straße``), anywhere in a word.
- **A regular expression** (``regex=1``): searched in the text and in its pair with the `regex
  <https://pypi.org/project/regex/>`_ package in its ``re``-compatible mode (``V0``), because
  Python's own ``re`` cannot be stopped: a pattern such as ``(a|aa)+$`` backtracks for hours on
  a long text, and one such request would hold a server thread for that long. ``regex`` takes a
  timeout per match: one text gets :data:`MATCH_SECONDS`, the whole pool :data:`REGEX_SECONDS`,
  then a 400 says the pattern is too slow. Patterns are case-sensitive as in ``re`` (start one
  with ``(?i)`` to ignore case) and at most :data:`MAX_QUERY_LENGTH` characters long.
- **Filters**, applied in SQL before any text is matched: ``status`` (``unlabelled``, the default:
  no live or final label; ``labelled``; ``all``), ``suggested`` (the label the current suggester
  — the linear probe or the PEFT model, as ``/api/next`` shows it — suggests) and
  ``min_confidence`` / ``max_confidence`` (its probability, 0 to 1, bounds included). Texts without
  a suggestion are left out when any of these three is given.

A text found is labelled through ``POST /api/take`` (:meth:`~peftal.label.annotations.Annotations.
take`): it is leased to the annotator as ``/api/next`` would lease it, so two annotators are never
handed the same text, and it is then labelled, undone or skipped like any other.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, jsonify, request

from peftal.label.api_input import id_of, json_body, person, read_limit
from peftal.label.errors import LabelError

MAX_QUERY_LENGTH = 500
MATCH_SECONDS = 0.5  # a regular expression on one text; (a|aa)+$ on 30 "a"s takes more
REGEX_SECONDS = 10.0  # a regular expression over the pool (100,000 AG News texts: 0.8 s)
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
STATUSES = ("unlabelled", "labelled", "all")

_LABELLED = ("(EXISTS (SELECT 1 FROM labels l WHERE l.example_id = e.id AND l.undone_at IS NULL) "
             "OR EXISTS (SELECT 1 FROM final_labels f WHERE f.example_id = e.id))")


@dataclass(frozen=True)
class Query:
    """One search, checked: what ``GET /api/search`` was asked."""

    text: str = ""
    regex: bool = False
    status: str = "unlabelled"
    suggested: str | None = None
    min_confidence: float | None = None
    max_confidence: float | None = None
    limit: int = DEFAULT_LIMIT
    multi_label: bool = False  # ``suggested``: a label among the suggested ones

    @classmethod
    def from_args(cls, args: Any, labels: list[str], multi_label: bool = False) -> Query:
        """The query of a request's arguments; a :class:`LabelError` (400) naming a bad one."""
        text = args.get("q", "")
        if len(text) > MAX_QUERY_LENGTH:
            raise LabelError(f"\"q\" is longer than {MAX_QUERY_LENGTH} characters")
        regex = args.get("regex", "0")
        if regex not in ("0", "1"):
            raise LabelError(f"\"regex\" must be 0 or 1, got {regex!r}")
        if regex == "1" and not text:
            raise LabelError("\"q\" (the regular expression) is empty")
        status = args.get("status", "unlabelled")
        if status not in STATUSES:
            raise LabelError(f"\"status\" must be one of {', '.join(STATUSES)}, got {status!r}")
        suggested = args.get("suggested") or None
        if suggested is not None and suggested not in labels:
            raise LabelError(f"unknown label {suggested!r} in \"suggested\"; valid labels: "
                             f"{', '.join(labels)}")
        low, high = (_fraction(args.get(key), key) for key in ("min_confidence", "max_confidence"))
        if low is not None and high is not None and low > high:
            raise LabelError(f"\"min_confidence\" ({low}) is above \"max_confidence\" ({high})")
        limit = read_limit(args.get("limit"), default=DEFAULT_LIMIT, maximum=MAX_LIMIT)
        return cls(text, regex == "1", status, suggested, low, high, limit, multi_label)


def search(store: Any, query: Query) -> dict[str, Any]:
    """``{"total", "items", "seconds"}``: how many texts match ``query`` in all, and the first
    ``query.limit`` of them in ranking order, each ``{"id", "text", ["text_pair",] "suggestion",
    "confidence", "labelled", "leased_by"}`` (``leased_by``: who holds it now, if anyone)."""
    import heapq

    started = time.monotonic()
    matches = _matcher(query, started + REGEX_SECONDS)
    where, values = _filters(query)
    # The texts in id order (the table's own order: twice as fast as in ranking order on 100,000
    # texts), plain tuples; the first `limit` matches by ranking position are picked afterwards.
    # Texts the ranking does not hold follow its texts in cold-start order (LabelStore.publish_ranking).
    scan = ("SELECT e.id, e.text, e.text_pair, COALESCE(r.position, ? + e.cold_position) FROM examples e "
            f"LEFT JOIN ranking r ON r.example_id = e.id WHERE {where}")
    with store.read() as db:
        ordered = store.ordered(db)
        ranked = db.execute("SELECT COUNT(*) FROM ranking").fetchone()[0] if ordered is None else ordered
        cursor = db.cursor()
        cursor.row_factory = None
        found = [(position, example_id) for example_id, text, pair, position
                 in cursor.execute(scan, [ranked, *values]) if matches(text, pair)]
        first = [example_id for _, example_id in heapq.nsmallest(query.limit, found)]
        marks = ",".join("?" * len(first))
        rows = {row["id"]: row for row in db.execute(
            "SELECT e.id, e.text, e.text_pair, r.suggestion, r.confidence, "
            f"{_LABELLED} AS labelled, s.annotator AS leased_by FROM examples e "
            "LEFT JOIN ranking r ON r.example_id = e.id "
            "LEFT JOIN leases s ON s.example_id = e.id AND s.expires_at > ? "
            f"WHERE e.id IN ({marks})", [time.time(), *first])}
    items = []
    for example_id in first:
        row = rows[example_id]
        item = {"id": row["id"], "text": row["text"]}
        if row["text_pair"] is not None:
            item["text_pair"] = row["text_pair"]
        item.update(suggestion=row["suggestion"], confidence=row["confidence"],
                    labelled=bool(row["labelled"]), leased_by=row["leased_by"])
        items.append(item)
    return {"total": len(found), "items": items, "seconds": round(time.monotonic() - started, 3)}


def _filters(query: Query) -> tuple[str, list[Any]]:
    """The SQL condition of the filters, and its parameters."""
    conditions, values = ["1"], []
    if query.status == "unlabelled":
        conditions.append(f"NOT {_LABELLED}")
    elif query.status == "labelled":
        conditions.append(_LABELLED)
    if query.suggested is not None and query.multi_label:  # a stored set: a JSON list of names
        conditions.append("EXISTS (SELECT 1 FROM json_each(r.suggestion) WHERE json_each.value = ?)")
        values.append(query.suggested)
    elif query.suggested is not None:
        conditions.append("r.suggestion = ?")
        values.append(query.suggested)
    if query.min_confidence is not None:
        conditions.append("r.confidence >= ?")
        values.append(query.min_confidence)
    if query.max_confidence is not None:
        conditions.append("r.confidence <= ?")
        values.append(query.max_confidence)
    return " AND ".join(conditions), values


def _matcher(query: Query, deadline: float) -> Any:
    """``matches(text, pair) -> bool`` for the keywords or the regular expression of ``query``."""
    if query.regex:
        import regex

        try:
            pattern = regex.compile(query.text, regex.V0)
        except (regex.error, OverflowError, RecursionError) as error:
            raise LabelError(f"bad regular expression: {error}") from None

        def found(text: str | None) -> bool:
            if text is None:
                return False
            left = deadline - time.monotonic()
            try:
                if left <= 0:
                    raise TimeoutError
                return pattern.search(text, timeout=min(left, MATCH_SECONDS)) is not None
            except TimeoutError:
                raise LabelError(f"the regular expression is too slow (over {MATCH_SECONDS:g} s on one "
                                 f"text, or {REGEX_SECONDS:g} s over the pool); make it simpler, "
                                 "e.g. without nested repeats like (a+)+") from None

        return lambda text, pair: found(text) or found(pair)
    words = [word.casefold() for word in query.text.split()]
    if not words:
        return lambda text, pair: True

    def has_all(text: str, pair: str | None) -> bool:
        folded = text.casefold() if pair is None else f"{text}\n{pair}".casefold()
        return all(word in folded for word in words)

    return has_all


def _fraction(value: str | None, name: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not 0 <= number <= 1:
        raise LabelError(f"\"{name}\" must be a number from 0 to 1, got {value!r}")
    return number



def register_search(app: Flask, store: Any, settings: Any) -> None:
    """``GET /api/search`` and ``POST /api/take`` (the text found, leased to the annotator)."""
    labels = list(settings.labels)

    @app.get("/api/search")
    def find() -> Response:
        return jsonify(search(store, Query.from_args(request.args, labels, settings.multi_label)))

    @app.post("/api/take")
    def take() -> Response:
        body = json_body()
        example_id = id_of(body)
        annotator = person(body.get("annotator"))
        return jsonify(store.take(example_id, annotator, lease_seconds=settings.lease_seconds,
                                  budget=settings.budget, overlap=settings.overlap))
