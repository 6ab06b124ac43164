"""``self.session`` for Tornado-style handlers: a dict loaded on first use, saved on finish.

Where the data lives is the job of a *session store*, an object with
``load(handler) -> Session`` and ``save(handler, session)``, given as the
``session_store`` setting.  The default, :class:`SignedCookieSessionStore`,
keeps the whole session as JSON in one signed cookie (so it needs
``cookie_secret``, and it holds a few kilobytes at most);
:class:`MemorySessionStore` keeps it in the server process behind a random
session id, which suits tests and single-process deployments.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .handler import RequestHandler

__all__ = ["MemorySessionStore", "Session", "SessionStore", "SignedCookieSessionStore"]

log = logging.getLogger("crosswind.application")

_MUTATORS = ("__setitem__", "__delitem__", "clear", "pop", "popitem", "setdefault", "update")


class Session(dict[str, Any]):
    """A session: a dict that remembers whether it was changed.

    :param data: the stored values.
    :param new: whether the client had no session before this request.
    """

    def __init__(self, data: dict[str, Any] | None = None, *, new: bool = True) -> None:
        super().__init__(data or {})
        self.new = new
        self.modified = False


def _marking(name: str) -> Callable[..., Any]:
    original = getattr(dict, name)

    def method(self: Session, *args: Any, **kwargs: Any) -> Any:
        self.modified = True
        return original(self, *args, **kwargs)

    method.__name__ = name
    return method


for _name in _MUTATORS:
    setattr(Session, _name, _marking(_name))


class SessionStore(Protocol):
    """Where sessions live."""

    def load(self, handler: RequestHandler) -> Session:
        """The session of the request *handler* serves (a new, empty one if none).

        :param handler: the handler.
        """
        ...

    def save(self, handler: RequestHandler, session: Session) -> None:
        """Store *session* (called by ``finish``, before the response head is sent).

        :param handler: the handler.
        :param session: the session to store.
        """
        ...


class SignedCookieSessionStore:
    """Sessions as JSON in a signed cookie (``set_signed_cookie``).

    :param cookie_name: the cookie.
    :param max_age_days: older cookies are ignored.
    :param expires_days: browser lifetime; ``None`` for a browser-session cookie.
    :param cookie_kwargs: attributes for ``set_cookie`` (default
        ``httponly=True, samesite="Lax"``).
    """

    def __init__(
        self,
        cookie_name: str = "session",
        *,
        max_age_days: float = 31,
        expires_days: float | None = 30,
        cookie_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.cookie_name = cookie_name
        self.max_age_days = max_age_days
        self.expires_days = expires_days
        self.cookie_kwargs = (
            {"httponly": True, "samesite": "Lax"} if cookie_kwargs is None else dict(cookie_kwargs)
        )

    def load(self, handler: RequestHandler) -> Session:
        raw = handler.get_signed_cookie(self.cookie_name, max_age_days=self.max_age_days)
        if raw is None:
            return Session(new=True)
        try:
            data = json.loads(raw)
        except ValueError:
            return Session(new=True)
        if not isinstance(data, dict):
            return Session(new=True)
        return Session(data, new=False)

    def save(self, handler: RequestHandler, session: Session) -> None:
        if not session.modified:
            return
        if handler._headers_written:
            log.warning("session changed after the response head was sent; not saved")
            return
        if not session:
            if not session.new:
                handler.clear_cookie(self.cookie_name, path=self.cookie_kwargs.get("path", "/"))
            return
        handler.set_signed_cookie(
            self.cookie_name,
            json.dumps(session, separators=(",", ":"), sort_keys=True),
            expires_days=self.expires_days,
            **self.cookie_kwargs,
        )


class MemorySessionStore:
    """Sessions kept in this process, keyed by a random id in a signed cookie.

    :param cookie_name: the cookie holding the id.
    :param cookie_kwargs: attributes for ``set_cookie``.
    """

    def __init__(
        self, cookie_name: str = "session_id", *, cookie_kwargs: dict[str, Any] | None = None
    ) -> None:
        self.cookie_name = cookie_name
        self.cookie_kwargs = (
            {"httponly": True, "samesite": "Lax"} if cookie_kwargs is None else dict(cookie_kwargs)
        )
        self.sessions: dict[str, dict[str, Any]] = {}

    def _session_id(self, handler: RequestHandler) -> str | None:
        raw = handler.get_signed_cookie(self.cookie_name)
        return raw.decode("ascii", "replace") if raw else None

    def load(self, handler: RequestHandler) -> Session:
        session_id = self._session_id(handler)
        if session_id is None or session_id not in self.sessions:
            return Session(new=True)
        return Session(dict(self.sessions[session_id]), new=False)

    def save(self, handler: RequestHandler, session: Session) -> None:
        if not session.modified:
            return
        session_id = self._session_id(handler)
        if not session:
            if session_id is not None:
                self.sessions.pop(session_id, None)
            return
        if session_id is None or session.new:
            if handler._headers_written:
                log.warning("new session after the response head was sent; not saved")
                return
            session_id = handler.application.token_source(16).hex()
            handler.set_signed_cookie(
                self.cookie_name, session_id, expires_days=None, **self.cookie_kwargs
            )
        self.sessions[session_id] = dict(session)
