"""The connection policy and the driver, in memory, with a fake clock.

:class:`ServerConnection` is driven directly where the question is about its
state (deadlines, limits met before a head is complete); everything else goes
through :class:`ConnectionDriver` over a scripted transport, which is what
every backend runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import crosswind.protocol.http1.engine
import h11
import pytest
from crosswind._sync import run_sync
from crosswind.errors import RemoteProtocolError, RequestError
from crosswind.protocol.driver import ConnectionDriver
from crosswind.protocol.events import (
    NEED_DATA,
    PAUSED,
    ConnectionClosed,
    Data,
    EndOfMessage,
    Request,
)
from crosswind.protocol.exchange import Exchange
from crosswind.protocol.http1.chunked import ChunkedScanner
from crosswind.protocol.http1.connection import ServerConnection
from crosswind.protocol.limits import Limits
from crosswind.protocol.transport import ConnectionInfo
from crosswind.testing import parse_responses, serve_bytes
from crosswind.web import Application as WebApplication
from crosswind.web import RequestHandler

from tests.support.http_cases import EchoApp


@pytest.fixture(autouse=True, params=["native", "h11"])
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test here runs with both protocol engines: a connection made
    without naming one takes the default as it is when the connection is made."""
    monkeypatch.setattr(crosswind.protocol.http1.engine, "DEFAULT_ENGINE", request.param)
    return request.param


def get(path: str = "/", *headers: bytes, version: bytes = b"1.1") -> bytes:
    lines = [b"GET %s HTTP/%s" % (path.encode(), version)]
    if version == b"1.1":
        lines.append(b"Host: example.com")
    lines.extend(headers)
    return b"\r\n".join(lines) + b"\r\n\r\n"


def post(path: str, body: bytes, *headers: bytes) -> bytes:
    return (
        b"POST %s HTTP/1.1\r\nHost: example.com\r\nContent-Length: %d\r\n" % (path.encode(), len(body))
        + b"".join(h + b"\r\n" for h in headers)
        + b"\r\n"
        + body
    )


def chunked_post(path: str, chunks: list[bytes]) -> bytes:
    body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
    return (
        b"POST %s HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n" % path.encode()
        + body
    )


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class ScriptedTransport:
    """A peer that sends each piece of *script* at its time on *clock*.

    ``receive`` behaves like a backend's: it returns the next piece if it is
    due before the deadline (moving the clock to its time), or moves the
    clock to the deadline and raises :class:`TimeoutError`.  When the script
    is exhausted the peer either closes (``b""``) or, with ``hold_open``,
    says nothing until the deadline.  ``log`` records every receive and send
    in order, so tests can tell what the server sent before it read what.
    """

    clock: FakeClock
    script: list[tuple[float, bytes]]
    hold_open: bool = False
    log: list[tuple[str, bytes]] = field(default_factory=list)
    closed: bool = False
    info: ConnectionInfo = field(default_factory=ConnectionInfo)

    async def receive(self, deadline: float | None) -> bytes:
        assert not self.closed, "read after close"
        if self.script:
            when, data = self.script[0]
            if deadline is None or when <= deadline:
                self.script.pop(0)
                self.clock.now = max(self.clock.now, when)
                self.log.append(("recv", data))
                return data
        elif not self.hold_open:
            self.log.append(("recv", b""))
            return b""
        assert deadline is not None, "the server would wait forever"
        self.clock.now = max(self.clock.now, deadline)
        self.log.append(("timeout", b""))
        raise TimeoutError

    async def send(self, data: bytes) -> None:
        assert not self.closed, "send after close"
        self.log.append(("send", data))

    async def close(self) -> None:
        self.closed = True

    def set_close_callback(self, callback: Callable[[], None] | None) -> None:
        pass

    @property
    def sent(self) -> bytes:
        return b"".join(data for kind, data in self.log if kind == "send")


def drive(
    app: object,
    script: list[tuple[float, bytes]],
    *,
    limits: Limits | None = None,
    hold_open: bool = False,
    clock: FakeClock | None = None,
) -> ScriptedTransport:
    clock = clock or FakeClock()
    transport = ScriptedTransport(clock, script, hold_open)
    driver = ConnectionDriver(transport, app, clock=clock, limits=limits)  # type: ignore[arg-type]
    run_sync(driver.run())
    assert transport.closed
    return transport


def client_view(data: bytes, method: bytes = b"GET") -> list[object]:
    """What h11, as the client of one request, makes of *data* then EOF."""
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method=method, target="/", headers=[("Host", "example.com")]))
    conn.send(h11.EndOfMessage())
    conn.receive_data(data)
    conn.receive_data(b"")
    events: list[object] = []
    while True:
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError as exc:
            events.append(exc)
            return events
        events.append(event)
        if type(event) in (h11.EndOfMessage, h11.ConnectionClosed) or event is h11.NEED_DATA:
            return events


