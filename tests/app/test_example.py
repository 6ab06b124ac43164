"""The Flask-style example application (examples/flask_style) works end to end."""

from __future__ import annotations

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
    assert missing.status_code == 404 and missing.json == {"error": "Not Found", "status": 404}
    assert client.get("/api/whoami").json == {"user": "demo", "notes": 1}
    assert client.delete("/api/notes/1").status_code == 204
    assert client.get("/api/notes").json == []
    # As in Flask, a blueprint's error handlers do not see URLs that matched no rule.
    assert client.put("/api/notes").status_code == 405
    assert b"buy milk" not in client.get("/").data


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
