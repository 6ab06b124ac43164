"""The raw stream a handler gets from ``detach()``, with Tornado's ``IOStream`` reads.

After :meth:`RequestHandler.detach` the connection no longer speaks HTTP;
the handler writes its own response head and then whatever protocol it
tunnels.  Every method is a coroutine and must be awaited (there is no
background writer, so an un-awaited write would never happen).
"""

from __future__ import annotations

import re

from ..protocol.exchange import ClientDisconnected, DetachedStream

__all__ = ["DetachedIOStream", "StreamClosedError", "UnsatisfiableReadError"]

#: Raised when the peer has gone away (Tornado's name for it).
StreamClosedError = ClientDisconnected


class UnsatisfiableReadError(Exception):
    """A delimiter was not found within ``max_bytes``."""


class DetachedIOStream:
    """Buffered reads and writes on a detached connection.

    :param stream: the stream :meth:`Exchange.detach` returned.
    """

    def __init__(self, stream: DetachedStream) -> None:
        self._stream = stream
        self._buffer = bytearray()
        self._eof = False

    async def _fill(self) -> bool:
        if self._eof:
            return False
        data = await self._stream.receive()
        if not data:
            self._eof = True
            return False
        self._buffer += data
        return True

    def _take(self, count: int) -> bytes:
        data = bytes(self._buffer[:count])
        del self._buffer[:count]
        return data

    async def read_bytes(self, num_bytes: int, partial: bool = False) -> bytes:
        """Read *num_bytes* bytes (or, with *partial*, whatever is there first).

        :param num_bytes: how many bytes.
        :param partial: return as soon as some bytes are available.
        :raises StreamClosedError: the peer closed before enough arrived.
        """
        while len(self._buffer) < num_bytes:
            if partial and self._buffer:
                break
            if not await self._fill():
                raise StreamClosedError("the stream closed before enough data arrived")
        return self._take(min(num_bytes, len(self._buffer)))

    async def read_until(self, delimiter: bytes, max_bytes: int | None = None) -> bytes:
        """Read up to and including *delimiter*.

        :param delimiter: the bytes that end the read.
        :param max_bytes: give up when this many bytes arrived without it.
        :raises UnsatisfiableReadError: *max_bytes* passed.
        :raises StreamClosedError: the peer closed first.
        """
        start = 0
        while True:
            index = self._buffer.find(delimiter, start)
            if index >= 0:
                end = index + len(delimiter)
                if max_bytes is not None and end > max_bytes:
                    raise UnsatisfiableReadError(f"delimiter not found within {max_bytes} bytes")
                return self._take(end)
            if max_bytes is not None and len(self._buffer) > max_bytes:
                raise UnsatisfiableReadError(f"delimiter not found within {max_bytes} bytes")
            start = max(0, len(self._buffer) - len(delimiter) + 1)
            if not await self._fill():
                raise StreamClosedError("the stream closed before the delimiter arrived")

    async def read_until_regex(self, regex: bytes, max_bytes: int | None = None) -> bytes:
        """Read up to and including the first match of *regex*.

        :param regex: a bytes pattern.
        :param max_bytes: give up when this many bytes arrived without a match.
        :raises UnsatisfiableReadError: *max_bytes* passed.
        :raises StreamClosedError: the peer closed first.
        """
        pattern = re.compile(regex)
        while True:
            match = pattern.search(self._buffer)
            if match is not None:
                if max_bytes is not None and match.end() > max_bytes:
                    raise UnsatisfiableReadError(f"pattern not found within {max_bytes} bytes")
                return self._take(match.end())
            if max_bytes is not None and len(self._buffer) > max_bytes:
                raise UnsatisfiableReadError(f"pattern not found within {max_bytes} bytes")
            if not await self._fill():
                raise StreamClosedError("the stream closed before the pattern arrived")

    async def read_until_close(self) -> bytes:
        """Read everything until the peer closes."""
        while await self._fill():
            pass
        return self._take(len(self._buffer))

    async def write(self, data: bytes) -> None:
        """Send *data*.

        :param data: the bytes.
        :raises StreamClosedError: the peer has gone away.
        """
        await self._stream.send(bytes(data))

    async def close(self) -> None:
        """Close the connection."""
        await self._stream.close()

    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._stream.closed
