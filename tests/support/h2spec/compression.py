"""RFC 7541 (HPACK): header blocks the decoder must refuse.

Every decoding error is a connection error of type COMPRESSION_ERROR (RFC
9113 section 4.3): the decoder's state is shared by the whole connection, so
one bad block leaves it unusable.  Each block starts with the request's
fields written by :func:`plain_block` (which leaves the dynamic table alone)
and ends with the one representation under test, so the error is that
representation's and nothing else's.
"""

from __future__ import annotations

from tests.support.h2spec.harness import Connection as C
from tests.support.h2spec.harness import ErrorCode as E
from tests.support.h2spec.harness import hpack_int, hpack_string, plain_block
from tests.support.h2spec.registry import case

__all__: list[str] = []

REFUSED = "connection error COMPRESSION_ERROR"


def _refused_case(section: str, title: str, tail: bytes, *, head: bytes = b"") -> None:
    @case("hpack", section, title, REFUSED)
    def _body(c: C) -> None:
        c.handshake()
        c.send_frames(c.headers(1, head + plain_block(c.request()) + tail))
        c.expect_connection_error(E.COMPRESSION_ERROR)


def _huffman_value(encoded: bytes) -> bytes:
    """A literal field ``x-test`` whose value is the Huffman octets *encoded*."""
    return b"\x00" + hpack_string("x-test") + hpack_int(len(encoded), 7, 0x80) + encoded


# 2.3.3: the index address space is the static table (61) plus the dynamic table.
_refused_case("2.3.3", "an indexed field beyond both tables", bytes([0x80 | 70]))
_refused_case(
    "2.3.3",
    "a literal whose name index is beyond both tables",
    hpack_int(70, 6, 0x40) + hpack_string("v"),
)

# 4.2 and 6.3: a size update may only open a block, and never exceed the setting.
_refused_case("4.2", "a dynamic table size update at the end of a block", hpack_int(0, 5, 0x20))
_refused_case(
    "6.3",
    "a dynamic table size update above SETTINGS_HEADER_TABLE_SIZE",
    b"",
    head=hpack_int(4097, 5, 0x20),
)

# 5.1: an integer whose continuation never ends inside the block.
_refused_case("5.1", "an integer that runs past the end of the block", bytes([0xFF, 0xFF, 0xFF]))
_refused_case("5.1", "an integer of more than 2^32", bytes([0xFF]) + b"\xff" * 9 + b"\x01")

# 5.2: Huffman strings.  'a' is 00011; EOS is thirty 1 bits.
_refused_case("5.2", "a Huffman string padded with more than 7 bits", _huffman_value(b"\x1f\xff"))
_refused_case("5.2", "a Huffman string padded with zeros", _huffman_value(b"\x18"))
_refused_case("5.2", "a Huffman string containing EOS", _huffman_value(b"\x1f\xff\xff\xff\xff"))
_refused_case(
    "5.2", "a string literal longer than the block", b"\x00" + hpack_int(200, 7) + b"short"
)

# 6.1: index 0 is not used.
_refused_case("6.1", "an indexed field with index 0", b"\x80")


@case("hpack", "4.4", "a reference to an entry a size update evicted", REFUSED)
def _evicted_entry(c: C) -> None:
    c.handshake()
    entry = hpack_int(0, 6, 0x40) + hpack_string("x-marker") + hpack_string("gone")
    c.send_frames(c.headers(1, plain_block(c.request()) + entry))
    c.expect_headers(1)
    # Size 0 empties the table, so index 62 no longer exists.
    c.send_frames(
        c.headers(3, hpack_int(0, 5, 0x20) + plain_block(c.request()) + bytes([0x80 | 62]))
    )
    c.expect_connection_error(E.COMPRESSION_ERROR)
