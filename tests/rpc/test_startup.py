"""A service routed in a plain Application initializes itself, once, on every backend.

Several first calls arrive together on a real server.  ``initializeHandler`` takes long
enough for them to overlap: on the threaded backend they run in parallel threads, on
asyncio and trio they queue behind it (a plain one) or arrive while it is suspended
(an ``async def`` one).  However they overlap, it must run exactly once.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from typing import Any

import pytest
from crosswind.rpc import S_OK, Service
from crosswind.web import Application

from tests.support.servers import BACKENDS, running_server

pytestmark = [pytest.mark.network, pytest.mark.timeout(60)]

CALLS = 8
SLOW = 0.3
TIMEOUT = 10.0


def post_call(port: int, value: int) -> tuple[int, dict[str, str], dict[str, Any]]:
    body = json.dumps({"method": "echo", "args": [value]})
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        connection.request(
            "POST", "/Slow", body=body, headers={"Content-Type": "application/json"}
        )
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), json.loads(response.read())
    finally:
        connection.close()


def together(port: int) -> list[tuple[int, dict[str, str], dict[str, Any]]]:
    """Send CALLS first calls at the same moment, each on its own connection."""
    barrier = threading.Barrier(CALLS)
    answers: list[Any] = [None] * CALLS

    def one(index: int) -> None:
        barrier.wait(TIMEOUT)
        answers[index] = post_call(port, index)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(CALLS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT * 2)
    return answers


@pytest.mark.parametrize("backend", BACKENDS)
def test_concurrent_first_calls_initialize_a_plain_service_once(backend: str) -> None:
    class SlowHandler(Service):
        runs: list[float] = []  # noqa: RUF012

        @classmethod
        def initializeHandler(cls, serviceInfoDict: dict[str, Any]) -> None:  # noqa: N802
            cls.runs.append(time.monotonic())
            time.sleep(SLOW)  # the window in which the other first calls arrive

    with running_server(backend, Application([(r"/Slow", SlowHandler)])) as server:
        answers = together(server.port)
    assert len(SlowHandler.runs) == 1
    assert [(status, body) for status, _, body in answers] == [
        (200, S_OK(index)) for index in range(CALLS)
    ]


async def _pause(backend: str) -> None:
    if backend == "asyncio":
        import asyncio

        await asyncio.sleep(SLOW)
    elif backend == "trio":
        import trio

        await trio.sleep(SLOW)
    else:
        time.sleep(SLOW)  # nothing can be awaited without an event loop


@pytest.mark.parametrize("backend", BACKENDS)
def test_concurrent_first_calls_await_an_async_initialization_once(backend: str) -> None:
    class SlowHandler(Service):
        runs = 0
        finished = 0

        @classmethod
        async def initializeHandler(cls, serviceInfoDict: dict[str, Any]) -> None:  # noqa: N802
            cls.runs += 1
            await _pause(backend)
            cls.finished += 1

    with running_server(backend, Application([(r"/Slow", SlowHandler)])) as server:
        answers = together(server.port)
        after = post_call(server.port, 99)
    assert (SlowHandler.runs, SlowHandler.finished) == (1, 1)
    assert after[0] == 200 and after[2] == S_OK(99)
    served = [index for index, (status, _, _) in enumerate(answers) if status == 200]
    refused = [answer for answer in answers if answer[0] != 200]
    assert served, answers
    for index in served:
        assert answers[index][2] == S_OK(index)
    if backend == "threads":
        # Nothing yields there: the other calls wait for the one that initializes.
        assert not refused
    for status, headers, body in refused:
        # A call served by the same event loop cannot wait without blocking it.
        assert (status, headers.get("Retry-After")) == (503, "1")
        assert body == {"OK": False, "Message": "service Slow is starting; try again"}