# -- keep-alive and pipelining ------------------------------------------------


def test_pipelined_requests_are_answered_in_order() -> None:
    app = EchoApp()
    stream = get("/first") + post("/second", b"body-2") + chunked_post("/third", [b"a", b"bc"])
    out = serve_bytes(app, [stream])
    responses = parse_responses(out, [b"GET", b"POST", b"POST"])
    assert [r.content for r in responses] == [
        b"GET /first 1.1\n",
        b"POST /second 1.1\nbody-2",
        b"POST /third 1.1\nabc",
    ]
    assert all("Connection" not in r.headers for r in responses)


def test_pipelined_requests_byte_by_byte_give_the_same_bytes() -> None:
    stream = get("/first") + post("/second", b"body-2") + chunked_post("/third", [b"a", b"bc"])
    whole = serve_bytes(EchoApp(), [stream])
    split = serve_bytes(EchoApp(), [stream[i : i + 1] for i in range(len(stream))])
    assert split == whole


def test_keep_alive_serves_requests_arriving_later() -> None:
    app = EchoApp()
    transport = drive(app, [(0, get("/a")), (5, get("/b")), (9, get("/c"))])
    responses = parse_responses(transport.sent)
    assert [r.content for r in responses] == [b"GET /a 1.1\n", b"GET /b 1.1\n", b"GET /c 1.1\n"]
    # Each response went out before the next request was read.
    kinds = [kind for kind, _ in transport.log]
    assert kinds == ["recv", "send", "recv", "send", "recv", "send", "recv"]


def test_rejected_request_in_a_pipeline_ends_it() -> None:
    app = EchoApp()
    out = serve_bytes(app, [get("/ok") + b"GET /bad\x01 HTTP/1.1\r\n\r\n" + get("/never")])
    responses = parse_responses(out)
    assert [r.status_code for r in responses] == [200, 400]
    assert [s.target for s in app.seen] == ["/ok"]


def test_connection_close_request_is_honoured() -> None:
    app = EchoApp()
    out = serve_bytes(app, [get("/a", b"Connection: close") + get("/b")])
    responses = parse_responses(out)
    assert len(responses) == 1
    assert responses[0].headers.get("Connection") == "close"
    assert [s.target for s in app.seen] == ["/a"]


def test_connection_close_token_in_a_list_is_honoured() -> None:
    out = serve_bytes(EchoApp(), [get("/a", b"Connection: keep-alive, Close") + get("/b")])
    assert len(parse_responses(out)) == 1


def test_connection_close_set_by_the_application_closes() -> None:
    class Closing:
        async def handle(self, exchange: Exchange) -> None:
            await exchange.respond(200, [(b"Connection", b"close")], b"bye")

    out = serve_bytes(Closing(), [get("/a") + get("/b")])
    responses = parse_responses(out)
    assert [r.content for r in responses] == [b"bye"]
    assert out.count(b"HTTP/1.1 200") == 1
    assert out.lower().count(b"connection: close") == 1


def test_http10_closes_after_each_response() -> None:
    app = EchoApp()
    out = serve_bytes(app, [get("/a", version=b"1.0") + get("/b", version=b"1.0")])
    responses = parse_responses(out)
    assert len(responses) == 1
    assert responses[0].headers.get("Connection") == "close"
    assert [s.target for s in app.seen] == ["/a"]


def test_http10_keep_alive_is_honoured_for_a_sized_response() -> None:
    # RFC 9112 section 9.3: a 1.0 client that asks for keep-alive keeps its
    # connection when the response length is known, and is told so.
    app = EchoApp()
    out = serve_bytes(
        app,
        [get("/a", b"Connection: keep-alive", version=b"1.0")
         + get("/b", version=b"1.0") + get("/c", version=b"1.0")],
    )
    responses = parse_responses(out)
    assert len(responses) == 2
    assert responses[0].headers.get("Connection") == "keep-alive"
    assert responses[1].headers.get("Connection") == "close"
    assert [s.target for s in app.seen] == ["/a", "/b"]


def test_shutdown_finishes_the_exchange_then_closes() -> None:
    clock = FakeClock()
    conn = ServerConnection(clock=clock)
    conn.receive_data(get("/a"))
    assert type(conn.next_event()) is Request
    assert type(conn.next_event()) is EndOfMessage
    conn.start_shutdown()
    head = conn.send_response(200, [(b"Content-Length", b"0")])
    assert b"Connection: close" in head
    conn.send_end()
    assert conn.start_next_cycle() is False
    assert conn.closed


