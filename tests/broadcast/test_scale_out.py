"""The scale-out proof: a chat served by ``crosswind serve --workers 2``, rooms through Redis.

WebSocket clients connect until both workers hold some (each socket is told
its worker's pid); a message sent on one socket then reaches every socket,
those of the other worker included, which only Redis can have carried.
Redis itself is asked how many connections subscribe to the room: one per
worker while sockets are open (one subscription connection per process,
however many sockets), none once they have all closed (no leaked
subscription).  Done for the Tornado-style handler and the Flask-style view.
"""

from __future__ import annotations

import contextlib
import json
import re
import time

import pytest
import redis

from tests.support.cli_process import CLIProcess
from tests.support.redis_server import RedisServer
from tests.support.ws_client import WSClient

pytestmark = pytest.mark.network

SERVING = re.compile(r"^Serving on http://127\.0\.0\.1:(\d+) \(asyncio\)$")
#: Enough fresh connections that the kernel has handed some to each worker.
MAX_CLIENTS = 40
WAIT = 10.0
#: For the server to start both workers: an import and two forks, many
#: seconds on a busy machine, and not what this test is about.
START_TIMEOUT = 60.0


def numsub(server: RedisServer, channel: str) -> int:
    with redis.Redis(port=server.port, socket_timeout=WAIT) as client:
        [(_, count)] = client.pubsub_numsub(channel)
        return int(count)


def wait_numsub(server: RedisServer, channel: str, wanted: int) -> None:
    deadline = time.monotonic() + WAIT
    while (count := numsub(server, channel)) != wanted and time.monotonic() < deadline:
        time.sleep(0.02)
    assert count == wanted, f"{count} connections subscribe to {channel}, not {wanted}"


@pytest.mark.parametrize("application", ["app", "flask_app"])
def test_a_message_reaches_every_socket_of_both_workers(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch, application: str
) -> None:
    room = f"scale{application.replace('_', '')}"
    channel = f"room:{room}"
    monkeypatch.setenv("CROSSWIND_BROADCAST_URL", redis_server.url)
    server = CLIProcess(
        "serve", f"tests.support.broadcast_chat:{application}", "--workers", "2",
        "--port", "0", "--no-access-log", "--shutdown-timeout", "2",
    )
    try:
        port = int(server.wait_for(SERVING, START_TIMEOUT).group(1))
        server.wait_for(SERVING, START_TIMEOUT)  # the second worker is listening too
        with contextlib.ExitStack() as stack:
            sockets: list[tuple[WSClient, int]] = []
            for _ in range(MAX_CLIENTS):
                client = stack.enter_context(WSClient(port, f"/chat/{room}", timeout=WAIT))
                greeting = client.receive()
                assert isinstance(greeting, str), greeting
                sockets.append((client, json.loads(greeting)["pid"]))
                pids = {pid for _, pid in sockets}
                if len(pids) == 2 and len(sockets) >= 6:
                    break
            assert len(pids) == 2, f"every socket landed on one worker: {pids}"
            assert server.proc.pid not in pids
            wait_numsub(redis_server, channel, 2)

            first, first_pid = sockets[0]
            first.send_text("hello, everyone")
            for client, _ in sockets:
                assert client.receive() == "hello, everyone"

            # And back from a socket of the other worker, as bytes.
            other = next(client for client, pid in sockets if pid != first_pid)
            other.send_bytes(b"\x00binary\xff")
            for client, _ in sockets:
                assert client.receive() == b"\x00binary\xff"

            # Half the sockets leave: the workers keep subscribing while any socket remains.
            for client, _ in sockets[: len(sockets) // 2]:
                client.close()
            remaining = sockets[len(sockets) // 2 :]
            remaining[0][0].send_text("still here")
            for client, _ in remaining:
                assert client.receive() == "still here"
            for client, _ in remaining:
                client.close()
        wait_numsub(redis_server, channel, 0)
    except BaseException as exc:
        server.stop()  # its output, up to its exit
        # The server's own account, for a failure seen once under load.
        exc.add_note("the server's output:\n" + "\n".join(server.lines[-80:]))
        raise
    else:
        server.stop()
