"""A stateful test of one connection: a client that does anything a client may do.

Hypothesis drives the real :class:`~crosswind.protocol.driver.ConnectionDriver` (and so the
real ``ServerConnection`` and ``Exchange``, with either protocol engine) over an in-memory transport that
suspends the driver whenever it waits for bytes, under a fake clock.  The client
queues valid and hostile requests, sends them in pieces of any size, waits for
``100 Continue`` before a body when it asked for one, lets time pass, and hangs up.

After every step:

* every byte written parses with h11 as the client, and responses come in request
  order, each answering the request the application saw at that position;
* the application is called once per request it sees, never for a request behind
  a refused one, and each call gets exactly one final response;
* after an error response nothing more is written and the connection is closed;
* the connection is never stuck: while the server waits for bytes, every request
  the client has sent in full has its answer, and a client waiting for
  ``100 Continue`` has been told to go on (or been answered).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import h11
from crosswind.protocol.driver import ConnectionDriver
from crosswind.protocol.exchange import Exchange
from crosswind.protocol.http1.engine import available_engines
from crosswind.protocol.limits import Limits
from crosswind.protocol.transport import ConnectionInfo
from crosswind.testing.strategies import (
    HostileRequest,
    HTTPRequest,
    hostile_requests,
    valid_requests,
)
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

LIMITS = Limits(idle_timeout=60.0, header_timeout=10.0, body_timeout=30.0)
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]  # HEAD answers have no body
EXPECTING = valid_requests(methods=METHODS, max_body_size=48, framings=["length", "chunked"],
                           expect_continue=True, keep_alive=True, http_versions=["1.1"])
MODES = st.sampled_from(["read", "skip"])


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class _Suspend:
    """Awaiting it hands control back to whoever calls ``coroutine.send``."""

    def __await__(self) -> Generator[_Suspend, None, None]:
        yield self


class SteppedTransport:
    """Bytes come from the test; a read with nothing to return suspends the driver."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.info = ConnectionInfo(peer=("127.0.0.1", 50000), local=("127.0.0.1", 80))
        self.inbox = bytearray()
        self.eof = False
        self.sent = bytearray()
        self.closed = False
        self.write_closed = False  # the server shut its side down and only reads
        self.deadline: float | None = None

    async def receive(self, deadline: float | None) -> bytes:
        while True:
            if self.inbox:
                data = bytes(self.inbox)
                self.inbox.clear()
                return data
            if self.eof:
                return b""
            if deadline is not None and self.clock.now >= deadline:
                raise TimeoutError
            self.deadline = deadline
            await _Suspend()

    async def send(self, data: bytes) -> None:
        assert not self.closed, "wrote to a closed connection"
        assert not self.write_closed, "wrote after shutting its side down"
        self.sent += data

    async def send_eof(self) -> None:
        self.write_closed = True

    async def close(self) -> None:
        self.closed = True

    def set_close_callback(self, callback: Any) -> None:
        pass


@dataclass
class Sent:
    """One request in the client's stream."""

    request: HTTPRequest | HostileRequest
    mode: str  # "read": the application reads the body first; "skip": it never does
    start: int  # offset of its first byte in the stream
    end: int  # offset just past its last byte

    @property
    def hostile(self) -> bool:
        return isinstance(self.request, HostileRequest)

    @property
    def body_start(self) -> int:
        assert isinstance(self.request, HTTPRequest)
        return self.start + self.request.head_size

    def ends_connection(self) -> bool:
        request = self.request
        if isinstance(request, HostileRequest):
            return True
        unread_body = request.framing == "chunked" or bool(request.body)
        # HTTP/1.0 with keep-alive stays open: every answer here has a Content-Length.
        return not request.keep_alive or (
            # answered without asking for the body it was told to wait for
            self.mode == "skip" and request.expect_continue and unread_body
        )

    def answer(self) -> bytes:
        request = self.request
        assert isinstance(request, HTTPRequest)
        if self.mode == "skip":
            return b"skipped " + request.target.encode()
        return request.method.encode() + b" " + request.target.encode() + b"\n" + request.body


class ModeApp:
    """Reads the body and echoes it, or answers at once, as the test decided."""

    def __init__(self, modes: list[str]) -> None:
        self.modes = modes
        self.seen: list[tuple[str, str, list[tuple[bytes, bytes]]]] = []
        self.finished: list[bool] = []

    async def handle(self, exchange: Exchange) -> None:
        index = len(self.seen)
        self.seen.append((exchange.method, exchange.target, list(exchange.headers)))
        self.finished.append(False)
        if self.modes[index] == "skip":
            body = b"skipped " + exchange.target.encode("latin-1")
        else:
            received = await exchange.read_body()
            body = exchange.method.encode() + b" " + exchange.target.encode("latin-1")
            body += b"\n" + received
        await exchange.respond(200, [(b"Content-Type", b"text/plain")], body)
        self.finished[index] = True


@dataclass
class Answer:
    informational: list[int]
    status: int
    body: bytes


