"""Server-side sessions against a real ``redis-server``.

The same app code as the fast tests, talking to Debian's ``redis-server`` over
TCP: a round trip with the TTL Redis really holds, expiry by Redis itself,
revocation by deleting the key, the signed id, a session written by one
worker of ``crosswind serve --workers 2`` and read by the other, and Redis
stopped mid-test answering 503 within the timeouts instead of hanging.
"""

from __future__ import annotations

import http.client
import json
import re
import signal
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
import redis
from crosswind.sessions_redis import redis_client
from crosswind.testing import Client

from tests.sessions.apps import make_flask_app, make_tornado_app
from tests.support.cli_process import CLIProcess
from tests.support.redis_server import RedisServer, running_redis

pytestmark = pytest.mark.network

WAIT = 10.0
#: The timeouts the outage test gives its client, and the bound it holds a request to.
TIMEOUT = 0.5
BOUND = 4 * TIMEOUT + 1.0


@pytest.fixture
def client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    with redis_client(redis_server.url) as client:
        client.flushdb()
        yield client


def test_round_trip_through_real_redis_with_its_ttl(client: redis.Redis) -> None:
    app = make_flask_app(client, PERMANENT_SESSION_LIFETIME=timedelta(minutes=7))
    test_client = app.test_client()
    assert [test_client.get("/").get_json()["count"] for _ in range(3)] == [1, 2, 3]
    sid = test_client.get("/").get_json()["sid"]
    assert json.loads(client.get(f"session:{sid}")) == {"_permanent": True, "count": 4}
    assert 7 * 60 - 5 <= client.ttl(f"session:{sid}") <= 7 * 60


def test_redis_expires_the_session_at_its_lifetime(client: redis.Redis) -> None:
    app = make_flask_app(client, PERMANENT_SESSION_LIFETIME=1)
    test_client = app.test_client()
    sid = test_client.get("/").get_json()["sid"]
    deadline = time.monotonic() + WAIT
    while client.exists(f"session:{sid}") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not client.exists(f"session:{sid}")
    assert test_client.get("/peek").get_json()["count"] is None


def test_deleting_the_key_revokes_the_session(client: redis.Redis) -> None:
    flask_client = make_flask_app(client, SESSION_USE_SIGNER=True).test_client()
    flask_client.get("/")
    sid = flask_client.get("/").get_json()["sid"]
    assert client.delete(f"session:{sid}") == 1
    assert flask_client.get("/").get_json()["count"] == 1

    tornado_client = Client(make_tornado_app(client, key_prefix="tornado:"))
    tornado_client.get("/")
    [key] = client.keys("tornado:*")
    client.delete(key)
    assert tornado_client.get("/peek").json()["count"] is None


def test_a_tampered_signed_id_finds_nothing(client: redis.Redis) -> None:
    test_client = make_flask_app(client, SESSION_USE_SIGNER=True).test_client()
    test_client.get("/")
    cookie = test_client.get_cookie("session")
    assert cookie is not None
    sid, _, signature = cookie.value.rpartition(".")
    test_client.set_cookie("session", f"{sid}.{signature[::-1]}")
    assert test_client.get("/peek").get_json()["count"] is None


@pytest.mark.parametrize("make_app", [make_flask_app, make_tornado_app])
@pytest.mark.parametrize("outage", ["stopped", "frozen"])
def test_redis_down_mid_test_answers_503_within_the_timeouts(make_app, outage: str) -> None:
    """Stopped: connections are refused.  Frozen (SIGSTOP): the kernel still
    accepts connections but nothing answers, so only the read timeout ends the wait."""
    with running_redis() as server:
        assert server.process is not None
        with redis_client(server.url, connect_timeout=TIMEOUT, read_timeout=TIMEOUT) as client:
            app = make_app(client)
            test_client = app.test_client() if hasattr(app, "test_client") else Client(app)
            test_client.get("/")
            if outage == "stopped":
                server.stop()
            else:
                server.process.send_signal(signal.SIGSTOP)
            try:
                started = time.monotonic()
                response = test_client.get("/")
                elapsed = time.monotonic() - started
            finally:
                if server.process is not None:
                    server.process.send_signal(signal.SIGCONT)
            assert response.status_code == 503
            assert elapsed < BOUND, f"a request took {elapsed:.2f} s with Redis {outage}"
            if outage == "frozen":
                assert elapsed >= TIMEOUT  # it did wait for the answer, then gave up


SERVING = re.compile(r"^Serving on http://127\.0\.0\.1:(\d+) \((\w+)\)$")


def get(port: int, path: str, cookie: str | None) -> tuple[dict, str | None]:
    """One request on a fresh connection, so the kernel picks a worker each time."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
    try:
        connection.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        response = connection.getresponse()
        assert response.status == 200, response.read()
        set_cookie = response.getheader("Set-Cookie")
        return json.loads(response.read()), set_cookie.split(";", 1)[0] if set_cookie else None
    finally:
        connection.close()


@pytest.mark.parametrize(("factory", "backend"), [("flask_app", "threads"), ("tornado_app", "asyncio")])
def test_a_session_written_by_one_worker_is_read_by_the_other(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch, factory: str, backend: str
) -> None:
    monkeypatch.setenv("CROSSWIND_TEST_REDIS_URL", redis_server.url)
    server = CLIProcess(
        "serve", f"tests.sessions.apps:{factory}", "--factory", "--workers", "2",
        "--backend", backend, "--port", "0", "--no-access-log", "--shutdown-timeout", "2",
    )
    try:
        port = int(server.wait_for(SERVING).group(1))
        server.wait_for(SERVING)  # the second worker is listening too
        first, cookie = get(port, "/", None)
        assert first["count"] == 1 and cookie is not None
        writer = first["pid"]
        for _ in range(60):
            seen, _set_cookie = get(port, "/peek", cookie)
            if seen["pid"] != writer:
                break
        else:
            pytest.fail("every request landed on the worker that wrote the session")
        assert seen["count"] == 1, "the other worker did not see the session"
        assert server.proc.pid not in (writer, seen["pid"])
    finally:
        server.stop()
