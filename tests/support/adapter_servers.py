"""Third-party WSGI and ASGI servers on loopback ports, for the adapter tests.

Each helper is a context manager that yields the port once requests can be
sent (or queue on a listening socket) and stops the server when the block
ends, whatever happened inside it.  In-process servers run in a daemon
thread and take the application object; gunicorn and daphne run in a
subprocess and take an import path (``"tests.module:attribute"``), which is
imported with the repository root as the working directory.

A server that is not installed skips the test (``pytest.importorskip``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from crosswind.protocol.exchange import Exchange

__all__ = [
    "ASGI_SERVERS",
    "ROOT",
    "TIMEOUT",
    "WSGI_SERVERS",
    "daphne_server",
    "gunicorn_server",
    "hypercorn_server",
    "listening_socket",
    "uvicorn_server",
    "waitress_server",
    "wsgiref_server",
]

#: Seconds any single wait (a request, a start, a stop) may take.
TIMEOUT = 10.0
#: Seconds a subprocess server may take to import its application and accept:
#: several under a busy machine, which must not count against a request's TIMEOUT.
START_TIMEOUT = 60.0
#: A request line too short to parse: a server answers it ``400`` itself,
#: without handing anything to its application.
_UNPARSABLE = b"READY?\r\n\r\n"

#: The repository root: subprocess servers import their application from here.
ROOT = Path(__file__).resolve().parents[2]


def listening_socket() -> socket.socket:
    """A TCP socket listening on a free loopback port.

    Handing the listening socket itself to the server (rather than its port
    number) leaves no window in which another process could take the port.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock


# -- WSGI, in process ---------------------------------------------------------------


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def wsgiref_server(app: Any) -> Iterator[int]:
    """Serve the WSGI callable *app* with the standard library's ``wsgiref``.

    :param app: a PEP 3333 application.
    """
    server: WSGIServer = make_server("127.0.0.1", 0, app, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()
        thread.join(TIMEOUT)


@contextlib.contextmanager
def waitress_server(app: Any) -> Iterator[int]:
    """Serve the WSGI callable *app* with waitress (two worker threads).

    :param app: a PEP 3333 application.
    """
    waitress = pytest.importorskip("waitress.server")
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=2,
                                    asyncore_loop_timeout=0.05)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    def close_everything() -> None:  # runs in the server's own loop thread
        for channel in list(server._map.values()):
            channel.close()

    try:
        yield server.effective_port
    finally:
        # A loop that already ended has closed its trigger: nothing is left to close.
        if thread.is_alive():
            server.trigger.pull_trigger(close_everything)
        thread.join(TIMEOUT)
        server.task_dispatcher.shutdown()


#: In-process WSGI servers by name: ``WSGI_SERVERS[name](wsgi_app)``.
WSGI_SERVERS: Mapping[str, Callable[[Any], AbstractContextManager[int]]] = {
    "wsgiref": wsgiref_server,
    "waitress": waitress_server,
}


# -- ASGI, in process ---------------------------------------------------------------


