"""The access-log line the command line writes for each request."""

from __future__ import annotations

from crosswind._sync import run_sync
from crosswind.protocol.driver import ConnectionDriver
from crosswind.serving.logs import format_access_line
from crosswind.testing.client import MemoryTransport


def test_access_line_for_a_real_exchange() -> None:
    now = [100.0]

    class App:
        async def handle(self, exchange) -> None:
            now[0] += 0.00042  # the handler takes 0.42 ms
            await exchange.respond(201, [], b"created!")

    lines: list[str] = []
    transport = MemoryTransport([b"POST /items?id=7 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"])
    driver = ConnectionDriver(
        transport, App(), clock=lambda: now[0],
        access_log=lambda exchange, seconds: lines.append(format_access_line(exchange, seconds)),
    )
    run_sync(driver.run())
    assert lines == ['127.0.0.1 "POST /items?id=7 HTTP/1.1" 201 8 0.42ms']
