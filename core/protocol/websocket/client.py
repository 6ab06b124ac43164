"""The client's opening handshake (RFC 6455 sections 4.1 and 4.2.2), without I/O.

Rules this module keeps:

* The HTTP heads are h11's: :class:`ClientHandshake` sends the ``GET`` with
  h11 in the client role and reads the answer with it, so the response's
  framing (a refusal's body, a head cut short) follows HTTP/1.1 to the letter.
  What RFC 6455 asks a client to check on top of that is here.
* Randomness comes in as an argument: the ``Sec-WebSocket-Key`` nonce is the
  caller's 16 random bytes.
* A ``101`` is checked in this order, and the first fault ends the handshake
  with :class:`HandshakeFailed` (section 4.1: the client must then fail the
  connection): ``Upgrade`` holds ``websocket`` and ``Connection`` holds
  ``upgrade``; ``Sec-WebSocket-Accept`` is the digest of our key;
  ``Sec-WebSocket-Extensions`` names only what was offered, once, with
  parameters our offer allows; ``Sec-WebSocket-Protocol`` is one of the
  subprotocols offered, and absent when none was.
* Any other status is a refusal, not a fault: :class:`Refused` carries its
  status, fields and body (at most ``max_body`` bytes of it), for an error
  that shows the caller what the server said.
* The bytes that came behind the ``101`` belong to the WebSocket connection:
  :attr:`Established.leftover` hands them on.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import h11
from wsproto.extensions import Extension
from wsproto.utilities import generate_accept_token

from ...errors import CrosswindError, LocalProtocolError
from ...grammar import is_token
from ..events import NEED_DATA
from . import deflate

__all__ = ["ClientHandshake", "Established", "HandshakeFailed", "Refused"]

Fields = tuple[tuple[bytes, bytes], ...]
#: The offer sent when compression is asked for: the server may pick the
#: client's window, as Tornado's client offers.
_DEFLATE_OFFER = b"permessage-deflate; client_max_window_bits"
#: A response head larger than this is no handshake answer (h11's own default).
MAX_HEAD_SIZE = 16 * 1024
#: The part of a refusal's body kept for the caller.
MAX_BODY = 64 * 1024
# Fields the handshake writes itself; the caller's may not replace them.
_RESERVED = frozenset(
    {
        b"host",
        b"upgrade",
        b"connection",
        b"sec-websocket-key",
        b"sec-websocket-version",
        b"sec-websocket-protocol",
        b"sec-websocket-extensions",
    }
)


class HandshakeFailed(CrosswindError):
    """The server's ``101`` is not a valid WebSocket handshake, or its head is broken.

    The reason is ours and safe to show; it never repeats the server's bytes.
    """


@dataclass(frozen=True, slots=True)
class Established:
    """The server accepted: the WebSocket connection starts.

    :param subprotocol: the subprotocol the server chose, or ``None``.
    :param extensions: the extensions agreed on, to build the connection with.
    :param headers: the ``101``'s fields, ``(lowercase name, value)`` bytes pairs.
    :param leftover: bytes received behind the ``101``: the first frames.
    """

    subprotocol: str | None
    extensions: tuple[Extension, ...]
    headers: Fields
    leftover: bytes


@dataclass(frozen=True, slots=True)
class Refused:
    """The server answered with an ordinary HTTP response instead of ``101``.

    :param status: its status code.
    :param headers: its fields, ``(lowercase name, value)`` bytes pairs.
    :param body: its body, cut at ``max_body`` bytes.
    """

    status: int
    headers: Fields
    body: bytes


class ClientHandshake:
    """One opening handshake from the client's side.

    Send :meth:`request`, feed the answer to :meth:`receive_data` (``b""``
    when the server closed the connection) and call :meth:`next_event` until
    it returns an :class:`Established` or a :class:`Refused`.

    :param host: the ``Host`` field, with the port when it is not the scheme's.
    :param target: the request target: path and query.
    :param key: 16 random bytes, fresh for this handshake.
    :param subprotocols: the subprotocols to offer, in order of preference.
    :param compression_options: Tornado's ``compression_options``: ``None``
        offers no compression; a mapping (``{}`` for the defaults) with
        optional ``compression_level`` and ``mem_level`` offers
        permessage-deflate and compresses with those settings if accepted.
    :param headers: more request fields, ``(name, value)`` pairs of ``str``
        or ``bytes`` (an ``Origin``, a cookie, ``Authorization``).
    :param max_body: how much of a refusal's body to keep.
    :raises ValueError: a key that is not 16 bytes, a subprotocol that is not
        a token, compression options that are not valid, or a field the
        handshake writes itself.
    """

    def __init__(
        self,
        host: str,
        target: str,
        *,
        key: bytes,
        subprotocols: Iterable[str] = (),
        compression_options: Mapping[str, Any] | None = None,
        headers: Iterable[tuple[str | bytes, str | bytes]] = (),
        max_body: int = MAX_BODY,
    ) -> None:
        if len(key) != 16:
            raise ValueError("the handshake key is 16 random bytes")
        self.key = base64.b64encode(key)
        self.subprotocols = tuple(subprotocols)
        for name in self.subprotocols:
            if not is_token(name):
                raise ValueError(f"subprotocol {name!r} is not a token")
        self._deflate_settings = deflate.compression_settings(compression_options)
        self.max_body = max_body
        fields: list[tuple[bytes, bytes]] = [
            (b"Host", host.encode("idna" if not host.isascii() else "ascii")),
            (b"Upgrade", b"websocket"),
            (b"Connection", b"Upgrade"),
            (b"Sec-WebSocket-Key", self.key),
            (b"Sec-WebSocket-Version", b"13"),
        ]
        if self.subprotocols:
            fields.append((b"Sec-WebSocket-Protocol", ", ".join(self.subprotocols).encode()))
        if self._deflate_settings is not None:
            fields.append((b"Sec-WebSocket-Extensions", _DEFLATE_OFFER))
        for given_name, given_value in headers:
            field = given_name.encode("latin-1") if isinstance(given_name, str) else given_name
            value = given_value.encode("latin-1") if isinstance(given_value, str) else given_value
            if field.lower() in _RESERVED:
                raise ValueError(f"the handshake writes {field.decode('latin-1')} itself")
            fields.append((field, value))
        self._h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD_SIZE)
        try:
            self._request = self._h11.send(h11.Request(method="GET", target=target, headers=fields))
            self._request += self._h11.send(h11.EndOfMessage())
        except h11.LocalProtocolError as error:
            raise ValueError(f"the request cannot be sent: {error}") from None
        self._refusal: tuple[int, Fields] | None = None
        self._body = bytearray()
        self._eof = False
        self._result: Established | Refused | None = None

    def request(self) -> bytes:
        """The bytes of the upgrade request."""
        return self._request

    def receive_data(self, data: bytes) -> None:
        """Add bytes from the server; ``b""`` means it closed the connection."""
        if not data:
            self._eof = True
        self._h11.receive_data(data)

    def next_event(self) -> Established | Refused | object:
        """The outcome once the answer is in, or :data:`~crosswind.protocol.events.NEED_DATA`.

        :raises HandshakeFailed: the answer is not HTTP, or a ``101`` that
            RFC 6455 does not accept.
        """
        if self._result is not None:
            return self._result
        while True:
            try:
                event = self._h11.next_event()
            except h11.RemoteProtocolError:
                if self._eof:
                    reason = "the server closed the connection before it answered in full"
                else:
                    reason = "the server's answer is not a valid HTTP response"
                raise HandshakeFailed(reason) from None
            if event is h11.NEED_DATA:
                return NEED_DATA
            if event is h11.PAUSED or isinstance(event, h11.InformationalResponse):
                if isinstance(event, h11.InformationalResponse) and event.status_code != 101:
                    continue  # a 1xx on the way, such as 100 Continue
                self._result = self._established(event)
                return self._result
            if isinstance(event, h11.Response):
                self._refusal = (event.status_code, tuple(event.headers))
            elif isinstance(event, h11.Data):
                room = self.max_body - len(self._body)
                if room > 0:
                    self._body += event.data[:room]
            elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                if self._refusal is None:
                    raise HandshakeFailed("the server closed the connection without an answer")
                status, fields = self._refusal
                self._result = Refused(status, fields, bytes(self._body))
                return self._result

    def _established(self, event: object) -> Established:
        if not isinstance(event, h11.InformationalResponse):
            raise LocalProtocolError("h11 paused before the 101 arrived")
        fields: dict[bytes, list[bytes]] = {}
        for name, value in event.headers:
            fields.setdefault(bytes(name), []).append(bytes(value))
        if "websocket" not in _tokens(fields.get(b"upgrade")):
            raise HandshakeFailed('the 101 does not upgrade to "websocket"')
        if "upgrade" not in _tokens(fields.get(b"connection")):
            raise HandshakeFailed('the 101\'s "Connection" does not include "upgrade"')
        if fields.get(b"sec-websocket-accept") != [generate_accept_token(self.key)]:
            raise HandshakeFailed("the 101's Sec-WebSocket-Accept does not match the key")
        extensions = self._extensions(_elements(fields.get(b"sec-websocket-extensions")))
        protocols = _elements(fields.get(b"sec-websocket-protocol"))
        if len(protocols) > 1 or (protocols and protocols[0] not in self.subprotocols):
            raise HandshakeFailed("the server chose a subprotocol that was not offered")
        data, _closed = self._h11.trailing_data
        return Established(
            protocols[0] if protocols else None,
            extensions,
            tuple((bytes(name), bytes(value)) for name, value in event.headers),
            bytes(data),
        )

    def _extensions(self, accepted: tuple[str, ...]) -> tuple[Extension, ...]:
        if not accepted:
            return ()
        settings = self._deflate_settings
        if settings is None or len(accepted) > 1:
            raise HandshakeFailed("the server accepted an extension that was not offered")
        value = accepted[0]
        name, _, _ = value.partition(";")
        if name.strip() != deflate.NAME or not _acceptable_deflate(value):
            raise HandshakeFailed("the server's permessage-deflate parameters are not acceptable")
        extension = deflate.Deflate(**settings)
        extension.finalize(value)
        return (extension,)


def _acceptable_deflate(value: str) -> bool:
    """Whether a server's permessage-deflate response fits our offer (RFC 7692 section 7).

    Each known parameter at most once; ``client_max_window_bits`` only with a
    value, since the offer left the choice to the server; window sizes 9 to
    15, the ones zlib's raw deflate honours.
    """
    seen: set[str] = set()
    for parameter in value.split(";")[1:]:
        key, equals, setting = (part.strip() for part in parameter.partition("="))
        if key in seen:
            return False
        seen.add(key)
        if key in ("server_no_context_takeover", "client_no_context_takeover"):
            if equals:
                return False
        elif key in ("server_max_window_bits", "client_max_window_bits"):
            if not (setting.isascii() and setting.isdigit() and len(setting) <= 2):
                return False
            if not 9 <= int(setting) <= 15:
                return False
        else:
            return False
    return True


def _elements(values: list[bytes] | None) -> tuple[str, ...]:
    if not values:
        return ()
    pieces = (piece.strip(" \t") for value in values for piece in value.decode("latin-1").split(","))
    return tuple(piece for piece in pieces if piece)


def _tokens(values: list[bytes] | None) -> set[str]:
    return {element.lower() for element in _elements(values)}
