"""``app.test_client().websocket``: Flask-style WebSocket views, in memory, frame by frame.

The sessions go through the real connection driver on the in-memory
backend's loop thread, with the client's cookie jar; the views record what
they saw in a list the test reads once the session's block has ended (which
waits for the view to return).
"""

from __future__ import annotations

import asyncio
from typing import Any

import crosswind.testing
import pytest
from crosswind.app import App, WebSocketDisconnect, redirect, request, session, websocket
from crosswind.testing import WebSocketDenied

pytestmark = pytest.mark.timeout(60)

MAX_MESSAGE = 1024


def make_app(events: list[Any], **config: Any) -> App:
    app = App(__name__)
    app.config.update(SECRET_KEY="test secret", WEBSOCKET_MAX_MESSAGE_SIZE=MAX_MESSAGE, **config)

    @app.before_request
    def members_only() -> Any:
        if request.path.startswith("/members") and "user" not in session:
            return redirect("/login")
        return None

    @app.route("/login")
    def login() -> str:
        session["user"] = "ada"
        return "in"

    @app.websocket("/echo")
    async def echo() -> None:
        offered = websocket.subprotocols
        await websocket.accept(
            subprotocol="chat" if "chat" in offered else None,
            headers=[("Set-Cookie", "seen=1; Path=/")],
        )
        try:
            while True:
                message = await websocket.receive()
                await asyncio.sleep(0.01)  # needs a real event loop
                if message == "whoami":
                    await websocket.send_json({"user": session.get("user"), "room": request.args.get("room")})
                elif message == "close":
                    await websocket.close(4000, "asked to")
                elif message == "fail":
                    raise ValueError("the view failed")
                else:
                    await websocket.send(message)
        except WebSocketDisconnect as disconnect:
            await asyncio.sleep(0.05)  # a slow goodbye: the session must wait for it
            events.append(("disconnect", disconnect.code, disconnect.reason))
            raise

    @app.websocket("/members/chat")
    async def members() -> None:
        await websocket.send(f"hello {session['user']}")

    @app.websocket("/refuse")
    async def refuse() -> None:
        await websocket.close()

    @app.websocket("/broken")
    async def broken() -> None:
        raise LookupError("before accepting")

    @app.websocket("/countdown")
    async def countdown() -> None:
        for n in (3, 2, 1):
            await asyncio.sleep(0.01)
            await websocket.send(str(n))

    return app


@pytest.fixture
def events() -> list[Any]:
    return []


@pytest.fixture
def app(events: list[Any]) -> App:
    return make_app(events)


def test_text_binary_and_json_round_trip(app: App) -> None:
    client = app.test_client()
    with client.websocket("/echo") as ws:
        ws.send("hello")
        assert ws.receive() == "hello"
        ws.send(b"\x00\xff")
        assert ws.receive_bytes() == b"\x00\xff"
        ws.send_json({"n": [1, 2]})
        assert ws.receive_json() == {"n": [1, 2]}
        assert ws.response.status_code == 101


def test_subprotocol_and_query(app: App) -> None:
    client = app.test_client()
    with client.websocket("/echo", subprotocols=["chat"], query_string={"room": "kitchen"}) as ws:
        assert ws.accepted_subprotocol == "chat"
        ws.send("whoami")
        assert ws.receive_json()["room"] == "kitchen"
    with client.websocket("/echo?room=hall") as ws:
        assert ws.accepted_subprotocol is None
        ws.send("whoami")
        assert ws.receive_json()["room"] == "hall"


def test_the_view_sees_the_session_an_earlier_request_stored(app: App) -> None:
    client = app.test_client()
    with client.websocket("/echo") as ws:
        ws.send("whoami")
        assert ws.receive_json()["user"] is None
    client.get("/login")
    with client.websocket("/echo") as ws:
        ws.send("whoami")
        assert ws.receive_json()["user"] == "ada"


def test_cookies_set_by_the_101_land_in_the_jar(app: App) -> None:
    client = app.test_client()
    with client.websocket("/echo") as ws:
        assert ws.cookies == {"seen": "1"}
        assert ws.response_headers.getlist("Set-Cookie") == ["seen=1; Path=/"]
    cookie = client.get_cookie("seen")
    assert cookie is not None and cookie.value == "1"


