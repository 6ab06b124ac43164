"""One rule for response headers, whichever way an application is served.

The same WSGI application, the same ASGI application and a native crosswind
application each send one header that HTTP cannot carry: a value with ``\\x01``
(a control character no peer agrees on), a value with ``\\n`` (which would split
the header block), a name with a space (not a token).  Served on the in-memory
connection -- natively, in :class:`WSGIContainer`, in :class:`ASGIContainer` -- or
behind a WSGI or ASGI server (:func:`to_wsgi`, :func:`to_asgi`), every path gives the
same answer: ``500`` with the plain-text error body, the header never sent, and a
log line that names the header.  Then, for any name and value, the checks of
:class:`~crosswind.headers.Headers`, the response writer and the adapters accept and
refuse alike, with the same words.
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
from collections.abc import Callable
from typing import Any

import pytest
from crosswind.adapters import ASGIContainer, WSGIContainer, to_asgi, to_wsgi
from crosswind.adapters._exchange import check_response_headers
from crosswind.errors import LocalProtocolError
from crosswind.headers import Headers
from crosswind.protocol.driver import ConnectionDriver
from crosswind.protocol.exchange import Exchange
from crosswind.protocol.http1.writer import ResponseWriter
from crosswind.testing import Client
from crosswind.testing.client import MemoryTransport, parse_responses
from hypothesis import given
from hypothesis import strategies as st

#: (what is wrong, header name, header value)
BAD_FIELDS = [
    ("control character", "X-Bad", "a\x01b"),
    ("line feed", "X-Bad", "a\nInjected: 1"),
    ("space in the name", "X Bad", "fine"),
]
BODY = b"internal server error\n"


def wsgi_app(name: str, value: str) -> Callable[..., list[bytes]]:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain"), (name, value)])
        return [b"sent anyway"]

    return app


def asgi_app(name: str, value: str) -> Callable[..., Any]:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        headers = [(b"content-type", b"text/plain"), (name.encode(), value.encode("latin-1"))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"sent anyway"})

    return app


class NativeApp:
    def __init__(self, name: str, value: str) -> None:
        self.field = (name.encode(), value.encode("latin-1"))

    async def handle(self, exchange: Exchange) -> None:
        await exchange.respond(200, [(b"Content-Type", b"text/plain"), self.field], b"sent anyway")


# -- the five ways of serving; each returns (status, headers, body) -----------------------


def in_memory(app: Any) -> tuple[int, dict[str, str], bytes]:
    response = Client(app).get("/")
    return response.status_code, dict(response.headers.items()), response.content


def in_memory_on_asyncio(app: Any) -> tuple[int, dict[str, str], bytes]:
    """The in-memory connection, driven on an event loop (ASGIContainer needs one)."""
    transport = MemoryTransport([b"GET / HTTP/1.1\r\nHost: testserver\r\n\r\n"])
    asyncio.run(ConnectionDriver(transport, app, clock=lambda: 0.0).run())
    [response] = parse_responses(bytes(transport.sent))
    return response.status_code, dict(response.headers.items()), response.content


def behind_wsgi_server(app: Any) -> tuple[int, dict[str, str], bytes]:
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        seen["status"], seen["headers"] = status, headers
        return lambda data: None

    environ = {
        "REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/", "QUERY_STRING": "",
        "SERVER_NAME": "testserver", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "testserver", "wsgi.version": (1, 0), "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(), "wsgi.errors": io.StringIO(), "wsgi.multithread": False,
        "wsgi.multiprocess": False, "wsgi.run_once": False,
    }
    iterable = to_wsgi(app)(environ, start_response)
    try:
        body = b"".join(iterable)
    finally:
        getattr(iterable, "close", lambda: None)()
    return int(seen["status"][:3]), dict(seen["headers"]), body


def behind_asgi_server(app: Any) -> tuple[int, dict[str, str], bytes]:
    sent: list[dict[str, Any]] = []
    requests = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict[str, Any]:
        return requests.pop() if requests else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": "/", "raw_path": b"/", "query_string": b"", "root_path": "",
        "headers": [(b"host", b"testserver")], "client": None, "server": ("testserver", 80),
    }
    asyncio.run(to_asgi(app)(scope, receive, send))
    start, *bodies = sent
    headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in start["headers"]}
    return start["status"], headers, b"".join(message.get("body", b"") for message in bodies)


WAYS = {
    "native": lambda name, value: in_memory(NativeApp(name, value)),
    "WSGIContainer": lambda name, value: in_memory(WSGIContainer(wsgi_app(name, value))),
    "ASGIContainer": lambda name, value: in_memory_on_asyncio(ASGIContainer(asgi_app(name, value))),
    "native behind a WSGI server": lambda name, value: behind_wsgi_server(NativeApp(name, value)),
    "native behind an ASGI server": lambda name, value: behind_asgi_server(NativeApp(name, value)),
    "WSGI app in crosswind behind a WSGI server":
        lambda name, value: behind_wsgi_server(WSGIContainer(wsgi_app(name, value))),
    "ASGI app in crosswind behind an ASGI server":
        lambda name, value: behind_asgi_server(ASGIContainer(asgi_app(name, value))),
}


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize(("problem", "name", "value"), BAD_FIELDS, ids=[f[0] for f in BAD_FIELDS])
def test_a_header_http_cannot_carry_is_a_500_that_names_it(
    way: str, problem: str, name: str, value: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    status, headers, body = WAYS[way](name, value)
    assert (status, body) == (500, BODY)
    assert name.lower() not in {key.lower() for key in headers}
    [record] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert record.exc_info is not None
    error = record.exc_info[1]
    assert isinstance(error, LocalProtocolError)
    assert f"response header {name!r}" in str(error) or f"header name {name!r}" in str(error)
    # The log names the header but keeps the value (it may be a secret) out of it.
    assert value not in caplog.text


@pytest.mark.parametrize("way", WAYS)
def test_a_good_header_goes_through_every_way(way: str) -> None:
    status, headers, body = WAYS[way]("X-Good", "tab\tand obs-text \xe9")
    assert (status, body) == (200, b"sent anyway")
    assert {key.lower(): value for key, value in headers.items()}["x-good"] == (
        "tab\tand obs-text \xe9"
    )


# -- the checks themselves agree, for any field ---------------------------------------------

_atoms = st.sampled_from(
    ["a", "Z", "0", "-", "!", "~", " ", "\t", "\x01", "\x7f", "\r", "\n", "\0", ":", "(",
     "\xe9", "\xff", "\u0100", "\u2028", '"']
)
_text = st.lists(_atoms, max_size=5).map("".join)


def _headers_verdict(name: str, value: str) -> str | None:
    try:
        Headers([(name, value)])
    except ValueError as error:
        return str(error)
    return None


def _writer_verdict(name: Any, value: Any) -> str | None:
    try:
        ResponseWriter(head_request=False, http10=False).head(200, [(name, value)], b"", True)
    except LocalProtocolError as error:
        return str(error)
    return None


def _adapter_verdict(name: Any, value: Any) -> str | None:
    try:
        check_response_headers([(name, value)])
    except LocalProtocolError as error:
        return str(error)
    return None


@given(_text, _text)
def test_headers_the_writer_and_the_adapters_keep_one_rule(name: str, value: str) -> None:
    if name.lower() in ("content-length", "transfer-encoding"):
        return  # framing fields have rules of their own in the writer
    verdicts = {
        "Headers": _headers_verdict(name, value),
        "writer (text)": _writer_verdict(name, value),
        "adapters (text)": _adapter_verdict(name, value),
    }
    if all(char <= "\xff" for char in name + value):
        raw = (name.encode("latin-1"), value.encode("latin-1"))
        verdicts["writer (bytes)"] = _writer_verdict(*raw)
        verdicts["adapters (bytes)"] = _adapter_verdict(*raw)
    refusals = {
        where: re.sub(r"^response ", "", verdict) if verdict else None
        for where, verdict in verdicts.items()
    }
    assert len(set(refusals.values())) == 1, refusals
