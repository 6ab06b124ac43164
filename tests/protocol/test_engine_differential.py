"""The native engine against h11: the same verdicts and the same parse, on generated streams.

The comparisons live in ``fuzz/differential.py`` (the atheris target ``engines`` runs them
too).  Behind the same connection the two engines must agree on everything, whatever the
stream and however it is cut; against a bare h11 server, native may only refuse more, and
only in the documented cases (``docs/protocol.md``, "Native engine vs h11").
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from crosswind.protocol.events import EndOfMessage
from crosswind.protocol.http1.engine import register_engine
from crosswind.protocol.http1.native_engine import NativeEngine
from crosswind.testing.strategies import (
    HOSTILE_FAMILIES,
    SMUGGLE_PROBE,
    HostileRequest,
    Pipeline,
    hostile_requests,
    pipelined,
    split_into_chunks,
)
from hypothesis import event, given
from hypothesis import strategies as st

from tests.support.http_cases import FOLLOW_UP, INVALID, VALID, Invalid, Valid

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fuzz"))

from differential import (  # noqa: E402
    H11_CLOSED,
    H11_REFUSES,
    H11_REFUSES_VALID_FORM,
    NATIVE_STRICTER,
    NATIVE_STRICTER_OUTCOME,
    NATIVE_STRICTER_RULES,
    SAME,
    Divergence,
    compare_engines,
    compare_with_h11,
    engine_verdict,
)


def _served_version(version: str) -> bytes:
    return b"1.0" if version == "1.0" else b"1.1"


# -- generated streams ----------------------------------------------------------------------


@given(pipelined(), st.data())
def test_valid_streams_are_parsed_alike_however_they_are_cut(
    stream: Pipeline, data: st.DataObject
) -> None:
    chunks = data.draw(split_into_chunks(stream, max_pieces=8))
    verdict = compare_engines(chunks)
    assert verdict.refusal is None
    assert len(verdict.messages) == len(stream.requests)
    for message, request in zip(verdict.messages, stream.requests, strict=True):
        assert (message.method, message.target, message.version) == (
            request.method.encode(), request.target.encode(), _served_version(request.http_version)
        )
        assert message.headers == request.headers
        assert (message.body, message.trailers) == (request.body, request.trailers)
        assert message.keep_alive == request.keep_alive

    outcome = compare_with_h11(bytes(stream))
    quirks = frozenset().union(*(r.quirks for r in stream.requests))
    if outcome == H11_REFUSES_VALID_FORM:
        assert "chunk-extension-bws" in quirks
    else:
        assert outcome == SAME
    event(outcome)


def _prefix(before: list[Pipeline]) -> list[bytes]:
    return [request for pipeline in before for request in pipeline.requests
            if request.pipelinable]


@given(st.lists(pipelined(max_size=2), max_size=1), hostile_requests(), st.data())
def test_hostile_streams_are_refused_alike(
    before: list[Pipeline], hostile: HostileRequest, data: st.DataObject
) -> None:
    prefix = _prefix(before)
    stream = b"".join(prefix) + bytes(hostile) + SMUGGLE_PROBE
    chunks = data.draw(split_into_chunks(stream, max_pieces=8))
    verdict = compare_engines(chunks)
    assert verdict.refusal == hostile.status
    assert len(verdict.messages) == len(prefix)

    outcome = compare_with_h11(stream)
    event(f"{hostile.family}: {outcome}")
    if outcome == NATIVE_STRICTER_OUTCOME:
        assert hostile.family in NATIVE_STRICTER, f"undocumented: h11 accepts {hostile.family}"
    elif outcome == H11_REFUSES_VALID_FORM:
        assert any("chunk-extension-bws" in r.quirks for r in prefix)  # type: ignore[attr-defined]
    else:
        assert outcome == SAME


@given(pipelined(max_size=2), st.binary(min_size=1, max_size=24), st.data())
def test_damaged_streams_get_one_verdict_from_both_engines(
    stream: Pipeline, noise: bytes, data: st.DataObject
) -> None:
    # Overwrite or insert bytes anywhere: both engines must still agree, and native may
    # refuse more than bare h11 but never accept what it refuses.
    raw = bytes(stream)
    at = data.draw(st.integers(0, len(raw)))
    damaged = raw[:at] + noise + raw[at + data.draw(st.integers(0, len(noise))):]
    chunks = data.draw(split_into_chunks(damaged, max_pieces=6))
    assert compare_engines(chunks) == compare_engines([damaged])
    event(compare_with_h11(damaged))


# -- the hand-written tables ----------------------------------------------------------------


@pytest.mark.parametrize("case", VALID, ids=lambda c: c.name)
def test_valid_cases_agree(case: Valid) -> None:
    verdict = compare_engines([case.raw + FOLLOW_UP])
    assert verdict.messages[0].headers == tuple(case.headers)
    assert verdict.messages[0].body == case.body
    assert compare_with_h11(case.raw + FOLLOW_UP) in (SAME, H11_CLOSED, H11_REFUSES_VALID_FORM)


@pytest.mark.parametrize("case", INVALID, ids=lambda c: c.name)
def test_invalid_cases_agree(case: Invalid) -> None:
    verdict = compare_engines([case.raw + FOLLOW_UP])
    assert verdict.refusal == case.status
    assert compare_with_h11(case.raw + FOLLOW_UP) in (SAME, NATIVE_STRICTER_OUTCOME)


# -- the documented differences ----------------------------------------------------------------


def test_documented_families_exist() -> None:
    assert set(NATIVE_STRICTER) <= set(HOSTILE_FAMILIES)
    assert set(H11_REFUSES) == {"leading-crlf", "chunk-extension-bws"}


@pytest.mark.parametrize("rule", sorted(NATIVE_STRICTER_RULES))
def test_each_stricter_rule_is_a_request_h11_accepts(rule: str) -> None:
    raw = NATIVE_STRICTER_RULES[rule]
    assert compare_with_h11(raw) == NATIVE_STRICTER_OUTCOME
    assert compare_engines([raw]).refusal == 400


def test_the_differences_are_in_the_protocol_doc() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text()
    section = doc.split("## Native engine vs h11", 1)[1].split("\n## ", 1)[0]
    for name in [*NATIVE_STRICTER, *NATIVE_STRICTER_RULES, *H11_REFUSES]:
        assert f"`{name}`" in section, name


# -- the checks can fail ---------------------------------------------------------------------


class _TrailerDroppingEngine(NativeEngine):
    """A faulty engine: forgets chunked trailers."""

    __slots__ = ()

    def next_event(self) -> object:
        event = super().next_event()
        return EndOfMessage(()) if type(event) is EndOfMessage else event


_TRAILERS = (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
             b"1\r\nx\r\n0\r\nX-T: 1\r\n\r\n")


def test_a_faulty_engine_is_caught() -> None:
    register_engine("test-drops-trailers", _TrailerDroppingEngine)
    assert engine_verdict("test-drops-trailers", [_TRAILERS]).messages[0].trailers == ()
    with pytest.raises(Divergence):
        compare_engines([_TRAILERS], engines=("test-drops-trailers", "h11"))
    with pytest.raises(Divergence):
        compare_with_h11(_TRAILERS, engine="test-drops-trailers")
    assert compare_with_h11(_TRAILERS) == SAME