def test_shutdown_still_answers_a_pipelined_request_already_received() -> None:
    # Every request the server has read gets an answer: the one behind the
    # request in flight too, and the last answer says the connection closes.
    clock = FakeClock()
    conn = ServerConnection(clock=clock)
    conn.receive_data(get("/a") + get("/b"))
    assert type(conn.next_event()) is Request
    assert type(conn.next_event()) is EndOfMessage
    conn.start_shutdown()
    head = conn.send_response(200, [(b"Content-Length", b"0")])
    assert b"Connection: close" not in head
    conn.send_end()
    assert conn.start_next_cycle() is True
    request = conn.next_event()
    assert type(request) is Request and request.target == b"/b"
    assert type(conn.next_event()) is EndOfMessage
    head = conn.send_response(200, [(b"Content-Length", b"0")])
    assert b"Connection: close" in head
    conn.send_end()
    assert conn.start_next_cycle() is False
    assert conn.closed


def test_shutdown_does_not_keep_a_connection_for_an_unread_body() -> None:
    # Bytes of the current request's own body are no next request.
    conn = ServerConnection(clock=FakeClock())
    conn.receive_data(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nab")
    assert type(conn.next_event()) is Request
    conn.start_shutdown()
    head = conn.send_response(200, [(b"Content-Length", b"0")])
    assert b"Connection: close" in head


# -- nothing of one exchange reaches the next ------------------------------------------


class Varied:
    """Answers each request the way its path says, leaving behind whatever state it can."""

    async def handle(self, exchange: Exchange) -> None:
        if exchange.path == "/error":
            # Lowered for this request only: the next one must get the default back.
            exchange.max_body_size = 1
            await exchange.respond(404, [(b"Content-Type", b"text/plain")], b"no such page")
        elif exchange.path == "/chunked":
            await exchange.start_response(200, [(b"Content-Type", b"text/plain")])
            await exchange.write(b"part")
            await exchange.end(b"s")
        else:
            body = await exchange.read_body()
            await exchange.start_response(200, [(b"Content-Type", b"text/plain")])
            await exchange.write(body)
            await exchange.end(b"!")


# It asks for 100 Continue, has a body just at the connection's limit (and over the one
# /error sets), and is answered with a chunked body: whatever a previous exchange left
# behind shows in its answer.
PROBE = (
    b"PUT /probe HTTP/1.1\r\nHost: example.com\r\nExpect: 100-continue\r\n"
    b"Content-Length: 5\r\n\r\nhello"
)
PROBE_LIMITS = Limits(max_body_size=5)


@pytest.mark.parametrize(
    "first",
    [
        get("/error"),
        get("/error", b"Connection: keep-alive", version=b"1.0"),
        b"HEAD /probe HTTP/1.1\r\nHost: example.com\r\n\r\n",
        b"PUT /echo HTTP/1.1\r\nHost: example.com\r\nExpect: 100-continue\r\n"
        b"Content-Length: 3\r\n\r\nabc",
        get("/chunked"),
        chunked_post("/echo", [b"ab", b"c"]),
    ],
    ids=["error", "http10-error", "head", "100-continue", "chunked-response", "chunked-request"],
)
def test_a_kept_alive_connection_answers_as_a_fresh_one(first: bytes) -> None:
    alone = serve_bytes(Varied(), [PROBE], limits=PROBE_LIMITS)
    assert alone.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n")
    assert alone.endswith(b"\r\n\r\n5\r\nhello\r\n1\r\n!\r\n0\r\n\r\n")
    after = serve_bytes(Varied(), [first + PROBE], limits=PROBE_LIMITS)
    assert after == serve_bytes(Varied(), [first], limits=PROBE_LIMITS) + alone


# -- 100 Continue -----------------------------------------------------------------

EXPECT_PUT = (
    b"PUT /upload HTTP/1.1\r\nHost: example.com\r\nExpect: 100-continue\r\n"
    b"Content-Length: 5\r\n\r\n"
)


def test_100_continue_is_sent_when_the_application_reads() -> None:
    app = EchoApp()
    transport = drive(app, [(0, EXPECT_PUT), (1, b"hello")])
    continue_at = transport.log.index(("send", b"HTTP/1.1 100 Continue\r\n\r\n"))
    body_at = transport.log.index(("recv", b"hello"))
    assert continue_at < body_at, transport.log
    assert transport.sent.count(b" 100 ") == 1
    responses = parse_responses(transport.sent, [b"PUT"])
    assert responses[0].content == b"PUT /upload 1.1\nhello"
    assert app.completed[0].body == b"hello"


def test_no_100_continue_when_the_application_answers_without_reading() -> None:
    class Refuse:
        async def handle(self, exchange: Exchange) -> None:
            await exchange.respond(401, [(b"WWW-Authenticate", b"Basic")], b"no")

    # The client waits for 100 Continue and never sends the body.
    transport = drive(Refuse(), [(0, EXPECT_PUT)], hold_open=True)
    assert b" 100 " not in transport.sent
    (response,) = parse_responses(transport.sent, [b"PUT"])
    assert response.status_code == 401
    assert response.headers.get("Connection") == "close"
    # The connection closed right after the response instead of waiting.
    assert transport.log[-1][0] == "send"


def test_no_100_continue_when_the_declared_body_is_too_large() -> None:
    app = EchoApp()
    transport = drive(app, [(0, EXPECT_PUT)], limits=Limits(max_body_size=4), hold_open=True)
    assert b" 100 " not in transport.sent
    (response,) = parse_responses(transport.sent, [b"PUT"])
    assert response.status_code == 413
    assert app.completed == []


def test_no_100_continue_for_http10() -> None:
    request = b"PUT / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi"
    out = serve_bytes(EchoApp(), [request])
    assert b" 100 " not in out
    assert parse_responses(out, [b"PUT"])[0].content == b"PUT / 1.0\nhi"


# -- HEAD -------------------------------------------------------------------------------


class Hello(RequestHandler):
    def get(self) -> None:
        self.write("hello world")

    head = get  # as in Tornado, HEAD is answered only where a handler defines it


def test_head_gets_the_length_of_get_and_no_body() -> None:
    app = WebApplication([("/", Hello)])
    head = b"HEAD / HTTP/1.1\r\nHost: example.com\r\n\r\n"
    out = serve_bytes(app, [get("/") + head + get("/")])
    responses = parse_responses(out, [b"GET", b"HEAD", b"GET"])
    assert [r.status_code for r in responses] == [200, 200, 200]
    got, headed, again = responses
    assert headed.headers["Content-Length"] == got.headers["Content-Length"] == "11"
    assert headed.content == b""
    assert again.content == got.content == b"hello world"
    # No body bytes between the HEAD response and the next one.
    head_start = out.index(b"HTTP/1.1", 1)
    second_head_end = out.index(b"\r\n\r\n", head_start) + 4
    assert out[second_head_end:].startswith(b"HTTP/1.1 200")


def test_head_with_streamed_body_sends_no_body_bytes() -> None:
    class Streamer:
        async def handle(self, exchange: Exchange) -> None:
            await exchange.start_response(200, [(b"Content-Type", b"text/plain")])
            await exchange.write(b"part one")
            await exchange.end(b"part two")

    head = b"HEAD / HTTP/1.1\r\nHost: example.com\r\n\r\n"
    out = serve_bytes(Streamer(), [head + head])
    assert b"part" not in out
    assert [r.status_code for r in parse_responses(out, [b"HEAD", b"HEAD"])] == [200, 200]


def test_error_response_to_head_has_no_body() -> None:
    out = serve_bytes(EchoApp(), [b"HEAD / HTTP/1.1\r\nHost: example.com\r\nX: a\x01\r\n\r\n"])
    assert out.startswith(b"HTTP/1.1 400 ")
    assert out.endswith(b"\r\n\r\n")


# -- response bodies ----------------------------------------------------------------------


class Chunks:
    def __init__(self, pieces: list[bytes], fail_after: int | None = None, end: bool = True):
        self.pieces = pieces
        self.fail_after = fail_after
        self.end = end

    async def handle(self, exchange: Exchange) -> None:
        await exchange.start_response(200, [(b"Content-Type", b"text/plain")])
        for index, piece in enumerate(self.pieces):
            if index == self.fail_after:
                raise RuntimeError("database password is hunter2")
            await exchange.write(piece)
        if self.end:
            await exchange.end()


def test_flushed_response_is_chunked() -> None:
    out = serve_bytes(Chunks([b"abc", b"defgh"]), [get("/") + get("/")])
    first_end = out.index(b"0\r\n\r\n") + 5
    assert out[:first_end] == (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nServer: crosswind\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n5\r\ndefgh\r\n0\r\n\r\n"
    )
    assert [r.content for r in parse_responses(out)] == [b"abcdefgh", b"abcdefgh"]


def test_flushed_response_to_http10_is_delimited_by_close() -> None:
    out = serve_bytes(Chunks([b"abc", b"defgh"]), [get("/", version=b"1.0")])
    assert b"chunked" not in out.lower()
    assert out.endswith(b"\r\n\r\nabcdefgh")


def test_exception_before_the_head_is_a_500_without_details() -> None:
    class Broken:
        async def handle(self, exchange: Exchange) -> None:
            raise RuntimeError("database password is hunter2")

    out = serve_bytes(Broken(), [get("/")])
    (response,) = parse_responses(out)
    assert response.status_code == 500
    assert b"hunter2" not in out
    assert response.headers.get("Content-Type") == "text/plain; charset=utf-8"


def test_returning_without_a_response_is_a_500() -> None:
    class Silent:
        async def handle(self, exchange: Exchange) -> None:
            return None

    (response,) = parse_responses(serve_bytes(Silent(), [get("/")]))
    assert response.status_code == 500


@pytest.mark.parametrize(
    "app",
    [
        Chunks([b"abc", b"def"], fail_after=1),
        Chunks([b"abc", b"def"], end=False),
    ],
    ids=["exception-after-flush", "returned-without-end"],
)
def test_unfinished_chunked_response_does_not_look_complete(app: Chunks) -> None:
    transport = drive(app, [(0, get("/") + get("/next"))])
    out = transport.sent
    assert b"3\r\nabc\r\n" in out
    assert b"0\r\n\r\n" not in out
    assert b"hunter2" not in out
    assert out.count(b"HTTP/1.1") == 1, "the pipelined request must not be served"
    events = client_view(out)
    assert isinstance(events[-1], h11.RemoteProtocolError), events


def test_unfinished_content_length_response_does_not_look_complete() -> None:
    class Short:
        async def handle(self, exchange: Exchange) -> None:
            await exchange.start_response(200, [(b"Content-Length", b"10")])
            await exchange.write(b"12345")
            raise RuntimeError("boom")

    out = drive(Short(), [(0, get("/") + get("/next"))]).sent
    assert out.count(b"HTTP/1.1") == 1
    events = client_view(out)
    assert isinstance(events[-1], h11.RemoteProtocolError), events


# -- disconnects -------------------------------------------------------------------------


@dataclass
class WatchedTransport(ScriptedTransport):
    """A transport that keeps the close callback, as a backend that notices disconnects does."""

    close_callback: Callable[[], None] | None = None

    def set_close_callback(self, callback: Callable[[], None] | None) -> None:
        self.close_callback = callback


def test_a_disconnect_reaches_close_callbacks_once_and_only_before_the_end() -> None:
    calls: list[str] = []
    clock = FakeClock()
    transport = WatchedTransport(clock, [(0, get("/open") + get("/ended"))])

    class Watches:
        async def handle(self, exchange: Exchange) -> None:
            exchange.add_close_callback(lambda: calls.append(exchange.path))
            lost = transport.close_callback
            assert lost is not None
            if exchange.path == "/open":
                lost()
                lost()  # a backend may report the same disconnect twice
            await exchange.respond(200, [], b"ok")
            if exchange.path == "/ended":
                lost()  # too late: the response is complete

    run_sync(ConnectionDriver(transport, Watches(), clock=clock).run())
    assert calls == ["/open"]
    assert len(parse_responses(transport.sent)) == 2


# -- deadlines (ServerConnection driven directly) --------------------------------------

SMALL_TIMEOUTS = Limits(idle_timeout=5, header_timeout=2, body_timeout=3)


def test_idle_deadline_closes_silently() -> None:
    clock = FakeClock(100.0)
    conn = ServerConnection(SMALL_TIMEOUTS, clock=clock)
    assert conn.next_event() is NEED_DATA
    assert conn.deadline == 105.0
    clock.now = 105.0
    assert conn.timeout_error() is None
    assert conn.closed


def test_header_deadline_runs_from_the_first_byte_and_ignores_progress() -> None:
    clock = FakeClock(100.0)
    conn = ServerConnection(SMALL_TIMEOUTS, clock=clock)
    clock.now = 103.0
    conn.receive_data(b"GET / HT")
    assert conn.next_event() is NEED_DATA
    assert conn.deadline == 105.0
    clock.now = 104.5
    conn.receive_data(b"TP/1.1\r\nHost: a\r\n")  # slowloris: progress does not extend it
    assert conn.next_event() is NEED_DATA
    assert conn.deadline == 105.0
    clock.now = 105.0
    error = conn.timeout_error()
    assert error is not None and error.status_code == 408
    out = conn.send_error(error)
    assert out.startswith(b"HTTP/1.1 408 ")
    assert b"Connection: close\r\n" in out


def test_body_deadline_moves_with_progress() -> None:
    clock = FakeClock(100.0)
    conn = ServerConnection(SMALL_TIMEOUTS, clock=clock)
    conn.receive_data(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n")
    assert type(conn.next_event()) is Request
    assert conn.next_event() is NEED_DATA
    assert conn.deadline == 103.0
    clock.now = 102.0
    conn.receive_data(b"12345")
    assert conn.next_event() == Data(b"12345")
    assert conn.deadline == 105.0
    clock.now = 105.0
    error = conn.timeout_error()
    assert error is not None and error.status_code == 408


def test_no_deadline_while_the_application_works_then_idle_again() -> None:
    clock = FakeClock(100.0)
    conn = ServerConnection(SMALL_TIMEOUTS, clock=clock)
    conn.receive_data(get("/"))
    assert type(conn.next_event()) is Request
    assert type(conn.next_event()) is EndOfMessage
    assert conn.next_event() is PAUSED
    assert conn.deadline is None
    clock.now = 200.0
    conn.send_response(200, [(b"Content-Length", b"0")])
    conn.send_end()
    assert conn.start_next_cycle()
    assert conn.deadline == 205.0


def test_pipelined_head_gets_a_header_deadline_from_the_next_cycle() -> None:
    clock = FakeClock(100.0)
    conn = ServerConnection(SMALL_TIMEOUTS, clock=clock)
    conn.receive_data(get("/") + b"GET /next HTT")
    assert type(conn.next_event()) is Request
    assert type(conn.next_event()) is EndOfMessage
    clock.now = 150.0
    conn.send_response(204, [])
    conn.send_end()
    assert conn.start_next_cycle()
    assert conn.next_event() is NEED_DATA
    assert conn.deadline == 152.0


def test_driver_closes_an_idle_connection_without_sending() -> None:
    clock = FakeClock(0.0)
    transport = drive(EchoApp(), [(3, get("/"))], limits=SMALL_TIMEOUTS, hold_open=True, clock=clock)
    (response,) = parse_responses(transport.sent)
    assert response.status_code == 200
    assert transport.log[-1] == ("timeout", b"")
    assert clock.now == 3 + 5  # idle deadline counted from the end of the first exchange


def test_driver_answers_a_slow_head_with_408() -> None:
    clock = FakeClock(0.0)
    script = [(1, b"GET / HTTP/1.1\r\n"), (2, b"Host: a\r\n"), (2.5, b"X: b\r\n"), (4, b"\r\n")]
    app = EchoApp()
    transport = drive(app, script, limits=SMALL_TIMEOUTS, clock=clock)
    (response,) = parse_responses(transport.sent)
    assert response.status_code == 408
    assert clock.now == 3.0
    assert app.seen == []


def test_driver_answers_a_slow_body_with_408() -> None:
    clock = FakeClock(0.0)
    head = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\n\r\n"
    script = [(0, head), (2, b"ab"), (4, b"cd"), (8, b"ef")]
    app = EchoApp()
    transport = drive(app, script, limits=SMALL_TIMEOUTS, clock=clock)
    (response,) = parse_responses(transport.sent, [b"POST"])
    assert response.status_code == 408
    assert clock.now == 7.0  # 3 s after the last progress at t=4
    assert app.seen[0].pieces == [b"ab", b"cd"] and not app.seen[0].complete


def test_body_timeout_after_the_response_started_just_closes() -> None:
    class EarlyHead:
        async def handle(self, exchange: Exchange) -> None:
            await exchange.start_response(200, [(b"Content-Type", b"text/plain")])
            await exchange.write(b"working")
            await exchange.read_body()
            await exchange.end()

    head = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\n\r\n"
    transport = drive(EarlyHead(), [(0, head)], limits=SMALL_TIMEOUTS, hold_open=True)
    assert b" 408 " not in transport.sent
    assert b"0\r\n\r\n" not in transport.sent
    assert transport.log[-1] == ("timeout", b"")


# -- limits ------------------------------------------------------------------------


def test_request_line_limit_is_met_before_the_line_ends() -> None:
    limits = Limits(max_request_line=32, max_head_size=256)
    conn = ServerConnection(limits, clock=FakeClock())
    line = b"GET /" + b"a" * 27  # 32 bytes: exactly the limit, still no CRLF
    for byte in line:
        conn.receive_data(bytes([byte]))
        assert conn.next_event() is NEED_DATA
    conn.receive_data(b"\r")  # may still be the CRLF that makes it legal
    assert conn.next_event() is NEED_DATA
    conn.receive_data(b"a")
    with pytest.raises(RemoteProtocolError) as caught:
        conn.next_event()
    assert caught.value.status_code == 414


def test_head_size_limit_is_met_before_the_head_ends() -> None:
    limits = Limits(max_request_line=64, max_head_size=128)
    conn = ServerConnection(limits, clock=FakeClock())
    conn.receive_data(b"GET / HTTP/1.1\r\nHost: a\r\n")
    with pytest.raises(RemoteProtocolError) as caught:
        for _ in range(100):
            conn.receive_data(b"X-Filler: 0123456789\r\n")
            assert conn.next_event() is NEED_DATA
    assert caught.value.status_code == 431
    assert len(conn.trailing_data) <= 128 + 3 + 22


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /" + b"a" * 27 + b" HTTP/1.1\r\nHost: a\r\n\r\n", 414),
        (b"GET /" + b"a" * 18 + b" HTTP/1.1\r\nHost: a\r\n\r\n", 200),  # line of 32
        (b"GET / HTTP/1.1\r\nHost: a\r\n" + b"X: 1\r\n" * 3 + b"\r\n", 431),
        (b"GET / HTTP/1.1\r\nHost: a\r\n" + b"X: 1\r\n" * 2 + b"\r\n", 200),  # 3 fields
        (b"GET / HTTP/1.1\r\nHost: a\r\nX: " + b"v" * 200 + b"\r\n\r\n", 431),
    ],
    ids=["line-over", "line-at-limit", "count-over", "count-at-limit", "head-over"],
)
def test_small_limits_give_their_status(request_bytes: bytes, status: int) -> None:
    limits = Limits(max_request_line=32, max_head_size=128, max_header_count=3)
    app = EchoApp()
    # One read and one byte per read must give the same verdict.
    whole = serve_bytes(app, [request_bytes], limits=limits)
    split = serve_bytes(EchoApp(), [bytes([b]) for b in request_bytes], limits=limits)
    assert whole == split
    (response,) = parse_responses(whole)
    assert response.status_code == status
    assert bool(app.seen) == (status == 200)


