"""The asyncio backend's connection protocol: how responses reach the transport."""

from __future__ import annotations

import asyncio
import gc
import socket
import types

import pytest
from crosswind.backends.asyncio import _CORK_LIMIT, _HeldWrites, _Protocol, start_server
from crosswind.protocol.driver import ConnectionDriver
from crosswind.protocol.exchange import Exchange
from crosswind.protocol.limits import Limits
from crosswind.testing import parse_responses

GET = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"


class RecordingTransport(asyncio.Transport):
    """Records each write the protocol makes, as the kernel would see them."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def writelines(self, parts: list[bytes]) -> None:  # type: ignore[override]
        self.writes.append(b"".join(parts))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str, default: object = None) -> object:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 80)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def fake_server(loop: asyncio.AbstractEventLoop) -> types.SimpleNamespace:
    """What a connection's protocol uses of its server."""
    return types.SimpleNamespace(
        loop=loop, start_connection=lambda protocol: None, held_writes=_HeldWrites(loop)
    )


def connected(server: types.SimpleNamespace) -> tuple[_Protocol, RecordingTransport]:
    """A protocol of *server* with its connection made."""
    protocol, transport = _Protocol(server), RecordingTransport()  # type: ignore[arg-type]
    protocol.connection_made(transport)
    return protocol, transport


async def serve(
    app: object, requests: list[bytes], transport: RecordingTransport | None = None
) -> RecordingTransport:
    """Run one connection: feed *requests*, then EOF once the application finished them."""
    loop = asyncio.get_running_loop()
    server = fake_server(loop)
    protocol = _Protocol(server)  # type: ignore[arg-type]
    transport = transport or RecordingTransport()
    protocol.connection_made(transport)
    driver = ConnectionDriver(protocol, app, clock=loop.time)  # type: ignore[arg-type]
    task = loop.create_task(driver.run())
    for request in requests:
        protocol.data_received(request)
        await asyncio.sleep(0)
    for _ in range(100):
        await asyncio.sleep(0.01)
        if len(app.done) == len(requests):  # type: ignore[attr-defined]
            break
    protocol.eof_received()
    await asyncio.wait_for(task, 5)
    return transport


class Streamed:
    """start_response, two writes and end, with an optional pause after the first write."""

    def __init__(self, pause: float = 0.0, pieces: int = 2, size: int = 5) -> None:
        self.pause = pause
        self.pieces = pieces
        self.size = size
        self.done: list[int] = []
        self.sent_before_pause: list[int] = []
        self.transport: RecordingTransport | None = None

    async def handle(self, exchange: Exchange) -> None:
        await exchange.start_response(200, [(b"Content-Type", b"text/plain")])
        for index in range(self.pieces):
            await exchange.write(b"%d" % index * self.size)
            if index == 0 and self.pause:
                await asyncio.sleep(self.pause)
        await exchange.end()
        self.done.append(1)


def test_a_streamed_response_is_written_once_when_produced_without_pause() -> None:
    app = Streamed()
    transport = asyncio.run(serve(app, [GET, GET]))
    assert len(transport.writes) == 2  # one per response, not head + 2 pieces + end
    responses = parse_responses(b"".join(transport.writes))
    assert [r.content for r in responses] == [b"0000011111"] * 2


def test_held_back_pieces_go_out_when_the_handler_awaits_something_else() -> None:
    class Watching(Streamed):
        async def handle(self, exchange: Exchange) -> None:
            await exchange.start_response(200, [(b"Content-Type", b"text/plain")])
            await exchange.write(b"first")
            await asyncio.sleep(0.05)
            # The head and the first piece left during the sleep, not now.
            self.sent_before_pause.append(len(watched.writes))
            await exchange.end(b"second")
            self.done.append(1)

    app = Watching()
    watched = RecordingTransport()
    transport = asyncio.run(serve(app, [GET], watched))
    assert app.sent_before_pause == [1]
    assert len(transport.writes) == 2
    (response,) = parse_responses(b"".join(transport.writes))
    assert response.content == b"firstsecond"


