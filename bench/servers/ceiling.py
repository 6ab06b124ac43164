"""The practical ceiling: a bare ``asyncio.Protocol`` that answers every request with canned bytes.

It finds each request head by its blank line, skips a ``Content-Length`` body
without looking at it, and writes a prebuilt response: no parsing, routing or
validation, so no Python HTTP server on asyncio can be faster.  It honours
``Connection: close`` so the ``close`` scenario really reconnects.

Usage: ``python bench/servers/ceiling.py --port 8000``.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import signal

from scenarios import HELLO_BODY

__all__ = ["CeilingProtocol", "main"]

_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\n" % len(
    HELLO_BODY
)
_KEEP_ALIVE = _HEAD + b"\r\n" + HELLO_BODY
_CLOSE = _HEAD + b"Connection: close\r\n\r\n" + HELLO_BODY
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*([0-9]+)", re.IGNORECASE)
_CONNECTION_CLOSE = re.compile(rb"\r\nconnection:[^\r\n]*close", re.IGNORECASE)


class CeilingProtocol(asyncio.Protocol):
    """One connection; answers each complete request as soon as it has arrived."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        out = []
        close = False
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            head = bytes(buffer[:end])
            length = _CONTENT_LENGTH.search(head)
            total = end + 4 + (int(length.group(1)) if length else 0)
            if len(buffer) < total:
                break
            del buffer[:total]
            if _CONNECTION_CLOSE.search(head):
                out.append(_CLOSE)
                close = True
                break
            out.append(_KEEP_ALIVE)
        if out and self._transport is not None:
            self._transport.write(b"".join(out))
            if close:
                self._transport.close()


async def _serve(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    # asyncio's transports already set TCP_NODELAY on every accepted socket.
    server = await loop.create_server(CeilingProtocol, host, port, backlog=1024)
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    server.close()


def main(argv: list[str] | None = None) -> None:
    """Parse *argv* and serve until SIGTERM or SIGINT.

    :param argv: the command-line arguments (default ``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    asyncio.run(_serve(args.host, args.port))


if __name__ == "__main__":
    main()
