"""crosswind.websocket.WebSocketHandler on every backend, against a wsproto client over a socket.

Deadlines (pings, ping timeouts, shutdown) are checked with generous bounds:
what is asserted is that something happens, never how fast.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from crosswind.protocol.limits import Limits
from crosswind.web import Application, authenticated
from crosswind.websocket import WebSocketClosedError, WebSocketHandler
from wsproto import ConnectionType
from wsproto import WSConnection as ws_connection
from wsproto import events as ws

from tests.support.recorder import Recorder
from tests.support.servers import BACKENDS, running_server
from tests.support.ws_client import WSClient, raw_request

pytestmark = [pytest.mark.network, pytest.mark.timeout(60)]

WAIT = 10.0


def make_app(recorder: Recorder, **settings: Any) -> Application:
    class Echo(WebSocketHandler):
        def open(self, *args: str) -> None:
            recorder.add(("open", args))
            if args:
                self.write_message({"args": list(args)})

        def on_message(self, message: str | bytes) -> None:
            if message == "close please":
                self.close(4001, "as asked")
            elif message == "ping please":
                self.ping(b"ours")
            elif message == "json please":
                self.write_message({"a": [1, 2], "s": "x"})
            else:
                self.write_message(message, binary=isinstance(message, bytes))

        def on_ping(self, data: bytes) -> None:
            recorder.add(("ping", data))

        def on_pong(self, data: bytes) -> None:
            recorder.add(("pong", data))

        def on_close(self) -> None:
            recorder.add(("close", self.close_code, self.close_reason))

        def select_subprotocol(self, subprotocols: list[str]) -> str | None:
            recorder.add(("offered", subprotocols))
            return "chat" if "chat" in subprotocols else None

    class Sequential(WebSocketHandler):
        async def on_message(self, message: str | bytes) -> None:
            assert isinstance(message, str)
            await self.write_message("start " + message)
            await self.write_message("end " + message)

    class Compressed(WebSocketHandler):
        def get_compression_options(self) -> dict[str, Any]:
            return {}

        def open(self) -> None:
            recorder.add(("deflate", self.request.headers.get("Sec-WebSocket-Extensions")))

        def on_message(self, message: str | bytes) -> None:
            self.write_message(message)

    class Private(WebSocketHandler):
        def get_current_user(self) -> str | None:
            return self.get_cookie("user")

        @authenticated
        async def get(self, *args: Any, **kwargs: Any) -> None:
            await super().get(*args, **kwargs)

        def open(self) -> None:
            self.write_message("hello " + self.current_user)

    class Closer(WebSocketHandler):
        def open(self) -> None:
            self.close(4002, "bye")

        def on_close(self) -> None:
            recorder.add(("close", self.close_code, self.close_reason))
            try:
                self.write_message("too late")
            except WebSocketClosedError:
                recorder.add(("closed error",))

    class Failing(WebSocketHandler):
        def on_message(self, message: str | bytes) -> None:
            raise RuntimeError("handler bug")

        def on_close(self) -> None:
            recorder.add(("close", self.close_code, self.close_reason))

    return Application(
        [
            (r"/echo", Echo),
            (r"/echo/(\w+)/(\w+)", Echo),
            (r"/sequential", Sequential),
            (r"/compressed", Compressed),
            (r"/private", Private),
            (r"/closer", Closer),
            (r"/failing", Failing),
        ],
        login_url="/login",
        **settings,
    )


def dropped(event: ws.Event | None) -> bool:
    """Whether the server ended the TCP connection without a close frame (wsproto says 1006)."""
    return event == ws.CloseConnection(code=1006)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def port(backend: str, recorder: Recorder) -> Iterator[int]:
    with running_server(backend, make_app(recorder)) as handle:
        yield handle.port


def test_echo_text_and_binary(port: int, recorder: Recorder) -> None:
    with WSClient(port, "/echo") as client:
        assert client.accepted
        client.send_text("héllo")
        assert client.receive() == "héllo"
        client.send_bytes(b"\x00\xffbin")
        assert client.receive() == b"\x00\xffbin"
        client.send_text("json please")
        assert client.receive() == '{"a": [1, 2], "s": "x"}'
        assert client.close() == ws.CloseConnection(code=1000, reason="")
        assert client.next_event() is None  # the server closed TCP
    recorder.wait_for(lambda items: ("close", 1000, None) in items)


def test_open_gets_the_path_arguments(port: int, recorder: Recorder) -> None:
    with WSClient(port, "/echo/first/second") as client:
        assert client.receive() == '{"args": ["first", "second"]}'
    assert ("open", ("first", "second")) in recorder.wait_for(lambda items: bool(items))


def test_async_on_message_runs_one_message_at_a_time(port: int) -> None:
    with WSClient(port, "/sequential") as client:
        for word in ("one", "two", "three"):
            client.send_text(word)
        received = [client.receive() for _ in range(6)]
    assert received == [
        "start one", "end one", "start two", "end two", "start three", "end three"
    ]


def test_client_close_with_code_and_reason(port: int, recorder: Recorder) -> None:
    with WSClient(port, "/echo") as client:
        # The server echoes the code, not the reason.
        assert client.close(4000, "done here") == ws.CloseConnection(code=4000, reason="")
    items = recorder.wait_for(lambda items: bool(recorder.closes()))
    assert recorder.closes() == [("close", 4000, "done here")]
    assert items.count(("close", 4000, "done here")) == 1


def test_server_close_with_code_and_reason(port: int, recorder: Recorder) -> None:
    with WSClient(port, "/echo") as client:
        client.send_text("close please")
        assert client.receive() == ws.CloseConnection(code=4001, reason="as asked")
        client.send(ws.CloseConnection(code=4001))
        assert client.next_event() is None
    recorder.wait_for(lambda items: bool(recorder.closes()))
    # Tornado reports the code of the peer's close frame, which answered ours.
    assert recorder.closes() == [("close", 4001, None)]


def test_close_in_open_and_sending_after_close(port: int, recorder: Recorder) -> None:
    with WSClient(port, "/closer") as client:
        assert client.wait_closed() == ws.CloseConnection(code=4002, reason="bye")
        assert client.next_event() is None
    recorder.wait_for(lambda items: ("closed error",) in items)
    # wsproto's client answers with the code and the reason it got.
    assert recorder.closes() == [("close", 4002, "bye")]


def test_ping_and_pong_callbacks(port: int, recorder: Recorder) -> None:
    with WSClient(port, "/echo", auto_pong=False) as client:
        client.send(ws.Ping(payload=b"theirs"))
        assert client.next_event() == ws.Pong(payload=b"theirs")
        client.send_text("ping please")
        assert client.next_event() == ws.Ping(payload=b"ours")
        client.send(ws.Pong(payload=b"ours"))
        recorder.wait_for(lambda items: ("pong", b"ours") in items)
    assert ("ping", b"theirs") in recorder.items


def test_subprotocol_selection(port: int, recorder: Recorder) -> None:
    with WSClient(port, "/echo", subprotocols=["other", "chat"]) as client:
        assert isinstance(client.handshake, ws.AcceptConnection)
        assert client.handshake.subprotocol == "chat"
    with WSClient(port, "/echo") as client:
        assert isinstance(client.handshake, ws.AcceptConnection)
        assert client.handshake.subprotocol is None
    offered = [item[1] for item in recorder.items if item[0] == "offered"]
    assert offered == [["other", "chat"], []]


def test_permessage_deflate_when_compression_options_are_given(
    port: int, recorder: Recorder
) -> None:
    with WSClient(port, "/compressed", deflate=True) as client:
        assert isinstance(client.handshake, ws.AcceptConnection)
        assert [ext.name for ext in client.handshake.extensions] == ["permessage-deflate"]
        message = "compress me " * 200
        client.send_text(message)
        assert client.receive() == message
    with WSClient(port, "/echo", deflate=True) as client:
        assert isinstance(client.handshake, ws.AcceptConnection)
        assert client.handshake.extensions == []


def test_cross_origin_is_refused(port: int, recorder: Recorder) -> None:
    with WSClient(port, "/echo", headers=[("Origin", "http://elsewhere.example")]) as client:
        assert isinstance(client.handshake, ws.RejectConnection)
        assert client.handshake.status_code == 403
    with WSClient(port, "/echo", headers=[("Origin", f"http://127.0.0.1:{port}")]) as client:
        assert client.accepted
        recorder.wait_for(lambda items: ("open", ()) in items)
    assert [item for item in recorder.items if item[0] == "open"] == [("open", ())]


def test_refusals_before_open(port: int, recorder: Recorder) -> None:
    status, _, _ = raw_request(port, "GET /echo HTTP/1.1\nHost: x\n\n")
    assert status == 400
    status, fields, _ = raw_request(
        port,
        "GET /echo HTTP/1.1\nHost: x\nUpgrade: websocket\nConnection: Upgrade\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\nSec-WebSocket-Version: 8\n\n",
    )
    assert status == 426
    assert fields["sec-websocket-version"] == "13"
    status, _, _ = raw_request(
        port,
        "GET /echo HTTP/1.1\nHost: x\nUpgrade: websocket\nConnection: Upgrade\n"
        "Sec-WebSocket-Key: short\nSec-WebSocket-Version: 13\n\n",
    )
    assert status == 400
    assert recorder.items == []


def test_the_handshake_runs_authentication(port: int) -> None:
    with WSClient(port, "/private") as client:
        assert isinstance(client.handshake, ws.RejectConnection)
        assert client.handshake.status_code == 302
    with WSClient(port, "/private", headers=[("Cookie", "user=ann")]) as client:
        assert client.receive() == "hello ann"


def test_a_failing_callback_drops_the_connection(port: int, recorder: Recorder) -> None:
    with WSClient(port, "/failing") as client:
        client.send_text("boom")
        assert dropped(client.next_event())  # no close frame, as Tornado does
    recorder.wait_for(lambda items: bool(recorder.closes()))
    assert recorder.closes() == [("close", None, None)]


def test_a_client_that_disappears(port: int, recorder: Recorder) -> None:
    client = WSClient(port, "/echo")
    client.send_text("hi")
    assert client.receive() == "hi"
    client.sock.close()
    recorder.wait_for(lambda items: bool(recorder.closes()))
    assert recorder.closes() == [("close", None, None)]


def test_a_message_over_the_limit_closes_with_1009(backend: str, recorder: Recorder) -> None:
    app = make_app(recorder, websocket_max_message_size=1024)
    with running_server(backend, app) as handle, WSClient(handle.port, "/echo") as client:
        client.send_text("x" * 1024)
        assert client.receive() == "x" * 1024
        client.send_text("x" * 1025)
        event = client.receive()
        assert isinstance(event, ws.CloseConnection)
        assert event.code == 1009
    recorder.wait_for(lambda items: bool(recorder.closes()))
    assert recorder.closes()[0][1] == 1009


def test_ping_interval_sends_pings(backend: str, recorder: Recorder) -> None:
    app = make_app(recorder, websocket_ping_interval=0.1)
    with running_server(backend, app) as handle, WSClient(
        handle.port, "/echo", auto_pong=False
    ) as client:
        for _ in range(2):
            event = client.next_event()
            assert isinstance(event, ws.Ping)
            client.send(event.response())
        client.send_text("still here")
        assert client.receive() == "still here"


def test_ping_timeout_drops_a_silent_client(backend: str, recorder: Recorder) -> None:
    app = make_app(recorder, websocket_ping_interval=0.1, websocket_ping_timeout=0.1)
    with running_server(backend, app) as handle:
        with WSClient(handle.port, "/echo", auto_pong=False) as client:
            assert isinstance(client.next_event(), ws.Ping)
            started = time.monotonic()
            while isinstance(event := client.next_event(), ws.Ping):
                pass
            assert dropped(event)
            assert time.monotonic() - started < WAIT
        recorder.wait_for(lambda items: bool(recorder.closes()))
    assert recorder.closes() == [("close", None, None)]


def test_graceful_shutdown_closes_with_1001(backend: str, recorder: Recorder) -> None:
    with running_server(backend, make_app(recorder), shutdown_timeout=20) as handle:
        client = WSClient(handle.port, "/echo")
        client.send_text("hi")
        assert client.receive() == "hi"
        started = time.monotonic()
        handle.shutdown()
        event = client.wait_closed()
        assert event == ws.CloseConnection(code=1001, reason="server shutting down")
        client.sock.close()
        # Well before the shutdown timeout cut it.
        assert time.monotonic() - started < 15
    assert len(recorder.closes()) == 1


def test_an_upgrade_read_during_shutdown_is_answered_then_closed_with_1001(
    backend: str, recorder: Recorder
) -> None:
    """Every request read gets an answer, and a socket opened during a shutdown is told at once."""
    with running_server(backend, make_app(recorder), shutdown_timeout=20) as handle:
        client = ws_connection(ConnectionType.CLIENT)
        head = client.send(ws.Request(host=f"127.0.0.1:{handle.port}", target="/echo"))
        with socket.create_connection(("127.0.0.1", handle.port), timeout=WAIT) as sock:
            sock.sendall(head[:-2])
            time.sleep(0.2)  # the server has the partial head before it is told to stop
            started = time.monotonic()
            handle.shutdown()
            time.sleep(0.2)
            sock.sendall(head[-2:])
            events: list[ws.Event] = []
            while not any(isinstance(event, ws.CloseConnection) for event in events):
                data = sock.recv(65536)
                assert data, f"the server closed the connection after {events}"
                client.receive_data(data)
                events.extend(client.events())
            assert isinstance(events[0], ws.AcceptConnection)
            assert events[-1] == ws.CloseConnection(code=1001, reason="server shutting down")
            sock.sendall(client.send(events[-1].response()))
            assert time.monotonic() - started < 15


def pusher_app(recorder: Recorder) -> Application:
    """``/push``: a thread of the handler's own pushes 64 KiB messages from ``open`` until one fails.

    It then closes the connection, which does nothing on a closed one, and
    records ``("push failed",)``; ``on_close`` records ``("close", code)``.
    """

    class Pusher(WebSocketHandler):
        def open(self) -> None:
            threading.Thread(target=self.push, daemon=True).start()

        def push(self) -> None:
            try:
                while True:
                    self.write_message(b"x" * 65536, binary=True)
            except WebSocketClosedError:
                self.close()
                recorder.add(("push failed",))

        def on_message(self, message: str | bytes) -> None:
            pass

        def on_close(self) -> None:
            recorder.add(("close", self.close_code))

    return Application([(r"/push", Pusher)])


def test_a_thread_writing_to_a_client_that_never_reads_is_cut_by_the_send_timeout(
    recorder: Recorder,
) -> None:
    """On threads, another thread's writes keep their timeout while the socket's own thread reads.

    The client keeps sending (so the connection's thread keeps reading) and
    reads slowly, then stops both; a second thread pushes messages all along.  The push must fail within the send timeout, and the handler hear
    of it, however the reads and the writes interleave.
    """

    limits = Limits(body_timeout=1.0)
    with running_server("threads", pusher_app(recorder), limits=limits) as handle, WSClient(
        handle.port, "/push"
    ) as client:
        client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        # A slow reader first, so that the pushing thread's writes keep
        # going through a bit at a time while the connection's thread reads;
        # then a client that neither reads nor writes.
        client.sock.settimeout(0.05)
        for _ in range(30):
            try:
                client.send_text("still here")
                client.sock.recv(4096)
            except TimeoutError:
                pass
            except OSError:
                break  # cut already
        recorder.wait_for(lambda items: ("push failed",) in items)
        recorder.wait_for(lambda items: bool(recorder.closes()))


def test_a_thread_writing_to_a_silent_client_fails_while_the_connection_thread_waits_to_read(
    recorder: Recorder,
) -> None:
    """On threads, a write that fails on another thread ends the read that waits for the client.

    The client neither reads nor writes after the handshake, so the
    connection's thread waits in its read, with no deadline of its own,
    when the pushing thread's write times out.  The next write must fail
    and the handler must hear that the client is gone, before the server
    shuts down; closing it then does nothing, as for any closed connection.
    """

    limits = Limits(body_timeout=1.0)
    with running_server("threads", pusher_app(recorder), limits=limits) as handle, WSClient(
        handle.port, "/push"
    ):
        recorder.wait_for(lambda items: ("push failed",) in items)
        recorder.wait_for(lambda items: ("close", None) in items)
