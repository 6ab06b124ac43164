"""permessage-deflate (RFC 7692): choosing an offer, and keeping inflation bounded.

The compression itself is wsproto's :class:`~wsproto.extensions.PerMessageDeflate`;
:class:`Deflate` adds what it lacks:

* Tornado's compression options: ``compression_level`` and ``mem_level``, the
  two keys ``WebSocketHandler.get_compression_options()`` may return, go to
  the compressor that wsproto would otherwise make with zlib's defaults.
* Control frames between the fragments of a compressed message.  wsproto
  1.3 lets such a ping or pong reset its note that the message is compressed,
  and then reads the next fragment as plain bytes (its pull request 205);
  here control frames never touch that state.
* A new message among the fragments of a compressed one is a protocol error
  (``1002``) from its header, whatever the reads were cut into.
* A bound on inflation.  A deflate stream can expand about a thousandfold, so
  a single read of compressed bytes could become gigabytes before any size
  check ran.  Compressed input is inflated a slice at a time, and inflating
  stops with ``1009`` once one read's output passes the message limit.

:func:`negotiate` picks the first acceptable offer of the client's, declining
the offers RFC 7692 section 7 says a server must decline (an unknown or
repeated parameter, a value out of range) rather than guessing at them.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from typing import Any

from wsproto.extensions import PerMessageDeflate
from wsproto.frame_protocol import CloseReason, FrameDecoder, FrameProtocol, Opcode, RsvBits

__all__ = ["NAME", "Deflate", "compression_settings", "negotiate"]

#: The extension's registered name.
NAME = "permessage-deflate"
# Tornado's defaults for the two options (its GZipContentEncoding level, zlib's memory level).
_DEFAULT_LEVEL = 6
_DEFAULT_MEM_LEVEL = 8
# Compressed bytes inflated per zlib call: at deflate's ratio of about 1:1032
# one slice yields at most about 1 MiB before the bound is checked again.
_SLICE = 1024
_PARAMETERS = frozenset(
    {
        "server_no_context_takeover",
        "client_no_context_takeover",
        "server_max_window_bits",
        "client_max_window_bits",
    }
)


class Deflate(PerMessageDeflate):
    """wsproto's permessage-deflate with a compression level and bounded inflation.

    :param compression_level: zlib level, 0 (store) to 9 (smallest), or -1.
    :param mem_level: zlib memory level, 1 to 9.
    :param max_inflated: the most bytes one read of compressed input may
        inflate to; ``None`` leaves it unbounded.  A
        :class:`~crosswind.protocol.websocket.connection.WebSocketConnection`
        sets it to its ``ws_max_message_size``.
    """

    def __init__(
        self,
        compression_level: int = _DEFAULT_LEVEL,
        mem_level: int = _DEFAULT_MEM_LEVEL,
        max_inflated: int | None = None,
    ) -> None:
        super().__init__()
        if not -1 <= compression_level <= 9:
            raise ValueError(f"compression_level must be -1 to 9, not {compression_level!r}")
        if not 1 <= mem_level <= 9:
            raise ValueError(f"mem_level must be 1 to 9, not {mem_level!r}")
        self.compression_level = compression_level
        self.mem_level = mem_level
        self.max_inflated = max_inflated
        self._control = False  # the frame being read is a control frame
        self._in_message = False  # the last data frame read was not the message's last

    def frame_inbound_header(
        self,
        proto: FrameDecoder | FrameProtocol,
        opcode: Opcode,
        rsv: RsvBits,
        payload_length: int,
    ) -> CloseReason | RsvBits:
        # (Called again for the same header when its masking key is still to
        # come, so this must give the same answer each time.)
        self._control = opcode.iscontrol()
        if self._control:
            # RFC 7692 section 6.1: a control frame is never compressed.
            return CloseReason.PROTOCOL_ERROR if rsv.rsv1 else RsvBits(True, False, False)
        if opcode is not Opcode.CONTINUATION and self._in_message:
            # A new message while one is still in fragments (RFC 6455 section
            # 5.4).  wsproto says so only once the frame's first bytes are
            # inflated with the old message's state, which fails as 1007 when
            # they all came in one read and not when they came in pieces.
            return CloseReason.PROTOCOL_ERROR
        return super().frame_inbound_header(proto, opcode, rsv, payload_length)

    def frame_inbound_complete(
        self, proto: FrameDecoder | FrameProtocol, fin: bool
    ) -> bytes | CloseReason | None:
        if self._control:
            return None
        self._in_message = not fin
        return super().frame_inbound_complete(proto, fin)

    def frame_outbound(
        self,
        proto: FrameDecoder | FrameProtocol,
        opcode: Opcode,
        rsv: RsvBits,
        data: bytes,
        fin: bool,
    ) -> tuple[RsvBits, bytes]:
        # wsproto makes its compressor at the first frame of a message when it
        # has none; made here first, it is made with our level and memory.
        if self._compressor is None and opcode in (Opcode.TEXT, Opcode.BINARY):
            bits = self.client_max_window_bits if proto.client else self.server_max_window_bits
            self._compressor = zlib.compressobj(
                self.compression_level, zlib.DEFLATED, -bits, self.mem_level
            )
        return super().frame_outbound(proto, opcode, rsv, data, fin)

    def frame_inbound_payload_data(
        self, proto: FrameDecoder | FrameProtocol, data: bytes
    ) -> bytes | CloseReason:
        if self._control:
            return data
        limit = self.max_inflated
        if limit is None or len(data) <= _SLICE:
            result = super().frame_inbound_payload_data(proto, data)
            if limit is not None and not isinstance(result, CloseReason) and len(result) > limit:
                return CloseReason.MESSAGE_TOO_BIG
            return result
        inflated = bytearray()
        view = memoryview(data)
        for start in range(0, len(data), _SLICE):
            piece = super().frame_inbound_payload_data(proto, bytes(view[start : start + _SLICE]))
            if isinstance(piece, CloseReason):
                return piece
            inflated += piece
            if len(inflated) > limit:
                return CloseReason.MESSAGE_TOO_BIG
        return bytes(inflated)


def compression_settings(options: Mapping[str, Any] | None) -> dict[str, int] | None:
    """Check Tornado-style compression options; ``None`` means no compression.

    :param options: what ``get_compression_options()`` returns: ``None``, or
        a mapping with optional ``compression_level`` and ``mem_level``.
    :raises ValueError: an unknown key, or a value zlib does not take.
    """
    if options is None:
        return None
    unknown = set(options) - {"compression_level", "mem_level"}
    if unknown:
        raise ValueError(f"unknown compression options: {', '.join(sorted(unknown))}")
    settings = {
        "compression_level": options.get("compression_level", _DEFAULT_LEVEL),
        "mem_level": options.get("mem_level", _DEFAULT_MEM_LEVEL),
    }
    for key, value in settings.items():
        if type(value) is not int:
            raise ValueError(f"compression option {key} must be an int, not {value!r}")
    Deflate(**settings)  # the ranges are checked in one place
    return settings


def negotiate(offers: Iterable[str], settings: Mapping[str, int]) -> tuple[Deflate, bytes] | None:
    """Accept the first acceptable permessage-deflate offer.

    :param offers: the client's extension offers, one per list element of
        ``Sec-WebSocket-Extensions``, in its order of preference.
    :param settings: from :func:`compression_settings`.
    :returns: the extension to run the connection with and the value for the
        response's ``Sec-WebSocket-Extensions``, or ``None`` when no offer
        is acceptable.
    """
    for offer in offers:
        name, _, _ = offer.partition(";")
        if name.strip() != NAME or not _well_formed(offer):
            continue
        extension = Deflate(**settings)
        try:
            parameters = extension.accept(offer)
        except ValueError:  # a window size that is no number
            continue
        if parameters is None or isinstance(parameters, bool):
            continue
        value = NAME if not parameters else f"{NAME}; {parameters}"
        return extension, value.encode("ascii")
    return None


def _well_formed(offer: str) -> bool:
    """Whether an offer has only known parameters, once each, with valid values."""
    seen: set[str] = set()
    for parameter in offer.split(";")[1:]:
        key, equals, value = (part.strip() for part in parameter.partition("="))
        if key not in _PARAMETERS or key in seen:
            return False
        seen.add(key)
        if key.endswith("context_takeover"):
            valid = not equals
        elif key == "server_max_window_bits" or equals:
            # wsproto's zlib windows start at 9 (zlib turns 8 into 9 for raw
            # deflate), so an offer that insists on 8 is declined; so is a
            # quoted value, which wsproto cannot read.
            valid = value.isascii() and value.isdigit() and len(value) <= 2
            valid = valid and 9 <= int(value) <= 15
        else:
            valid = True  # client_max_window_bits without a value
        if not valid:
            return False
    return True
