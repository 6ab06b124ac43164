"""Fuzz target: raw bytes through the whole connection stack, with an echo application.

Input: the first byte picks how the rest is cut into reads (0: one read), the rest is
what the client sends before closing.

Findings: any exception out of ``serve_bytes`` (every refusal must become a response),
output h11 cannot parse as a client, a response that does not answer its request, an
outcome that depends on how the bytes were cut.
"""

from __future__ import annotations

from _common import LIMITS, EchoApp, FuzzFinding, check_responses, split_by
from crosswind.testing import serve_bytes


def test_one_input(data: bytes) -> None:
    if not data:
        return
    seed, stream = data[0], data[1:]
    app = EchoApp()
    out = serve_bytes(app, split_by(stream, seed), limits=LIMITS)
    check_responses(out, app)
    if seed:
        whole_app = EchoApp()
        whole = serve_bytes(whole_app, [stream], limits=LIMITS)
        if whole != out or whole_app.seen != app.seen:
            raise FuzzFinding("the outcome depends on how the bytes were cut")
