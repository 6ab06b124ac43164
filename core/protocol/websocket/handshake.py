"""The opening handshake (RFC 6455 section 4.2): vetting an upgrade request, answering it.

It takes what the HTTP layer has already parsed: the method, the HTTP version,
and the header fields as ``(lowercase bytes name, bytes value)`` pairs, as
:attr:`Exchange.headers <crosswind.protocol.exchange.Exchange>` holds them.
:func:`screen_upgrade` returns a :class:`Refusal` or an :class:`UpgradeRequest`;
the caller then picks a subprotocol among those offered and calls
:meth:`UpgradeRequest.accept` for the ``101 Switching Protocols`` fields and
the extensions to build the
:class:`~crosswind.protocol.websocket.connection.WebSocketConnection` with.

The checks, in order, each with its answer:

* the method is ``GET`` -- else ``405`` with ``Allow: GET``;
* the HTTP version is 1.1 or later -- else ``400`` (an upgrade needs 1.1);
* ``Upgrade`` holds the token ``websocket`` and ``Connection`` the token
  ``upgrade``, in any case -- else ``400``;
* ``Sec-WebSocket-Version`` is ``13`` -- else ``426`` with
  ``Sec-WebSocket-Version: 13``, which tells a client of an older draft what
  to speak (section 4.4).  It comes before the key, because an older draft's
  key has another form;
* ``Sec-WebSocket-Key`` is one field, the base64 form of 16 bytes -- else ``400``;
* ``Sec-WebSocket-Protocol`` is a list of tokens -- else ``400``;
* the caller's origin check accepts the ``Origin`` field -- else ``403``.  A
  request without ``Origin`` is not checked: browsers always send one, and
  the check exists to protect browsers' users from other sites' pages.

Reasons are short and never repeat the client's bytes.
"""

from __future__ import annotations

import binascii
import re
from base64 import b64decode
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from wsproto.extensions import Extension
from wsproto.utilities import generate_accept_token

from ...grammar import is_token
from . import deflate

__all__ = ["Accepted", "Refusal", "UpgradeRequest", "screen_upgrade"]

#: The one protocol version this server speaks (RFC 6455 section 4.1).
VERSION = b"13"
Fields = tuple[tuple[bytes, bytes], ...]
_VERSION = re.compile(r"([0-9]{1,3})(?:\.([0-9]{1,3}))?")


@dataclass(frozen=True, slots=True)
class Refusal:
    """An upgrade request refused: answer it with an ordinary HTTP response.

    :param status: the HTTP status code.
    :param reason: a short plain-text explanation, safe to send to the client.
    :param headers: fields the response must carry, ``(name, value)`` bytes pairs.
    """

    status: int
    reason: str
    headers: Fields = ()


@dataclass(frozen=True, slots=True)
class Accepted:
    """The handshake's answer: send ``101 Switching Protocols`` with :attr:`headers`.

    :param headers: ``Upgrade``, ``Connection``, ``Sec-WebSocket-Accept``, and
        ``Sec-WebSocket-Protocol`` and ``Sec-WebSocket-Extensions`` when
        negotiated, as ``(name, value)`` bytes pairs.
    :param subprotocol: the subprotocol chosen, or ``None``.
    :param extensions: the extensions agreed on, to build the connection with.
    """

    headers: Fields
    subprotocol: str | None
    extensions: tuple[Extension, ...]


@dataclass(frozen=True, slots=True)
class UpgradeRequest:
    """A valid upgrade request, waiting for the caller's choices.

    :param key: the client's ``Sec-WebSocket-Key``.
    :param subprotocols: the subprotocols offered, in the client's order of
        preference (Tornado's ``select_subprotocol`` argument).
    :param extensions: the extension offers, one per list element of
        ``Sec-WebSocket-Extensions``.
    :param origin: the ``Origin`` field, or ``None``.
    """

    key: bytes
    subprotocols: tuple[str, ...] = ()
    extensions: tuple[str, ...] = ()
    origin: str | None = None

    def accept(
        self,
        subprotocol: str | None = None,
        compression_options: Mapping[str, Any] | None = None,
    ) -> Accepted:
        """Accept the upgrade.

        :param subprotocol: one of :attr:`subprotocols`, or ``None`` for none.
        :param compression_options: Tornado's ``get_compression_options()``:
            ``None`` declines permessage-deflate; a mapping (``{}`` for the
            defaults) with optional ``compression_level`` and ``mem_level``
            accepts it when the client offers it.
        :raises ValueError: *subprotocol* was not offered, or the compression
            options are not valid.
        """
        headers = [
            (b"Upgrade", b"websocket"),
            (b"Connection", b"Upgrade"),
            (b"Sec-WebSocket-Accept", generate_accept_token(self.key)),
        ]
        if subprotocol is not None:
            if subprotocol not in self.subprotocols:
                raise ValueError(f"subprotocol {subprotocol!r} was not offered")
            headers.append((b"Sec-WebSocket-Protocol", subprotocol.encode("ascii")))
        extensions: tuple[Extension, ...] = ()
        settings = deflate.compression_settings(compression_options)
        if settings is not None:
            agreed = deflate.negotiate(self.extensions, settings)
            if agreed is not None:
                extension, value = agreed
                headers.append((b"Sec-WebSocket-Extensions", value))
                extensions = (extension,)
        return Accepted(tuple(headers), subprotocol, extensions)


