"""The access token: 401 without it, a Bearer header, a page link that sets an HttpOnly cookie."""

from __future__ import annotations

import json

import pytest

from peftal.label.server import create_app

TOKEN = "s3cret-Token_0123456789"


@pytest.fixture
def client(make_project):
    store, settings, _ = make_project(n=5)
    return create_app(store, settings, name="demo", token=TOKEN).test_client()


@pytest.mark.parametrize("method, path", [("GET", "/"), ("GET", "/review"), ("GET", "/static/app.js"),
                                          ("GET", "/api/stats"), ("POST", "/api/next")])
def test_no_token_no_entry(client, method, path):
    body = json.dumps({"annotator": "Ann"}) if method == "POST" else None
    for headers in ({}, {"Authorization": "Bearer wrong-token-wrong-token"}, {"Authorization": TOKEN},
                    {"Cookie": "peftal_label_token_80=nope"}):
        answer = client.open(path, method=method, data=body, content_type="application/json",
                             headers=headers)
        assert answer.status_code == 401, headers
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        if path.startswith("/api/"):
            assert "access token" in answer.get_json()["error"]
        else:
            assert answer.mimetype == "text/plain" and "access token" in answer.get_data(as_text=True)


def test_every_route_of_the_app_asks_for_the_token(make_project):
    """Read from the app's URL map, so a route added later is covered without naming it here."""
    store, settings, _ = make_project(n=5)
    app = create_app(store, settings, name="demo", token=TOKEN)
    client = app.test_client()
    rules = list(app.url_map.iter_rules())
    assert {"/api/search", "/api/take", "/api/model-view", "/model"} <= {rule.rule for rule in rules}
    for rule in rules:
        path = rule.rule.replace("<int:example_id>", "0").replace("<path:filename>", "app.js")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            answer = client.open(path, method=method, data=json.dumps({"annotator": "Ann", "id": 0}),
                                 content_type="application/json")
            assert answer.status_code == 401, (method, path)


def test_a_bearer_header_opens_every_route(client):
    headers = {"Authorization": f"Bearer {TOKEN}"}
    assert client.get("/api/stats", headers=headers).status_code == 200
    answer = client.post("/api/next", data=json.dumps({"annotator": "Ann"}),
                         content_type="application/json", headers=headers)
    assert answer.status_code == 200 and "text" in answer.get_json()
    assert client.get("/", headers={"Authorization": f"bearer {TOKEN}"}).status_code == 200


def test_the_page_link_sets_an_http_only_cookie_and_leaves_the_address(client):
    answer = client.get(f"/review?token={TOKEN}&x=1")
    assert answer.status_code == 303 and answer.headers["Location"] == "/review?x=1"
    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith(f"peftal_label_token_80={TOKEN};")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    # The test client keeps the cookie, as a browser does: the page and its requests work.
    assert client.get("/review").status_code == 200
    assert client.get("/api/stats").status_code == 200
    assert client.get(f"/?token={TOKEN}").status_code == 303  # with the cookie too: out of the address
    assert client.post("/api/next", data=json.dumps({"annotator": "Ann"}),
                       content_type="application/json").status_code == 200


def test_the_query_token_opens_pages_only_and_a_wrong_one_nothing(make_project):
    store, settings, _ = make_project(n=5)
    client = create_app(store, settings, token=TOKEN).test_client()
    assert client.get(f"/api/stats?token={TOKEN}").status_code == 401  # scripts send the header
    assert client.get("/?token=wrong-token-wrong-token").status_code == 401
    assert client.get("/api/stats").status_code == 401


def test_tokens_are_compared_in_constant_time(client, monkeypatch):
    import hmac

    compared = []
    original = hmac.compare_digest
    monkeypatch.setattr(hmac, "compare_digest", lambda a, b: compared.append((a, b)) or original(a, b))
    assert client.get("/api/stats", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert compared == [(TOKEN.encode(), TOKEN.encode())]


def test_no_token_asked_without_one(make_project):
    store, settings, _ = make_project(n=5)
    assert create_app(store, settings).test_client().get("/api/stats").status_code == 200


@pytest.mark.parametrize("token", ["short", "has space in it, long enough", "ünïcode-token-long-enough",
                                   "a/b?c=d&e-long-enough"])
def test_unusable_tokens_are_refused(token):
    from peftal.errors import UsageError
    from peftal.label.access import check_token, new_token

    with pytest.raises(UsageError, match="--token must be at least 16 characters"):
        check_token(token)
    made = new_token()
    assert check_token(made) == made and len(made) >= 40 and made != new_token()