def test_a_large_streamed_body_is_written_as_it_grows() -> None:
    app = Streamed(pieces=8, size=_CORK_LIMIT // 4)
    transport = asyncio.run(serve(app, [GET]))
    assert 1 < len(transport.writes) <= 4
    assert max(len(w) for w in transport.writes) < 2 * _CORK_LIMIT
    (response,) = parse_responses(b"".join(transport.writes))
    assert len(response.content) == 8 * (_CORK_LIMIT // 4)


def test_a_whole_response_is_one_write() -> None:
    class Whole:
        done: list[int] = []

        async def handle(self, exchange: Exchange) -> None:
            await exchange.respond(200, [(b"Content-Type", b"text/plain")], b"hello")
            self.done.append(1)

    transport = asyncio.run(serve(Whole(), [GET]))
    assert len(transport.writes) == 1
    assert transport.writes[0].endswith(b"\r\n\r\nhello")


def test_a_whole_response_waits_while_the_peer_is_slow_to_read() -> None:
    # respond() writes at once; with the transport's buffer full it must not
    # return (nor the next request be read) until the peer drains it.
    class Whole:
        done: list[int] = []

        async def handle(self, exchange: Exchange) -> None:
            await exchange.respond(200, [(b"Content-Type", b"text/plain")], b"x" * 1000)
            self.done.append(1)

    async def run() -> tuple[list[int], RecordingTransport, list[int]]:
        loop = asyncio.get_running_loop()
        server = fake_server(loop)
        protocol = _Protocol(server)  # type: ignore[arg-type]
        transport = RecordingTransport()
        protocol.connection_made(transport)
        app = Whole()
        driver = ConnectionDriver(protocol, app, clock=loop.time)  # type: ignore[arg-type]
        task = loop.create_task(driver.run())
        protocol.pause_writing()  # the kernel buffer is full
        protocol.data_received(GET + GET)
        for _ in range(5):
            await asyncio.sleep(0)
        while_paused = list(app.done)
        protocol.resume_writing()
        for _ in range(5):
            await asyncio.sleep(0)
        protocol.eof_received()
        await asyncio.wait_for(task, 5)
        return while_paused, transport, app.done

    while_paused, transport, done = asyncio.run(run())
    assert while_paused == []  # the first respond() is still waiting
    assert done == [1, 1]
    responses = parse_responses(b"".join(transport.writes))
    assert [len(r.content) for r in responses] == [1000, 1000]


def test_a_receive_fails_once_the_sweep_finds_its_deadline_passed() -> None:
    async def run() -> tuple[bool, bytes]:
        loop = asyncio.get_running_loop()
        server = fake_server(loop)
        protocol = _Protocol(server)  # type: ignore[arg-type]
        protocol.connection_made(RecordingTransport())
        waiter = protocol.receive(100.0)
        protocol.check_deadline(99.9)  # not yet
        early = waiter.done()
        protocol.check_deadline(100.0)
        with pytest.raises(TimeoutError):
            await waiter
        # The next receive is a new wait; data resolves it, a late sweep does not.
        waiter = protocol.receive(200.0)
        protocol.data_received(b"GET")
        protocol.check_deadline(300.0)
        return early, await waiter

    early, data = asyncio.run(run())
    assert not early
    assert data == b"GET"


def test_bytes_sent_in_one_loop_turn_are_written_together_when_it_ends() -> None:
    # The client then wakes once for every response of the turn.
    async def run() -> tuple[list[list[bytes]], list[list[bytes]]]:
        loop = asyncio.get_running_loop()
        server = fake_server(loop)
        (first, one), (second, other) = connected(server), connected(server)
        protocols, transports = [first, second], [one, other]
        assert protocols[0].send_nowait(b"one") is None
        protocols[1].send_nowait(b"two")
        protocols[0].send_nowait(b"three")
        during = [list(t.writes) for t in transports]
        await asyncio.sleep(0)
        return during, [list(t.writes) for t in transports]

    during, after = asyncio.run(run())
    assert during == [[], []]
    assert after == [[b"onethree"], [b"two"]]


def test_held_bytes_past_the_limit_are_written_at_once() -> None:
    async def run() -> list[bytes]:
        protocol, transport = connected(fake_server(asyncio.get_running_loop()))
        protocol.send_nowait(b"x" * _CORK_LIMIT)
        written = list(transport.writes)
        await asyncio.sleep(0)  # the end of the turn writes nothing twice
        assert transport.writes == written
        return written

    assert asyncio.run(run()) == [b"x" * _CORK_LIMIT]


def test_a_connection_closed_with_held_bytes_closes_after_writing_them() -> None:
    # Closing waits for the turn's end too, so the client sees the response and
    # the end of the connection together, and nothing is lost.
    async def run() -> tuple[list[bytes], bool, list[bytes], bool]:
        protocol, transport = connected(fake_server(asyncio.get_running_loop()))
        protocol.send_nowait(b"last words")
        await protocol.close()
        during = list(transport.writes), transport.closed
        await asyncio.sleep(0)
        return (*during, list(transport.writes), transport.closed)

    written_during, closed_during, written, closed = asyncio.run(run())
    assert (written_during, closed_during) == ([], False)
    assert (written, closed) == ([b"last words"], True)


def test_a_connection_closed_with_nothing_held_closes_at_once() -> None:
    async def run() -> bool:
        protocol, transport = connected(fake_server(asyncio.get_running_loop()))
        await protocol.close()
        return transport.closed

    assert asyncio.run(run())


def test_a_finished_connection_leaves_nothing_of_crosswind_to_the_cycle_collector() -> None:
    # Left to the collector, every short connection's driver and protocol piled
    # up between collections, and full collections set the tail latency.
    class Whole:
        async def handle(self, exchange: Exchange) -> None:
            await exchange.respond(200, [(b"Content-Type", b"text/plain")], b"hello")

    async def run() -> list[bytes]:
        server = await start_server(Whole(), port=0)
        port = server.sock.getsockname()[1]
        answers = []
        for _ in range(3):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(GET.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
            answers.append(await reader.read())
            writer.close()
            await writer.wait_closed()
        await server.shutdown()
        return answers

    gc.collect()
    gc.disable()
    try:
        answers = asyncio.run(run())
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        left = [type(o).__name__ for o in gc.garbage if isinstance(o, ConnectionDriver | _Protocol)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert [a.endswith(b"hello") for a in answers] == [True] * 3
    assert left == []


def test_a_burst_of_clients_is_accepted_in_one_turn_up_to_the_free_slots() -> None:
    # Taken a few per turn, the last of a thousand clients waited in the
    # backlog while the loop went round for the others many times.
    class Hello:
        async def handle(self, exchange: Exchange) -> None:
            await exchange.respond(200, [], b"hello")

    async def run() -> tuple[int, int]:
        server = await start_server(Hello(), port=0, limits=Limits(max_connections=50))
        port = server.sock.getsockname()[1]
        # Blocking connects: the kernel completes them into the backlog while
        # the loop does not run.
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(80)]
        try:
            # A turn to see the listening socket readable, one for the new
            # transports' connection_made, one to be sure they ran.
            for _ in range(3):
                await asyncio.sleep(0)
            accepted = len(server.connections)
            await asyncio.sleep(0.05)
            return accepted, len(server.connections)
        finally:
            for client in clients:
                client.close()
            await server.shutdown()

    accepted, later = asyncio.run(run())
    assert accepted == 50
    assert later == 50  # the rest wait in the backlog for a free slot
