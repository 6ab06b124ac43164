"""crosswind.app under concurrency and over real sockets.

Contexts live in context variables, so 200 requests whose views are
suspended at the same time must each see only their own ``request``,
``session`` and ``g``.  This is checked in memory on asyncio and trio (many
drivers on one loop) and over loopback sockets on every backend, where the
classic cookies-and-session tutorial flow must also work end to end.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import trio
from crosswind.app import App, g, make_response, request, session
from crosswind.protocol.driver import ConnectionDriver
from crosswind.testing import MemoryTransport, parse_responses

from tests.support.servers import BACKENDS, running_server

COUNT = 200


def interleaving_app(sleep: Callable[[float], Awaitable[None]] | Callable[[float], None]) -> tuple[App, dict[str, int]]:
    app = App(__name__)
    app.secret_key = "interleave"
    state = {"active": 0, "max": 0}
    lock = threading.Lock()  # the threads backend runs views in parallel

    def enter(n: int) -> None:
        g.n = n
        session["n"] = n
        with lock:
            state["active"] += 1
            state["max"] = max(state["max"], state["active"])

    def leave(n: int) -> dict[str, Any]:
        with lock:
            state["active"] -= 1
        return {
            "g": g.n, "arg": n, "query": int(request.args["n"]), "session": session["n"],
            "cookie": request.cookies.get("who"), "header": request.headers.get("X-N"),
            "path": request.path,
        }

    if asyncio.iscoroutinefunction(sleep) or getattr(sleep, "is_async", False):

        @app.route("/i/<int:n>")
        async def item(n: int) -> Any:
            enter(n)
            await sleep((n % 7) / 1000)  # type: ignore[misc]
            return leave(n)

    else:

        @app.route("/i/<int:n>")
        def item(n: int) -> Any:
            enter(n)
            sleep((n % 7) / 1000)
            return leave(n)

    return app, state


def raw_request(n: int) -> bytes:
    return (
        f"GET /i/{n}?n={n} HTTP/1.1\r\nHost: test\r\nX-N: {n}\r\nCookie: who=c{n}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()


def expected(n: int) -> dict[str, Any]:
    return {"g": n, "arg": n, "query": n, "session": n, "cookie": f"c{n}", "header": str(n),
            "path": f"/i/{n}"}


def check(bodies: dict[int, Any], state: dict[str, int]) -> None:
    assert bodies == {n: expected(n) for n in range(COUNT)}
    assert state["max"] > 1, "the views never overlapped, so nothing was proven"
    assert state["active"] == 0


def test_200_interleaved_requests_in_memory_on_asyncio() -> None:
    app, state = interleaving_app(asyncio.sleep)

    async def main() -> dict[int, Any]:
        transports = [MemoryTransport([raw_request(n)]) for n in range(COUNT)]
        drivers = [ConnectionDriver(t, app, clock=time.monotonic) for t in transports]
        await asyncio.gather(*(driver.run() for driver in drivers))
        return {n: parse_responses(bytes(t.sent))[0].json() for n, t in enumerate(transports)}

    check(asyncio.run(main()), state)


def test_200_interleaved_requests_in_memory_on_trio() -> None:
    app, state = interleaving_app(trio.sleep)

    async def main() -> dict[int, Any]:
        transports = [MemoryTransport([raw_request(n)]) for n in range(COUNT)]
        async with trio.open_nursery() as nursery:
            for transport in transports:
                driver = ConnectionDriver(transport, app, clock=trio.current_time)
                nursery.start_soon(driver.run)
        return {n: parse_responses(bytes(t.sent))[0].json() for n, t in enumerate(transports)}

    check(trio.run(main), state)


def backend_sleep(backend: str) -> Any:
    if backend == "asyncio":
        return asyncio.sleep
    if backend == "trio":
        return trio.sleep
    return time.sleep  # the threads backend runs plain views in worker threads


async def fetch_all(port: int) -> dict[int, Any]:
    limits = httpx.Limits(max_connections=COUNT, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=30) as client:

        async def one(n: int) -> tuple[int, Any]:
            response = await client.get(
                f"/i/{n}", params={"n": n}, headers={"X-N": str(n), "Cookie": f"who=c{n}"}
            )
            assert response.status_code == 200
            return n, response.json()

        return dict(await asyncio.gather(*(one(n) for n in range(COUNT))))


@pytest.mark.network
@pytest.mark.parametrize("backend", BACKENDS)
def test_200_interleaved_requests_over_sockets(backend: str) -> None:
    app, state = interleaving_app(backend_sleep(backend))
    with running_server(backend, app) as handle:
        bodies = asyncio.run(fetch_all(handle.port))
    check(bodies, state)


def tutorial_app() -> App:
    app = App(__name__)
    app.secret_key = "tutorial-secret"

    @app.route("/setcookies")
    def setcookies() -> Any:
        response = make_response("Setting the cookie")
        response.set_cookie("GFG", "ComputerScience Portal")
        return response

    @app.route("/getcookies")
    def getcookies() -> str:
        value = request.cookies.get("GFG")
        return f"GFG is a {value}"

    @app.route("/setsession")
    def setsession() -> str:
        session["Username"] = "Admin"
        session["Visits"] = 1
        return "Session value set."

    @app.route("/checksession")
    def checksession() -> str:
        if "Username" in session:
            return f"Session exists: {session['Username']} ({session['Visits']} visit)"
        return "Session does not exist."

    @app.route("/delsession")
    def delsession() -> str:
        session.pop("Username", None)
        session.pop("Visits", None)
        return "Session deleted."

    return app


@pytest.mark.network
@pytest.mark.parametrize("backend", BACKENDS)
def test_cookies_and_session_tutorial_over_a_socket(backend: str) -> None:
    with running_server(backend, tutorial_app()) as handle, httpx.Client(
        base_url=f"http://127.0.0.1:{handle.port}", timeout=10
    ) as client:
        steps = [
            ("/setcookies", "Setting the cookie"),
            ("/getcookies", "GFG is a ComputerScience Portal"),
            ("/checksession", "Session does not exist."),
            ("/setsession", "Session value set."),
            ("/checksession", "Session exists: Admin (1 visit)"),
            ("/delsession", "Session deleted."),
            ("/checksession", "Session does not exist."),
        ]
        for path, text in steps:
            response = client.get(path)
            assert (path, response.status_code, response.text) == (path, 200, text)
        assert "session" not in client.cookies


@pytest.mark.network
def test_async_view_awaits_the_event_loop_on_asyncio_backend() -> None:
    app = App(__name__)

    @app.route("/wait")
    async def wait() -> str:
        started = asyncio.get_running_loop().time()
        await asyncio.sleep(0.01)
        return f"{asyncio.get_running_loop().time() - started >= 0.009}"

    with running_server("asyncio", app) as handle:
        assert httpx.get(f"http://127.0.0.1:{handle.port}/wait", timeout=10).text == "True"
