"""The Flask-style example application (examples/flask_style) works end to end."""

from __future__ import annotations

import gzip

import httpx
import pytest
from crosswind.app import App

from examples.flask_style import create_app
from tests.support.servers import running_server


@pytest.fixture
def app() -> App:
    return create_app({"SECRET_KEY": "example-tests"})


def test_login_flow_with_flashes(app: App) -> None:
    client = app.test_client()
    assert b"Sign in as" in client.get("/").data
    refused = client.post("/auth/login", data={"username": "demo", "password": "wrong"})
    assert refused.status_code == 401 and b"Wrong username or password." in refused.data
    response = client.post(
        "/auth/login", data={"username": "demo", "password": "demo-password"}, follow_redirects=True
    )
    assert response.status_code == 200
    assert b"Welcome, demo!" in response.data and b"demo's notes" in response.data
    assert b"Welcome, demo!" not in client.get("/").data  # a flash is shown once
    out = client.post("/auth/logout", follow_redirects=True)
    assert b"You are signed out." in out.data and b"Sign in as" in out.data


def test_json_api(app: App) -> None:
    client = app.test_client()
    assert client.get("/api/notes").status_code == 401
    client.post("/auth/login", data={"username": "demo", "password": "demo-password"})
    created = client.post("/api/notes", json={"text": " buy milk "})
    assert created.status_code == 201 and created.json == {"id": 1, "owner": "demo", "text": "buy milk"}
    assert client.post("/api/notes", json={"text": ""}).status_code == 400
    assert client.get("/api/notes").json == [{"id": 1, "owner": "demo", "text": "buy milk"}]
    assert client.get("/api/notes/1").json["text"] == "buy milk"
    missing = client.get("/api/notes/9")
    assert missing.status_code == 404
    assert missing.json == {"error": "Not Found", "status": 404, "message": "there is no note with that id"}
    assert client.get("/api/whoami").json == {"user": "demo", "notes": 1}
    assert client.delete("/api/notes/1").status_code == 204
    assert client.get("/api/notes").json == []
    assert b"buy milk" not in client.get("/").data


@pytest.mark.parametrize(
    "body",
    [b"[]", b'[{"text": "a list"}]', b'"just a string"', b"42", b"null", b"{not json"],
    ids=["empty-list", "list", "string", "number", "null", "malformed"],
)
def test_a_body_that_is_not_a_json_object_is_a_400_with_a_message(app: App, body: bytes) -> None:
    client = app.test_client()
    client.post("/auth/login", data={"username": "demo", "password": "demo-password"})
    response = client.post("/api/notes", data=body, content_type="application/json")
    assert response.status_code == 400 and response.mimetype == "application/json"
    assert response.json == {
        "error": "Bad Request",
        "status": 400,
        "message": 'the body must be a JSON object such as {"text": "..."}',
    }
    assert client.get("/api/notes").json == []


def test_api_errors_are_json_even_where_no_rule_matched(app: App) -> None:
    client = app.test_client()
    assert client.get("/api/notes").json == {"error": "Unauthorized", "status": 401, "message": "sign in first"}
    client.post("/auth/login", data={"username": "demo", "password": "demo-password"})
    # A blueprint's own error handlers never see these, as in Flask: the app-level one does.
    not_allowed = client.put("/api/notes")
    assert not_allowed.status_code == 405 and not_allowed.json["error"] == "Method Not Allowed"
    assert set(not_allowed.headers["Allow"].split(", ")) >= {"GET", "POST"}
    nowhere = client.get("/api/no/such/thing")
    assert nowhere.status_code == 404 and nowhere.json["status"] == 404 and nowhere.json["message"]
    empty = client.post("/api/notes", json={"text": "  "})
    assert empty.json == {"error": "Bad Request", "status": 400, "message": "a non-empty 'text' is required"}
    # Outside the API the HTML error pages stay.
    page = client.get("/no/such/page")
    assert page.status_code == 404 and page.mimetype == "text/html"


def test_pages_and_json_are_gzipped_for_clients_that_accept_it(app: App) -> None:
    client = app.test_client()
    client.post("/auth/login", data={"username": "demo", "password": "demo-password"})
    for number in range(40):
        client.post("/api/notes", json={"text": f"note {number}"})
    client.get("/")  # shows the welcome flash, once
    for path in ("/", "/api/notes"):
        plain = client.get(path)
        zipped = client.get(path, headers={"Accept-Encoding": "gzip, deflate"})
        assert "Accept-Encoding" in plain.headers["Vary"] and "Accept-Encoding" in zipped.headers["Vary"]
        assert "Content-Encoding" not in plain.headers
        assert zipped.headers["Content-Encoding"] == "gzip"
        assert int(zipped.headers["Content-Length"]) == len(zipped.data) < len(plain.data)
        assert gzip.decompress(zipped.data) == plain.data
    refused = client.get("/", headers={"Accept-Encoding": "gzip;q=0, identity"})
    assert "Content-Encoding" not in refused.headers
    # A static file is passed through as it is (it may answer a Range request).
    css = client.get("/static/style.css", headers={"Accept-Encoding": "gzip"})
    assert css.status_code == 200 and "Content-Encoding" not in css.headers


def test_static_file(app: App) -> None:
    response = app.test_client().get("/static/style.css")
    assert response.status_code == 200 and response.mimetype == "text/css"


@pytest.mark.network
def test_example_over_a_socket_on_the_threads_backend(app: App) -> None:
    with running_server("threads", app) as handle, httpx.Client(
        base_url=f"http://127.0.0.1:{handle.port}", timeout=10
    ) as client:
        client.post("/auth/login", data={"username": "demo", "password": "demo-password"})
        assert client.post("/api/notes", json={"text": "over the wire"}).status_code == 201
        assert client.get("/api/whoami").json() == {"user": "demo", "notes": 1}


def test_demo_serves_it_under_flask_next_to_the_tornado_style_apps() -> None:
    from crosswind.testing import Client

    from examples.demo import make_demo

    client = Client(make_demo())
    assert 'href="/flask/"' in client.get("/").text
    page = client.get("/flask/")
    assert page.status_code == 200 and 'href="/flask/static/style.css"' in page.text
    assert client.get("/flask/static/style.css").status_code == 200
    assert client.get("/flask/api/notes").status_code == 401
    assert client.get("/api/info").json()["server"] == "crosswind"
