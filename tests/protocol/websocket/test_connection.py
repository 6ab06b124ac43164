"""One WebSocket connection against wsproto's client: messages, control frames, closes, timers."""

from __future__ import annotations

import zlib

import pytest
from crosswind.errors import LocalProtocolError
from crosswind.protocol.events import NEED_DATA
from crosswind.protocol.limits import Limits
from crosswind.protocol.websocket import (
    BytesMessage,
    Closed,
    CloseReceived,
    Ping,
    Pong,
    TextMessage,
    WebSocketClosed,
    WebSocketConnection,
)
from wsproto import events as ws

from .peers import Clock, Pair, close_payload, closes, frame

TEXT, BINARY, CLOSE, PING, PONG, CONTINUATION = 0x1, 0x2, 0x8, 0x9, 0xA, 0x0


# -- messages ------------------------------------------------------------------


@pytest.mark.parametrize("offer", [None, "permessage-deflate"])
def test_messages_round_trip(offer: str | None) -> None:
    pair = Pair(offer=offer, compression={})
    assert pair.send(
        ws.TextMessage("héllo wörld " * 20),
        ws.BytesMessage(b"\x00\xff" * 300),
        ws.TextMessage(""),
        ws.BytesMessage(b""),
    ) == [
        TextMessage("héllo wörld " * 20),
        BytesMessage(b"\x00\xff" * 300),
        TextMessage(""),
        BytesMessage(b""),
    ]
    out = pair.server.send_text("ünïcode " * 50) + pair.server.send_bytes(b"\x01" * 1000)
    assert [(type(e), e.data) for e in pair.to_client(out)] == [  # type: ignore[attr-defined]
        (ws.TextMessage, "ünïcode " * 50),
        (ws.BytesMessage, b"\x01" * 1000),
    ]


def test_compression_shrinks_what_is_sent_and_is_off_without_an_offer() -> None:
    text = "the same words again and again " * 100
    compressed = Pair(offer="permessage-deflate", compression={}).server.send_text(text)
    plain = Pair(compression={}).server.send_text(text)
    assert len(compressed) < len(text) // 10
    assert len(plain) > len(text)
    assert compressed[0] & 0x40 and not plain[0] & 0x40  # RSV1 marks a compressed message


def test_compression_level_and_memory_are_used() -> None:
    text = "abcdefgh" * 2000
    stored = Pair(offer="permessage-deflate", compression={"compression_level": 0})
    best = Pair(offer="permessage-deflate", compression={"compression_level": 9, "mem_level": 9})
    stored_bytes, best_bytes = stored.server.send_text(text), best.server.send_text(text)
    assert len(stored_bytes) > len(text) > 50 * len(best_bytes)
    for pair, data in ((stored, stored_bytes), (best, best_bytes)):
        [message] = pair.to_client(data)
        assert isinstance(message, ws.TextMessage) and message.data == text


@pytest.mark.parametrize(
    "offer", [None, "permessage-deflate", "permessage-deflate; client_no_context_takeover"]
)
def test_fragments_are_put_back_together(offer: str | None) -> None:
    pair = Pair(offer=offer, compression={})
    events = pair.send(
        ws.TextMessage("frag", message_finished=False),
        ws.Ping(b"between"),  # control frames may come between fragments
        ws.TextMessage("ment", message_finished=False),
        ws.TextMessage("ed", message_finished=True),
        ws.BytesMessage(b"ab", message_finished=False),
        ws.BytesMessage(b"cd"),
    )
    assert events == [Ping(b"between"), TextMessage("fragmented"), BytesMessage(b"abcd")]


def test_compressed_messages_around_control_frames_arriving_byte_by_byte() -> None:
    # wsproto alone reads the fragment after the pong as uncompressed: a 1007.
    pair = Pair(offer="permessage-deflate", compression={})
    sent = [
        ws.Ping(b"before"),
        ws.TextMessage("first " * 20, message_finished=False),
        ws.Pong(b"between"),
        ws.TextMessage("part " * 20),
        ws.BytesMessage(b"second " * 20),
        ws.Ping(b"after"),
        ws.TextMessage("third " * 20),
    ]
    data = b"".join(pair.client.send(event) for event in sent)
    events = []
    for byte in data:
        pair.server.receive_data(bytes([byte]))
        events += pair.server_events()
    assert events == [
        Ping(b"before"),
        Pong(b"between"),
        TextMessage("first " * 20 + "part " * 20),
        BytesMessage(b"second " * 20),
        Ping(b"after"),
        TextMessage("third " * 20),
    ]


