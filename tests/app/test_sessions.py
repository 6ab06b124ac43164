"""Sessions of crosswind.app: Flask-compatible cookies, expiry by the
application's clock, key rotation, the null session, custom interfaces."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import flask
import pytest
from crosswind.app import App, SessionInterface, flash, get_flashed_messages, session
from crosswind.app.sessions import SecureCookieSession, SecureCookieSessionInterface
from crosswind.httpdate import parse_http_date

SECRET = "shared-secret"
T0 = 1_700_000_000.0


def define(app: Any, ns: Any) -> Any:
    app.secret_key = SECRET

    @app.route("/login/<name>")
    def login(name: str) -> str:
        ns.session["user"] = name
        ns.session["cart"] = ("apple", 2)
        ns.session["raw"] = b"\x00\xff"
        ns.flash("welcome", "info")
        return "ok"

    @app.route("/whoami")
    def whoami() -> Any:
        return {
            "user": ns.session.get("user"),
            "cart": list(ns.session.get("cart", ())),
            "raw": ns.session.get("raw", b"").hex(),
            "flashes": ns.get_flashed_messages(with_categories=True),
        }

    return app


def crosswind_app(**kwargs: Any) -> App:
    ns = type("NS", (), {"session": session, "flash": staticmethod(flash),
                         "get_flashed_messages": staticmethod(get_flashed_messages)})
    return define(App(__name__, **kwargs), ns)


def flask_app() -> flask.Flask:
    return define(flask.Flask(__name__), flask)


def session_cookie(response: Any) -> str:
    for header in response.headers.getlist("Set-Cookie"):
        if header.startswith("session="):
            return header.split(";", 1)[0].split("=", 1)[1]
    raise AssertionError("no session cookie")


def test_crosswind_session_cookie_is_read_by_flask() -> None:
    ours = crosswind_app().test_client()
    value = session_cookie(ours.get("/login/alice"))
    theirs = flask_app().test_client()
    theirs.set_cookie("session", value)
    assert theirs.get("/whoami").json == {
        "user": "alice", "cart": ["apple", 2], "raw": "00ff", "flashes": [["info", "welcome"]],
    }


def test_flask_session_cookie_is_read_by_crosswind() -> None:
    theirs = flask_app().test_client()
    theirs.get("/login/bob")
    value = theirs.get_cookie("session").value
    ours = crosswind_app().test_client()
    ours.set_cookie("session", value)
    assert ours.get("/whoami").json == {
        "user": "bob", "cart": ["apple", 2], "raw": "00ff", "flashes": [["info", "welcome"]],
    }


def test_tampered_or_foreign_cookies_give_an_empty_session() -> None:
    client = crosswind_app().test_client()
    value = session_cookie(client.get("/login/eve"))
    client.set_cookie("session", value[:-2] + ("AA" if not value.endswith("AA") else "BB"))
    assert client.get("/whoami").json["user"] is None
    other = flask.Flask(__name__)
    other.secret_key = "another-secret"

    @other.route("/set")
    def set_it() -> str:
        flask.session["user"] = "mallory"
        return ""

    forged = other.test_client()
    forged.get("/set")
    client.set_cookie("session", forged.get_cookie("session").value)
    assert client.get("/whoami").json["user"] is None


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_permanent_session_expiry_follows_the_app_clock() -> None:
    clock = Clock(T0)
    app = App(__name__, clock=clock)
    app.secret_key = SECRET
    app.permanent_session_lifetime = timedelta(hours=1)

    @app.route("/remember")
    def remember() -> str:
        session.permanent = True
        session["user"] = "carol"
        return ""

    @app.route("/who")
    def who() -> Any:
        return {"user": session.get("user"), "permanent": session.permanent}

    client = app.test_client()
    header = client.get("/remember").headers["Set-Cookie"]
    expires = header.split("Expires=", 1)[1].split(";", 1)[0]
    assert parse_http_date(expires).timestamp() == T0 + 3600
    clock.now = T0 + 3599
    response = client.get("/who")
    assert response.json == {"user": "carol", "permanent": True}
    # SESSION_REFRESH_EACH_REQUEST re-signs a permanent session on every request.
    refreshed = response.headers["Set-Cookie"].split("Expires=", 1)[1].split(";", 1)[0]
    assert parse_http_date(refreshed).timestamp() == T0 + 3599 + 3600
    clock.now = T0 + 3599 + 3601
    assert client.get("/who").json == {"user": None, "permanent": False}


def test_secret_key_rotation_with_fallbacks() -> None:
    old = crosswind_app().test_client()
    value = session_cookie(old.get("/login/dave"))
    rotated = crosswind_app()
    rotated.secret_key = "brand-new"
    client = rotated.test_client()
    client.set_cookie("session", value)
    assert client.get("/whoami").json["user"] is None
    rotated.config["SECRET_KEY_FALLBACKS"] = [SECRET]
    assert client.get("/whoami").json["user"] == "dave"


def test_without_a_secret_key_the_session_is_read_only() -> None:
    app = App(__name__)
    app.config["PROPAGATE_EXCEPTIONS"] = True

    @app.route("/read")
    def read() -> Any:
        return {"user": session.get("user"), "empty": len(session)}

    @app.route("/write")
    def write() -> str:
        session["user"] = "x"
        return ""

    client = app.test_client()
    assert client.get("/read").json == {"user": None, "empty": 0}
    with pytest.raises(RuntimeError, match="no secret key was set"):
        client.get("/write")


def test_reading_only_sets_no_cookie_but_varies() -> None:
    client = crosswind_app().test_client()
    client.get("/login/erin")
    response = client.get("/whoami")  # pops the flashes: the session changes
    assert "Set-Cookie" in response.headers
    response = client.get("/whoami")
    assert "Set-Cookie" not in response.headers and response.headers["Vary"] == "Cookie"


def test_cookie_settings_from_config() -> None:
    app = crosswind_app()
    app.config.update(
        SESSION_COOKIE_NAME="sid",
        SESSION_COOKIE_DOMAIN="example.com",
        SESSION_COOKIE_PATH="/app",
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_HTTPONLY=False,
    )
    header = app.test_client().get("/login/f").headers["Set-Cookie"]
    name, _, attributes = header.partition(";")
    assert name.startswith("sid=")
    parts = {part.strip() for part in attributes.split(";")}
    assert {"Domain=example.com", "Path=/app", "Secure", "SameSite=Lax"} <= parts
    assert "HttpOnly" not in parts


def test_session_transaction_reads_and_writes_the_client_cookie() -> None:
    client = crosswind_app().test_client()
    with client.session_transaction() as sess:
        assert "user" not in sess
        sess["user"] = "grace"
    assert client.get("/whoami").json["user"] == "grace"
    with client.session_transaction() as sess:
        assert sess["user"] == "grace"


def test_modified_flag_tracks_changes_not_nested_mutation() -> None:
    sess = SecureCookieSession({"items": [1]})
    assert not sess.modified
    sess["items"].append(2)
    assert not sess.modified  # as in Flask: nested changes need session.modified = True
    sess["other"] = 1
    assert sess.modified and sess.accessed
    assert SecureCookieSession().new is False  # Flask's cookie sessions cannot tell


class MemoryInterface(SessionInterface):
    def __init__(self) -> None:
        self.store: dict[str, dict[str, Any]] = {}

    def open_session(self, app: App, request: Any) -> SecureCookieSession:
        sid = request.cookies.get("sid", "")
        sess = SecureCookieSession(self.store.get(sid, {}))
        sess.sid = sid or f"s{len(self.store) + 1}"  # type: ignore[attr-defined]
        return sess

    def save_session(self, app: App, sess: Any, response: Any) -> None:
        if sess.modified:
            self.store[sess.sid] = dict(sess)
            response.set_cookie("sid", sess.sid)


def test_custom_session_interface() -> None:
    app = crosswind_app()
    interface = MemoryInterface()
    app.session_interface = interface
    client = app.test_client()
    client.get("/login/heidi")
    assert interface.store["s1"]["user"] == "heidi"
    assert client.get("/whoami").json["user"] == "heidi"


def test_without_cookies_the_session_is_opened_only_when_read() -> None:
    opened: list[str] = []

    class Counting(SecureCookieSessionInterface):
        pass

    class Opening(SecureCookieSessionInterface):
        def open_session(self, app: App, request: Any) -> SecureCookieSession | None:
            opened.append(request.path)
            return super().open_session(app, request)

    assert Counting._plain and not Opening._plain
    app = crosswind_app()

    @app.route("/plain")
    def plain() -> str:
        return "plain"

    client = app.test_client(use_cookies=False)
    response = client.get("/plain")
    assert "Vary" not in response.headers and "Set-Cookie" not in response.headers
    response = client.get("/whoami")  # read without a cookie: opened then, and varies
    assert response.json["user"] is None and response.headers["Vary"] == "Cookie"
    app.session_interface = Opening()  # an override is called on every request
    client.get("/plain")
    assert opened == ["/plain"]


def test_a_permanent_cookie_is_refreshed_on_a_request_that_ignores_it() -> None:
    clock = [T0]
    app = crosswind_app(clock=lambda: clock[0])

    @app.route("/perm")
    def perm() -> str:
        session.permanent = True
        session["user"] = "ivan"
        return "ok"

    @app.route("/plain")
    def plain() -> str:
        return "plain"

    client = app.test_client()
    first = parse_http_date(client.get("/perm").headers["Set-Cookie"].split("Expires=")[1].split(";")[0])
    clock[0] += 60
    response = client.get("/plain")
    refreshed = parse_http_date(response.headers["Set-Cookie"].split("Expires=")[1].split(";")[0])
    assert refreshed - first == timedelta(seconds=60)
    assert response.headers["Vary"] == "Cookie"  # a cookie sent varies, as in Flask
    app.config["SESSION_REFRESH_EACH_REQUEST"] = False
    assert "Set-Cookie" not in client.get("/plain").headers