def test_a_refused_origin_raises_with_the_403(events: list[Any]) -> None:
    client = make_app(events, WEBSOCKET_ALLOWED_ORIGINS="same-origin").test_client()
    with pytest.raises(WebSocketDenied) as denied, client.websocket(
        "/echo", headers={"Origin": "https://elsewhere.example"}
    ):
        pytest.fail("the handshake should have been refused")
    response = denied.value.response
    assert response.status_code == 403
    assert response.headers["Content-Type"].startswith("text/plain")
    assert b"origin" in response.data
    with client.websocket("/echo", headers={"Origin": "http://localhost"}) as ws:
        ws.send("same origin")
        assert ws.receive() == "same origin"


def test_a_hook_that_redirects_refuses_the_upgrade_until_logged_in(app: App) -> None:
    client = app.test_client()
    with pytest.raises(WebSocketDenied) as denied, client.websocket("/members/chat"):
        pass
    assert denied.value.response.status_code == 302
    assert denied.value.response.headers["Location"] == "/login"
    client.get("/login")
    with client.websocket("/members/chat") as ws:
        assert ws.receive() == "hello ada"


def test_a_view_that_closes_before_accepting_answers_403(app: App) -> None:
    with pytest.raises(WebSocketDenied) as denied, app.test_client().websocket("/refuse"):
        pass
    assert denied.value.response.status_code == 403


def test_an_error_before_accepting_reaches_the_test_when_testing(events: list[Any]) -> None:
    client = make_app(events, TESTING=True).test_client()
    with pytest.raises(LookupError, match="before accepting"), client.websocket("/broken"):
        pass


def test_a_close_from_the_view_carries_its_code_and_reason(app: App, events: list[Any]) -> None:
    with app.test_client().websocket("/echo") as ws:
        ws.send("before")
        ws.send("close")
        assert ws.receive() == "before"
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive()
        assert (closed.value.code, closed.value.reason) == (4000, "asked to")
        # The same exception is the test package's, for code shared with Tornado-style tests.
        assert isinstance(closed.value, crosswind.testing.WebSocketDisconnect)
        assert (ws.close_code, ws.close_reason) == (4000, "asked to")
    assert events == [("disconnect", 4000, "asked to")]


def test_a_close_from_the_client_reaches_the_view_before_the_block_ends(
    app: App, events: list[Any]
) -> None:
    with app.test_client().websocket("/echo") as ws:
        ws.send("hi")
        assert ws.receive() == "hi"
        ws.close(4001, "bye")
    assert events == [("disconnect", 4001, "bye")]
    assert ws.close_code == 4001


def test_leaving_the_block_closes_with_1000(app: App, events: list[Any]) -> None:
    with app.test_client().websocket("/echo"):
        pass
    assert events == [("disconnect", 1000, "")]


def test_a_message_over_the_limit_closes_with_1009(app: App, events: list[Any]) -> None:
    with app.test_client().websocket("/echo") as ws:
        ws.send(b"x" * (MAX_MESSAGE + 1))
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive()
    assert closed.value.code == 1009
    assert events == [("disconnect", 1009, closed.value.reason)]


def test_a_view_that_raises_closes_with_1011(
    app: App, events: list[Any], caplog: pytest.LogCaptureFixture
) -> None:
    with app.test_client().websocket("/echo") as ws:
        ws.send("fail")
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive()
    assert closed.value.code == 1011
    assert "the view failed" in caplog.text


def test_a_view_that_returns_closes_with_1000_after_its_messages(app: App) -> None:
    with app.test_client().websocket("/countdown") as ws:
        assert [ws.receive(), ws.receive(), ws.receive()] == ["3", "2", "1"]
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive()
    assert closed.value.code == 1000


def test_receive_gives_up_after_its_timeout(app: App) -> None:
    with app.test_client().websocket("/echo", timeout=0.2) as ws, pytest.raises(
        TimeoutError, match=r"within 0\.2 s"
    ):
        ws.receive()


def test_a_session_opened_inside_a_running_event_loop(app: App) -> None:
    async def talk() -> str | bytes:
        # The server has a loop of its own: this one only waits.
        with app.test_client().websocket("/echo") as ws:
            ws.send("from a coroutine")
            return ws.receive()

    assert asyncio.run(talk()) == "from a coroutine"
