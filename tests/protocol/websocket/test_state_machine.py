"""A stateful test of one WebSocket connection against a wsproto client, under a fake clock.

Hypothesis has the client send messages (whole or in fragments, compressed or
not), pings, pongs, a close with a valid code, or one of the faults of
``FAULTS`` (an invalid close code, invalid UTF-8, reserved bits, an unmasked
frame, an oversized frame or message ...), at a message boundary or in the
middle of a fragmented message, and hang up; the server send messages, pings
and its own close; the bytes from the client arrive in pieces of any size;
the server's writer stall (its bytes stay queued) and catch up; and time
passes, up to each deadline and exactly onto it.

After every step:

* the server's events are exactly those the client's delivered bytes call
  for, whole and in order, whatever the split: nothing is lost, nothing is
  held back once its last byte has arrived;
* every delivered ping is answered with a pong carrying the latest ping's
  payload, until the server has started to close;
* a fault ends the connection with the RFC 6455 code for it (1002, 1007 or
  1009), a close frame saying so goes to the client unless the server had
  closed already, and nothing the client sent after the fault is delivered;
* the deadline is the one a model of the timers predicts; before it,
  ``handle_deadline`` does nothing; at it, exactly the due ping goes out, or the
  connection ends with 1006;
* the bytes counted as queued are exactly those not yet written, and while
  the caller heeds ``must_wait`` (reading and sending nothing more), they
  stay within ``ws_max_queued_bytes`` and what one step adds;
* once closed, nothing more comes out: no event, no byte, no deadline.
"""

from __future__ import annotations

from crosswind.protocol.events import NEED_DATA
from crosswind.protocol.limits import Limits
from crosswind.protocol.websocket import (
    BytesMessage,
    Closed,
    CloseReceived,
    Event,
    Ping,
    Pong,
    TextMessage,
    WebSocketClosed,
)
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from wsproto import events as ws
from wsproto.connection import ConnectionState

from .peers import Pair, close_payload, frame

CLOSE_TIMEOUT = 2.0
# Above the largest valid message drawn (4 pieces of 20 characters, up to 4 bytes each).
MAX_MESSAGE = 400
# Small enough that a stalled writer reaches it within a few steps.
MAX_QUEUED = 64
# The most one step queues: a 40-character text of the server's (160 bytes of
# UTF-8 and a 4-byte header), or one delivery's pong and close frame.
QUEUE_SLACK = 164
LIMITS = Limits(
    ws_close_timeout=CLOSE_TIMEOUT,
    ws_max_message_size=MAX_MESSAGE,
    ws_max_frame_size=MAX_MESSAGE,
    ws_max_queued_bytes=MAX_QUEUED,
)
VALID_CLOSE_CODES = [1000, 1001, 1003, 1007, 1011, 1012, 3000, 4999]
# Out of range, reserved, or only ever meant for local use (RFC 6455 section 7.4).
INVALID_CLOSE_CODES = [0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535]
PROTOCOL_ERROR = (1002, "protocol error")
INVALID_DATA = (1007, "invalid message data")


def _data(midway: bool) -> int:
    # Inside a fragmented message, data goes in continuation frames.
    return 0x0 if midway else 0x1


