"""A stateful test of one WebSocket connection against a wsproto client, under a fake clock.

Hypothesis has the client send messages (whole or in fragments, compressed or
not), pings, pongs, a close or a broken frame, and hang up; the server send
messages, pings and its own close; the bytes from the client arrive in pieces
of any size; and time passes, up to each deadline and exactly onto it.

After every step:

* the server's events are exactly those the client's delivered bytes call
  for, whole and in order, whatever the split: nothing is lost, nothing is
  held back once its last byte has arrived;
* every delivered ping is answered with a pong carrying the latest ping's
  payload, until the server has started to close;
* the deadline is the one a model of the timers predicts; before it,
  ``handle_deadline`` does nothing; at it, exactly the due ping goes out, or the
  connection ends with 1006;
* every byte written was reported written, so nothing counts as queued;
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

from .peers import Pair, frame

CLOSE_TIMEOUT = 2.0
LIMITS = Limits(ws_close_timeout=CLOSE_TIMEOUT)
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
    @rule(code=st.sampled_from([1000, 1001, 3000, 4999]), reason=st.text(max_size=10))
    def client_closes(self, code: int, reason: str) -> None:
        self.client_sends(ws.CloseConnection(code, reason))
        self.expected.append(CloseReceived(code, reason))

    @precondition(lambda self: self.client.state is ConnectionState.REMOTE_CLOSING and not self.client_done)
    @rule()
    def client_answers_the_close(self) -> None:
        self.client_sends(ws.CloseConnection(1000))
        self.expected.append(CloseReceived(1000, ""))

    @precondition(lambda self: not self.client_done)
    @rule()
    def client_breaks_the_protocol(self) -> None:
        self.wire += frame(0x1, b"unmasked", mask=False)
        self.expected.append(Closed(1002, "protocol error"))
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

    @precondition(lambda self: self.wire)
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
        pongs = [e.payload for e in self.flush() if isinstance(e, ws.Pong)]
        assert pongs == pinged[-1:]

    def flush(self) -> list[ws.Event]:
        data = self.server.data_to_send()
        self.server.mark_written(len(data))
        return self.to_client(data)

    def to_client(self, data: bytes) -> list[ws.Event]:
        events = self.pair.to_client(data)
        self.keepalives += [e.payload for e in events if isinstance(e, ws.Ping)]
        return events

    # -- the server --------------------------------------------------------

    def server_open(self) -> bool:
        return not self.ended and self.close_sent is None

    def server_writes(self, data: bytes) -> list[ws.Event]:
        self.server.mark_written(len(data))
        return self.to_client(data)

    @precondition(server_open)
    @rule(text=st.text(max_size=40))
    def server_sends_text(self, text: str) -> None:
        assert self.server_writes(self.server.send_text(text)) == [ws.TextMessage(text)]

    @precondition(server_open)
    @rule(data=st.binary(max_size=40))
    def server_sends_bytes(self, data: bytes) -> None:
        assert self.server_writes(self.server.send_bytes(data)) == [ws.BytesMessage(data)]

    @precondition(server_open)
    @rule(payload=PAYLOADS)
    def server_pings(self, payload: bytes) -> None:
        assert self.server_writes(self.server.send_ping(payload)) == [ws.Ping(payload)]
        if self.unanswered is None:
            self.unanswered = self.clock.now

    @precondition(server_open)
    @rule(code=st.sampled_from([1000, 1001, 1011, 4000]))
    def server_closes(self, code: int) -> None:
        events = self.server_writes(self.server.close(code))
        assert [(e.code, e.reason) for e in events if isinstance(e, ws.CloseConnection)] == [(code, "")]
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
            assert self.flush() == [ws.Ping(b"")]
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
        assert self.server.queued_bytes == 0

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