def parse_output(out: bytes, methods: list[str]) -> list[Answer]:
    """Every response in *out*, strictly, with h11 as the client of *methods*."""
    conn = h11.Connection(h11.CLIENT)
    conn.receive_data(out)
    answers: list[Answer] = []
    while conn.trailing_data[0]:
        method = methods[len(answers)] if len(answers) < len(methods) else "GET"
        conn.send(h11.Request(method=method, target="/", headers=[("Host", "x")]))
        conn.send(h11.EndOfMessage())
        informational: list[int] = []
        status, body = 0, bytearray()
        while True:
            event = conn.next_event()  # raises on any byte h11 refuses
            kind = type(event)
            if kind is h11.InformationalResponse:
                informational.append(event.status_code)
            elif kind is h11.Response:
                status = event.status_code
            elif kind is h11.Data:
                body += event.data
            elif kind is h11.EndOfMessage:
                break
            else:
                assert event is h11.NEED_DATA
                # Writes are whole messages; only a 100 Continue may be alone so far.
                assert status == 0 and not body, "a response was written in part"
                answers.append(Answer(informational, 0, b""))
                return answers
        answers.append(Answer(informational, status, bytes(body)))
        if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
            assert not conn.trailing_data[0], "bytes after a response that closed"
            break
        conn.start_next_cycle()
    return answers


class ConnectionMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = Clock()
        self.transport = SteppedTransport(self.clock)
        self.modes: list[str] = []
        self.app = ModeApp(self.modes)
        self.finished = False
        self.stream = bytearray()  # everything the client means to send, in order
        self.delivered = 0
        self.requests: list[Sent] = []
        self.hung_up = False
        self.timed_out = False
        self.error_at: int | None = None  # output length once an error response went out

    @initialize(engine=st.sampled_from(available_engines()))
    def connect(self, engine: str) -> None:
        driver = ConnectionDriver(self.transport, self.app, clock=self.clock, limits=LIMITS,
                                  engine=engine)
        self.coroutine = driver.run()
        self._step()

    # -- plumbing ----------------------------------------------------------------------

    def _step(self) -> None:
        if self.finished:
            return
        try:
            self.coroutine.send(None)
        except StopIteration:
            self.finished = True

    def _answers(self) -> list[Answer]:
        methods = [s.request.method if isinstance(s.request, HTTPRequest) else "GET"
                   for s in self.requests]
        return parse_output(bytes(self.transport.sent), methods)

    def _gate(self) -> int:
        """How far into the stream the client is willing to send right now."""
        answers = None
        for index, sent in enumerate(self.requests):
            request = sent.request
            if not isinstance(request, HTTPRequest) or not request.expect_continue:
                continue
            if self.delivered > sent.body_start or sent.body_start == sent.end:
                continue
            if answers is None:
                answers = self._answers()
            told = index < len(answers) and (100 in answers[index].informational
                                             or answers[index].status)
            if not told:
                return sent.body_start
        return len(self.stream)

    def _deliver(self, count: int) -> None:
        data = bytes(self.stream[self.delivered : self.delivered + count])
        self.delivered += len(data)
        self.transport.inbox += data
        self._step()

    # -- rules -------------------------------------------------------------------------

    @precondition(lambda self: not self.hung_up and len(self.requests) < 8)
    @rule(request=st.one_of(valid_requests(methods=METHODS, max_body_size=48), EXPECTING),
          mode=MODES)
    def queue_request(self, request: HTTPRequest, mode: str) -> None:
        start = len(self.stream)
        self.stream += request
        self.requests.append(Sent(request, mode, start, len(self.stream)))
        self.modes.append(mode)

    @precondition(lambda self: not self.hung_up and len(self.requests) < 8)
    @rule(request=st.one_of(valid_requests(methods=METHODS, max_body_size=48, keep_alive=True),
                            EXPECTING),
          mode=MODES)
    def queue_and_send_request(self, request: HTTPRequest, mode: str) -> None:
        self.queue_request(request, mode)
        if not self.finished:
            self._deliver(self._gate() - self.delivered)

    @precondition(lambda self: not self.hung_up and not any(s.hostile for s in self.requests))
    @rule(request=hostile_requests(limits=LIMITS))
    def queue_hostile(self, request: HostileRequest) -> None:
        start = len(self.stream)
        self.stream += request
        self.requests.append(Sent(request, "read", start, len(self.stream)))
        self.modes.append("read")

    @precondition(lambda self: not self.finished and not self.hung_up)
    @rule(count=st.integers(1, 80))
    def send_some(self, count: int) -> None:
        self._deliver(min(count, self._gate() - self.delivered))

    @precondition(lambda self: not self.finished and not self.hung_up)
    @rule()
    def send_all_it_may(self) -> None:
        self._deliver(self._gate() - self.delivered)

    @precondition(lambda self: not self.finished and not self.hung_up and self.requests)
    @rule(seconds=st.sampled_from([0.5, 2.0, 9.0, 11.0, 31.0, 61.0]))
    def let_time_pass(self, seconds: float) -> None:
        deadline = self.transport.deadline
        before = len(self.transport.sent)
        self.clock.now += seconds
        self._step()
        if deadline is not None and self.clock.now >= deadline:
            self.timed_out = True
            assert self.finished, "a missed deadline did not end the connection"
            new = parse_output(bytes(self.transport.sent[before:]), ["GET"])
            assert [a.status for a in new] in ([], [408])
        else:
            assert not self.finished and len(self.transport.sent) == before

    @precondition(lambda self: not self.finished and not self.hung_up and self.delivered)
    @rule()
    def hang_up(self) -> None:
        self.hung_up = True
        self.transport.eof = True
        self._step()
        assert self.finished, "the connection outlived the client"

    @rule()
    def nudge(self) -> None:
        # Waking a waiting server without new bytes or time must change nothing.
        before = (len(self.transport.sent), self.finished, len(self.app.seen))
        self._step()
        assert (len(self.transport.sent), self.finished, len(self.app.seen)) == before

    # -- invariants --------------------------------------------------------------------

    @invariant()
    def responses_answer_requests_in_order(self) -> None:
        answers = [a for a in self._answers() if a.status]
        seen = self.app.seen
        first_hostile = next((i for i, s in enumerate(self.requests) if s.hostile), None)
        if first_hostile is not None:
            assert len(seen) <= first_hostile + 1, "a request behind a refused one was served"
        for index, (method, target, headers) in enumerate(seen):
            request = self.requests[index].request
            if isinstance(request, HostileRequest):
                # Only a body at fault lets the head through; the body never arrives.
                assert request.stage == "body" and not self.app.finished[index]
                continue
            assert (method, target, headers) == (request.method, request.target,
                                                 list(request.headers))
        for index, answer in enumerate(answers):
            if answer.status == 200:
                assert index < len(seen) and self.app.finished[index]
                assert answer.body == self.requests[index].answer()
            else:
                assert answer.status >= 400
                assert index == len(answers) - 1, "something was written after an error"
                assert index <= len(seen), "more errors than refused requests"
        assert len(answers) >= sum(self.app.finished)

    @invariant()
    def nothing_after_an_error(self) -> None:
        answers = self._answers()
        if any(a.status >= 400 for a in answers):
            if self.error_at is None:
                self.error_at = len(self.transport.sent)
            # Closed, or still reading what the client sends with its own
            # side shut down (lingering), so that the client reads the error.
            assert (self.finished and self.transport.closed) or self.transport.write_closed
            assert len(self.transport.sent) == self.error_at
        if self.finished:
            assert self.transport.closed

    @invariant()
    def never_stuck(self) -> None:
        if self.finished:
            return
        answers = self._answers()
        for index, sent in enumerate(self.requests):
            if sent.end > self.delivered:
                if (
                    isinstance(sent.request, HTTPRequest)
                    and sent.request.expect_continue
                    and self.delivered == sent.body_start
                    and self._gate() == sent.body_start
                ):
                    raise AssertionError("the client waits for 100 Continue that never came")
                break
            # Sent in full while the server waits: it must have been answered.
            if sent.hostile:
                assert self.transport.write_closed, "a refused request left the connection open"
                break
            assert index < len(answers) and answers[index].status == 200, (
                f"request {index} was sent in full but not answered"
            )
            if sent.ends_connection():
                raise AssertionError("the connection stayed open after a closing request")

    def teardown(self) -> None:
        # Send whatever the client may (answers unlock 100-continue bodies), then hang up.
        while not self.finished and not self.hung_up and self._gate() > self.delivered:
            self._deliver(self._gate() - self.delivered)
            self.never_stuck()
        if not self.finished:
            self.transport.eof = True
            self._step()
        assert self.finished
        self.responses_answer_requests_in_order()
        self.nothing_after_an_error()
        # Exactly one final response per request the application saw.
        every = self._answers()
        answers = [a for a in every if a.status]
        event(f"{min(len(answers), 3)}+ final responses")
        if any(100 in a.informational for a in every):
            event("100 Continue")
        if any(a.status >= 400 for a in answers):
            event(f"error {answers[-1].status}")
        if self.timed_out:
            event("timed out")
        if any(s.mode == "skip" and not s.hostile for s in self.requests[: len(answers)]):
            event("body left unread")
        assert len(answers) in (len(self.app.seen), len(self.app.seen) + 1)
        if not (self.hung_up or self.timed_out):
            # Every request that reached the server before it had reason to close was served.
            for index, sent in enumerate(self.requests):
                if sent.hostile:
                    assert answers[-1].status == sent.request.status
                    break
                assert index < len(self.app.seen) and answers[index].status == 200
                if sent.ends_connection():
                    break


ConnectionMachine.TestCase.settings = settings(stateful_step_count=25)
TestConnection = ConnectionMachine.TestCase
