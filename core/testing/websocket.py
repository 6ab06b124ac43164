"""WebSocket sessions for the test clients, over the real connection driver in memory.

``client.websocket(path)`` (on :class:`~crosswind.testing.Client` and on
the Flask-style ``app.test_client()``) returns a :class:`TestWebSocket`:
entering it sends the upgrade request, and the block talks to the
application as a browser would, frame by frame::

    with client.websocket("/echo", subprotocols=["chat"]) as ws:
        assert ws.accepted_subprotocol == "chat"
        ws.send("hi")
        assert ws.receive() == "hi"

Rules this module keeps:

* **Real bytes.**  The client's side is wsproto in client mode: the
  handshake, masking and framing are a real client's, and the server reads
  them with the driver, the handshake checks and the limits it runs
  behind a socket.  A message over the server's limit closes with ``1009``
  here as it would there.
* **The server runs while the test waits.**  The connection is served on an
  event loop in a background thread (:class:`crosswind.backends.memory.MemoryConnection`,
  loaded when a session opens: this package imports no runtime), so a view
  may await ``asyncio.sleep`` between messages.
* **Every wait is bounded.**  :meth:`TestWebSocket.receive` gives up after
  the session's ``timeout`` with :class:`TimeoutError`, and leaving the
  block closes the connection (``1000`` unless it closed already) and waits,
  within the same timeout, until the server side has finished: a
  Tornado-style ``on_close`` has run, a Flask-style view has returned.
* **What the server said is kept.**  A refused handshake raises
  :class:`WebSocketDenied` with the HTTP response; the server's close frame
  sets :attr:`~TestWebSocket.close_code` and
  :attr:`~TestWebSocket.close_reason`, and reading past it raises
  :class:`WebSocketDisconnect` with them (``1006`` when the connection
  ended without one).  Messages that arrived before the close can still be
  read.
"""

from __future__ import annotations

import contextlib
import json as jsonlib
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from types import TracebackType
from typing import Any, Protocol

from wsproto import ConnectionType, WSConnection
from wsproto import events as ws
from wsproto.connection import ConnectionState
from wsproto.extensions import PerMessageDeflate

from ..headers import Headers
from ..protocol.exchange import Application
from ..protocol.limits import Limits
from ..protocol.transport import ConnectionInfo
from .client import Response, parse_responses

__all__ = ["DEFAULT_TIMEOUT", "MemoryPeer", "TestWebSocket", "WebSocketDenied", "WebSocketDisconnect"]

#: Seconds a session waits for the server, unless told otherwise.
DEFAULT_TIMEOUT = 5.0
#: The code of a connection that ended without a close frame (RFC 6455 section 7.4.1).
_ABNORMAL = 1006


class WebSocketDenied(Exception):  # noqa: N818 - says what happened, as Starlette's name does
    """The server answered the upgrade with an HTTP response instead of ``101``.

    :param response: that response (status, headers, body), as the client's
        HTTP requests return it.
    """

    def __init__(self, response: Any) -> None:
        super().__init__(response)
        self.response = response

    def __str__(self) -> str:
        status = getattr(self.response, "status", None) or getattr(self.response, "status_code", "")
        return f"the server refused the WebSocket handshake: {status}"


class WebSocketDisconnect(Exception):  # noqa: N818 - the name Starlette and Quart users know
    """The connection has closed: raised when the test reads or sends past the close.

    :param code: the code of the server's close frame, ``1006`` when the
        connection ended without one.
    :param reason: the reason that came with it, possibly empty.
    """

    def __init__(self, code: int = _ABNORMAL, reason: str = "") -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason

    def __str__(self) -> str:
        return f"WebSocket closed with {self.code}" + (f": {self.reason}" if self.reason else "")


class MemoryPeer(Protocol):
    """The in-memory connection a session talks through (:class:`crosswind.backends.memory.MemoryConnection`)."""

    def now(self) -> float:
        """Monotonic seconds."""
        ...

    def send(self, data: bytes) -> None:
        """Hand *data* to the server."""
        ...

    def send_eof(self) -> None:
        """End the client's side of the stream."""
        ...

    def receive(self, timeout: float) -> bytes:
        """The server's next bytes; ``b""`` once it closed; :class:`TimeoutError` after *timeout*."""
        ...

    def wait_done(self, timeout: float) -> None:
        """Wait until the server has finished with the connection."""
        ...


