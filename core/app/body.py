"""The request body of a Flask-style request, read as it arrives.

The application does not read a body before the view runs.  A
:class:`RequestBody` pulls it from the exchange one piece at a time, as the
view asks, so the connection is read no faster than the view consumes it
(back-pressure): a view that stores an upload chunk by chunk holds one
chunk in memory, never the whole body.

Rules this module keeps:

* the limit is the request's ``max_body_size`` on the exchange, which the
  application sets from ``MAX_CONTENT_LENGTH``; a body over it ends in
  ``413`` whether it declared its length or was chunked;
* a read either returns bytes or raises: the body's
  :class:`~crosswind.errors.RequestError` (413, 400, 408) or
  :class:`~crosswind.protocol.exchange.ClientDisconnected`;
* a blocking read is allowed only where it cannot stall an event loop: on an
  exchange whose reads block the thread (the threads backend, the test
  client, a WSGI server) or once the body is all here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Coroutine, Iterator
from typing import Any, TypeVar

from .._sync import run_sync
from ..errors import RequestError
from ..protocol.exchange import ClientDisconnected

__all__ = ["AsyncBodyStream", "BodyStream", "RequestBody"]

T = TypeVar("T")

#: What a read with no size asks the exchange for at most, per step.
_LINE_CHUNK = 64 * 1024


class RequestBody:
    """The body of one request: the pieces still to come from *exchange*.

    :param exchange: where the body comes from, or ``None`` for a body that is
        all in *data*.
    :param data: bytes already received (read ahead, or the whole body).
    :param error: an error to raise on the first read (a declared length over
        the limit: the body is then never read).
    :param reads_block: reading *exchange* blocks the calling thread instead
        of suspending, so a plain function may wait for the body.
    """

    __slots__ = ("_buffer", "_done", "_error", "_exchange", "consumed", "reads_block")

    def __init__(
        self,
        exchange: Any = None,
        data: bytes = b"",
        *,
        error: RequestError | None = None,
        reads_block: bool = False,
    ) -> None:
        self._exchange = exchange
        self._buffer = bytearray(data)
        self._done = exchange is None
        self._error = error
        self.reads_block = reads_block
        #: Whether anything was taken out of the body yet.
        self.consumed = False

    @property
    def complete(self) -> bool:
        """Whether every byte of the body is here (nothing left to wait for)."""
        return self._done and self._error is None

    @property
    def buffered(self) -> int:
        """Bytes received but not yet read."""
        return len(self._buffer)

    def can_wait(self) -> bool:
        """Whether a plain function may wait for the rest of the body here."""
        # After an error every read raises at once: nothing to wait for either.
        return self.reads_block or self._done or self._error is not None

    async def _pull(self) -> bool:
        """Move the next piece from the exchange into the buffer; false at the end."""
        if self._error is not None:
            raise self._error
        if self._done:
            return False
        exchange = self._exchange
        try:
            piece = await exchange.read()
        except RequestError as error:
            if exchange.client_disconnected:
                # Cut short by the client leaving: nobody is there to read an error page.
                raise ClientDisconnected("the client closed inside the body") from None
            self._error = error
            raise
        if not piece:
            self._done = True
            return False
        self._buffer += piece
        return True

    def _take(self, size: int) -> bytes:
        buffer = self._buffer
        if size < 0 or size >= len(buffer):
            data = bytes(buffer)
            buffer.clear()
        else:
            data = bytes(buffer[:size])
            del buffer[:size]
        if data:
            self.consumed = True
        return data

    async def read(self, size: int = -1) -> bytes:
        """Return up to *size* bytes (the rest of the body if negative), ``b""`` at the end.

        With a size, this returns as soon as some bytes are here, like a
        socket's ``recv``, so a view sees the body at the pace it arrives.

        :param size: the most bytes to return.
        """
        if size == 0:
            return b""
        if size < 0:
            while await self._pull():
                pass
            return self._take(-1)
        if not self._buffer:
            await self._pull()
        return self._take(size)

    async def read_chunk(self) -> bytes:
        """Return the next piece as it arrived (whatever is buffered first), ``b""`` at the end."""
        if not self._buffer:
            await self._pull()
        return self._take(-1)

    async def readline(self, size: int = -1) -> bytes:
        """Return bytes up to and including the next ``\\n`` (at most *size*).

        :param size: the most bytes to return; negative for no bound.
        """
        start = 0
        while True:
            newline = self._buffer.find(b"\n", start)
            if newline >= 0:
                end = newline + 1
                return self._take(end if size < 0 else min(end, size))
            if 0 <= size <= len(self._buffer):
                return self._take(size)
            start = len(self._buffer)
            if not await self._pull():
                return self._take(size)

    async def read_ahead(self, window: int) -> None:
        """Receive pieces until *window* bytes are buffered or the body is complete.

        :param window: how much to hold before the view asks for it.
        """
        while len(self._buffer) < window and await self._pull():
            pass

    def wait(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a read of this body to completion in the calling thread.

        :param coro: a read started on this body.
        :raises RuntimeError: the rest of the body can only arrive through an
            event loop, which a plain function cannot wait for.
        """
        if not self.can_wait():
            coro.close()
            raise RuntimeError(
                "the request body has not arrived yet and a plain function cannot wait for it"
                " on an event loop: read it in an async view with"
                " 'await request.stream.read()', or serve the application with the threads"
                " backend"
            )
        return run_sync(coro)