BODY_LIMIT = Limits(max_body_size=10)


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (post("/", b"x" * 10), 200),
        (post("/", b"x" * 11), 413),
        (chunked_post("/", [b"x" * 4, b"x" * 6]), 200),
        (chunked_post("/", [b"x" * 4, b"x" * 7]), 413),
        (chunked_post("/", [b"x" * 11]), 413),
    ],
    ids=["length-at-limit", "length-over", "chunked-at-limit", "chunked-over", "one-chunk-over"],
)
def test_body_limit(request_bytes: bytes, status: int) -> None:
    app = EchoApp()
    out = serve_bytes(app, [request_bytes + get("/next")], limits=BODY_LIMIT)
    responses = parse_responses(out, [b"POST"])
    assert responses[0].status_code == status
    if status == 413:
        assert len(responses) == 1 and responses[0].headers.get("Connection") == "close"
        assert app.completed == []
        assert sum(map(len, app.seen[0].pieces)) <= 10
    else:
        assert len(responses) == 2


class SetsLimit(EchoApp):
    def __init__(self, limits: dict[str, int]) -> None:
        super().__init__()
        self.limits = limits
        self.defaults: list[int] = []

    async def handle(self, exchange: Exchange) -> None:
        self.defaults.append(exchange.max_body_size)
        if exchange.path in self.limits:
            exchange.max_body_size = self.limits[exchange.path]
        await super().handle(exchange)


