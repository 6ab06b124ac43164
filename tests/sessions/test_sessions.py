"""Server-side sessions against fakeredis: the behaviour, fast.

Flask-Session 0.8's observable behaviour is the reference for the Flask-style
interface (what is stored, when a cookie is sent, what an emptied session
does); the Tornado-style store keeps ``self.session``'s contract.  The real
``redis-server`` runs in ``test_redis.py``.
"""

from __future__ import annotations

import base64
import logging
from datetime import timedelta

import fakeredis
import pytest
from crosswind.cookies import parse_cookie_header
from crosswind.sessions_redis import RedisSessionInterface, Session, redis_client
from crosswind.testing import Client
from itsdangerous import Signer

from tests.sessions.apps import SECRET, make_flask_app, make_tornado_app
from tests.support.redis_server import _free_port

TOKENS = bytes(range(7, 39))
SID = base64.urlsafe_b64encode(TOKENS).rstrip(b"=").decode()


def fixed_tokens(n: int) -> bytes:
    return TOKENS[:n]


@pytest.fixture
def fake() -> fakeredis.FakeRedis:
    return fakeredis.FakeRedis()


def cookie_value(response, name: str) -> str | None:
    for header in response.headers.get_list("Set-Cookie"):
        if header.startswith(name + "="):
            return parse_cookie_header(header.split(";", 1)[0])[name]
    return None


# -- Flask-style --------------------------------------------------------------------


def test_round_trip_keeps_data_in_redis_under_the_prefix_with_a_ttl(fake):
    client = make_flask_app(fake, fixed_tokens).test_client()
    assert [client.get("/").get_json()["count"] for _ in range(3)] == [1, 2, 3]
    assert fake.keys() == [f"session:{SID}".encode()]
    assert fake.get(f"session:{SID}") == b'{"_permanent":true,"count":3}'
    assert 0 < fake.ttl(f"session:{SID}") <= 300


def test_the_cookie_holds_only_the_id_and_expires_with_the_lifetime(fake):
    response = make_flask_app(fake, fixed_tokens).test_client().get("/")
    [header] = response.headers.get_list("Set-Cookie")
    assert header.startswith(f"session={SID}; Expires=")
    assert "HttpOnly" in header and "Path=/" in header
    assert response.headers["Vary"] == "Cookie"


def test_cookie_attributes_come_from_the_session_cookie_keys(fake):
    app = make_flask_app(
        fake, SESSION_COOKIE_NAME="sid", SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_SAMESITE="Strict", SESSION_COOKIE_PATH="/app", SESSION_PERMANENT=False,
    )
    [header] = app.test_client().get("/").headers.get_list("Set-Cookie")
    assert header.startswith("sid=")
    assert "Secure" in header and "SameSite=Strict" in header and "Path=/app" in header
    assert "Expires" not in header  # not permanent: a browser-session cookie


def test_an_empty_session_is_neither_stored_nor_sent(fake):
    response = make_flask_app(fake).test_client().get("/plain")
    assert response.headers.get_list("Set-Cookie") == [] and fake.keys() == []


def test_a_cleared_session_is_deleted_from_redis_and_its_cookie_removed(fake):
    client = make_flask_app(fake).test_client()
    client.get("/")
    response = client.post("/logout")
    [header] = response.headers.get_list("Set-Cookie")
    assert header.startswith("session=;") and "Max-Age=0" in header
    assert fake.keys() == []


def test_revoking_the_key_gives_the_next_request_an_empty_session(fake):
    client = make_flask_app(fake).test_client()
    client.get("/")
    first = client.get("/").get_json()
    fake.delete(f"session:{first['sid']}")
    after = client.get("/").get_json()
    assert after["count"] == 1 and after["sid"] != first["sid"]


def test_with_the_signer_the_cookie_is_the_signed_id_and_tampering_starts_afresh(fake):
    client = make_flask_app(fake, fixed_tokens, SESSION_USE_SIGNER=True).test_client()
    value = cookie_value(client.get("/"), "session")
    signer = Signer(SECRET, salt="flask-session", key_derivation="hmac")
    assert value is not None and signer.unsign(value).decode() == SID
    assert client.get("/").get_json()["count"] == 2
    client.set_cookie("session", value[:-2] + ("AA" if value[-2:] != "AA" else "BB"))
    assert client.get("/").get_json()["count"] == 1
    # The bare id (what the cookie holds without the signer) is refused too.
    client.set_cookie("session", SID)
    assert client.get("/peek").get_json()["count"] is None


def test_without_the_signer_a_forged_id_only_finds_an_empty_session(fake):
    client = make_flask_app(fake).test_client()
    client.set_cookie("session", "made-up")
    data = client.get("/").get_json()
    assert data["count"] == 1 and data["sid"] != "made-up"


