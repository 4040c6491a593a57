"""Access to a labelling server that others can reach: one token, asked of every request.

``peftal label start --host`` on anything but a loopback address serves the texts to a network;
then every page, file and API route answers **401** unless the request carries the project's
token (``--token``, or one made with :func:`secrets.token_urlsafe` and printed at start). On
loopback a token is asked only when ``--token`` is given. The token may come

- as ``Authorization: Bearer TOKEN`` (scripts);
- as ``?token=TOKEN`` on a page load (the link printed at start): the server answers with a
  redirect to the same address without the token, setting an ``HttpOnly`` cookie, so the token
  leaves the address bar and the page's own requests carry the cookie (no script can read it);
- as that cookie.

Tokens are compared with :func:`hmac.compare_digest` (no timing leak). Everyone shares the one
token; each annotator still labels under their own name. The server speaks plain HTTP: on a
network you do not trust, put it behind an HTTPS proxy, or anyone on the path can read the token.
"""

from __future__ import annotations

import hmac
import re
import secrets
from urllib.parse import urlencode

from flask import Flask, Response, jsonify, redirect, request

from peftal.errors import UsageError

TOKEN_BYTES = 32  # 43 URL-safe characters: 256 bits
MIN_TOKEN_LENGTH = 16
_TOKEN_CHARACTERS = re.compile(r"[A-Za-z0-9._~-]+")  # unreserved in URLs: no escaping in ?token=


def new_token() -> str:
    """A fresh random token, URL-safe."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def check_token(token: str) -> str:
    """``token`` if it can be used (``--token``); a :class:`UsageError` naming the rule if not."""
    if len(token) < MIN_TOKEN_LENGTH or not _TOKEN_CHARACTERS.fullmatch(token):
        raise UsageError(f"--token must be at least {MIN_TOKEN_LENGTH} characters of letters, digits "
                         "and . _ ~ - (leave it out to have a random one made)")
    return token


def cookie_name() -> str:
    """The cookie of this server: browsers share cookies between the ports of a host, so two
    servers on one machine must not overwrite each other's."""
    port = request.host.rsplit(":", 1)[-1] if request.host.rsplit(":", 1)[-1].isdigit() else "80"
    return f"peftal_label_token_{port}"


def require_token(app: Flask, token: str) -> None:
    """Make every request of ``app`` carry ``token`` (see the module docstring)."""
    expected = check_token(token).encode()

    def matches(given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode("utf-8", "surrogatepass"),
                                                          expected)

    @app.before_request
    def _check_token() -> Response | tuple[Response, int] | None:
        header = request.headers.get("Authorization", "")
        bearer = header[7:].strip() if header[:7].lower() == "bearer " else None
        query = request.args.get("token")
        # A page link with the token: always moved into the cookie, out of the address bar.
        if request.method == "GET" and not request.path.startswith("/api/") and matches(query):
            rest = [(key, value) for key, value in request.args.items(multi=True) if key != "token"]
            answer = redirect(request.path + (f"?{urlencode(rest)}" if rest else ""), code=303)
            answer.set_cookie(cookie_name(), token, httponly=True, samesite="Lax", path="/")
            answer.headers["Cache-Control"] = "no-store"
            answer.headers["Referrer-Policy"] = "no-referrer"
            return answer
        if matches(bearer) or matches(request.cookies.get(cookie_name())):
            return None
        message = ("this labelling server asks for its access token: open the link with ?token= that "
                   "`peftal label start` printed, or send 'Authorization: Bearer TOKEN'")
        if request.path.startswith("/api/"):
            answer = jsonify(error=message)
        else:
            answer = Response(message + "\n", mimetype="text/plain")
        answer.headers["WWW-Authenticate"] = 'Bearer realm="peftal label"'
        return answer, 401
