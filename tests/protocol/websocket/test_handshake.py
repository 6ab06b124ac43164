"""The opening handshake: every rule of RFC 6455 section 4.2.1, and what the 101 carries."""

from __future__ import annotations

from typing import Any

import pytest
from crosswind.protocol.websocket import Refusal, UpgradeRequest, screen_upgrade
from crosswind.protocol.websocket.deflate import Deflate

from .peers import KEY, UPGRADE, field, upgrade


def replaced(name: bytes, *values: bytes) -> list[tuple[bytes, bytes]]:
    """The valid upgrade request with every *name* field replaced by *values*."""
    return [(k, v) for k, v in UPGRADE if k != name] + [(name, value) for value in values]


def test_a_valid_request_is_accepted_with_the_key_answered() -> None:
    request = screen_upgrade("GET", "1.1", UPGRADE)
    assert request == UpgradeRequest(KEY)
    accepted = request.accept()
    # The example of RFC 6455 section 1.3.
    assert accepted.headers == (
        (b"Upgrade", b"websocket"),
        (b"Connection", b"Upgrade"),
        (b"Sec-WebSocket-Accept", b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
    )
    assert accepted.subprotocol is None
    assert accepted.extensions == ()


@pytest.mark.parametrize(
    ("method", "version", "headers", "status"),
    [
        ("POST", "1.1", UPGRADE, 405),
        (b"get", b"1.1", UPGRADE, 405),  # methods are case-sensitive
        ("GET", "1.0", UPGRADE, 400),
        ("GET", "0.9", UPGRADE, 400),
        ("GET", "x", UPGRADE, 400),
        ("GET", "1.1", replaced(b"upgrade"), 400),
        ("GET", "1.1", replaced(b"upgrade", b"h2c"), 400),
        ("GET", "1.1", replaced(b"upgrade", b"websocket/13x, h2c", b"web socket"), 400),
        ("GET", "1.1", replaced(b"connection"), 400),
        ("GET", "1.1", replaced(b"connection", b"keep-alive"), 400),
        ("GET", "1.1", replaced(b"connection", b"upgraded"), 400),
        ("GET", "1.1", replaced(b"sec-websocket-version"), 426),
        ("GET", "1.1", replaced(b"sec-websocket-version", b"8"), 426),
        ("GET", "1.1", replaced(b"sec-websocket-version", b"13", b"8"), 426),
        ("GET", "1.1", replaced(b"sec-websocket-version", b"13, 8"), 426),
        ("GET", "1.1", replaced(b"sec-websocket-key"), 400),
        ("GET", "1.1", replaced(b"sec-websocket-key", b"not base64 at all!!!!!!!"), 400),
        ("GET", "1.1", replaced(b"sec-websocket-key", b"AAAAAAAAAAAAAAAAAAAAAA="), 400),  # 16, no pad
        ("GET", "1.1", replaced(b"sec-websocket-key", b"AAAAAAAAAAAAAAAAAAAA"), 400),  # 15 bytes
        ("GET", "1.1", replaced(b"sec-websocket-key", b"AAAAAAAAAAAAAAAAAAAAAAA="), 400),  # 17
        ("GET", "1.1", replaced(b"sec-websocket-key", b"AAAAAAAAAAAAAAAAAAAAA\xff=="), 400),
        ("GET", "1.1", replaced(b"sec-websocket-key", KEY, KEY), 400),
        ("GET", "1.1", [*UPGRADE, (b"sec-websocket-protocol", b"chat, a b")], 400),
        ("GET", "1.1", [*UPGRADE, (b"origin", b"https://a"), (b"origin", b"https://b")], 400),
    ],
)
def test_refusals(
    method: str | bytes, version: str | bytes, headers: list[tuple[bytes, bytes]], status: int
) -> None:
    refusal = screen_upgrade(method, version, headers)
    assert isinstance(refusal, Refusal)
    assert refusal.status == status
    assert refusal.reason and refusal.reason.isascii()


def test_a_wrong_version_is_told_which_to_speak() -> None:
    refusal = screen_upgrade("GET", "1.1", replaced(b"sec-websocket-version", b"8"))
    assert refusal == Refusal(
        426, "only WebSocket version 13 is supported", ((b"Sec-WebSocket-Version", b"13"),)
    )


def test_a_refused_method_says_which_is_allowed() -> None:
    refusal = screen_upgrade("PUT", "1.1", UPGRADE)
    assert isinstance(refusal, Refusal)
    assert refusal.headers == ((b"Allow", b"GET"),)


def test_a_version_problem_is_reported_before_the_key() -> None:
    # A client of an older draft learns the version to use, not that its key is odd.
    headers = [(k, v) for k, v in UPGRADE if k not in (b"sec-websocket-version", b"sec-websocket-key")]
    refusal = screen_upgrade("GET", "1.1", headers)
    assert isinstance(refusal, Refusal) and refusal.status == 426


@pytest.mark.parametrize(
    ("version", "headers"),
    [
        (b"1.1", UPGRADE),
        ("2", UPGRADE),
        ("1.2", UPGRADE),
        ("1.1", replaced(b"upgrade", b"WebSocket")),
        ("1.1", replaced(b"upgrade", b"foo/2, websocket")),
        ("1.1", replaced(b"connection", b"keep-alive, Upgrade")),
        ("1.1", replaced(b"connection", b"keep-alive", b"UPGRADE")),
        ("1.1", replaced(b"sec-websocket-key", b"AAAAAAAAAAAAAAAAAAAAAA==")),
    ],
)
def test_what_is_accepted(version: str | bytes, headers: list[tuple[bytes, bytes]]) -> None:
    assert isinstance(screen_upgrade("GET", version, headers), UpgradeRequest)


def test_origin_check_refuses_with_403() -> None:
    seen: list[str] = []

    def check(origin: str) -> bool:
        seen.append(origin)
        return origin == "https://good.example"

    bad = screen_upgrade("GET", "1.1", [*UPGRADE, (b"origin", b"https://evil.example")], check)
    assert isinstance(bad, Refusal) and bad.status == 403
    good = screen_upgrade("GET", "1.1", [*UPGRADE, (b"origin", b"https://good.example")], check)
    assert isinstance(good, UpgradeRequest) and good.origin == "https://good.example"
    assert seen == ["https://evil.example", "https://good.example"]


def test_origin_check_is_not_asked_without_an_origin() -> None:
    def check(origin: str) -> bool:
        raise AssertionError("called")

    assert isinstance(screen_upgrade("GET", "1.1", UPGRADE, check), UpgradeRequest)


def test_origin_is_checked_last() -> None:
    # A request that is no valid handshake is refused for that, whatever its origin.
    def refuse(origin: str) -> bool:
        return False

    headers = [*replaced(b"sec-websocket-version", b"8"), (b"origin", b"https://evil.example")]
    refusal = screen_upgrade("GET", "1.1", headers, refuse)
    assert isinstance(refusal, Refusal) and refusal.status == 426


def test_subprotocols_offered_in_order_and_chosen_by_the_caller() -> None:
    request = upgrade(
        (b"sec-websocket-protocol", b"chat, superchat"), (b"sec-websocket-protocol", b" v2 ,,")
    )
    assert request.subprotocols == ("chat", "superchat", "v2")
    accepted = request.accept("superchat")
    assert accepted.subprotocol == "superchat"
    assert field(accepted, b"Sec-WebSocket-Protocol") == b"superchat"
    assert field(request.accept(None), b"Sec-WebSocket-Protocol") is None


def test_a_subprotocol_not_offered_is_a_programming_error() -> None:
    request = upgrade((b"sec-websocket-protocol", b"chat"))
    with pytest.raises(ValueError, match="not offered"):
        request.accept("superchat")
    with pytest.raises(ValueError, match="not offered"):
        upgrade().accept("chat")


# -- permessage-deflate negotiation ---------------------------------------------


def test_compression_is_declined_unless_the_caller_allows_it() -> None:
    request = upgrade((b"sec-websocket-extensions", b"permessage-deflate"))
    accepted = request.accept(compression_options=None)
    assert field(accepted, b"Sec-WebSocket-Extensions") is None
    assert accepted.extensions == ()


def test_compression_needs_an_offer() -> None:
    accepted = upgrade().accept(compression_options={})
    assert field(accepted, b"Sec-WebSocket-Extensions") is None
    assert accepted.extensions == ()


@pytest.mark.parametrize(
    ("offers", "answer"),
    [
        ([b"permessage-deflate"], b"permessage-deflate"),
        (
            [b"permessage-deflate; client_max_window_bits"],
            b"permessage-deflate; client_max_window_bits=15",
        ),
        (
            [b"permessage-deflate; server_max_window_bits=10; client_no_context_takeover"],
            b"permessage-deflate; client_no_context_takeover; server_max_window_bits=10",
        ),
        # The browsers' offer.
        (
            [b"permessage-deflate; client_max_window_bits", b"x-webkit-deflate-frame"],
            b"permessage-deflate; client_max_window_bits=15",
        ),
        # The first acceptable offer wins; the ones RFC 7692 section 7 says a
        # server must decline are skipped, never misread.
        ([b"permessage-deflate; foo=1, permessage-deflate"], b"permessage-deflate"),
        ([b"permessage-deflate; server_max_window_bits=8, permessage-deflate"], b"permessage-deflate"),
        (
            [b"permessage-deflate; client_max_window_bits=abc, permessage-deflate"],
            b"permessage-deflate",
        ),
        (
            [b"permessage-deflate; server_no_context_takeover; server_no_context_takeover",
             b"permessage-deflate"],
            b"permessage-deflate",
        ),
        ([b"permessage-deflate; server_max_window_bits", b"permessage-deflate"], b"permessage-deflate"),
        ([b"permessage-deflate; client_no_context_takeover=1, permessage-deflate"], b"permessage-deflate"),
        ([b'permessage-deflate; server_max_window_bits="10", permessage-deflate'], b"permessage-deflate"),
        ([b"permessage-deflate; server_max_window_bits=" + b"9" * 5000], None),
        ([b"x-webkit-deflate-frame"], None),
        ([b"Permessage-Deflate"], None),
        ([b"permessage-deflate; client_max_window_bits=16"], None),
    ],
)
def test_offers(offers: list[bytes], answer: bytes | None) -> None:
    request = upgrade(*[(b"sec-websocket-extensions", offer) for offer in offers])
    accepted = request.accept(compression_options={})
    assert field(accepted, b"Sec-WebSocket-Extensions") == answer
    assert len(accepted.extensions) == (answer is not None)


def test_compression_options_reach_the_extension() -> None:
    request = upgrade((b"sec-websocket-extensions", b"permessage-deflate"))
    [extension] = request.accept(
        compression_options={"compression_level": 1, "mem_level": 5}
    ).extensions
    assert isinstance(extension, Deflate)
    assert (extension.compression_level, extension.mem_level) == (1, 5)
    [default] = request.accept(compression_options={}).extensions
    assert isinstance(default, Deflate)
    assert (default.compression_level, default.mem_level) == (6, 8)  # Tornado's


@pytest.mark.parametrize(
    "options",
    [
        {"compression_level": 10},
        {"compression_level": -2},
        {"mem_level": 0},
        {"mem_level": 10},
        {"mem_level": "9"},
        {"compression_level": 1.5},
        {"level": 1},
    ],
)
def test_bad_compression_options_are_a_programming_error(options: dict[str, Any]) -> None:
    request = upgrade((b"sec-websocket-extensions", b"permessage-deflate"))
    with pytest.raises(ValueError):
        request.accept(compression_options=options)
    # Refused whether or not the client offered compression.
    with pytest.raises(ValueError):
        upgrade().accept(compression_options=options)
