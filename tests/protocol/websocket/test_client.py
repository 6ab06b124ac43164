"""The client's handshake and connection, in memory against the server's own side.

The request :class:`ClientHandshake` writes is parsed by h11 and vetted by
:func:`screen_upgrade`; the server's ``101`` goes back to the client.  Then a
client :class:`WebSocketConnection` and a server one talk to each other.
"""

from __future__ import annotations

import base64
from typing import Any

import h11
import pytest
from crosswind.protocol.events import NEED_DATA
from crosswind.protocol.websocket import (
    BytesMessage,
    Closed,
    CloseReceived,
    TextMessage,
    UpgradeRequest,
    WebSocketConnection,
    screen_upgrade,
)
from crosswind.protocol.websocket.client import (
    ClientHandshake,
    Established,
    HandshakeFailed,
    Refused,
)

NONCE = bytes(range(16))


def serve_request(request: bytes) -> tuple[str, UpgradeRequest]:
    """What the server side makes of the client's request: its target and the vetted upgrade."""
    server = h11.Connection(h11.SERVER)
    server.receive_data(request)
    event = server.next_event()
    assert isinstance(event, h11.Request)
    screened = screen_upgrade(event.method, event.http_version, event.headers)
    assert isinstance(screened, UpgradeRequest), screened
    return event.target.decode(), screened


def head(status: bytes, fields: list[tuple[bytes, bytes]], body: bytes = b"") -> bytes:
    lines = [b"HTTP/1.1 " + status] + [name + b": " + value for name, value in fields]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def answer(handshake: ClientHandshake, data: bytes, *, split: bool = False) -> Any:
    pieces = [data[i : i + 1] for i in range(len(data))] if split else [data]
    for piece in pieces:
        handshake.receive_data(piece)
    return handshake.next_event()


def accepted_101(handshake: ClientHandshake, **choices: Any) -> bytes:
    _, screened = serve_request(handshake.request())
    return head(b"101 Switching Protocols", list(screened.accept(**choices).headers))


@pytest.mark.parametrize("split", [False, True])
def test_the_server_accepts_what_the_client_sends(split: bool) -> None:
    handshake = ClientHandshake(
        "example.org:8080", "/chat?room=1", key=NONCE, subprotocols=["v2", "v1"],
        headers=[("Origin", "https://example.org")],
    )
    target, screened = serve_request(handshake.request())
    assert target == "/chat?room=1"
    assert screened.key == base64.b64encode(NONCE)
    assert screened.subprotocols == ("v2", "v1")
    assert screened.origin == "https://example.org"
    response = head(b"101 Switching Protocols", list(screened.accept("v1").headers))
    # Frames the server sent at once come behind the head: they are the connection's.
    event = answer(handshake, response + b"\x81\x02hi", split=split)
    assert isinstance(event, Established)
    assert event.subprotocol == "v1"
    assert event.extensions == ()
    assert event.leftover == b"\x81\x02hi"
    assert handshake.next_event() is event


def test_compression_is_offered_and_agreed() -> None:
    handshake = ClientHandshake("h", "/", key=NONCE, compression_options={"compression_level": 1})
    _, screened = serve_request(handshake.request())
    assert screened.extensions == ("permessage-deflate; client_max_window_bits",)
    response = head(
        b"101 Switching Protocols", list(screened.accept(compression_options={}).headers)
    )
    event = answer(handshake, response)
    assert [extension.name for extension in event.extensions] == ["permessage-deflate"]
    assert event.extensions[0].compression_level == 1


def test_nothing_is_offered_without_compression_options() -> None:
    handshake = ClientHandshake("h", "/", key=NONCE)
    assert b"Sec-WebSocket-Extensions" not in handshake.request()


def test_a_refusal_keeps_status_fields_and_body() -> None:
    handshake = ClientHandshake("h", "/", key=NONCE, max_body=5)
    event = answer(
        handshake, head(b"403 Forbidden", [(b"Content-Length", b"8"), (b"X-Why", b"no")], b"no entry")
    )
    assert event == Refused(403, ((b"content-length", b"8"), (b"x-why", b"no")), b"no en")


def test_a_refusal_waits_for_its_body() -> None:
    handshake = ClientHandshake("h", "/", key=NONCE)
    assert answer(handshake, head(b"404 Not Found", [(b"Content-Length", b"4")], b"no")) is NEED_DATA
    assert answer(handshake, b"pe").body == b"nope"