def screen_upgrade(
    method: str | bytes,
    http_version: str | bytes,
    headers: Iterable[tuple[bytes, bytes]],
    check_origin: Callable[[str], bool] | None = None,
) -> UpgradeRequest | Refusal:
    """Vet a WebSocket upgrade request (RFC 6455 section 4.2.1).

    :param method: the request method, such as ``"GET"``.
    :param http_version: such as ``"1.1"``.
    :param headers: the request's fields, lowercase ``bytes`` names with
        ``bytes`` values, in order.
    :param check_origin: called with the ``Origin`` field, when there is one;
        ``False`` refuses the request with ``403``.
    """
    if isinstance(method, bytes):
        method = method.decode("latin-1")
    if method != "GET":
        return Refusal(405, "a WebSocket upgrade must be a GET request", ((b"Allow", b"GET"),))
    if not _at_least_11(http_version):
        return Refusal(400, "a WebSocket upgrade needs HTTP/1.1")
    fields: dict[bytes, list[bytes]] = {}
    for name, value in headers:
        fields.setdefault(name, []).append(value)
    if "websocket" not in _tokens(fields.get(b"upgrade")):
        return Refusal(400, 'can "Upgrade" only to "websocket"')
    if "upgrade" not in _tokens(fields.get(b"connection")):
        return Refusal(400, '"Connection" must include "upgrade"')
    if b", ".join(fields.get(b"sec-websocket-version", ())) != VERSION:
        return Refusal(
            426, "only WebSocket version 13 is supported", ((b"Sec-WebSocket-Version", VERSION),)
        )
    keys = fields.get(b"sec-websocket-key", ())
    if len(keys) != 1 or not _valid_key(keys[0]):
        return Refusal(400, "missing or invalid Sec-WebSocket-Key")
    subprotocols = _elements(fields.get(b"sec-websocket-protocol"))
    if not all(is_token(name) for name in subprotocols):
        return Refusal(400, "invalid Sec-WebSocket-Protocol")
    origins = fields.get(b"origin", ())
    if len(origins) > 1:
        return Refusal(400, "more than one Origin")
    origin = origins[0].decode("latin-1") if origins else None
    if origin is not None and check_origin is not None and not check_origin(origin):
        return Refusal(403, "cross-origin WebSocket not allowed")
    return UpgradeRequest(
        keys[0], subprotocols, _elements(fields.get(b"sec-websocket-extensions")), origin
    )


def _at_least_11(version: str | bytes) -> bool:
    if isinstance(version, bytes):
        version = version.decode("latin-1")
    match = _VERSION.fullmatch(version)
    return match is not None and (int(match[1]), int(match[2] or 0)) >= (1, 1)


def _valid_key(key: bytes) -> bool:
    # Base64 of 16 bytes is 24 characters; the length check also keeps
    # decoding cheap whatever the client sent.
    if len(key) != 24:
        return False
    try:
        return len(b64decode(key, validate=True)) == 16
    except binascii.Error:
        return False


def _elements(values: list[bytes] | None) -> tuple[str, ...]:
    """The non-empty elements of a comma-separated list field, across its fields.

    A comma inside a quoted string splits it too (as wsproto does): the only
    extension crosswind speaks has no such values, and an offer cut this way is
    declined rather than misread.
    """
    if not values:
        return ()
    elements = []
    for value in values:
        for piece in value.decode("latin-1").split(","):
            piece = piece.strip(" \t")
            if piece:
                elements.append(piece)
    return tuple(elements)


def _tokens(values: list[bytes] | None) -> set[str]:
    return {element.lower() for element in _elements(values)}
