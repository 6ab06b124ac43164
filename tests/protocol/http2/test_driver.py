"""The HTTP/2 driver over an in-memory transport on asyncio, with h2's client on the other end."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from crosswind.errors import LocalProtocolError
from crosswind.protocol.exchange import Exchange
from crosswind.protocol.http2.driver import H2ConnectionDriver
from crosswind.protocol.limits import Limits
from crosswind.protocol.transport import ConnectionInfo
from h2 import events as h2events
from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.errors import ErrorCodes
from hyperframe.frame import PingFrame


class MemoryTransport:
    """A transport whose peer is the test: bytes are fed in, and what is sent is kept.

    :param stalled: sends never complete, as for a client that stopped reading.
    """

    def __init__(self, *, stalled: bool = False) -> None:
        self.loop = asyncio.get_running_loop()
        self.info = ConnectionInfo(peer=("127.0.0.1", 1))
        self.inbox: list[bytes] = []
        self.waiter: asyncio.Future[bytes] | None = None
        self.sent = bytearray()
        self.stalled = stalled
        self.closed = self.aborted = False

    def feed(self, data: bytes) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(data)
        else:
            self.inbox.append(data)

    def receive(self, deadline: float | None) -> Awaitable[bytes]:
        waiter = self.waiter = self.loop.create_future()
        if self.inbox:
            waiter.set_result(b"".join(self.inbox))
            self.inbox.clear()
        elif deadline is not None:
            self.loop.call_at(
                deadline, lambda: waiter.done() or waiter.set_exception(TimeoutError())
            )
        return waiter

    def stop_waiting(self, condition: Callable[[Any], bool]) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done() and condition(None):
            waiter.set_exception(TimeoutError())

    async def send(self, data: bytes) -> None:
        if self.stalled:
            await asyncio.Event().wait()
        self.sent += data

    async def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def set_close_callback(self, callback: Callable[[], None] | None) -> None:
        pass

    def start_soon(self, async_fn: Callable[[], Any]) -> None:
        self.loop.create_task(async_fn())

    def new_signal(self) -> asyncio.Event:
        return asyncio.Event()


def client() -> H2Connection:
    conn = H2Connection(H2Configuration(client_side=True, header_encoding=None))
    conn.initiate_connection()
    return conn


def get(conn: H2Connection, path: bytes = b"/") -> int:
    stream_id = conn.get_next_available_stream_id()
    conn.send_headers(
        stream_id,
        [(b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"a"), (b":path", path)],
        end_stream=True,
    )
    return stream_id


async def settle(transport: MemoryTransport, conn: H2Connection) -> list[h2events.Event]:
    """Let the server run, then hand what it sent to the client."""
    for _ in range(20):
        await asyncio.sleep(0)
    data, transport.sent = bytes(transport.sent), bytearray()
    return conn.receive_data(data) if data else []


def test_a_client_that_does_not_read_its_acks_is_cut() -> None:
    async def main() -> None:
        transport = MemoryTransport(stalled=True)
        limits = Limits(h2_max_control_frames=10**6, h2_max_queued_bytes=16 * 1024)
        driver = H2ConnectionDriver(transport, _Echo(), clock=asyncio.get_running_loop().time,
                                    limits=limits)
        task = asyncio.ensure_future(driver.run())
        conn = client()
        transport.feed(conn.data_to_send())
        ping = PingFrame(0, b"12345678").serialize()
        for _ in range(200):
            transport.feed(ping * 10)
            await asyncio.sleep(0)
            if task.done():
                break
        await asyncio.wait_for(task, 1.0)
        # 17-byte ACKs: cut after about a thousand, not after all 2000.
        assert transport.aborted and transport.closed

    asyncio.run(main())


class _Echo:
    async def handle(self, exchange: Exchange) -> None:
        if exchange.path == "/fail":
            raise RuntimeError("boom")
        if exchange.path == "/fail-late":
            await exchange.start_response(200, [(b"content-type", b"text/plain")])
            await exchange.write(b"partial")
            raise RuntimeError("boom")
        if exchange.path == "/detach":
            exchange.detach()
        if exchange.path == "/nothing":
            return
        await exchange.respond(200, [(b"Content-Type", b"text/plain"), (b"Keep-Alive", b"5"),
                                     (b"Transfer-Encoding", b"chunked")], b"ok " + exchange.path.encode())


@pytest.mark.parametrize(
    ("path", "status"), [("/fail", 500), ("/detach", 500), ("/nothing", 500), ("/x", 200)]
)
def test_applications_that_fail_before_answering_get_500(path: str, status: int) -> None:
    async def main() -> None:
        transport = MemoryTransport()
        driver = H2ConnectionDriver(transport, _Echo(), clock=asyncio.get_running_loop().time)
        task = asyncio.ensure_future(driver.run())
        conn = client()
        stream_id = get(conn, path.encode())
        transport.feed(conn.data_to_send())
        events = await settle(transport, conn)
        (response,) = [e for e in events if isinstance(e, h2events.ResponseReceived)]
        assert response.stream_id == stream_id
        fields = dict(response.headers)
        assert fields[b":status"] == b"%d" % status
        assert b"keep-alive" not in fields and b"transfer-encoding" not in fields
        assert [e for e in events if isinstance(e, h2events.StreamEnded)]
        transport.feed(b"")
        await asyncio.wait_for(task, 1.0)

    asyncio.run(main())


def test_application_that_fails_mid_response_has_its_stream_reset() -> None:
    async def main() -> None:
        transport = MemoryTransport()
        driver = H2ConnectionDriver(transport, _Echo(), clock=asyncio.get_running_loop().time)
        task = asyncio.ensure_future(driver.run())
        conn = client()
        stream_id = get(conn, b"/fail-late")
        transport.feed(conn.data_to_send())
        events = await settle(transport, conn)
        resets = [e for e in events if isinstance(e, h2events.StreamReset)]
        assert [(e.stream_id, e.error_code) for e in resets] == [
            (stream_id, ErrorCodes.INTERNAL_ERROR)
        ]
        # The connection serves on.
        stream_id = get(conn, b"/x")
        transport.feed(conn.data_to_send())
        events = await settle(transport, conn)
        assert [e for e in events if isinstance(e, h2events.StreamEnded)]
        transport.feed(b"")
        await asyncio.wait_for(task, 1.0)

    asyncio.run(main())


class _Secrets:
    async def handle(self, exchange: Exchange) -> None:
        await exchange.respond(200, [
            (b"Authorization", b"Basic YTpi"), (b"proxy-authorization", b"Basic YTpi"),
            (b"cookie", b"short=1"), (b"cookie", b"long=" + b"x" * 30), (b"x-plain", b"1"),
            (b"TE", b"trailers"),
        ])


def test_credentials_and_short_cookies_are_never_indexed() -> None:
    # h2's own outbound checks are off; the exchange marks these fields as h2 would.
    async def main() -> None:
        transport = MemoryTransport()
        driver = H2ConnectionDriver(transport, _Secrets(), clock=asyncio.get_running_loop().time)
        task = asyncio.ensure_future(driver.run())
        conn = H2Connection(H2Configuration(
            client_side=True, header_encoding=None, normalize_inbound_headers=False
        ))
        conn.initiate_connection()
        get(conn)
        transport.feed(conn.data_to_send())
        events = await settle(transport, conn)
        (response,) = [e for e in events if isinstance(e, h2events.ResponseReceived)]
        fields = [(field[0], field[1], field.indexable) for field in response.headers]
        assert b"te" not in [name for name, _, _ in fields]  # a request field: dropped
        assert [(name, value) for name, value, indexable in fields if not indexable] == [
            (b"authorization", b"Basic YTpi"), (b"proxy-authorization", b"Basic YTpi"),
            (b"cookie", b"short=1"),
        ]
        assert (b"cookie", b"long=" + b"x" * 30, True) in fields
        assert (b"x-plain", b"1", True) in fields
        transport.feed(b"")
        await asyncio.wait_for(task, 1.0)

    asyncio.run(main())


class _Fields:
    """Answers with the fields its path names: a list field, distinct ones, a bad length."""

    async def handle(self, exchange: Exchange) -> None:
        fields: list[Any] = [(b"X-Same", b"v")]
        if exchange.path == "/list":
            fields.append([b"X-List", b"1"])
        elif exchange.path == "/bad-length":
            fields.append((b"Content-Length", b"1x"))
        elif exchange.path.startswith("/distinct/"):
            fields.extend((b"x-%d" % n, exchange.path.encode()) for n in range(10))
        await exchange.respond(200, fields, b"")


def _heads(paths: list[bytes]) -> list[dict[bytes, bytes]]:
    async def main() -> list[dict[bytes, bytes]]:
        transport = MemoryTransport()
        driver = H2ConnectionDriver(transport, _Fields(), clock=asyncio.get_running_loop().time)
        task = asyncio.ensure_future(driver.run())
        conn = client()
        heads = []
        for path in paths:
            get(conn, path)
            transport.feed(conn.data_to_send())
            events = await settle(transport, conn)
            heads += [dict(e.headers) for e in events if isinstance(e, h2events.ResponseReceived)]
        transport.feed(b"")
        await asyncio.wait_for(task, 1.0)
        return heads

    return asyncio.run(main())


def test_fields_vetted_once_are_refused_again_when_bad() -> None:
    # Vetted fields are remembered; a bad one never is, nor does a good one pass it.
    heads = _heads([b"/ok", b"/bad-length", b"/list", b"/bad-length", b"/ok"])
    assert [head[b":status"] for head in heads] == [b"200", b"500", b"200", b"500", b"200"]
    assert heads[2][b"x-list"] == b"1" and heads[4][b"x-same"] == b"v"


def test_the_table_of_vetted_fields_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from crosswind.protocol.http2 import exchange as h2_exchange

    monkeypatch.setattr(h2_exchange, "_VETTED", {})
    monkeypatch.setattr(h2_exchange, "_MAX_VETTED", 16)
    heads = _heads([b"/distinct/%d" % n for n in range(5)])
    assert [head[b"x-9"] for head in heads] == [b"/distinct/%d" % n for n in range(5)]
    assert 0 < len(h2_exchange._VETTED) <= 16


def test_driver_needs_a_transport_that_runs_tasks() -> None:
    class Plain:
        info = ConnectionInfo()

    with pytest.raises(TypeError):
        H2ConnectionDriver(Plain(), _Echo(), clock=lambda: 0.0)  # type: ignore[arg-type]


def test_detach_is_refused() -> None:
    # Checked directly too: the 500 above could have other causes.
    async def main() -> None:
        transport = MemoryTransport()
        seen: list[BaseException] = []

        class App:
            async def handle(self, exchange: Exchange) -> None:
                try:
                    exchange.detach()
                except LocalProtocolError as error:
                    seen.append(error)
                await exchange.respond(204, [])

        driver = H2ConnectionDriver(transport, App(), clock=asyncio.get_running_loop().time)
        task = asyncio.ensure_future(driver.run())
        conn = client()
        get(conn)
        transport.feed(conn.data_to_send())
        await settle(transport, conn)
        transport.feed(b"")
        await asyncio.wait_for(task, 1.0)
        assert len(seen) == 1

    asyncio.run(main())


class _WhoAmI:
    async def handle(self, exchange: Exchange) -> None:
        info = exchange.info
        body = f"{info.peer} {info.scheme} {exchange.get_header(b'host')!r}".encode()
        await exchange.respond(200, [(b"content-type", b"text/plain")], body)


@pytest.mark.parametrize(
    ("trusted", "expected"),
    [
        ("127.0.0.1", b"('203.0.113.9', 0) https b'shop.example'"),
        # A peer that is not trusted: its fields are ignored whole.
        ("10.0.0.1", b"('127.0.0.1', 1) http b'a'"),
    ],
)
def test_streams_see_the_client_a_trusted_proxy_reports(trusted: str, expected: bytes) -> None:
    async def main() -> None:
        from crosswind.forwarded import TrustedProxies

        transport = MemoryTransport()
        driver = H2ConnectionDriver(transport, _WhoAmI(), clock=asyncio.get_running_loop().time,
                                    proxy=TrustedProxies(trusted))
        task = asyncio.ensure_future(driver.run())
        conn = client()
        stream_id = conn.get_next_available_stream_id()
        conn.send_headers(stream_id, [
            (b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"a"), (b":path", b"/"),
            (b"host", b"a"), (b"x-forwarded-for", b"203.0.113.9"),
            (b"x-forwarded-proto", b"https"), (b"x-forwarded-host", b"shop.example"),
        ], end_stream=True)
        transport.feed(conn.data_to_send())
        events = await settle(transport, conn)
        (data,) = [e for e in events if isinstance(e, h2events.DataReceived)]
        assert data.data == expected
        transport.feed(b"")
        await asyncio.wait_for(task, 1.0)

    asyncio.run(main())