def test_max_body_size_can_be_raised_for_one_request() -> None:
    app = SetsLimit({"/big": 100})
    out = serve_bytes(app, [post("/big", b"x" * 50) + post("/small", b"x" * 50)], limits=BODY_LIMIT)
    responses = parse_responses(out, [b"POST", b"POST"])
    assert [r.status_code for r in responses] == [200, 413]
    assert app.defaults == [10, 10]


def test_max_body_size_can_be_lowered_for_one_request() -> None:
    app = SetsLimit({"/tiny": 3})
    stream = post("/", b"x" * 8) + chunked_post("/tiny", [b"ab", b"cd"])
    responses = parse_responses(serve_bytes(app, [stream], limits=BODY_LIMIT), [b"POST", b"POST"])
    assert [r.status_code for r in responses] == [200, 413]


class NoRead:
    async def handle(self, exchange: Exchange) -> None:
        await exchange.respond(200, [], exchange.path.encode())


@pytest.mark.parametrize(
    "request_bytes",
    [post("/a", b"x" * 100), chunked_post("/a", [b"x" * 50, b"y" * 50])],
    ids=["length", "chunked"],
)
def test_small_unread_body_is_drained_and_the_connection_kept(request_bytes: bytes) -> None:
    out = serve_bytes(NoRead(), [request_bytes + get("/b")], limits=Limits(drain_limit=1000))
    responses = parse_responses(out, [b"POST", b"GET"])
    assert [r.content for r in responses] == [b"/a", b"/b"]
    assert all("Connection" not in r.headers for r in responses)


