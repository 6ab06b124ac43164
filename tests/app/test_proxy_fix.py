"""``ProxyFix`` against werkzeug's: the same fields in, the same values out.

As WSGI middleware the whole environ is compared; wrapped around a
Flask-style app served by crosswind, what the view reads is compared with
what a werkzeug ``Request`` reads from werkzeug's environ.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from crosswind.app import App, ProxyFix, request
from crosswind.app.proxy_fix import list_items
from crosswind.testing.client import serve_bytes
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.middleware.proxy_fix import ProxyFix as WerkzeugProxyFix
from werkzeug.wrappers import Request as WerkzeugRequest

FIELDS = {
    "x_for": "X-Forwarded-For",
    "x_proto": "X-Forwarded-Proto",
    "x_host": "X-Forwarded-Host",
    "x_port": "X-Forwarded-Port",
    "x_prefix": "X-Forwarded-Prefix",
}


def environ_key(field: str) -> str:
    return "HTTP_" + field.upper().replace("-", "_")


# Items built from the characters that matter to the list syntax, so quotes,
# escapes, empty items and IPv6 brackets all come up.
item = st.text(alphabet='ab1.:[]"\\ ,_-/', max_size=12)
wire_item = st.text(alphabet="ab1.:[]-_/", min_size=1, max_size=10)
counts = st.fixed_dictionaries({name: st.integers(0, 3) for name in FIELDS})


def field_values(
    items: st.SearchStrategy[str], ports: st.SearchStrategy[str] | None = None
) -> st.SearchStrategy[dict[str, str]]:
    return st.fixed_dictionaries({}, optional={
        field: st.lists(ports if ports is not None and field.endswith("Port") else items,
                        max_size=4).map(", ".join)
        for field in FIELDS.values()
    })


@settings(max_examples=400, deadline=None)
@given(
    counts=counts,
    fields=field_values(item),
    host=st.none() | st.sampled_from(["backend", "backend:8080", "[::1]", "[::1]:81"]),
)
def test_the_environ_is_changed_as_werkzeug_changes_it(
    counts: dict[str, int], fields: dict[str, str], host: str | None
) -> None:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/",
        "SERVER_NAME": "backend", "SERVER_PORT": "8080",
        "REMOTE_ADDR": "10.0.0.1", "REMOTE_PORT": "50000", "wsgi.url_scheme": "http",
    }
    if host is not None:
        environ["HTTP_HOST"] = host
    for field, value in fields.items():
        environ[environ_key(field)] = value

    seen: dict[str, dict[str, Any]] = {}

    def inner(name: str) -> Any:
        def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
            seen[name] = dict(environ)
            return []
        return app

    WerkzeugProxyFix(inner("werkzeug"), **counts)(dict(environ), None)  # type: ignore[arg-type]
    ProxyFix(inner("crosswind"), **counts)(dict(environ), None)
    assert seen["crosswind"] == seen["werkzeug"]


def test_list_items_as_werkzeug_reads_them() -> None:
    from werkzeug.http import parse_list_header

    for value in ['a, "b, c", d', '"a\\"b"', 'x"y, z"', ' , a,,b ', '"unclosed, a', '"\\\\"', '1, ""']:
        assert list_items(value) == parse_list_header(value), value


def reporting_app() -> App:
    app = App(__name__)

    @app.route("/", defaults={"rest": ""})
    @app.route("/<path:rest>")
    def report(rest: str) -> Any:
        return {
            "remote_addr": request.remote_addr,
            "scheme": request.scheme,
            "host": request.host,
            "script_root": request.script_root,
        }

    return app


def served(app: Any, fields: dict[str, str]) -> dict[str, Any]:
    head = "GET / HTTP/1.1\r\nHost: backend:8080\r\nConnection: close\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in fields.items())
    raw = serve_bytes(app, [(head + "\r\n").encode("latin-1")])
    _, _, body = raw.partition(b"\r\n\r\n")
    return json.loads(body)


@settings(max_examples=150, deadline=None)
@given(counts=counts, fields=field_values(wire_item))
def test_a_served_app_reads_what_a_werkzeug_request_reads(
    counts: dict[str, int], fields: dict[str, str]
) -> None:
    ours = served(ProxyFix(reporting_app(), **counts), fields)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/",
        "SERVER_NAME": "backend", "SERVER_PORT": "8080", "HTTP_HOST": "backend:8080",
        "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http",
    }
    for field, value in fields.items():
        environ[environ_key(field)] = value
    WerkzeugProxyFix(lambda env, start: [], **counts)(environ, None)  # type: ignore[arg-type]
    theirs = WerkzeugRequest(environ)
    # The Host as ProxyFix left it, less a default port, as request.host reads
    # it; a werkzeug Request would also read a Host with a stray colon as "",
    # a check of its own that crosswind's leaves to the server.
    host = environ["HTTP_HOST"]
    if theirs.scheme in ("http", "ws"):
        host = host.removesuffix(":80")
    elif theirs.scheme in ("https", "wss"):
        host = host.removesuffix(":443")
    assert ours == {
        "remote_addr": theirs.remote_addr,
        "scheme": theirs.scheme,
        "host": host,
        "script_root": theirs.script_root,
    }


def test_the_flask_idiom_and_the_defaults() -> None:
    app = reporting_app()
    fields = {
        "X-Forwarded-For": "203.0.113.9, 10.0.0.2",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "shop.example",
        "X-Forwarded-Prefix": "/shop",
    }
    # x_for=1, x_proto=1 and nothing else: the host and prefix stay.
    assert served(ProxyFix(app), fields) == {
        "remote_addr": "10.0.0.2", "scheme": "https", "host": "backend:8080", "script_root": "",
    }
    assert served(ProxyFix(app, x_for=2, x_host=1, x_prefix=1), fields) == {
        "remote_addr": "203.0.113.9", "scheme": "https", "host": "shop.example",
        "script_root": "/shop",
    }
    # Fewer values than proxies: the field is ignored, not half-believed.
    assert served(ProxyFix(app, x_for=3), fields)["remote_addr"] == "127.0.0.1"


@pytest.mark.parametrize("wrap", ["wsgi_app", "app"])
def test_wsgi_app_can_be_wrapped_as_in_flask(wrap: str) -> None:
    app = reporting_app()
    environ = {
        "REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/", "QUERY_STRING": "",
        "SERVER_NAME": "backend", "SERVER_PORT": "8080", "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http", "HTTP_HOST": "backend:8080",
        "HTTP_X_FORWARDED_FOR": "198.51.100.3", "HTTP_X_FORWARDED_PROTO": "https",
        "wsgi.input": __import__("io").BytesIO(), "wsgi.errors": __import__("sys").stderr,
        "wsgi.version": (1, 0), "wsgi.multithread": True, "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    statuses: list[str] = []
    if wrap == "wsgi_app":
        app.wsgi_app = ProxyFix(app.wsgi_app)  # type: ignore[method-assign]
        target: Any = app
    else:
        target = ProxyFix(app.wsgi_app)
    body = b"".join(target(environ, lambda status, headers, *exc: statuses.append(status)))
    assert statuses == ["200 OK"]
    assert json.loads(body)["remote_addr"] == "198.51.100.3"
    assert json.loads(body)["scheme"] == "https"
