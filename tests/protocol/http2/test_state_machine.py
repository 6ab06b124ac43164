"""A Hypothesis state machine: many streams' frames interleaved, split anyhow, on a moving clock.

The client is h2's own; the bytes it sends reach the server in pieces of any
size, the server's bytes reach it the same way, and the clock moves by less
than any timeout between steps.  The server side answers each request once
its body is complete with the body's length and a digest, in pieces as the
windows allow.  Whatever the interleaving, every stream must get exactly
the answer to its own body, and no stream or connection error may appear.
"""

from __future__ import annotations

import hashlib

from crosswind.protocol.http2.events import (
    BodyEnded,
    BodyReceived,
    ConnectionEnded,
    RequestReceived,
    StreamClosed,
    StreamFailed,
    WindowOpened,
)
from crosswind.protocol.limits import Limits
from h2 import events as h2events
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from tests.protocol.http2.pair import Pair

# Small windows and frames, so that flow control and splitting matter at once.
LIMITS = Limits(
    h2_initial_window_size=2048,
    h2_connection_window_size=8192,
    max_body_size=50_000,
    # The clock moves many times while nothing is open: no idle GOAWAY meanwhile.
    idle_timeout=1e6,
    body_timeout=60.0,
)


def _answer(body: bytes) -> bytes:
    return b"%d:%s" % (len(body), hashlib.sha256(body).hexdigest().encode())


class Interleaving(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.pair = Pair(LIMITS)
        self.to_server = b""  # bytes the client sent that the server has not read
        self.to_client = b""
        self.unsent: dict[int, bytes] = {}  # the client's body bytes still to send
        self.sent: dict[int, bytes] = {}  # each stream's whole body
        self.received: dict[int, bytearray] = {}  # what the server read of each body
        self.pending: dict[int, bytes] = {}  # the server's answer still to send
        self.answers: dict[int, bytearray] = {}
        self.done: set[int] = set()

    # -- the client -------------------------------------------------------------

    @precondition(lambda self: len(self.sent) < 12)
    @rule(body=st.binary(max_size=6000))
    def open_stream(self, body: bytes) -> None:
        client = self.pair.client
        stream_id = client.get_next_available_stream_id()
        client.send_headers(
            stream_id,
            [(b":method", b"POST"), (b":scheme", b"https"), (b":authority", b"a"), (b":path", b"/")],
        )
        self.unsent[stream_id] = body
        self.sent[stream_id] = body
        self.answers[stream_id] = bytearray()
        self._client_out()

    @precondition(lambda self: bool(self.unsent))
    @rule(data=st.data(), size=st.integers(1, 5000))
    def send_body(self, data: st.DataObject, size: int) -> None:
        stream_id = data.draw(st.sampled_from(sorted(self.unsent)))
        client = self.pair.client
        rest = self.unsent[stream_id]
        size = min(size, client.local_flow_control_window(stream_id), len(rest),
                   client.max_outbound_frame_size)
        if rest and size == 0:
            return  # no window: the server must read first
        piece, rest = rest[:size], rest[size:]
        client.send_data(stream_id, piece, end_stream=not rest)
        if rest:
            self.unsent[stream_id] = rest
        else:
            del self.unsent[stream_id]
        self._client_out()

    def _client_out(self) -> None:
        self.to_server += self.pair.client.data_to_send()

    # -- the wire -------------------------------------------------------------------

    @precondition(lambda self: bool(self.to_server))
    @rule(size=st.integers(1, 20000))
    def deliver_to_server(self, size: int) -> None:
        piece, self.to_server = self.to_server[:size], self.to_server[size:]
        for event in self.pair.server.receive_data(piece):
            self._server_event(event)
        self._server_send()

    @precondition(lambda self: bool(self.to_client))
    @rule(size=st.integers(1, 20000))
    def deliver_to_client(self, size: int) -> None:
        piece, self.to_client = self.to_client[:size], self.to_client[size:]
        client = self.pair.client
        for event in client.receive_data(piece):
            if isinstance(event, h2events.DataReceived):
                self.answers[event.stream_id] += event.data
                client.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2events.StreamEnded):
                self.done.add(event.stream_id)
            elif isinstance(event, h2events.StreamReset | h2events.ConnectionTerminated):
                raise AssertionError(f"the server ended a well-behaved client's stream: {event}")
        self._client_out()

    @rule(seconds=st.floats(0, 5))
    def time_passes(self, seconds: float) -> None:
        self.pair.clock.now += seconds
        assert self.pair.server.expire(self.pair.clock.now) == []

    # -- the server's application -----------------------------------------------

    def _server_event(self, event: object) -> None:
        server = self.pair.server
        if isinstance(event, RequestReceived):
            self.received[event.stream_id] = bytearray()
        elif isinstance(event, BodyReceived):
            self.received[event.stream_id] += event.data
            server.consumed(event.stream_id, event.flow_length)
        elif isinstance(event, BodyEnded):
            body = bytes(self.received[event.stream_id])
            server.send_headers(event.stream_id, [(b":status", b"200")], end_stream=False)
            self.pending[event.stream_id] = _answer(body)
        elif isinstance(event, StreamFailed | StreamClosed | ConnectionEnded):
            raise AssertionError(f"a well-behaved client's stream failed: {event}")
        else:
            assert isinstance(event, WindowOpened)

    def _server_send(self) -> None:
        server = self.pair.server
        for stream_id, rest in list(self.pending.items()):
            size = min(server.send_window(stream_id), len(rest))
            if size == 0 and rest:
                continue
            server.send_data(stream_id, rest[:size], end_stream=size == len(rest))
            if size == len(rest):
                del self.pending[stream_id]
                server.stream_done(stream_id)
            else:
                self.pending[stream_id] = rest[size:]
        self.to_client += server.data_to_send()

    # -- what must hold ---------------------------------------------------------------

    @invariant()
    def answers_match_their_own_stream(self) -> None:
        for stream_id in self.done:
            assert bytes(self.answers[stream_id]) == _answer(self.sent[stream_id])
        for stream_id, body in self.received.items():
            assert self.sent[stream_id].startswith(bytes(body))

    def teardown(self) -> None:
        # Let everything through: every stream that was sent in full is answered.
        for _ in range(200):
            if not (self.to_server or self.to_client or self.unsent or self.pending):
                break
            for stream_id in sorted(self.unsent):
                rest = self.unsent[stream_id]
                size = min(self.pair.client.local_flow_control_window(stream_id), len(rest),
                           self.pair.client.max_outbound_frame_size)
                if size or not rest:
                    self.pair.client.send_data(stream_id, rest[:size], end_stream=size == len(rest))
                    if size == len(rest):
                        del self.unsent[stream_id]
                    else:
                        self.unsent[stream_id] = rest[size:]
            self._client_out()
            if self.to_server:
                self.deliver_to_server(len(self.to_server))
            self._server_send()
            if self.to_client:
                self.deliver_to_client(len(self.to_client))
        assert self.done == set(self.sent)
        self.answers_match_their_own_stream()


Interleaving.TestCase.settings = settings(
    max_examples=60, stateful_step_count=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestInterleaving = Interleaving.TestCase