def test_an_unchanged_session_is_not_rewritten_without_refresh_each_request(fake):
    client = make_flask_app(fake, SESSION_REFRESH_EACH_REQUEST=False).test_client()
    sid = client.get("/").get_json()["sid"]
    fake.expire(f"session:{sid}", 100)
    response = client.get("/peek")
    assert response.get_json()["count"] == 1
    assert response.headers.get_list("Set-Cookie") == []
    assert fake.ttl(f"session:{sid}") <= 100


def test_refresh_each_request_renews_the_ttl_of_a_permanent_session(fake):
    client = make_flask_app(fake).test_client()
    sid = client.get("/").get_json()["sid"]
    fake.expire(f"session:{sid}", 100)
    assert client.get("/peek").headers.get_list("Set-Cookie") != []
    assert fake.ttl(f"session:{sid}") > 100


def test_ids_have_the_configured_length(fake):
    sid = make_flask_app(fake, SESSION_ID_LENGTH=8).test_client().get("/").get_json()["sid"]
    assert len(base64.urlsafe_b64decode(sid + "=")) == 8


def test_msgpack_is_written_and_either_format_read(fake):
    msgspec = pytest.importorskip("msgspec")
    client = make_flask_app(fake, fixed_tokens, SESSION_SERIALIZATION_FORMAT="msgpack").test_client()
    client.get("/")
    assert msgspec.msgpack.decode(fake.get(f"session:{SID}")) == {"_permanent": True, "count": 1}
    fake.set(f"session:{SID}", b'{"count":41}')
    assert client.get("/").get_json()["count"] == 42


def test_only_the_redis_type_is_known(fake):
    app = make_flask_app(fake)
    app.config["SESSION_TYPE"] = "filesystem"
    with pytest.raises(ValueError, match="SESSION_TYPE"):
        Session(app)
    with pytest.raises(ValueError, match="serialization_format"):
        RedisSessionInterface(fake, serialization_format="pickle")


def test_redis_down_answers_503_with_one_line_that_names_no_session(caplog):
    dead = redis_client(f"redis://127.0.0.1:{_free_port()}/0", connect_timeout=0.5, read_timeout=0.5)
    client = make_flask_app(dead).test_client()
    client.set_cookie("session", "secret-session-id")
    with caplog.at_level(logging.WARNING):
        response = client.get("/")
    assert response.status_code == 503
    assert response.get_data(as_text=True) == (
        "503 Service Unavailable: the session store cannot be reached.\n"
    )
    [record] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert record.name == "crosswind.sessions"
    assert "secret-session-id" not in record.getMessage()
    assert "127.0.0.1" not in record.getMessage()
    # A view that leaves the session alone still answers.
    assert client.get("/plain").status_code == 200


def test_redis_failing_at_save_answers_503_not_a_lost_write(fake):
    client = make_flask_app(fake).test_client()
    client.get("/")
    fake.set = broken_set  # type: ignore[method-assign]
    response = client.get("/")
    assert response.status_code == 503 and response.headers.get_list("Set-Cookie") == []


def broken_set(*args, **kwargs):
    import redis

    raise redis.ConnectionError("Error 111 connecting to 10.0.0.5:6379. Connection refused.")


# -- Tornado-style ------------------------------------------------------------------


def test_tornado_round_trip_and_ttl(fake):
    client = Client(make_tornado_app(fake))
    assert [client.get("/").json()["count"] for _ in range(3)] == [1, 2, 3]
    [key] = fake.keys()
    assert key.startswith(b"session:") and fake.get(key) == b'{"count":3}'
    assert 0 < fake.ttl(key) <= 300


def test_tornado_revocation_and_clear(fake):
    client = Client(make_tornado_app(fake))
    client.get("/")
    [key] = fake.keys()
    fake.delete(key)
    assert client.get("/peek").json()["count"] is None
    client.get("/")
    client.delete("/")
    assert fake.keys() == [] and client.get("/peek").json()["count"] is None


def test_tornado_signed_id_resists_tampering_and_unsigned_id_is_the_key(fake):
    client = Client(make_tornado_app(fake))
    client.get("/")
    signed = client.cookies["session_id"]
    # The last character changed whatever it was (a random id may end in "0").
    client.cookies["session_id"] = signed[:-1] + ("0" if signed[-1] != "0" else "1")
    assert client.get("/peek").json()["count"] is None
    plain = Client(make_tornado_app(fake, use_signer=False, key_prefix="t:"))
    plain.get("/")
    assert fake.keys("t:*") == [f"t:{plain.cookies['session_id']}".encode()]


def test_tornado_redis_down_answers_503():
    dead = redis_client(f"redis://127.0.0.1:{_free_port()}/0", connect_timeout=0.5, read_timeout=0.5)
    client = Client(make_tornado_app(dead))
    response = client.get("/")
    assert response.status_code == 503 and "Session Store Unavailable" in response.text
    assert client.get("/peek").status_code == 200  # no cookie: nothing to load


def test_lifetime_is_used_for_the_ttl(fake):
    client = Client(make_tornado_app(fake, lifetime=timedelta(seconds=42)))
    client.get("/")
    [key] = fake.keys()
    assert 40 <= fake.ttl(key) <= 42
