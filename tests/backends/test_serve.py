"""What every backend's ``serve`` does around serving, the same on each runtime.

The options are checked before anything listens or starts; a ``started``
callback that raises shuts the server down and its exception comes out as
it is; SIGINT and SIGTERM shut down gracefully, a second one does not cut
that short, and the signal handlers from before are back afterwards.
"""

from __future__ import annotations

import asyncio
import inspect
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import trio
from crosswind.backends import asyncio as asyncio_backend
from crosswind.backends import threads as threads_backend
from crosswind.backends import trio as trio_backend
from crosswind.serving.backends import load_backend

from tests.support.servers import BACKENDS

pytestmark = [pytest.mark.network, pytest.mark.timeout(60)]

ROOT = Path(__file__).resolve().parents[2]
#: The backends that run the application's startup() and shutdown().
LIFESPAN = {"asyncio", "trio"}


class HookedApp:
    def __init__(self) -> None:
        self.events: list[str] = []

    async def startup(self) -> None:
        self.events.append("startup")

    async def shutdown(self) -> None:
        self.events.append("shutdown")

    async def handle(self, exchange: Any) -> None:
        await exchange.respond(200, [], b"hello")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def assert_port_free(port: int) -> None:
    with socket.socket() as again:
        again.bind(("127.0.0.1", port))
        again.listen()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"bogus": 1}, TypeError, "serve\\(\\) got an unexpected keyword argument 'bogus'"),
        ({"shutdown_timeout": -1.0}, ValueError, "shutdown_timeout cannot be negative"),
        ({"engine": "bogus"}, ValueError, "unknown protocol engine 'bogus'; choose one of"),
    ],
)
def test_bad_options_fail_before_listening_or_starting(
    backend: str, options: dict[str, Any], error: type[Exception], message: str
) -> None:
    # Each used to listen first: an unknown name ran startup() and left the
    # socket open, an unknown engine failed every connection instead.
    app, port = HookedApp(), free_port()
    with pytest.raises(error, match=message):
        load_backend(backend)(app, "127.0.0.1", port, handle_signals=False, **options)
    assert app.events == []
    assert_port_free(port)


def _start_asyncio(**options: Any) -> None:
    async def main() -> None:
        server = await asyncio_backend.start_server(HookedApp(), port=0, **options)
        await server.shutdown()

    asyncio.run(main())


def _start_trio(**options: Any) -> None:
    async def main() -> None:
        async with trio.open_nursery() as nursery:
            server = await trio_backend.start_server(HookedApp(), port=0, nursery=nursery, **options)
            await server.shutdown()

    try:
        trio.run(main)
    except ExceptionGroup as group:  # the nursery opened here wraps what start_server raised
        [error] = group.exceptions
        raise error from None


def _start_threads(**options: Any) -> None:
    threads_backend.start_server(HookedApp(), port=0, **options).shutdown()


@pytest.mark.parametrize("start", [_start_asyncio, _start_trio, _start_threads])
def test_start_server_checks_its_options_too(start: Any) -> None:
    start()  # the same call with good options works
    with pytest.raises(ValueError, match="unknown protocol engine 'bogus'"):
        start(engine="bogus")
    with pytest.raises(ValueError, match="shutdown_timeout cannot be negative"):
        start(shutdown_timeout=-1.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_started_callback_that_raises_shuts_the_server_down(backend: str) -> None:
    # The trio backend used to wrap the error in an ExceptionGroup, and the
    # asyncio one to leave the listening socket open and skip shutdown().
    app, port = HookedApp(), free_port()
    handles = []

    def started(handle: Any) -> None:
        handles.append(handle)
        raise RuntimeError("the caller's own bug")

    with pytest.raises(RuntimeError, match="the caller's own bug") as raised:
        load_backend(backend)(app, "127.0.0.1", port, started=started, handle_signals=False)
    assert type(raised.value) is RuntimeError
    assert [handle.port for handle in handles] == [port]
    assert app.events == (["startup", "shutdown"] if backend in LIFESPAN else [])
    assert_port_free(port)


def test_the_three_serve_functions_have_one_signature() -> None:
    signatures = {
        name: inspect.signature(load_backend(name)) for name in ("asyncio", "trio", "threads")
    }
    assert len(set(signatures.values())) == 1, signatures


SIGNALS_SCRIPT = textwrap.dedent("""
    import os, signal, socket, sys, threading, time

    from crosswind.serving.backends import load_backend
    from tests.support.apps import GateApp

    app = GateApp()
    before = [signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)]
    answers = []

    def client(port):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"GET /wait HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
            assert app.entered.wait(10)
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.2)
            os.kill(os.getpid(), signal.SIGINT)  # a second signal, mid-shutdown
            time.sleep(0.2)
            app.release.set()
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
            answers.append(data)

    threads = []

    def started(handle):
        threads.append(threading.Thread(target=client, args=(handle.port,)))
        threads[0].start()

    load_backend(sys.argv[1])(app, "127.0.0.1", 0, started=started)
    threads[0].join(10)
    after = [signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)]
    print("answer:", answers[0].split(b"\\r\\n")[0].decode(), answers[0].endswith(b"released"))
    print("handlers restored:", after == before)
""")


@pytest.mark.parametrize("backend", BACKENDS)
def test_signals_shut_down_gracefully_then_the_old_handlers_come_back(backend: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SIGNALS_SCRIPT, backend],
        cwd=ROOT, capture_output=True, text=True, timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "answer: HTTP/1.1 200 OK True",
        "handlers restored: True",
    ], done.stderr