#: Each fault: its frames (given whether a text message is open), and the close it earns.
FAULTS = {
    "unmasked frame": lambda midway, draw: (frame(_data(midway), b"bare", mask=False), PROTOCOL_ERROR),
    "reserved bits": lambda midway, draw: (frame(_data(midway), b"x", rsv=draw["rsv"]), PROTOCOL_ERROR),
    "reserved opcode": lambda midway, draw: (frame(draw["opcode"], b"x"), PROTOCOL_ERROR),
    "fragmented ping": lambda midway, draw: (frame(0x9, b"x", fin=False), PROTOCOL_ERROR),
    "compressed ping": lambda midway, draw: (frame(0x9, b"x", rsv=4), PROTOCOL_ERROR),
    "ping over 125 bytes": lambda midway, draw: (frame(0x9, b"p" * 126), PROTOCOL_ERROR),
    "invalid close code": lambda midway, draw: (
        frame(0x8, close_payload(draw["code"])),
        PROTOCOL_ERROR,
    ),
    "one-byte close": lambda midway, draw: (frame(0x8, b"\x03"), PROTOCOL_ERROR),
    "close reason not UTF-8": lambda midway, draw: (
        frame(0x8, close_payload(1000, b"bye \xff")),
        INVALID_DATA,
    ),
    "text not UTF-8": lambda midway, draw: (frame(_data(midway), b"caf\xc3("), INVALID_DATA),
    "text ends mid-character": lambda midway, draw: (frame(_data(midway), b"caf\xc3"), INVALID_DATA),
    "frame over the limit": lambda midway, draw: (
        frame(_data(midway), b"", length=MAX_MESSAGE + 1 + draw["extra"]),
        (1009, "frame too big"),
    ),
    "message over the limit": lambda midway, draw: (
        frame(_data(midway), b"m" * 300, fin=False) + frame(0x0, b"m" * 300),
        (1009, "message too big"),
    ),
    # A continuation with no message open, or a new message inside one.
    "out of order": lambda midway, draw: (frame(0x1 if midway else 0x0, b"x"), PROTOCOL_ERROR),
}
# Times are multiples of 1/8, so every sum is exact and deadlines compare equal.
STEPS = st.sampled_from([0.125, 0.5, 1.0, 2.5, 4.0])
PAYLOADS = st.binary(max_size=20)
TEXTS = st.lists(st.text(max_size=20), min_size=1, max_size=4)
BINARIES = st.lists(st.binary(max_size=20), min_size=1, max_size=4)


