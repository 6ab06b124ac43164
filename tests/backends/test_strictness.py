"""The HTTP/1.1 strictness rules on real loopback connections, on every backend.

An invalid ``Host`` is a 400; a bare LF in the head or in chunked framing is a
400 the moment it arrives; a chunk-size line over the body limit is a 413 the
moment it arrives.  The client sends the offending bytes and nothing more, and
the timeouts are set far beyond the wait allowed here, so an answer that only
comes from a timeout fails the test.  One case also runs through an ASGI
application hosted by :class:`~crosswind.adapters.ASGIContainer`.
"""

from __future__ import annotations

import socket

import pytest
from crosswind.protocol.exchange import Exchange
from crosswind.protocol.limits import Limits

from tests.support.apps import BasicApp
from tests.support.servers import BACKENDS, running_server

pytestmark = [pytest.mark.network, pytest.mark.timeout(60)]

#: Far beyond ANSWER_WITHIN: a timeout's 408 cannot pass for the answer.
PATIENT = Limits(header_timeout=60.0, body_timeout=60.0, max_body_size=64)
#: How long the answer may take; every rule here answers without waiting.
ANSWER_WITHIN = 3.0

CHUNKED = b"POST /echo HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n"


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


def exchange_bytes(port: int, data: bytes) -> bytes:
    """Send *data*, keep the connection open, return all the server sent until it closed.

    Each read may wait :data:`ANSWER_WITHIN` at most.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=ANSWER_WITHIN) as sock:
        sock.sendall(data)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass
        except TimeoutError:
            pytest.fail(f"no answer within {ANSWER_WITHIN} s; got {received!r}")
        return received


CASES = {
    "invalid-host": (b"GET / HTTP/1.1\r\nHost: user@example.com\r\n\r\n", 400),
    "bare-lf-head": (b"GET / HTTP/1.1\nHost: example.com\n", 400),
    "bare-lf-chunk-size": (CHUNKED + b"5\n", 400),
    "bare-lf-trailer": (CHUNKED + b"1\r\nx\r\n0\r\nX-T: 1\n", 400),
    "oversized-chunk": (CHUNKED + b"41\r\n", 413),
    "second-chunk-over": (CHUNKED + b"20\r\n" + b"x" * 32 + b"\r\n21\r\n", 413),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_refusal_comes_without_waiting(backend: str, case: str) -> None:
    raw, status = CASES[case]
    with running_server(backend, BasicApp(), limits=PATIENT) as handle:
        response = exchange_bytes(handle.port, raw)
    assert response.startswith(b"HTTP/1.1 %d " % status), response
    assert b"Connection: close\r\n" in response


class RouteLimit:
    """``/small`` lowers the body limit to 8 bytes and ``/large`` raises it to 128,
    before reading; both answer with the body's length."""

    async def handle(self, exchange: Exchange) -> None:
        exchange.max_body_size = 8 if exchange.path == "/small" else 128
        body = await exchange.read_body()
        await exchange.respond(200, [(b"Content-Type", b"text/plain")], b"%d" % len(body))


def chunked_to(path: bytes, size: int) -> bytes:
    return CHUNKED.replace(b"/echo", path) + b"%x\r\n" % size


def test_the_limit_a_route_sets_is_the_one_applied(backend: str) -> None:
    with running_server(backend, RouteLimit(), limits=PATIENT) as handle:
        refused = exchange_bytes(handle.port, chunked_to(b"/small", 9))
        assert refused.startswith(b"HTTP/1.1 413 ")
        # Above the server's limit of 64, allowed by the route: the body is read.
        raw = chunked_to(b"/large", 100) + b"y" * 100 + b"\r\n0\r\n\r\n"
        raw = raw.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1)
        accepted = exchange_bytes(handle.port, raw)
        assert accepted.startswith(b"HTTP/1.1 200 ") and accepted.endswith(b"\r\n\r\n100")


async def _asgi_echo(scope: dict, receive: object, send: object) -> None:
    body = b""
    more = True
    while more:
        message = await receive()  # type: ignore[operator]
        body += message.get("body", b"")
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200,  # type: ignore[operator]
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})  # type: ignore[operator]


@pytest.mark.parametrize("case", sorted(CASES))
def test_an_asgi_application_gets_the_same_refusals(case: str) -> None:
    from crosswind.adapters import ASGIContainer

    raw, status = CASES[case]
    with running_server("asyncio", ASGIContainer(_asgi_echo), limits=PATIENT) as handle:
        response = exchange_bytes(handle.port, raw)
    assert response.startswith(b"HTTP/1.1 %d " % status), response