@contextlib.contextmanager
def uvicorn_server(app: Any, http: str, ws: str = "auto") -> Iterator[int]:
    """Serve the ASGI callable *app* with uvicorn, lifespan on.

    :param app: an ASGI 3 application.
    :param http: uvicorn's HTTP implementation, ``"h11"`` or ``"httptools"``.
    :param ws: uvicorn's WebSocket implementation, ``"websockets"``,
        ``"wsproto"`` or ``"auto"``.
    """
    uvicorn = pytest.importorskip("uvicorn")
    if http == "httptools":
        pytest.importorskip("httptools")
    if ws != "auto":
        pytest.importorskip(ws)
    sock = listening_socket()
    config = uvicorn.Config(app, http=http, ws=ws, lifespan="on", log_level="critical",
                            timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + TIMEOUT
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(TIMEOUT)
        sock.close()


@contextlib.contextmanager
def hypercorn_server(app: Any, worker: str) -> Iterator[int]:
    """Serve the ASGI callable *app* with hypercorn.

    :param app: an ASGI 3 application.
    :param worker: ``"asyncio"`` or ``"trio"``.
    """
    pytest.importorskip("hypercorn")
    from hypercorn.config import Config

    sock = listening_socket()
    port = sock.getsockname()[1]
    config = Config()
    config.bind = [f"fd://{sock.detach()}"]  # hypercorn takes the socket over
    config.graceful_timeout = 2
    config.loglevel = "CRITICAL"
    stop = threading.Event()

    async def asyncio_trigger() -> None:
        while not stop.is_set():
            await asyncio.sleep(0.02)

    async def trio_trigger() -> None:
        import trio

        while not stop.is_set():
            await trio.sleep(0.02)

    def serve() -> None:
        if worker == "trio":
            import hypercorn.trio
            import trio

            trio.run(lambda: hypercorn.trio.serve(app, config, shutdown_trigger=trio_trigger))
        else:
            import hypercorn.asyncio

            asyncio.run(hypercorn.asyncio.serve(app, config, shutdown_trigger=asyncio_trigger))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield port  # the socket already listens: requests queue until it accepts
    finally:
        stop.set()
        thread.join(TIMEOUT)


#: In-process ASGI servers by name: ``ASGI_SERVERS[name](asgi_app)``.
ASGI_SERVERS: Mapping[str, Callable[[Any], AbstractContextManager[int]]] = {
    "uvicorn-h11": lambda app: uvicorn_server(app, "h11"),
    "uvicorn-httptools": lambda app: uvicorn_server(app, "httptools"),
    "hypercorn-asyncio": lambda app: hypercorn_server(app, "asyncio"),
    "hypercorn-trio": lambda app: hypercorn_server(app, "trio"),
}


# -- subprocess servers ---------------------------------------------------------------


@contextlib.contextmanager
def _subprocess_server(
    command: list[str], sock: socket.socket, env: Mapping[str, str] | None
) -> Iterator[int]:
    """Run *command*, which serves on the inherited listening *sock*, until the block ends.

    The port is yielded once the server answers, so that the time it takes
    to import its application (seconds on a busy machine) is not taken from
    the first request's :data:`TIMEOUT`.  On the way out the server gets
    SIGTERM (a graceful stop), then SIGKILL if it lingers; its stderr is
    attached to the failure if it died early.
    """
    port = sock.getsockname()[1]
    # A file, not a pipe: nobody reads stderr while the server runs, and a
    # full pipe would block it.
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            command, cwd=ROOT, pass_fds=[sock.fileno()], stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=errors, env={**os.environ, **(env or {})},
        )
        sock.close()  # the server has its own copy and accepts on it
        try:
            _wait_until_answering(port)
            yield port
        except BaseException:
            if process.poll() is not None:
                errors.seek(0)
                output = errors.read().decode(errors="replace")
                raise AssertionError(f"{command[2]} exited early:\n{output[-3000:]}") from None
            raise
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=TIMEOUT)


def _wait_until_answering(port: int) -> None:
    """Wait until the server on *port* answers a request its application never sees.

    The listening socket takes the connection at once (the backlog); the
    answer comes once the server has imported its application and accepts.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=START_TIMEOUT) as probe:
        probe.sendall(_UNPARSABLE)
        answer = probe.recv(64)
    assert answer.startswith(b"HTTP/1."), f"the server answered {answer!r} to a probe"


def gunicorn_server(
    target: str, worker: str, *, env: Mapping[str, str] | None = None
) -> AbstractContextManager[int]:
    """Serve the WSGI application at *target* with gunicorn, one worker process.

    :param target: ``"module:attribute"``, imported from the repository root.
    :param worker: gunicorn's worker class: ``"sync"`` (one request at a
        time, a connection per request) or ``"gthread"`` (two threads,
        keep-alive).
    :param env: variables added to the server's environment.
    """
    pytest.importorskip("gunicorn")
    sock = listening_socket()
    command = [
        sys.executable, "-m", "gunicorn", "--bind", f"fd://{sock.fileno()}", "--workers", "1",
        "--worker-class", worker, "--no-control-socket", "--log-level", "warning",
        "--graceful-timeout", "2", "--chdir", str(ROOT),
    ]
    if worker == "gthread":
        command += ["--threads", "2"]
    return _subprocess_server([*command, target], sock, env)


def daphne_server(
    target: str, *, env: Mapping[str, str] | None = None
) -> AbstractContextManager[int]:
    """Serve the ASGI application at *target* with daphne (Twisted).

    :param target: ``"module:attribute"``, imported from the repository root.
    :param env: variables added to the server's environment.
    """
    pytest.importorskip("daphne")
    sock = listening_socket()
    command = [
        sys.executable, "-m", "daphne", "--fd", str(sock.fileno()), "-v", "0",
        "--application-close-timeout", "2", target,
    ]
    return _subprocess_server(command, sock, env)


async def respond_with_info(exchange: Exchange) -> None:
    """Answer with what the application saw of the request, as JSON."""
    info = exchange.info
    body = {
        "method": exchange.method,
        "target": exchange.target,
        "path": exchange.path,
        "query": exchange.query,
        "http_version": exchange.http_version,
        "headers": [[k.decode(), v.decode()] for k, v in exchange.headers],
        "peer": info.peer,
        "scheme": info.scheme,
        "root_path": info.extra.get("root_path"),
    }
    await exchange.respond(
        200, [(b"Content-Type", b"application/json")], json.dumps(body).encode()
    )
