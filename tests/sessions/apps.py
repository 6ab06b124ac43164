"""A counter kept in a Redis session, Flask-style and Tornado-style.

``crosswind serve tests.sessions.apps:flask_app`` (or ``:tornado_app``) reads
the Redis URL from ``CROSSWIND_TEST_REDIS_URL``.  Each answer names the worker
process that served it, so a test can tell that a session crossed workers.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from crosswind.app import App, session
from crosswind.sessions_redis import RedisSessionStore, Session, redis_client
from crosswind.web import Application, RequestHandler

SECRET = "redis-session-tests"


def make_flask_app(client: Any, token_source: Any = None, **config: Any) -> App:
    """The Flask-style counter on *client*.

    :param client: a ``redis.Redis``.
    :param token_source: the app's randomness (``os.urandom`` by default).
    :param config: more configuration keys.
    """
    app = App(__name__, token_source=token_source)
    app.config.update({"SECRET_KEY": SECRET, "SESSION_TYPE": "redis", "SESSION_REDIS": client,
                       "PERMANENT_SESSION_LIFETIME": timedelta(minutes=5), **config})
    Session(app)

    @app.get("/")
    def count() -> dict[str, Any]:
        session["count"] = session.get("count", 0) + 1
        return {"count": session["count"], "pid": os.getpid(), "sid": session.sid}

    @app.get("/peek")
    def peek() -> dict[str, Any]:
        return {"count": session.get("count"), "pid": os.getpid()}

    @app.get("/plain")
    def plain() -> str:
        return "no session here"

    @app.post("/logout")
    def logout() -> str:
        session.clear()
        return "bye"

    return app


class Counter(RequestHandler):
    def get(self) -> None:
        self.session["count"] = self.session.get("count", 0) + 1
        self.write({"count": self.session["count"], "pid": os.getpid()})

    def delete(self) -> None:
        self.session.clear()


class Peek(RequestHandler):
    def get(self) -> None:
        self.write({"count": self.session.get("count"), "pid": os.getpid()})


def make_tornado_app(client: Any, **store: Any) -> Application:
    """The Tornado-style counter on *client*.

    :param client: a ``redis.Redis``.
    :param store: more :class:`RedisSessionStore` arguments.
    """
    return Application(
        [(r"/", Counter), (r"/peek", Peek)],
        cookie_secret=SECRET,
        session_store=RedisSessionStore(client, **{"lifetime": timedelta(minutes=5), **store}),
    )


def _url() -> str:
    return os.environ.get("CROSSWIND_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def flask_app() -> App:
    """The Flask-style counter for ``crosswind serve --factory``."""
    return make_flask_app(redis_client(_url()))


def tornado_app() -> Application:
    """The Tornado-style counter for ``crosswind serve --factory``."""
    return make_tornado_app(redis_client(_url()))