def test_a_character_split_between_fragments() -> None:
    pair = Pair()
    euro = "€".encode()
    pair.server.receive_data(
        frame(TEXT, b"price " + euro[:1], fin=False)
        + frame(CONTINUATION, euro[1:2], fin=False)
        + frame(CONTINUATION, euro[2:] + b"!")
    )
    assert pair.server_events() == [TextMessage("price €!")]


def test_whatever_the_split_messages_come_out_whole() -> None:
    pair = Pair()
    data = b"".join(
        pair.client.send(event)
        for event in (
            ws.TextMessage("one"),
            ws.BytesMessage(b"two" * 100, message_finished=False),
            ws.BytesMessage(b"!"),
        )
    )
    events = []
    for byte in data:
        pair.server.receive_data(bytes([byte]))
        events += pair.server_events()
    assert events == [TextMessage("one"), BytesMessage(b"two" * 100 + b"!")]


# -- pings and pongs -----------------------------------------------------------


def test_a_ping_is_answered_with_a_pong() -> None:
    pair = Pair()
    assert pair.send(ws.Ping(b"are you there")) == [Ping(b"are you there")]
    assert pair.flush() == [ws.Pong(b"are you there")]
    assert pair.server.data_to_send() == b""


def test_only_the_latest_of_several_unsent_pongs_is_kept() -> None:
    pair = Pair()
    assert pair.send(ws.Ping(b"1"), ws.Ping(b"2"), ws.Ping(b"3")) == [Ping(b"1"), Ping(b"2"), Ping(b"3")]
    assert pair.flush() == [ws.Pong(b"3")]
    assert pair.send(ws.Ping(b"4")) == [Ping(b"4")]
    assert pair.flush() == [ws.Pong(b"4")]


def test_pongs_are_reported() -> None:
    pair = Pair()
    assert pair.send(ws.Pong(b"unasked")) == [Pong(b"unasked")]
    assert pair.server.data_to_send() == b""


def test_pings_and_pongs_the_application_sends() -> None:
    pair = Pair()
    assert pair.to_client(pair.server.send_ping(b"p") + pair.server.send_pong(b"q")) == [
        ws.Ping(b"p"),
        ws.Pong(b"q"),
    ]
    with pytest.raises(ValueError):
        pair.server.send_ping(b"x" * 126)
    with pytest.raises(ValueError):
        pair.server.send_pong(b"x" * 126)


# -- closing -------------------------------------------------------------------


def test_the_peer_closes_and_is_answered_with_its_code() -> None:
    pair = Pair()
    assert pair.send(ws.TextMessage("last"), ws.CloseConnection(4001, "done here")) == [
        TextMessage("last"),
        CloseReceived(4001, "done here"),
    ]
    assert pair.server.closed
    assert (pair.server.close_code, pair.server.close_reason) == (4001, "done here")
    # The code is echoed, the peer's reason is not.
    assert closes(pair.flush()) == [(4001, "")]
    assert_finished(pair.server)


def test_a_close_without_a_code_is_1005_and_answered_empty() -> None:
    pair = Pair()
    pair.server.receive_data(frame(CLOSE))
    assert pair.server_events() == [CloseReceived(1005, "")]
    assert pair.server.data_to_send() == b"\x88\x00"


def test_our_close_waits_for_the_peer_and_still_delivers_messages() -> None:
    pair = Pair()
    out = pair.server.close(1001, "going away")
    assert closes(pair.to_client(out)) == [(1001, "going away")]
    assert pair.server.closing and not pair.server.closed
    with pytest.raises(WebSocketClosed):
        pair.server.send_text("too late")
    assert pair.server.close(1000) == b""  # closing twice is harmless
    # The client sent this before it read our close.
    pair.server.receive_data(frame(TEXT, b"in flight"))
    assert pair.server_events() == [TextMessage("in flight")]
    assert pair.send(ws.CloseConnection(1001)) == [CloseReceived(1001, "")]
    assert pair.server.data_to_send() == b""  # no second close frame
    assert_finished(pair.server)


def test_our_close_times_out_exactly_at_its_deadline() -> None:
    pair = Pair(Limits(ws_close_timeout=3.0))
    pair.server.close()
    assert pair.server.deadline == pair.clock.now + 3.0
    pair.clock.now += 2.999
    pair.server.handle_deadline()
    assert pair.server_events() == [] and not pair.server.closed
    pair.clock.now += 0.001
    pair.server.handle_deadline()
    assert pair.server_events() == [Closed(1006, "the peer did not answer the close")]
    assert pair.server.data_to_send() == b""
    assert_finished(pair.server)


