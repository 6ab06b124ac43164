"""Every backend serving real loopback connections: HTTP, keep-alive, TLS,
Unix sockets, timeouts, back-pressure and graceful shutdown."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import threading
import time

import httpx
import pytest
from crosswind.protocol.limits import Limits

from tests.support.apps import BasicApp, GateApp
from tests.support.servers import BACKENDS, running_server, self_signed_certificate

pytestmark = [pytest.mark.network, pytest.mark.timeout(60)]

TIMEOUT = 5.0


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


def read_until_closed(sock: socket.socket, timeout: float = TIMEOUT) -> bytes:
    """Everything the server sends until it closes (a reset counts as closing)."""
    sock.settimeout(timeout)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def test_serves_requests_through_httpx(backend: str) -> None:
    with running_server(backend, BasicApp()) as handle:
        assert handle.backend == backend
        base = f"http://127.0.0.1:{handle.port}"
        with httpx.Client(base_url=base, timeout=TIMEOUT) as client:
            response = client.get("/")
            assert response.status_code == 200
            assert response.text == "hello world"
            assert client.get("/nowhere").status_code == 404
            echoed = client.post("/echo", content=b"ping" * 1000)
            assert echoed.content == b"ping" * 1000
            big = client.get("/big")
            assert big.content == b"x" * 1048576
            info = client.get("/info?a=1").json()
        assert info["scheme"] == "http"
        assert info["target"] == "/info?a=1"
        assert info["peer"][0] == "127.0.0.1"
        assert info["local"] == ["127.0.0.1", handle.port]


def test_keep_alive_serves_two_requests_on_one_connection(backend: str) -> None:
    with running_server(backend, BasicApp()) as handle:
        conn = http.client.HTTPConnection("127.0.0.1", handle.port, timeout=TIMEOUT)
        try:
            conn.request("GET", "/info")
            first = conn.getresponse()
            first_peer = json.loads(first.read())["peer"]
            first_sock = conn.sock
            conn.request("GET", "/info")
            second = conn.getresponse()
            second_peer = json.loads(second.read())["peer"]
            assert (first.status, second.status) == (200, 200)
            assert conn.sock is first_sock
            assert first_peer == second_peer
            assert first_peer[1] == first_sock.getsockname()[1]
        finally:
            conn.close()


def test_tls_with_a_self_signed_certificate(backend: str, tmp_path) -> None:
    pytest.importorskip("cryptography")
    from crosswind.backends._common import make_ssl_context

    cert, key = self_signed_certificate(tmp_path)
    server_context = make_ssl_context(str(cert), str(key))
    client_context = ssl.create_default_context(cafile=str(cert))
    limits = Limits(header_timeout=0.5)
    with running_server(backend, BasicApp(), ssl_context=server_context, limits=limits) as handle:
        with httpx.Client(verify=client_context, timeout=TIMEOUT) as client:
            info = client.get(f"https://127.0.0.1:{handle.port}/info").json()
            again = client.get(f"https://localhost:{handle.port}/")
        assert info["scheme"] == "https"
        assert info["tls_version"].startswith("TLSv1.")
        assert info["alpn"] == "http/1.1"
        assert again.text == "hello world"
        # A client that does not speak TLS is dropped, and the server carries on.
        with socket.create_connection(("127.0.0.1", handle.port), timeout=TIMEOUT) as raw:
            raw.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert not read_until_closed(raw).startswith(b"HTTP/1.1 200")
        # One that never starts the handshake is dropped after header_timeout.
        with socket.create_connection(("127.0.0.1", handle.port), timeout=TIMEOUT) as silent:
            started = time.monotonic()
            assert read_until_closed(silent) == b""
            assert 0.3 < time.monotonic() - started < 4.0
        with httpx.Client(verify=client_context, timeout=TIMEOUT) as client:
            assert client.get(f"https://127.0.0.1:{handle.port}/").status_code == 200


def test_shutdown_frees_a_tls_client_that_stays_connected(backend: str, tmp_path) -> None:
    """A kept-alive TLS client that never closes: the server's socket is closed all the same.

    A TLS close waits for the peer's close_notify; a server that waited for it past its
    own end would leave the socket open (a ResourceWarning) until the process exits.
    """
    pytest.importorskip("cryptography")
    import gc
    import warnings

    from crosswind.backends._common import make_ssl_context

    cert, key = self_signed_certificate(tmp_path)
    client_context = ssl.create_default_context(cafile=str(cert))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sock: ssl.SSLSocket | None = None
        try:
            with running_server(
                backend, BasicApp(), ssl_context=make_ssl_context(str(cert), str(key))
            ) as handle:
                sock = client_context.wrap_socket(
                    socket.create_connection(("127.0.0.1", handle.port), timeout=TIMEOUT),
                    server_hostname="localhost",
                )
                sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
                assert sock.recv(65536).startswith(b"HTTP/1.1 200")
            # The server has stopped; the client is still connected and says nothing.
            try:
                assert read_until_closed(sock) == b""
            except ssl.SSLError:
                # The threads backend ends its worker's TLS read by shutting the socket's
                # read side, which OpenSSL answers with an alert: closed all the same.
                assert backend == "threads"
        finally:
            if sock is not None:
                sock.close()
        gc.collect()
    leaks = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert leaks == []


def test_unix_socket(backend: str, tmp_path) -> None:
    path = str(tmp_path / "crosswind.sock")
    with running_server(backend, BasicApp(), unix_socket=path) as handle:
        assert handle.addresses == [path]
        transport = httpx.HTTPTransport(uds=path)
        with httpx.Client(transport=transport, timeout=TIMEOUT) as client:
            assert client.get("http://localhost/").text == "hello world"
            assert client.get("http://localhost/info").json()["scheme"] == "http"


def test_port_in_use_is_reported(backend: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with (
            pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{port}: Address already in use"),
            running_server(backend, BasicApp(), port=port),
        ):
            pass


def test_slow_request_head_gets_408_and_idle_connection_closes(backend: str) -> None:
    limits = Limits(header_timeout=0.3, idle_timeout=0.3)
    with running_server(backend, BasicApp(), limits=limits) as handle:
        with socket.create_connection(("127.0.0.1", handle.port), timeout=TIMEOUT) as slow:
            slow.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
            started = time.monotonic()
            response = read_until_closed(slow)
            assert response.startswith(b"HTTP/1.1 408 ")
            assert 0.2 < time.monotonic() - started < 3.0
        with socket.create_connection(("127.0.0.1", handle.port), timeout=TIMEOUT) as idle:
            started = time.monotonic()
            assert read_until_closed(idle) == b""
            assert 0.2 < time.monotonic() - started < 3.0


def test_max_connections_holds_back_a_client_while_every_slot_is_busy(backend: str) -> None:
    app = GateApp()
    with running_server(backend, app, limits=Limits(max_connections=2)) as handle:
        port = handle.port
        busy = [http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT) for _ in range(2)]
        waiters = [threading.Thread(target=lambda c=c: c.request("GET", "/wait")) for c in busy]
        third = socket.socket()
        try:
            for waiter in waiters:
                app.entered.clear()
                waiter.start()
                waiter.join(TIMEOUT)
                assert app.entered.wait(TIMEOUT)
            # Both slots serve a request: nothing may be shed, so the kernel
            # completes the handshake (the backlog) but the server does not
            # accept the third client yet.
            third.settimeout(TIMEOUT)
            third.connect(("127.0.0.1", port))
            third.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            third.settimeout(0.5)
            with pytest.raises(TimeoutError):
                third.recv(100)
            app.release.set()  # frees the slots: the third client is served now
            for conn in busy:
                assert conn.getresponse().read() == b"released"
            response = read_until_closed(third)
            assert response.startswith(b"HTTP/1.1 200 ")
            assert response.endswith(b"hello world")
        finally:
            app.release.set()
            for conn in busy:
                conn.close()
            third.close()


def test_a_full_server_sheds_the_connection_idle_longest(backend: str) -> None:
    with running_server(backend, BasicApp(), limits=Limits(max_connections=2)) as handle:
        port = handle.port
        first = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        second = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        try:
            for conn in (first, second):
                conn.request("GET", "/")
                assert conn.getresponse().read() == b"hello world"
                time.sleep(0.05)  # so that the first has waited longer
            # Both slots hold idle keep-alive connections: a new client makes
            # the server close the one that has waited longest, and is served.
            with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as third:
                third.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                response = read_until_closed(third)
            assert response.startswith(b"HTTP/1.1 200 ")
            assert read_until_closed(first.sock) == b""
            second.request("GET", "/")
            assert second.getresponse().read() == b"hello world"
        finally:
            first.close()
            second.close()


def test_graceful_shutdown_finishes_the_request_in_flight(backend: str) -> None:
    app = GateApp()
    results: list[tuple[int, bytes, str | None]] = []

    def in_flight(port: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT * 2)
        try:
            conn.request("GET", "/wait")
            response = conn.getresponse()
            results.append((response.status, response.read(), response.getheader("Connection")))
        finally:
            conn.close()

    with running_server(backend, app) as handle:
        port = handle.port
        idle = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        client = threading.Thread(target=in_flight, args=(port,))
        try:
            idle.request("GET", "/")
            assert idle.getresponse().read() == b"hello world"
            client.start()
            assert app.entered.wait(TIMEOUT)
            handle.shutdown()
            # New connections are refused while the request is still running.
            deadline = time.monotonic() + TIMEOUT
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT).close()
                except (ConnectionRefusedError, ConnectionResetError):
                    # A reset is a refusal too: a connection that was still in
                    # the backlog when the listening socket closed.
                    break
                assert time.monotonic() < deadline, "still accepting after shutdown"
                time.sleep(0.01)
            # The idle keep-alive connection is closed rather than kept waiting.
            assert read_until_closed(idle.sock) == b""
            assert client.is_alive()
            app.release.set()
            client.join(TIMEOUT)
        finally:
            app.release.set()
            idle.close()
            client.join(TIMEOUT) if client.ident else None
    assert results == [(200, b"released", "close")]


def test_shutdown_timeout_cuts_a_request_that_does_not_finish(backend: str) -> None:
    app = GateApp()
    with running_server(backend, app, shutdown_timeout=0.3) as handle:
        conn = http.client.HTTPConnection("127.0.0.1", handle.port, timeout=TIMEOUT)
        try:
            conn.request("GET", "/wait")
            assert app.entered.wait(TIMEOUT)
            started = time.monotonic()
            handle.shutdown()
            with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
                conn.getresponse()
            assert 0.2 < time.monotonic() - started < 4.0
        finally:
            app.release.set()
            conn.close()


def test_threads_backend_answers_500_for_a_handler_that_needs_an_event_loop() -> None:
    class NeedsLoop:
        async def handle(self, exchange) -> None:
            await _Suspend()

    with running_server("threads", NeedsLoop()) as handle:
        response = httpx.get(f"http://127.0.0.1:{handle.port}/", timeout=TIMEOUT)
        assert response.status_code == 500


class _Suspend:
    """An awaitable that suspends, as an event loop's futures do."""

    def __await__(self):  # type: ignore[no-untyped-def]
        yield None