def test_big_unread_body_closes_the_connection_up_front() -> None:
    transport = drive(NoRead(), [(0, post("/a", b"x" * 100) + get("/b"))],
                      limits=Limits(drain_limit=10))
    (response,) = parse_responses(transport.sent, [b"POST"])
    assert response.headers.get("Connection") == "close"
    assert response.content == b"/a"


def test_big_unread_chunked_body_closes_the_connection() -> None:
    # A chunked body's size is unknown when the response goes out, so the
    # connection closes once draining passes the limit.
    stream = chunked_post("/a", [b"x" * 50, b"y" * 50]) + get("/b")
    transport = drive(NoRead(), [(0, stream)], limits=Limits(drain_limit=10))
    responses = parse_responses(transport.sent, [b"POST", b"GET"])
    assert [r.content for r in responses] == [b"/a"]


# -- events a request produces --------------------------------------------------------


def test_events_of_a_chunked_request_with_trailers() -> None:
    conn = ServerConnection(clock=FakeClock())
    conn.receive_data(chunked_post("/", [b"abc"])[:-2] + b"X-Sum: 9\r\n\r\n")
    request = conn.next_event()
    assert isinstance(request, Request) and request.method == b"POST"
    assert conn.next_event() == Data(b"abc")
    end = conn.next_event()
    assert isinstance(end, EndOfMessage)
    assert list(end.trailers) == [(b"x-sum", b"9")]
    assert conn.request_complete