@pytest.mark.parametrize("code", [1005, 1006, 1015, 999, 5000, 1004, 1014, 1016, 2000, 2999, 0])
def test_close_codes_that_cannot_be_sent(code: int) -> None:
    with pytest.raises(ValueError):
        Pair().server.close(code)


@pytest.mark.parametrize("code", [1000, 1001, 1003, 1011, 1013, 3000, 4999])
def test_close_codes_that_can_be_sent(code: int) -> None:
    pair = Pair()
    assert closes(pair.to_client(pair.server.close(code, "é" * 61))) == [(code, "é" * 61)]


def test_a_close_reason_longer_than_a_frame_holds_is_refused() -> None:
    with pytest.raises(ValueError):
        Pair().server.close(1000, "é" * 62)  # 124 bytes


def test_the_transport_ending_after_a_message() -> None:
    pair = Pair()
    pair.server.receive_data(pair.client.send(ws.TextMessage("bye")))
    pair.server.receive_data(b"")
    assert pair.server_events() == [TextMessage("bye"), Closed(1006, "the connection was lost")]
    assert pair.server.close_code == 1006
    assert pair.server.data_to_send() == b""
    assert_finished(pair.server)


def assert_finished(server: WebSocketConnection) -> None:
    """Closed for good: no event, no bytes, no sending, whatever arrives."""
    assert server.closed and server.deadline is None
    server.receive_data(frame(TEXT, b"more") + frame(PING, b"x"))
    server.receive_data(b"")
    assert server.next_event() is NEED_DATA
    assert server.data_to_send() == b""
    for send in (server.send_text, server.send_bytes, server.send_ping, server.send_pong):
        with pytest.raises(WebSocketClosed):
            send("x" if send == server.send_text else b"x")  # type: ignore[operator]
    assert server.close() == b""
    server.handle_deadline()
    assert server.next_event() is NEED_DATA


# -- failing the connection: RFC 6455 section 7.4.1 ----------------------------

INVALID_UTF8 = b"ok \xff\xfe"


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(frame(TEXT, b"x", rsv=4), id="rsv1-without-extension"),
        pytest.param(frame(TEXT, b"x", rsv=2), id="rsv2"),
        pytest.param(frame(TEXT, b"x", rsv=1), id="rsv3"),
        pytest.param(frame(TEXT, b"x", mask=False), id="unmasked"),
        pytest.param(frame(0x3, b"x"), id="reserved-data-opcode"),
        pytest.param(frame(0xB, b"x"), id="reserved-control-opcode"),
        pytest.param(frame(PING, b"x", fin=False), id="fragmented-ping"),
        pytest.param(frame(CLOSE, close_payload(1000), fin=False), id="fragmented-close"),
        pytest.param(frame(PING, b"x" * 126), id="ping-over-125"),
        pytest.param(frame(PONG, b"x" * 126), id="pong-over-125"),
        pytest.param(frame(CONTINUATION, b"x"), id="continuation-without-start"),
        pytest.param(frame(TEXT, b"a", fin=False) + frame(TEXT, b"b"), id="new-message-in-fragment"),
        pytest.param(frame(CLOSE, b"\x03"), id="close-with-one-byte"),
        pytest.param(frame(CLOSE, close_payload(1005)), id="close-1005"),
        pytest.param(frame(CLOSE, close_payload(1006)), id="close-1006"),
        pytest.param(frame(CLOSE, close_payload(1015)), id="close-1015"),
        pytest.param(frame(CLOSE, close_payload(999)), id="close-999"),
        pytest.param(frame(CLOSE, close_payload(5000)), id="close-5000"),
        pytest.param(frame(CLOSE, close_payload(1004)), id="close-1004"),
        pytest.param(frame(CLOSE, close_payload(2999)), id="close-2999"),
        pytest.param(frame(CLOSE, close_payload(0)), id="close-0"),
        pytest.param(b"\x81\xfe\x00\x05" + b"\x00" * 9, id="length-not-minimal"),
    ],
)
def test_protocol_errors_close_with_1002(data: bytes) -> None:
    assert_failed(Pair(), data, 1002, "protocol error")


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(frame(TEXT, INVALID_UTF8), id="text"),
        pytest.param(frame(TEXT, b"ok", fin=False) + frame(CONTINUATION, INVALID_UTF8), id="fragment"),
        pytest.param(frame(TEXT, b"\xed\xa0\x80"), id="surrogate"),
        pytest.param(frame(CLOSE, close_payload(1000, INVALID_UTF8)), id="close-reason"),
    ],
)
def test_invalid_utf8_closes_with_1007(data: bytes) -> None:
    assert_failed(Pair(), data, 1007, "invalid message data")


