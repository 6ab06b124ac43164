"""What only the trio backend does; the behaviour all backends share is in ``test_contract.py``."""

from __future__ import annotations

import socket

import pytest
import trio
from crosswind.backends.trio import start_server
from crosswind.protocol.exchange import Exchange
from crosswind.protocol.limits import Limits
from crosswind.testing import parse_responses

pytestmark = [pytest.mark.network, pytest.mark.timeout(60)]

GET = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"


class Hello:
    async def handle(self, exchange: Exchange) -> None:
        await exchange.respond(200, [], b"hello")


def test_a_burst_of_clients_is_accepted_in_one_pass_up_to_the_free_slots() -> None:
    # Taken one per scheduler pass, the last of a thousand clients waited in
    # the backlog while every connection already accepted had a turn for each.
    async def run() -> tuple[int, int, list[bytes]]:
        async with trio.open_nursery() as nursery:
            server = await start_server(
                Hello(), port=0, nursery=nursery, limits=Limits(max_connections=50)
            )
            port = server.sock.getsockname()[1]
            # Blocking connects: the kernel completes them into the backlog
            # while trio does not run.
            clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(80)]
            try:
                # A pass to see the listening socket readable and accept the
                # first client, one for the rest, one to be sure.
                for _ in range(3):
                    await trio.sleep(0)
                accepted = len(server.connections)
                await trio.sleep(0.05)
                later = len(server.connections)
                # Those accepted in the batch are served like any other.
                first, last = clients[0], clients[49]
                for client in (first, last):
                    client.sendall(GET)
                answers = [await trio.to_thread.run_sync(_read_one, client) for client in (first, last)]
                return accepted, later, answers
            finally:
                for client in clients:
                    client.close()
                await server.shutdown()

    accepted, later, answers = trio.run(run)
    assert accepted == 50
    assert later == 50  # the rest wait in the backlog for a free slot
    assert [parse_responses(answer)[0].content for answer in answers] == [b"hello", b"hello"]


def _read_one(client: socket.socket) -> bytes:
    client.settimeout(10)
    data = b""
    while not data.endswith(b"hello"):
        chunk = client.recv(4096)
        if not chunk:
            break
        data += chunk
    return data
