"""Teardown functions run before the response is sent, on every backend (Flask's order).

Flask's ``wsgi_app`` pops the request context, running ``teardown_request`` and
``teardown_appcontext``, before the WSGI server writes the response.  A client that has
read a response may therefore rely on that request's teardown having run: the next
request, on the same connection or on a new one, must see what the teardown recorded.
The teardown here is slow on purpose, so that a server writing first would lose the race
nearly every time.
"""

from __future__ import annotations

import http.client
import json
import time
from typing import Any

import pytest
from crosswind.app import App, Response, g, request, stream_with_context

from tests.support.servers import BACKENDS, running_server

pytestmark = [pytest.mark.network, pytest.mark.timeout(60)]

ROUNDS = 6
TIMEOUT = 10.0
SLOW_TEARDOWN = 0.02


def make_app() -> tuple[App, dict[str, list[str]]]:
    app = App(__name__)
    recorded: dict[str, list[str]] = {"request": [], "appcontext": []}

    @app.before_request
    def remember() -> None:
        g.ident = request.args.get("id", "")

    @app.teardown_request
    def after_request(error: BaseException | None) -> None:
        time.sleep(SLOW_TEARDOWN)
        recorded["request"].append(request.args.get("id", ""))

    @app.teardown_appcontext
    def after_appcontext(error: BaseException | None) -> None:
        time.sleep(SLOW_TEARDOWN)
        recorded["appcontext"].append(g.ident)  # the request context is gone by now

    @app.route("/work")
    def work() -> str:
        if request.args.get("fail"):
            raise RuntimeError("the view failed")
        return "done"

    @app.route("/stream")
    def stream() -> Any:
        def generate() -> Any:
            yield "from " + request.args["id"]

        return Response(stream_with_context(generate()), mimetype="text/plain")

    @app.route("/seen")
    def seen() -> Any:
        wanted = request.args["id"]
        return {name: wanted in ids for name, ids in recorded.items()}

    return app, recorded


def get(connection: http.client.HTTPConnection, path: str) -> tuple[int, bytes]:
    connection.request("GET", path)
    response = connection.getresponse()
    return response.status, response.read()


@pytest.mark.parametrize("connection", ["same", "new"])
@pytest.mark.parametrize("backend", BACKENDS)
def test_the_next_request_sees_the_teardown_of_the_last(backend: str, connection: str) -> None:
    app, _ = make_app()
    with running_server(backend, app) as server:
        for round_ in range(ROUNDS):
            for kind, expected in (("ok", 200), ("fail", 500)):
                ident = f"{kind}-{round_}"
                query = f"id={ident}" + ("&fail=1" if kind == "fail" else "")
                first = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT)
                try:
                    assert get(first, f"/work?{query}")[0] == expected
                    if connection == "same":
                        status, body = get(first, f"/seen?id={ident}")
                    else:
                        second = http.client.HTTPConnection(
                            "127.0.0.1", server.port, timeout=TIMEOUT
                        )
                        try:
                            status, body = get(second, f"/seen?id={ident}")
                        finally:
                            second.close()
                finally:
                    first.close()
                assert status == 200
                assert json.loads(body) == {"request": True, "appcontext": True}, ident


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_streamed_body_still_has_its_context(backend: str) -> None:
    app, recorded = make_app()
    with running_server(backend, app) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT)
        try:
            assert get(connection, "/stream?id=s1") == (200, b"from s1")
        finally:
            connection.close()
    assert recorded == {"request": ["s1"], "appcontext": ["s1"]}