class WebSocketMachine(RuleBasedStateMachine):
    @initialize(
        compress=st.booleans(),
        interval=st.sampled_from([None, 5.0, 10.0]),
        timeout=st.sampled_from([None, 3.0, 20.0]),
    )
    def start(self, compress: bool, interval: float | None, timeout: float | None) -> None:
        self.pair = Pair(
            LIMITS,
            offer="permessage-deflate" if compress else None,
            compression={},
            ping_interval=interval,
            ping_timeout=timeout,
        )
        self.server = self.pair.server
        self.client = self.pair.client
        self.clock = self.pair.clock
        self.interval, self.timeout = interval, timeout
        self.wire = bytearray()  # from the client, not yet delivered
        self.expected: list[Event] = []  # what the client's bytes must make the server report
        self.seen: list[Event] = []
        self.client_done = False  # hung up, or sent what fails the connection
        self.compress = compress
        # The server's writer: stalled, its bytes wait in `unwritten`.
        self.stalled = False
        self.unwritten = bytearray()
        self.pongs_due: list[bytes] = []  # answers the client must see when the writer flushes
        self.server_closes: list[tuple[int, str]] = []  # close frames the client received
        self.close_due: tuple[int, str] | None = None  # the close a fault must send
        self.keepalives: list[bytes] = []  # pings from the server the client may answer
        # The model of the timers.
        self.next_ping = None if interval is None else self.clock.now + interval
        self.unanswered: float | None = None
        self.close_sent: float | None = None
        self.ended = False

    # -- the client --------------------------------------------------------

    def client_may_send(self) -> bool:
        return self.client.state is ConnectionState.OPEN and not self.client_done

    def client_sends(self, *events: ws.Event) -> None:
        for event in events:
            self.wire += self.client.send(event)

    def client_message(self, pieces: list[str] | list[bytes], ping: bytes | None) -> None:
        """A message in fragments, with a ping after the first one if *ping* is given."""
        make = ws.TextMessage if isinstance(pieces[0], str) else ws.BytesMessage
        last = len(pieces) - 1
        for i, piece in enumerate(pieces):
            self.client_sends(make(piece, message_finished=i == last))  # type: ignore[arg-type]
            if i == 0 and i != last and ping is not None:
                # Control frames may come between fragments (RFC 6455 section 5.4).
                self.client_sends(ws.Ping(ping))
                self.expected.append(Ping(ping))
        if isinstance(pieces[0], str):
            self.expected.append(TextMessage("".join(pieces)))  # type: ignore[arg-type]
        else:
            self.expected.append(BytesMessage(b"".join(pieces)))  # type: ignore[arg-type]

    @precondition(client_may_send)
    @rule(pieces=TEXTS, ping=st.none() | PAYLOADS)
    def client_text(self, pieces: list[str], ping: bytes | None) -> None:
        self.client_message(pieces, ping)

    @precondition(client_may_send)
    @rule(pieces=BINARIES, ping=st.none() | PAYLOADS)
    def client_bytes(self, pieces: list[bytes], ping: bytes | None) -> None:
        self.client_message(pieces, ping)

    @precondition(client_may_send)
    @rule(payload=PAYLOADS)
    def client_pings(self, payload: bytes) -> None:
        self.client_sends(ws.Ping(payload))
        self.expected.append(Ping(payload))

    @precondition(client_may_send)
    @rule(payload=PAYLOADS)
    def client_pongs_unasked(self, payload: bytes) -> None:
        self.client_sends(ws.Pong(payload))
        self.expected.append(Pong(payload))

    @precondition(lambda self: self.client_may_send() and self.keepalives)
    @rule()
    def client_answers_a_keepalive(self) -> None:
        payload = self.keepalives.pop(0)
        self.client_sends(ws.Pong(payload))
        self.expected.append(Pong(payload))

    @precondition(client_may_send)
    @rule(code=st.sampled_from(VALID_CLOSE_CODES), reason=st.text(max_size=10))
    def client_closes(self, code: int, reason: str) -> None:
        self.client_sends(ws.CloseConnection(code, reason))
        self.expected.append(CloseReceived(code, reason))

    @precondition(lambda self: self.client.state is ConnectionState.REMOTE_CLOSING and not self.client_done)
    @rule()
    def client_answers_the_close(self) -> None:
        self.client_sends(ws.CloseConnection(1000))
        self.expected.append(CloseReceived(1000, ""))

    @precondition(lambda self: not self.client_done)
    @rule(
        fault=st.sampled_from(sorted(FAULTS)),
        midway=st.booleans(),
        rsv=st.sampled_from([1, 2, 3, 4, 5, 6, 7]),
        opcode=st.sampled_from([0x3, 0x7, 0xB, 0xF]),
        code=st.sampled_from(INVALID_CLOSE_CODES),
        extra=st.sampled_from([0, 1 << 16, 1 << 40]),
        compressed=st.booleans(),
    )
    def client_breaks_the_protocol(
        self, fault: str, midway: bool, rsv: int, opcode: int, code: int, extra: int, compressed: bool
    ) -> None:
        if rsv == 4 and self.compress:
            rsv = 6  # RSV1 alone means compressed once deflate is agreed; RSV2 never means anything
        data, (close_code, reason) = FAULTS[fault](midway, {"rsv": rsv, "opcode": opcode, "code": code, "extra": extra})
        if fault == "message over the limit" and self.compress and compressed and not midway:
            # Small on the wire, too big once inflated: the bound on inflation must catch it.
            data = self.client.send(ws.BytesMessage(bytes(MAX_MESSAGE * 4)))
        if midway:
            # Hand-made and uncompressed, which permessage-deflate allows as well.
            self.wire += frame(0x1, b"open", fin=False)
        # What follows the fault must never be delivered.
        self.wire += data + frame(0x1, b"after the fault") + frame(0x9, b"after")
        self.expected.append(Closed(close_code, reason))
        self.client_done = True

    @precondition(lambda self: not self.client_done)
    @rule()
    def client_hangs_up(self) -> None:
        self.send_to_server(len(self.wire))
        if not self.ended:
            self.expected.append(Closed(1006, "the connection was lost"))
        self.server.receive_data(b"")
        self.take_events()
        self.client_done = True
        assert self.ended

    # -- the wire ----------------------------------------------------------

    # A caller heeding back-pressure reads nothing while must_wait.
    @precondition(lambda self: self.wire and not self.server.must_wait)
    @rule(size=st.integers(1, 40) | st.just(1 << 16))  # a piece, or everything sent so far
    def deliver(self, size: int) -> None:
        self.send_to_server(size)

    def send_to_server(self, size: int) -> None:
        chunk = bytes(self.wire[:size])
        del self.wire[:size]
        if chunk:  # (b"" would say the client hung up)
            self.server.receive_data(chunk)
        self.take_events()

    def take_events(self) -> None:
        """The server's events, checked against what is expected; then its bytes to the client."""
        pinged: list[bytes] = []
        while (event := self.server.next_event()) is not NEED_DATA:
            assert not self.ended, f"{event!r} after the end"
            assert len(self.seen) < len(self.expected), f"unexpected {event!r}"
            assert event == self.expected[len(self.seen)]
            self.seen.append(event)  # type: ignore[arg-type]
            if isinstance(event, Ping) and self.close_sent is None:
                pinged.append(event.payload)
            elif isinstance(event, Pong):
                self.unanswered = None
            elif isinstance(event, CloseReceived | Closed):
                self.ended = True
                if isinstance(event, Closed) and event.code != 1006 and self.close_sent is None:
                    self.close_due = (event.code, event.reason)
        self.pongs_due += pinged[-1:]
        self.flush()

    def flush(self) -> list[ws.Event]:
        """Hand the server's own bytes to its writer; what the client made of them."""
        return self.write(self.server.data_to_send())

    def write(self, data: bytes) -> list[ws.Event]:
        """The server's writer takes *data*: to the client now, or queued while stalled."""
        if self.stalled:
            self.unwritten += data
            return []
        self.server.mark_written(len(data))
        return self.to_client(data)

    def to_client(self, data: bytes) -> list[ws.Event]:
        events = self.pair.to_client(data)
        self.keepalives += [e.payload for e in events if isinstance(e, ws.Ping)]
        self.server_closes += [(int(e.code), e.reason) for e in events if isinstance(e, ws.CloseConnection)]
        assert [e.payload for e in events if isinstance(e, ws.Pong)] == self.pongs_due
        self.pongs_due = []
        return events

    # -- the server's writer -------------------------------------------------

    @precondition(lambda self: not self.stalled)
    @rule()
    def writer_stalls(self) -> None:
        self.stalled = True

    @precondition(lambda self: self.stalled)
    @rule()
    def writer_catches_up(self) -> None:
        self.stalled = False
        data = bytes(self.unwritten)
        self.unwritten.clear()
        self.write(data)

    # -- the server --------------------------------------------------------

    def server_open(self) -> bool:
        # A sender that heeds back-pressure sends nothing while must_wait.
        return not self.ended and self.close_sent is None and not self.server.must_wait

    def server_writes(self, data: bytes, *expected: ws.Event) -> None:
        events = self.write(data)
        assert events == ([] if self.stalled else list(expected))

    @precondition(server_open)
    @rule(text=st.text(max_size=40))
    def server_sends_text(self, text: str) -> None:
        self.server_writes(self.server.send_text(text), ws.TextMessage(text))

    @precondition(server_open)
    @rule(data=st.binary(max_size=40))
    def server_sends_bytes(self, data: bytes) -> None:
        self.server_writes(self.server.send_bytes(data), ws.BytesMessage(data))

    @precondition(server_open)
    @rule(messages=st.lists(st.binary(min_size=20, max_size=40), min_size=8, max_size=12))
    def server_sends_while_it_may(self, messages: list[bytes]) -> None:
        """A producer that sends until told to wait (a broadcast, a feed)."""
        for data in messages:
            if self.server.must_wait:
                assert self.stalled
                break
            self.server_writes(self.server.send_bytes(data), ws.BytesMessage(data))

    @precondition(server_open)
    @rule(payload=PAYLOADS)
    def server_pings(self, payload: bytes) -> None:
        self.server_writes(self.server.send_ping(payload), ws.Ping(payload))
        if self.unanswered is None:
            self.unanswered = self.clock.now

    @precondition(server_open)
    @rule(code=st.sampled_from([1000, 1001, 1011, 4000]))
    def server_closes(self, code: int) -> None:
        self.server_writes(self.server.close(code), ws.CloseConnection(code, ""))
        self.close_sent = self.clock.now

    # -- time --------------------------------------------------------------

    def model_deadline(self) -> float | None:
        if self.ended:
            return None
        if self.close_sent is not None:
            return self.close_sent + CLOSE_TIMEOUT
        times = [] if self.next_ping is None else [self.next_ping]
        if self.timeout is not None and self.unanswered is not None:
            times.append(self.unanswered + self.timeout)
        return min(times, default=None)

    @rule(step=STEPS)
    def time_passes(self, step: float) -> None:
        # Never past a deadline: reaching one is the next rule's business.
        deadline = self.server.deadline
        now = self.clock.now + step
        self.clock.now = now if deadline is None else min(now, deadline)

    @precondition(lambda self: self.server.deadline is not None)
    @rule()
    def deadline_arrives(self) -> None:
        deadline = self.server.deadline
        assert deadline is not None
        if self.clock.now < deadline - 0.125:
            self.clock.now = deadline - 0.125
        if self.clock.now < deadline:
            self.server.handle_deadline()
            assert self.server.next_event() is NEED_DATA and self.server.data_to_send() == b""
            assert self.server.deadline == deadline
        self.clock.now = deadline
        self.server.handle_deadline()
        if self.close_sent is not None:
            self.expect_end(Closed(1006, "the peer did not answer the close"))
        elif (
            self.timeout is not None
            and self.unanswered is not None
            and self.unanswered + self.timeout <= deadline
        ):
            self.expect_end(Closed(1006, "the peer did not answer a ping"))
        else:
            assert self.next_ping == deadline
            assert self.server.next_event() is NEED_DATA
            assert self.flush() == ([] if self.stalled else [ws.Ping(b"")])
            assert self.interval is not None
            self.next_ping = deadline + self.interval
            if self.unanswered is None:
                self.unanswered = deadline

    def expect_end(self, closed: Closed) -> None:
        assert self.server.next_event() == closed
        assert self.server.data_to_send() == b""
        self.ended = True

    # -- after the end -----------------------------------------------------

    @precondition(lambda self: self.ended)
    @rule(data=st.binary(max_size=30))
    def more_bytes_after_the_end(self, data: bytes) -> None:
        self.server.receive_data(bytes(self.wire) + data)
        self.wire.clear()
        assert self.server.next_event() is NEED_DATA
        assert self.server.data_to_send() == b""
        try:
            self.server.send_text("no")
        except WebSocketClosed:
            pass
        else:
            raise AssertionError("sent after the end")

    # -- invariants --------------------------------------------------------

    @invariant()
    def deadline_is_the_models(self) -> None:
        assert self.server.deadline == self.model_deadline()

    @invariant()
    def everything_written_is_accounted_for(self) -> None:
        assert self.server.queued_bytes == len(self.unwritten)

    @invariant()
    def queue_stays_bounded(self) -> None:
        assert self.server.queued_bytes <= MAX_QUEUED + QUEUE_SLACK

    @invariant()
    def a_fault_is_answered_with_its_close(self) -> None:
        if not self.stalled and self.close_due is not None:
            assert self.server_closes == [self.close_due]

    @invariant()
    def nothing_held_back(self) -> None:
        if not self.ended and not self.wire:
            assert self.seen == self.expected

    @invariant()
    def closed_means_ended(self) -> None:
        assert self.server.closed == self.ended


# More examples than the suite's bounded profile: the interleavings that matter
# (a control frame between compressed fragments) need a few rules to line up.
WebSocketMachine.TestCase.settings = settings(
    settings.default, max_examples=max(settings.default.max_examples, 200), stateful_step_count=30
)
TestWebSocketMachine = WebSocketMachine.TestCase
