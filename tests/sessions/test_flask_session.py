"""Differential: crosswind's Redis sessions against Flask-Session itself.

The same view and the same configuration run on Flask with Flask-Session and on
crosswind, each against its own database of one real ``redis-server``, with the
same session ids (Flask-Session's ``secrets.token_urlsafe`` and crosswind's
``token_source`` both fed the same bytes).  After every request the status, the
``Set-Cookie`` and ``Vary`` headers (expiry dates aside, as the two clocks
differ by milliseconds, and attribute order aside, which RFC 6265 leaves free)
and the Redis keys, values and TTLs must match.
"""

from __future__ import annotations

import base64
import re
import warnings
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import redis
from crosswind.app import App
from crosswind.app import session as cw_session
from crosswind.sessions_redis import Session as CrosswindSession
from crosswind.sessions_redis import redis_client

from tests.support.redis_server import RedisServer

flask = pytest.importorskip("flask")
flask_session = pytest.importorskip("flask_session")
flask_session_base = pytest.importorskip("flask_session.base")
pytest.importorskip("msgspec")

pytestmark = pytest.mark.network

SECRET = "differential-secret"
EXPIRES = re.compile(r"Expires=[^;]+")

#: The requests of one visit: write, write again, read, leave alone, log out, read.
VISIT = [("GET", "/"), ("GET", "/"), ("GET", "/peek"), ("GET", "/plain"), ("POST", "/logout"),
         ("GET", "/peek")]


class Tokens:
    """The same sequence of random bytes for both sides."""

    def __init__(self) -> None:
        self.counter = 0

    def __call__(self, n: int) -> bytes:
        self.counter += 1
        return bytes((self.counter * 31 + i) % 256 for i in range(n))

    def urlsafe(self, n: int) -> str:
        return base64.urlsafe_b64encode(self(n)).rstrip(b"=").decode()


def routes(app: Any, session: Any) -> None:
    @app.route("/")
    def count() -> str:
        session["count"] = session.get("count", 0) + 1
        session["name"] = "Zoë"
        return str(session["count"])

    @app.route("/peek")
    def peek() -> str:
        return str(session.get("count"))

    @app.route("/plain")
    def plain() -> str:
        return "plain"

    @app.route("/logout", methods=["POST"])
    def logout() -> str:
        session.clear()
        return "bye"


@pytest.fixture
def databases(redis_server: RedisServer) -> Iterator[tuple[redis.Redis, redis.Redis]]:
    with redis.Redis(port=redis_server.port, db=1) as theirs, redis_client(
        f"redis://127.0.0.1:{redis_server.port}/2"
    ) as ours:
        theirs.flushdb()
        ours.flushdb()
        yield theirs, ours


def snapshot(client: redis.Redis) -> dict[bytes, tuple[bytes | None, int]]:
    return {key: (client.get(key), client.ttl(key)) for key in sorted(client.keys("*"))}


def cookies(headers: Any) -> list[tuple[str, list[str]]]:
    """Each ``Set-Cookie`` as its pair and its sorted attributes (the order is free)."""
    values = headers.getlist("Set-Cookie") if hasattr(headers, "getlist") else headers.get_list("Set-Cookie")
    out = []
    for value in values:
        pair, *attributes = EXPIRES.sub("Expires=…", value).split("; ")
        out.append((pair, sorted(attributes)))
    return out


CONFIGS = [
    {},
    {"SESSION_SERIALIZATION_FORMAT": "json"},
    {"SESSION_USE_SIGNER": True, "SESSION_KEY_PREFIX": "s:"},
    {"SESSION_PERMANENT": False, "SESSION_ID_LENGTH": 12},
    {"SESSION_REFRESH_EACH_REQUEST": False, "SESSION_COOKIE_NAME": "sid",
     "SESSION_COOKIE_SAMESITE": "Lax", "SESSION_COOKIE_SECURE": True},
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: ",".join(c) or "defaults")
def test_same_cookies_and_keys_as_flask_session(
    databases: tuple[redis.Redis, redis.Redis], monkeypatch: pytest.MonkeyPatch, config: dict[str, Any]
) -> None:
    theirs_db, ours_db = databases
    config = {"SECRET_KEY": SECRET, "SESSION_TYPE": "redis",
              "PERMANENT_SESSION_LIFETIME": timedelta(minutes=10),
              "SESSION_SERIALIZATION_FORMAT": "msgpack", **config}

    their_tokens, our_tokens = Tokens(), Tokens()
    monkeypatch.setattr(flask_session_base.secrets, "token_urlsafe", their_tokens.urlsafe)
    theirs = flask.Flask(__name__)
    theirs.config.update(config, SESSION_REDIS=theirs_db)
    with warnings.catch_warnings():
        # Flask-Session deprecates SESSION_USE_SIGNER; the key still works.
        warnings.simplefilter("ignore", DeprecationWarning)
        flask_session.Session(theirs)
    routes(theirs, flask.session)

    ours = App(__name__, token_source=our_tokens)
    ours.config.update(config, SESSION_REDIS=ours_db)
    CrosswindSession(ours)
    routes(ours, cw_session)

    their_client, our_client = theirs.test_client(), ours.test_client()
    for method, path in VISIT:
        # Over https, so that both test clients send a Secure cookie back.
        their_response = their_client.open(path, method=method, base_url="https://localhost")
        our_response = our_client.open(path, method=method, base_url="https://localhost")
        step = f"{method} {path}"
        assert our_response.status_code == their_response.status_code, step
        assert our_response.get_data() == their_response.get_data(), step
        assert cookies(our_response.headers) == cookies(their_response.headers), step
        assert our_response.headers.get("Vary") == their_response.headers.get("Vary"), step
        assert snapshot(ours_db) == snapshot(theirs_db), step
