"""Helpers shared by the fuzz targets: an echo application and a strict response check.

A fuzz target is a module in this directory with ``test_one_input(data: bytes)``.
It returns normally for any input; an exception it raises is a finding.  The
exceptions a target's API documents for bad input are caught inside the target.
"""

from __future__ import annotations

import h11
from crosswind.protocol.exchange import Exchange
from crosswind.protocol.limits import Limits

__all__ = ["LIMITS", "EchoApp", "FuzzFinding", "check_responses", "split_by"]

# Small limits so the fuzzer reaches every size check with short inputs.
LIMITS = Limits(
    max_request_line=256,
    max_head_size=1024,
    max_header_count=12,
    max_body_size=2048,
    drain_limit=512,
    max_chunk_line=64,
)


class FuzzFinding(AssertionError):
    """A property the target checks does not hold for this input."""


class EchoApp:
    """Reads each body to its end and answers 200 echoing method, target and body."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, bytes, bool]] = []

    async def handle(self, exchange: Exchange) -> None:
        index = len(self.seen)
        self.seen.append((exchange.method, exchange.target, b"", False))
        body = await exchange.read_body()
        self.seen[index] = (exchange.method, exchange.target, body, True)
        answer = f"{exchange.method} {exchange.target}\n".encode("latin-1") + body
        await exchange.respond(200, [(b"Content-Type", b"application/octet-stream")], answer)


def split_by(data: bytes, seed: int) -> list[bytes]:
    """Cut *data* into pieces whose sizes cycle through a pattern chosen by *seed*."""
    if seed == 0 or not data:
        return [data] if data else []
    sizes = [1 + (seed * (i + 7)) % 23 for i in range(1 + seed % 5)]
    pieces, pos, i = [], 0, 0
    while pos < len(data):
        pieces.append(data[pos : pos + sizes[i % len(sizes)]])
        pos += sizes[i % len(sizes)]
        i += 1
    return pieces


def _parse(out: bytes, methods: list[str]) -> list[tuple[int, bytes]]:
    conn = h11.Connection(h11.CLIENT)
    conn.receive_data(out)
    conn.receive_data(b"")
    answers: list[tuple[int, bytes]] = []
    while conn.trailing_data[0]:
        method = methods[len(answers)] if len(answers) < len(methods) else "GET"
        conn.send(h11.Request(method=method, target="/", headers=[("Host", "x")]))
        conn.send(h11.EndOfMessage())
        status, body = 0, bytearray()
        while True:
            event = conn.next_event()
            kind = type(event)
            if kind is h11.Response:
                status = event.status_code
            elif kind is h11.Data:
                body += event.data
            elif kind is h11.EndOfMessage:
                break
            elif event is h11.PAUSED and method == "CONNECT" and 200 <= status < 300:
                # The client now reads a tunnel: what follows is data, and must be
                # all the server ever sends on this connection.
                answers.append((status, bytes(conn.trailing_data[0])))
                return answers
            elif kind is not h11.InformationalResponse:
                raise FuzzFinding(f"response cut short: {event!r}")
        answers.append((status, bytes(body)))
        if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
            if conn.trailing_data[0]:
                raise FuzzFinding("bytes after a response that closed the connection")
            break
        conn.start_next_cycle()
    return answers


def check_responses(out: bytes, app: EchoApp) -> None:
    """*out* parses with h11 as the client; answers match the requests the app completed.

    An error response, if any, is last.  The method of the request it answers is not
    always known (the application may never have seen it), so it is parsed as a
    response to ``GET`` and, failing that, to ``HEAD``.
    """
    methods = [method for method, _, _, _ in app.seen]
    try:
        answers = _parse(out, methods)
    except (h11.RemoteProtocolError, FuzzFinding):
        answers = _parse(out, [*methods, "HEAD"])
    completed = [entry for entry in app.seen if entry[3]]
    for index, (status, body) in enumerate(answers):
        if index < len(completed):
            method, target, request_body, _ = completed[index]
            if status != 200:
                raise FuzzFinding(f"request {index} got {status}, not the echo")
            expected = f"{method} {target}\n".encode("latin-1") + request_body
            # HEAD has no body, and a 2xx to CONNECT opens a tunnel (no body).
            if method not in ("HEAD", "CONNECT") and body != expected:
                raise FuzzFinding(f"response {index} does not echo its request")
        elif index != len(answers) - 1 or status < 400:
            raise FuzzFinding(f"unexpected response {index} ({status}) after the echoes")
    if len(answers) < len(completed):
        raise FuzzFinding("a completed request got no response")