class BodyStream:
    """``request.stream`` in a plain ``def`` view: a binary file that reads the body.

    Reads block until the bytes arrive (the threads backend, the test client,
    WSGI servers); as in werkzeug it never returns more than the body, and
    returns ``b""`` at its end.

    :param body: the request body.
    """

    def __init__(self, body: RequestBody) -> None:
        self._body = body

    def read(self, size: int | None = -1) -> bytes:
        """Read up to *size* bytes (the rest if ``None`` or negative).

        :param size: the most bytes to return.
        """
        return self._body.wait(self._body.read(-1 if size is None else size))

    def read1(self, size: int = -1) -> bytes:
        """Read the bytes here, or the next piece to arrive; at most *size*.

        :param size: the most bytes to return.
        """
        body = self._body
        if size < 0:
            return body.wait(body.read_chunk())
        return body.wait(body.read(size))

    def readline(self, size: int | None = -1) -> bytes:
        """Read one line, ``\\n`` included.

        :param size: the most bytes to return.
        """
        return self._body.wait(self._body.readline(-1 if size is None else size))

    def readlines(self, hint: int = -1) -> list[bytes]:
        """Read the remaining lines.

        :param hint: stop once this many bytes were read (no bound if not positive).
        """
        lines: list[bytes] = []
        total = 0
        for line in self:
            lines.append(line)
            total += len(line)
            if 0 < hint <= total:
                break
        return lines

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False

    @property
    def closed(self) -> bool:
        return False

    def close(self) -> None:
        """Nothing to release: the application drains what the view left."""

    def __iter__(self) -> Iterator[bytes]:
        while line := self.readline():
            yield line


class AsyncBodyStream:
    """``request.stream`` in an ``async def`` view: the body as it arrives, awaited.

    ``await request.stream.read(n)`` returns up to *n* bytes (``b""`` at the
    end) and ``async for chunk in request.stream`` yields the pieces as they
    come in, as Quart's request body does.

    :param body: the request body.
    """

    def __init__(self, body: RequestBody) -> None:
        self._body = body

    async def read(self, size: int | None = -1) -> bytes:
        """Read up to *size* bytes (the rest if ``None`` or negative).

        :param size: the most bytes to return.
        """
        return await self._body.read(-1 if size is None else size)

    async def readline(self, size: int | None = -1) -> bytes:
        """Read one line, ``\\n`` included.

        :param size: the most bytes to return.
        """
        return await self._body.readline(-1 if size is None else size)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        while chunk := await self._body.read_chunk():
            yield chunk