def test_invalid_utf8_is_caught_before_the_message_ends() -> None:
    # The fragment is refused as it arrives, not once the message is complete.
    assert_failed(Pair(), frame(TEXT, INVALID_UTF8, fin=False), 1007, "invalid message data")


def test_compressed_data_that_does_not_inflate_closes_with_1007() -> None:
    pair = Pair(offer="permessage-deflate", compression={})
    assert_failed(pair, frame(TEXT, b"\xff\xff\xff\xff", rsv=4), 1007, "invalid message data")


@pytest.mark.parametrize("piece", [None, 1, 3])
@pytest.mark.parametrize("opcode", [TEXT, BINARY])
def test_a_new_message_among_compressed_fragments_is_1002_however_it_arrives(
    opcode: int, piece: int | None
) -> None:
    pair = Pair(offer="permessage-deflate", compression={})
    data = pair.client.send(ws.TextMessage("first " * 20, message_finished=False))
    # Bytes that do not inflate, so that reading them before the header's
    # verdict would give a 1007 instead.
    data += frame(opcode, b"\xff\xff\xff\xff" * 4, rsv=4)
    events = []
    for at in range(0, len(data), piece or len(data)):
        pair.server.receive_data(data[at : at + (piece or len(data))])
        events += pair.server_events()
    assert events == [Closed(1002, "protocol error")]
    assert closes(pair.flush()) == [(1002, "protocol error")]


def test_reserved_bits_other_than_compression_still_close_with_1002() -> None:
    pair = Pair(offer="permessage-deflate", compression={})
    assert_failed(pair, frame(TEXT, b"x", rsv=2), 1002, "protocol error")
    pair = Pair(offer="permessage-deflate", compression={})
    assert_failed(pair, frame(PING, b"x", rsv=4), 1002, "protocol error")


SMALL = Limits(ws_max_message_size=100, ws_max_frame_size=60)


def test_a_frame_too_big_is_refused_from_its_header() -> None:
    pair = Pair(SMALL)
    # Only the header has arrived: its declared length is enough.
    assert_failed(pair, frame(BINARY, b"", length=61), 1009, "frame too big")


def test_frames_at_the_limit_pass() -> None:
    pair = Pair(SMALL)
    assert pair.send(ws.BytesMessage(b"x" * 60)) == [BytesMessage(b"x" * 60)]


def test_a_message_too_big_closes_with_1009() -> None:
    pair = Pair(SMALL)
    assert pair.send(
        ws.BytesMessage(b"x" * 50, message_finished=False), ws.BytesMessage(b"x" * 50)
    ) == [BytesMessage(b"x" * 100)]
    data = pair.client.send(ws.TextMessage("é" * 25, message_finished=False))
    data += pair.client.send(ws.TextMessage("é" * 26))  # 102 bytes of UTF-8, 51 characters
    assert_failed(pair, data, 1009, "message too big")


def test_a_message_that_inflates_too_big_closes_with_1009() -> None:
    pair = Pair(Limits(ws_max_message_size=64 * 1024), offer="permessage-deflate", compression={})
    bomb = zlib.compressobj(9, zlib.DEFLATED, -15)
    payload = bomb.compress(b"\x00" * (16 * 1024 * 1024)) + bomb.flush(zlib.Z_SYNC_FLUSH)[:-4]
    assert len(payload) < 20_000  # a thousandfold
    assert_failed(pair, frame(BINARY, payload, rsv=4), 1009, "message too big")


def test_a_message_that_inflates_within_the_limit_passes() -> None:
    pair = Pair(Limits(ws_max_message_size=64 * 1024), offer="permessage-deflate", compression={})
    assert pair.send(ws.BytesMessage(b"\x00" * 64 * 1024)) == [BytesMessage(b"\x00" * 64 * 1024)]


def assert_failed(pair: Pair, data: bytes, code: int, reason: str) -> None:
    """*data* fails the connection: our close frame says why, and it is closed at once."""
    pair.server.receive_data(data)
    assert pair.server_events() == [Closed(code, reason)]
    assert (pair.server.close_code, pair.server.close_reason) == (code, reason)
    assert closes(pair.flush()) == [(code, reason)]
    assert_finished(pair.server)


def test_a_failure_while_closing_sends_no_second_close() -> None:
    pair = Pair()
    pair.server.close()
    pair.server.receive_data(frame(TEXT, b"x", mask=False))
    assert pair.server_events() == [Closed(1002, "protocol error")]
    assert pair.server.data_to_send() == b""


