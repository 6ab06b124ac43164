"""Every raw request of the table in ``http_cases.py``, fed whole to the real driver.

A valid request pipelined right behind each case shows where the server
thinks the case ended: it is answered after a valid case, and never even
parsed after an invalid one.
"""

from __future__ import annotations

import pytest
from crosswind.testing import parse_responses, serve_bytes

from tests.support.http_cases import FOLLOW_UP, INVALID, VALID, EchoApp, Invalid, Valid


@pytest.fixture(params=["native", "h11"])
def engine(request: pytest.FixtureRequest) -> str:
    """Each case runs with both protocol engines."""
    return request.param


def _methods(case: Valid) -> list[bytes]:
    return [case.method.encode(), b"GET"]


@pytest.mark.parametrize("case", VALID, ids=lambda c: c.name)
def test_valid_request_is_seen_as_sent(case: Valid, engine: str) -> None:
    app = EchoApp()
    out = serve_bytes(app, [case.raw + FOLLOW_UP], engine=engine)
    seen = app.seen[0]
    assert (seen.method, seen.target, seen.version) == (case.method, case.target, case.version)
    assert seen.path == (case.path or case.target.partition("?")[0])
    assert seen.headers == case.headers
    assert seen.body == case.body
    assert seen.complete and seen.error is None

    expects_continue = (b"expect", b"100-continue") in case.headers
    assert out.startswith(b"HTTP/1.1 100 Continue\r\n") == expects_continue
    responses = parse_responses(out, _methods(case))
    if case.version == "1.0":
        # An HTTP/1.0 exchange closes after its response: the pipelined
        # request behind it is never processed on this connection.
        assert len(app.seen) == 1
        assert [r.status_code for r in responses] == [200]
        assert responses[0].headers.get("Connection") == "close"
    else:
        assert len(app.seen) == 2
        follow = app.seen[1]
        assert (follow.method, follow.target, follow.body) == ("GET", "/follow-up", b"")
        assert [r.status_code for r in responses] == [200, 200]
        assert responses[1].content == b"GET /follow-up 1.1\n"
    assert responses[0].content.endswith(b"\n" + case.body)


@pytest.mark.parametrize("case", INVALID, ids=lambda c: c.name)
def test_invalid_request_is_refused_and_nothing_behind_it_runs(case: Invalid, engine: str) -> None:
    app = EchoApp()
    out = serve_bytes(app, [case.raw + FOLLOW_UP], engine=engine)

    responses = parse_responses(out)
    assert len(responses) == 1, out
    response = responses[0]
    assert response.status_code == case.status, response.text
    assert response.headers.get("Connection") == "close"
    assert response.headers.get("Content-Type") == "text/plain; charset=utf-8"
    reason = response.text
    assert reason.endswith("\n") and 0 < len(reason) < 80 and reason.count("\n") == 1
    assert out.endswith(response.content), "nothing may follow the error response"

    if case.stage == "head":
        assert app.seen == []
    else:
        # The head reached the application, but reading the body failed
        # before a single byte of it was handed over.
        assert len(app.seen) == 1
        assert app.seen[0].pieces == []
        assert app.seen[0].error == case.status
    assert app.completed == []
    assert all(seen.target != "/follow-up" for seen in app.seen)


def test_tables_are_large_and_named_uniquely() -> None:
    names = [case.name for case in VALID + INVALID]
    assert len(names) == len(set(names))
    assert len(VALID) >= 20 and len(INVALID) >= 40