def _open_peer(
    app: Application, info: ConnectionInfo | None, limits: Limits | None, clock: Callable[[], float] | None, timeout: float
) -> MemoryPeer:
    from crosswind.backends.memory import MemoryConnection  # a backend owns the event loop

    peer = MemoryConnection(app, info=info, limits=limits, clock=clock)
    peer.start(timeout)
    return peer


class TestWebSocket:
    """One WebSocket connection from a test client; use it as a context manager.

    The test clients make it (``client.websocket(...)``); the handshake is
    sent when the block is entered.

    :param app: the application.
    :param target: the request target, path and query.
    :param host: the ``Host`` field.
    :param headers: more request fields (a ``Cookie``, an ``Origin`` ...).
    :param subprotocols: offered in ``Sec-WebSocket-Protocol``, in order of preference.
    :param deflate: offer permessage-deflate.
    :param info: the connection's addresses and TLS.
    :param limits: the server's limits.
    :param clock: the server's clock (``time.monotonic`` by default).
    :param timeout: seconds any one wait for the server may take.
    :param make_response: turns the client's :class:`~crosswind.testing.Response`
        into the response type of the test client that made the session.
    :param disconnect: the exception raised when reading past the close
        (called with the code and the reason).
    :param on_accept: called with the ``101``'s response (to keep its cookies).
    :param on_done: called once the server has finished with the
        connection (to re-raise an error the application let escape).
    :param dumps: encodes :meth:`send_json`'s argument.
    :param loads: decodes what :meth:`receive_json` reads.
    """

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        app: Application,
        target: str,
        *,
        host: str,
        headers: Iterable[tuple[str, str]] = (),
        subprotocols: Sequence[str] = (),
        deflate: bool = False,
        info: ConnectionInfo | None = None,
        limits: Limits | None = None,
        clock: Callable[[], float] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        make_response: Callable[[Response], Any] | None = None,
        disconnect: Callable[[int, str], Exception] = WebSocketDisconnect,
        on_accept: Callable[[Any], None] | None = None,
        on_done: Callable[[], None] | None = None,
        dumps: Callable[[Any], str] = jsonlib.dumps,
        loads: Callable[[str | bytes], Any] = jsonlib.loads,
    ) -> None:
        if not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
        self._app = app
        self._target = target
        self._host = host
        self._headers = [(name, value) for name, value in headers]
        self._subprotocols = list(subprotocols)
        self._deflate = deflate
        self._info = info
        self._limits = limits
        self._clock = clock
        self.timeout = timeout
        self._make_response = make_response or (lambda response: response)
        self._disconnect = disconnect
        self._on_accept = on_accept
        self._on_done = on_done
        self._dumps = dumps
        self._loads = loads
        self._ws = WSConnection(ConnectionType.CLIENT)
        self._peer: MemoryPeer | None = None
        self._messages: deque[str | bytes] = deque()
        self._fragments: list[Any] = []
        self._eof = False
        self._finished = False
        self._our_close: tuple[int, str] | None = None
        #: The ``101`` response, once the handshake is done.
        self.response: Any = None
        #: The subprotocol the server chose, or ``None``.
        self.accepted_subprotocol: str | None = None
        #: The extensions agreed on (``permessage-deflate``), by name.
        self.extensions: list[str] = []
        #: The cookies the ``101`` response set, name to value.
        self.cookies: dict[str, str] = {}
        #: The code of the server's close frame (``1006`` when it closed
        #: without one); ``None`` while the connection is open.
        self.close_code: int | None = None
        #: The reason of the server's close frame; ``None`` while open.
        self.close_reason: str | None = None

    # -- the handshake -------------------------------------------------------------

    def __enter__(self) -> TestWebSocket:
        self.connect()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self.close()
        except Exception:
            if exc_type is None:
                raise
            # The block's own failure says more than a close that failed after it.

    def connect(self) -> None:
        """Send the upgrade request and read the answer (entering the block does it).

        :raises WebSocketDenied: the server answered with another status than ``101``.
        :raises TimeoutError: the server did not answer within the timeout.
        :raises RuntimeError: the session was opened already.
        """
        if self._peer is not None:
            raise RuntimeError("the WebSocket session is open already")
        request = self._ws.send(
            ws.Request(
                host=self._host,
                target=self._target,
                subprotocols=self._subprotocols,
                extensions=[PerMessageDeflate()] if self._deflate else [],
                extra_headers=[
                    (name.encode("latin-1"), value.encode("latin-1")) for name, value in self._headers
                ],
            )
        )
        peer = self._peer = _open_peer(self._app, self._info, self._limits, self._clock, self.timeout)
        raw = bytearray()
        try:
            peer.send(request)
            accepted = self._read_handshake(peer, raw)
        except BaseException:
            self._end_quietly()
            raise
        if accepted is None:
            response = self._make_response(_parse_refusal(bytes(raw)))
            self._finish()
            raise WebSocketDenied(response)
        head = _parse_head(bytes(raw[: raw.index(b"\r\n\r\n")]))
        self.cookies = {}
        for header in head.headers.get_list("Set-Cookie"):
            name, _, value = header.partition(";")[0].partition("=")
            self.cookies[name.strip()] = value.strip()
        self.response = self._make_response(head)
        self.accepted_subprotocol = accepted.subprotocol
        self.extensions = [extension.name for extension in accepted.extensions]
        if self._on_accept is not None:
            self._on_accept(self.response)
        # Frames that came with the 101 are wsproto's already.
        self._handle_events()

    def _read_handshake(self, peer: MemoryPeer, raw: bytearray) -> ws.AcceptConnection | None:
        """Read until the answer is whole: the accepting event, or ``None`` for a refusal."""
        while True:
            for event in self._ws.events():
                if isinstance(event, ws.AcceptConnection):
                    return event
                if isinstance(event, ws.RejectConnection) and not event.has_body:
                    return None
                if isinstance(event, ws.RejectData) and event.body_finished:
                    return None
            if self._eof:
                raise ConnectionError("the server closed the connection without answering the handshake")
            data = peer.receive(self.timeout)
            self._eof = not data
            raw += data
            self._ws.receive_data(data or None)

    @property
    def response_headers(self) -> Any:
        """The fields of the ``101`` response."""
        return None if self.response is None else self.response.headers

    # -- messages ------------------------------------------------------------------

    def send(self, data: str | bytes) -> None:
        """Send a text message for ``str``, a binary one for ``bytes``.

        :raises TypeError: *data* is neither (see :meth:`send_json`).
        :raises WebSocketDisconnect: the connection is closing or closed.
        """
        if not isinstance(data, str | bytes | bytearray | memoryview):
            raise TypeError(f"send() takes str or bytes, not {type(data).__name__}; see send_json()")
        if isinstance(data, str):
            self._send_event(ws.TextMessage(data=data))
        else:
            self._send_event(ws.BytesMessage(data=bytes(data)))

    def send_text(self, text: str) -> None:
        """Send a text message."""
        self.send(str(text))

    def send_bytes(self, data: bytes) -> None:
        """Send a binary message."""
        self.send(bytes(data))

    def send_json(self, obj: Any, *, binary: bool = False) -> None:
        """Send *obj* as JSON, in a text message (a binary one with *binary*)."""
        text = self._dumps(obj)
        self.send(text.encode("utf-8") if binary else text)

    def ping(self, payload: bytes = b"") -> None:
        """Send a ping; the server answers it of its own accord.

        :raises WebSocketDisconnect: the connection is closing or closed.
        """
        self._send_event(ws.Ping(payload=payload))

    def receive(self, timeout: float | None = None) -> str | bytes:
        """The next message: ``str`` for a text message, ``bytes`` for a binary one.

        :param timeout: seconds to wait (the session's timeout by default).
        :raises WebSocketDisconnect: the server closed the connection and
            every message before its close has been read.
        :raises TimeoutError: no message came in time.
        """
        peer = self._open()
        wait = self.timeout if timeout is None else timeout
        deadline = peer.now() + wait
        while not self._messages:
            if self.close_code is not None:
                raise self._disconnect(self.close_code, self.close_reason or "")
            self._pump(peer, deadline, f"no message from the server within {wait:g} s")
        return self._messages.popleft()

    def receive_text(self, timeout: float | None = None) -> str:
        """The next message, which must be a text message.

        :raises TypeError: it was a binary message.
        """
        message = self.receive(timeout)
        if not isinstance(message, str):
            raise TypeError(f"expected a text message, got binary {message[:40]!r}")
        return message

    def receive_bytes(self, timeout: float | None = None) -> bytes:
        """The next message, which must be a binary message.

        :raises TypeError: it was a text message.
        """
        message = self.receive(timeout)
        if not isinstance(message, bytes):
            raise TypeError(f"expected a binary message, got text {message[:40]!r}")
        return message

    def receive_json(self, timeout: float | None = None) -> Any:
        """The next message (text or binary), decoded as JSON."""
        return self._loads(self.receive(timeout))

    # -- closing -------------------------------------------------------------------

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection and wait until the server side has finished.

        Sends a close frame unless the closing handshake is over, waits for
        the server's answer (messages that come first can still be read),
        then ends the stream and waits for the server to finish with the
        connection.  Closing again does nothing.

        :param code: the close code.
        :param reason: at most 123 bytes of UTF-8.
        :raises TimeoutError: the server did not answer, or did not finish,
            within the timeout.
        """
        peer = self._peer
        if peer is None or self._finished:
            return
        try:
            if self._ws.state is ConnectionState.OPEN:
                self._our_close = (code, reason)
                peer.send(self._ws.send(ws.CloseConnection(code=code, reason=reason)))
            deadline = peer.now() + self.timeout
            while self.close_code is None:
                self._pump(peer, deadline, f"the server did not answer the close within {self.timeout:g} s")
        finally:
            self._finish()

    def _finish(self) -> None:
        """End the stream, wait for the server side, and hand over what it left."""
        peer = self._peer
        if peer is None or self._finished:
            return
        self._finished = True
        peer.send_eof()
        peer.wait_done(self.timeout)
        if self._on_done is not None:
            self._on_done()

    def _end_quietly(self) -> None:
        """Give up on a session whose handshake failed; the failure is already being raised."""
        # The handshake's error is the one to report.
        with contextlib.suppress(Exception):
            self._finish()

    # -- the wire ------------------------------------------------------------------

    def _open(self) -> MemoryPeer:
        if self._peer is None:
            raise RuntimeError("the WebSocket session is not open: use it in a with block")
        return self._peer

    def _send_event(self, event: ws.Event) -> None:
        peer = self._open()
        if self._ws.state is not ConnectionState.OPEN:
            if self.close_code is not None:
                raise self._disconnect(self.close_code, self.close_reason or "")
            code, reason = self._our_close or (_ABNORMAL, "")
            raise self._disconnect(code, reason)
        peer.send(self._ws.send(event))

    def _pump(self, peer: MemoryPeer, deadline: float, timeout_message: str) -> None:
        """Read once from the server (until *deadline*) and handle what came."""
        remaining = deadline - peer.now()
        if remaining <= 0:
            raise TimeoutError(timeout_message)
        try:
            data = peer.receive(remaining)
        except TimeoutError:
            raise TimeoutError(timeout_message) from None
        if not data:
            self._eof = True
        if self._ws.state is not ConnectionState.CLOSED:
            self._ws.receive_data(data or None)
        self._handle_events()

    def _handle_events(self) -> None:
        for event in self._ws.events():
            if isinstance(event, ws.Message):
                self._fragments.append(event.data)
                if event.message_finished:
                    parts, self._fragments = self._fragments, []
                    self._messages.append(
                        "".join(parts) if isinstance(event, ws.TextMessage) else b"".join(parts)
                    )
            elif isinstance(event, ws.Ping):
                if self._ws.state is ConnectionState.OPEN:
                    self._open().send(self._ws.send(event.response()))
            elif isinstance(event, ws.CloseConnection):
                if self.close_code is None:
                    self.close_code = event.code
                    self.close_reason = event.reason or ""
                if self._ws.state is ConnectionState.REMOTE_CLOSING:
                    self._open().send(self._ws.send(event.response()))
        if self._eof and self.close_code is None:
            # The stream ended without a close frame.
            self.close_code, self.close_reason = _ABNORMAL, ""

    def __repr__(self) -> str:
        state = "closed" if self.close_code is not None else "open" if self.response is not None else "new"
        return f"<TestWebSocket {self._target} {state}>"


def _parse_head(head: bytes) -> Response:
    """The ``101`` response from its head (wsproto keeps only the fields it does not handle)."""
    status_line, *lines = head.split(b"\r\n")
    _version, _, rest = status_line.partition(b" ")
    code, _, reason = rest.partition(b" ")
    fields = []
    for line in lines:
        name, _, value = line.partition(b":")
        fields.append((name.strip().decode("latin-1"), value.strip().decode("latin-1")))
    return Response(int(code), reason.decode("latin-1"), Headers(fields), b"")


def _parse_refusal(raw: bytes) -> Response:
    responses = parse_responses(raw, [b"GET"])
    if not responses:
        raise AssertionError(f"no response to the WebSocket handshake: {raw!r}")
    return responses[0]