# -- timers --------------------------------------------------------------------


def test_no_timers_by_default() -> None:
    assert Pair().server.deadline is None


def test_keepalive_pings_at_each_interval() -> None:
    pair = Pair(ping_interval=10.0)
    start = pair.clock.now
    assert pair.server.deadline == start + 10.0
    pair.clock.now = start + 9.5
    pair.server.handle_deadline()  # early: nothing
    assert pair.server.data_to_send() == b""
    pair.clock.now = start + 10.0
    pair.server.handle_deadline()
    assert pair.flush() == [ws.Ping(b"")]
    assert pair.server.deadline == start + 20.0
    # Without a ping timeout, an unanswered ping is never held against the peer.
    pair.clock.now = start + 20.0
    pair.server.handle_deadline()
    assert pair.flush() == [ws.Ping(b"")]
    assert not pair.server.closed


def test_an_unanswered_ping_gives_up_on_the_peer_with_1006() -> None:
    pair = Pair(ping_interval=10.0, ping_timeout=4.0)
    start = pair.clock.now
    pair.clock.now = start + 10.0
    pair.server.handle_deadline()
    assert pair.flush() == [ws.Ping(b"")]
    assert pair.server.deadline == start + 14.0
    pair.clock.now = start + 13.99
    pair.server.handle_deadline()
    assert not pair.server.closed
    pair.clock.now = start + 14.0
    pair.server.handle_deadline()
    assert pair.server_events() == [Closed(1006, "the peer did not answer a ping")]
    assert pair.server.data_to_send() == b""  # nothing is sent to a peer given up for gone
    assert_finished(pair.server)


def test_a_pong_keeps_the_connection() -> None:
    pair = Pair(ping_interval=10.0, ping_timeout=15.0)
    start = pair.clock.now
    pair.clock.now = start + 10.0
    pair.server.handle_deadline()
    pair.flush()
    pair.clock.now = start + 20.0
    pair.server.handle_deadline()  # a second ping; the first is still unanswered
    pair.flush()
    assert pair.server.deadline == start + 25.0  # timed from the first
    assert pair.send(ws.Pong(b"")) == [Pong(b"")]
    assert pair.server.deadline == start + 30.0  # the next ping


def test_a_ping_of_the_applications_is_timed_too() -> None:
    pair = Pair(ping_timeout=5.0)
    assert pair.server.deadline is None
    pair.server.send_ping(b"?")
    assert pair.server.deadline == pair.clock.now + 5.0
    pair.send(ws.Pong(b"?"))
    assert pair.server.deadline is None


@pytest.mark.parametrize("setting", [{"ping_interval": 0}, {"ping_timeout": -1.0}])
def test_timer_settings_must_be_positive(setting: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        WebSocketConnection(clock=Clock(), **setting)  # type: ignore[arg-type]


# -- back-pressure and state ---------------------------------------------------


def test_bytes_count_as_queued_until_written() -> None:
    pair = Pair(Limits(ws_max_queued_bytes=1000))
    server = pair.server
    first = server.send_bytes(b"x" * 600)
    assert server.queued_bytes == len(first) and not server.must_wait
    second = server.send_bytes(b"x" * 600)
    assert server.queued_bytes == len(first) + len(second) and server.must_wait
    pair.send(ws.Ping(b"p"))
    pong = server.data_to_send()
    assert server.queued_bytes == len(first) + len(second) + len(pong)
    server.mark_written(len(first) + len(second))
    assert server.queued_bytes == len(pong) and not server.must_wait
    with pytest.raises(LocalProtocolError):
        server.mark_written(len(pong) + 1)
    with pytest.raises(LocalProtocolError):
        server.mark_written(-1)
    server.mark_written(len(pong))
    assert server.queued_bytes == 0


def test_bytes_not_yet_taken_count_too() -> None:
    pair = Pair(Limits(ws_max_queued_bytes=10))
    pair.send(ws.Ping(b"x" * 20))
    assert pair.server.queued_bytes == 22 and pair.server.must_wait


def test_negotiated_state_is_kept() -> None:
    pair = Pair(offer="permessage-deflate", compression={})
    assert [extension.name for extension in pair.server.extensions] == ["permessage-deflate"]
    assert Pair().server.extensions == ()
    connection = WebSocketConnection(clock=Clock(), subprotocol="chat")
    assert connection.subprotocol == "chat"
    assert (connection.close_code, connection.close_reason) == (None, None)
    assert not connection.closed and not connection.closing
