"""``self.session`` in Redis for Tornado-style handlers: the ``session_store`` setting.

The cookie holds only a random id (a signed cookie by default, so it needs
``cookie_secret``); the data lives in Redis under ``key_prefix + id`` with a
TTL, so every worker process and machine sees the same session, and deleting
the key revokes it.  When Redis is down, touching ``self.session`` (or saving
a changed one) answers 503.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from crosswind.web.errors import HTTPError
from crosswind.web.sessions import Session

from ._store import RedisSessionBackend, SessionStoreUnavailable, new_session_id, redis_client

if TYPE_CHECKING:
    import redis
    from crosswind.web.handler import RequestHandler

__all__ = ["RedisSessionStore"]


class RedisSessionStore:
    """Sessions in Redis behind an id cookie.

    ::

        Application(handlers, cookie_secret=..., session_store=RedisSessionStore(client))

    :param client: a ``redis.Redis``; by default one for ``127.0.0.1:6379``
        with bounded timeouts.
    :param key_prefix: prepended to the id to make the Redis key.
    :param cookie_name: the cookie holding the id.
    :param lifetime: how long an unused session lives (the Redis TTL, renewed
        whenever the session is saved) and the cookie's lifetime.
    :param use_signer: keep the id in a signed cookie (needs ``cookie_secret``).
    :param sid_length: bytes of randomness in an id.
    :param serialization_format: ``"json"`` or ``"msgpack"``.
    :param cookie_kwargs: attributes for ``set_cookie`` (default
        ``httponly=True, samesite="Lax"``).
    """

    def __init__(
        self,
        client: redis.Redis | None = None,
        *,
        key_prefix: str = "session:",
        cookie_name: str = "session_id",
        lifetime: timedelta = timedelta(days=31),
        use_signer: bool = True,
        sid_length: int = 32,
        serialization_format: str = "json",
        cookie_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.backend = RedisSessionBackend(
            client if client is not None else redis_client(),
            key_prefix=key_prefix,
            serialization_format=serialization_format,
        )
        self.cookie_name = cookie_name
        self.lifetime = lifetime
        self.use_signer = use_signer
        self.sid_length = sid_length
        self.cookie_kwargs = (
            {"httponly": True, "samesite": "Lax"} if cookie_kwargs is None else dict(cookie_kwargs)
        )

    def _session_id(self, handler: RequestHandler) -> str | None:
        if self.use_signer:
            raw = handler.get_signed_cookie(self.cookie_name)
            return raw.decode("ascii", "replace") if raw else None
        return handler.get_cookie(self.cookie_name) or None

    def load(self, handler: RequestHandler) -> Session:
        session_id = self._session_id(handler)
        if session_id is None:
            return Session(new=True)
        try:
            data = self.backend.load(session_id)
        except SessionStoreUnavailable:
            raise HTTPError(503, reason="Session Store Unavailable") from None
        if data is None:
            return Session(new=True)
        session = Session(data, new=False)
        session.sid = session_id  # type: ignore[attr-defined]
        return session

    def save(self, handler: RequestHandler, session: Session) -> None:
        if not session.modified:
            return
        session_id: str | None = getattr(session, "sid", None)
        try:
            if not session:
                if session_id is not None:
                    self.backend.delete(session_id)
                    handler.clear_cookie(self.cookie_name, path=self.cookie_kwargs.get("path", "/"))
                return
            if session_id is None:
                session_id = new_session_id(handler.application.token_source, self.sid_length)
                session.sid = session_id  # type: ignore[attr-defined]
            self.backend.store(session_id, dict(session), self.lifetime.total_seconds())
        except SessionStoreUnavailable:
            # The error page finishes the request too: it must not try again.
            session.modified = False
            raise HTTPError(503, reason="Session Store Unavailable") from None
        expires_days = self.lifetime.total_seconds() / 86400
        if self.use_signer:
            handler.set_signed_cookie(
                self.cookie_name, session_id, expires_days=expires_days, **self.cookie_kwargs
            )
        else:
            handler.set_cookie(
                self.cookie_name, session_id, expires_days=expires_days, **self.cookie_kwargs
            )
