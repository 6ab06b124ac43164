"""What ``write()``, ``flush()`` and ``finish()`` put on the wire, and when.

A handler's output is queued by ``flush()`` and ``finish()`` and sent when the
returned awaitable is awaited, or when the verb method returns: a whole
response in one write, or a head, pieces of body and an end.
"""

from __future__ import annotations

from crosswind.testing import Client, parse_responses
from crosswind.web import Application, RequestHandler

NOW = 1_700_000_000.0
GET = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
HEAD = b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n"


def client_for(handler: type[RequestHandler]) -> Client:
    return Client(Application([(r"/", handler)], clock=lambda: NOW))


def split(raw: bytes) -> tuple[list[bytes], bytes]:
    """The header lines of the first response in *raw*, and every byte after its head."""
    head, _, rest = raw.partition(b"\r\n\r\n")
    return head.split(b"\r\n"), rest


class Steps(RequestHandler):
    """Uses every step of output: a head with a piece, a flush with nothing new,
    a piece flushed without awaiting, and a last piece sent by ``finish()``."""

    async def get(self) -> None:
        self.write("a")
        await self.flush()
        await self.flush()
        self.write(b"b")
        self.flush()
        self.finish("z")

    head = get


def test_every_step_reaches_the_wire_once_and_in_order() -> None:
    lines, rest = split(client_for(Steps).raw(GET))
    assert lines[0] == b"HTTP/1.1 200 OK"
    assert b"Transfer-Encoding: chunked" in lines
    assert not any(line.lower().startswith(b"content-length") for line in lines)
    assert rest == b"1\r\na\r\n1\r\nb\r\n1\r\nz\r\n0\r\n\r\n"


def test_a_flushed_answer_to_head_is_a_head_alone_and_completes() -> None:
    raw = client_for(Steps).raw(HEAD + GET)
    lines, rest = split(raw)
    assert lines[0] == b"HTTP/1.1 200 OK"
    # No body bytes, and the response ended: the request behind it is answered in full.
    assert rest.startswith(b"HTTP/1.1 200 OK\r\n")
    head, again = parse_responses(raw, [b"HEAD", b"GET"])
    assert head.content == b""
    assert again.content == b"abz"


def test_finish_before_any_flush_sends_one_sized_response() -> None:
    class Whole(RequestHandler):
        def get(self) -> None:
            self.write("hel")
            self.finish("lo")

    lines, rest = split(client_for(Whole).raw(GET))
    assert b"Content-Length: 5" in lines
    assert b"Transfer-Encoding: chunked" not in lines
    assert rest == b"hello"


def test_flushed_output_leaves_when_awaited_and_not_before() -> None:
    seen: list[tuple[bool, int]] = []

    class Watch(RequestHandler):
        async def get(self) -> None:
            exchange = self.request.exchange
            assert exchange is not None
            self.write("abc")
            pending = self.flush()
            seen.append((exchange.response_started, exchange.bytes_sent))
            await pending
            seen.append((exchange.response_started, exchange.bytes_sent))
            pending = self.finish("de")
            seen.append((exchange.finished, exchange.bytes_sent))
            await pending
            seen.append((exchange.finished, exchange.bytes_sent))

    response = client_for(Watch).get("/")
    assert response.text == "abcde"
    assert seen == [(False, 0), (True, 3), (False, 3), (True, 5)]