def good_fields(handshake: ClientHandshake) -> list[tuple[bytes, bytes]]:
    _, screened = serve_request(handshake.request())
    return list(screened.accept().headers)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: [(n, v) for n, v in f if n != b"Upgrade"], "websocket"),
        (lambda f: [(n, b"keep-alive" if n == b"Connection" else v) for n, v in f], "Connection"),
        (lambda f: [(n, b"d3Jvbmc=" if n == b"Sec-WebSocket-Accept" else v) for n, v in f],
         "Accept"),
        (lambda f: [(n, v) for n, v in f if n != b"Sec-WebSocket-Accept"], "Accept"),
        (lambda f: [*f, (b"Sec-WebSocket-Protocol", b"chat")], "subprotocol"),
        (lambda f: [*f, (b"Sec-WebSocket-Extensions", b"permessage-deflate")], "extension"),
    ],
)
def test_a_101_that_rfc_6455_refuses(change: Any, message: str) -> None:
    handshake = ClientHandshake("h", "/", key=NONCE)
    response = head(b"101 Switching Protocols", change(good_fields(handshake)))
    with pytest.raises(HandshakeFailed, match=message):
        answer(handshake, response)


@pytest.mark.parametrize(
    "value",
    [
        b"permessage-deflate; server_max_window_bits=8",  # zlib's raw deflate cannot do 8
        b"permessage-deflate; client_max_window_bits",  # the server must choose a value
        b"permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        b"permessage-deflate; mystery",
        b"permessage-deflate, permessage-deflate",
        b"x-webkit-deflate-frame",
    ],
)
def test_deflate_answers_that_do_not_fit_the_offer(value: bytes) -> None:
    handshake = ClientHandshake("h", "/", key=NONCE, compression_options={})
    response = head(
        b"101 Switching Protocols", [*good_fields(handshake), (b"Sec-WebSocket-Extensions", value)]
    )
    with pytest.raises(HandshakeFailed):
        answer(handshake, response)


def test_a_broken_answer_is_a_failure_not_a_crash() -> None:
    handshake = ClientHandshake("h", "/", key=NONCE)
    with pytest.raises(HandshakeFailed, match="HTTP"):
        answer(handshake, b"SSH-2.0-OpenSSH\r\n\r\n")
    handshake = ClientHandshake("h", "/", key=NONCE)
    handshake.receive_data(b"HTTP/1.1 101 Swi")
    with pytest.raises(HandshakeFailed, match="before it answered"):
        answer(handshake, b"")
    handshake = ClientHandshake("h", "/", key=NONCE)
    with pytest.raises(HandshakeFailed, match="before it answered"):
        answer(handshake, b"")


@pytest.mark.parametrize(
    "arguments",
    [
        {"key": b"short"},
        {"subprotocols": ["not a token"]},
        {"compression_options": {"level": 3}},
        {"headers": [("Sec-WebSocket-Key", "x")]},
        {"headers": [("Host", "elsewhere")]},
    ],
)
def test_arguments_are_checked_before_anything_is_sent(arguments: dict[str, Any]) -> None:
    arguments = {"key": NONCE, **arguments}
    with pytest.raises(ValueError):
        ClientHandshake("h", "/", **arguments)


# -- a client connection and a server one -------------------------------------------


def pair(**client: Any) -> tuple[WebSocketConnection, WebSocketConnection]:
    clock = lambda: 0.0  # noqa: E731
    return (
        WebSocketConnection(clock=clock, client=True, **client),
        WebSocketConnection(clock=clock),
    )


def events(connection: WebSocketConnection, data: bytes) -> list[Any]:
    connection.receive_data(data)
    found = []
    while (event := connection.next_event()) is not NEED_DATA:
        found.append(event)
    return found


def test_client_frames_are_masked_and_the_server_reads_them() -> None:
    client, server = pair()
    frame = client.send_text("hello")
    assert frame[1] & 0x80  # the mask bit (RFC 6455 section 5.3)
    assert b"hello" not in frame
    assert events(server, frame + client.send_bytes(b"\x00")) == [
        TextMessage("hello"), BytesMessage(b"\x00")
    ]
    assert events(client, server.send_text("back")) == [TextMessage("back")]


def test_a_masked_frame_from_the_server_fails_the_client_with_1002() -> None:
    client, _ = pair()
    other_client, _ = pair()
    masked = other_client.send_text("x")
    assert events(client, masked) == [Closed(1002, "protocol error")]


def test_the_closing_handshake_started_by_the_client() -> None:
    client, server = pair()
    found = events(server, client.close(4000, "done"))
    assert found == [CloseReceived(4000, "done")]
    assert events(client, server.data_to_send()) == [CloseReceived(4000, "")]
    assert client.closed and client.close_code == 4000