def test_connections_here_use_the_engine_under_test(engine: str) -> None:
    conn = ServerConnection(clock=FakeClock())
    conn.receive_data(get("/"))
    request = conn.next_event()
    assert isinstance(request, Request)
    # The native engine hands on the screened head's own list; h11 has a type of its own.
    assert (type(request.headers) is list) == (engine == "native")


def test_clean_close_between_requests_is_connection_closed() -> None:
    conn = ServerConnection(clock=FakeClock())
    conn.receive_data(b"")
    assert isinstance(conn.next_event(), ConnectionClosed)


@pytest.mark.parametrize(
    "partial",
    [b"GET / HTTP/1.1\r\nHost", post("/", b"abcdef")[:-2], chunked_post("/", [b"abc"])[:-5]],
    ids=["in-head", "in-length-body", "in-chunked-body"],
)
def test_close_inside_a_request_is_an_error(partial: bytes) -> None:
    conn = ServerConnection(clock=FakeClock())
    conn.receive_data(partial)
    conn.receive_data(b"")
    with pytest.raises(RequestError) as caught:
        while True:
            assert conn.next_event() is not NEED_DATA
    assert caught.value.status_code == 400


# -- chunked framing handed to the engine ----------------------------------------------------


def test_chunked_body_reaches_the_engine_canonical_whatever_the_split() -> None:
    body = b"4 ;a=b\r\nWiki\r\n05;q=\"x y\"\r\npedia\r\n0 ; last\r\nX-T: 1\r\n\r\nGET /next"
    expected = b"4\r\nWiki\r\n5\r\npedia\r\n0\r\nX-T: 1\r\n\r\n"
    for step in (len(body), 1, 3):
        scanner = ChunkedScanner()
        output = b""
        taken = 0
        for start in range(0, len(body), step):
            piece = body[start : start + step]
            taken += scanner.scan(piece)
            output += scanner.take_output()
        assert scanner.done
        assert body[taken:] == b"GET /next"
        assert output == expected


@pytest.mark.parametrize("body", [b"12345", b"1", b""])
def test_a_whole_response_that_contradicts_its_length_is_not_sent(body: bytes) -> None:
    # The head counts as written, as with respond()'s parts sent one by one: no 500
    # follows it, and the connection closes without a word.
    class Contradicting:
        async def handle(self, exchange: Exchange) -> None:
            await exchange.respond(200, [(b"Content-Length", b"3")], body)

    assert serve_bytes(Contradicting(), [get("/") + get("/next")]) == b""


def test_a_whole_response_with_a_refused_field_is_a_500() -> None:
    class Refused:
        async def handle(self, exchange: Exchange) -> None:
            await exchange.respond(200, [(b"X-Bad", b"a\x01b")], b"body")

    (response,) = parse_responses(serve_bytes(Refused(), [get("/")]))
    assert response.status_code == 500
