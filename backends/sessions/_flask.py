"""Server-side sessions for Flask-style apps, configured as Flask-Session is.

``Session(app)`` reads ``SESSION_TYPE`` (only ``"redis"``), ``SESSION_REDIS``,
``SESSION_KEY_PREFIX``, ``SESSION_USE_SIGNER``, ``SESSION_PERMANENT``,
``SESSION_ID_LENGTH`` and ``SESSION_SERIALIZATION_FORMAT`` and installs a
:class:`RedisSessionInterface`.  The behaviour follows Flask-Session 0.8's:
the cookie holds only the session id (signed with the secret key under the
``flask-session`` salt when ``SESSION_USE_SIGNER``), the data lives in Redis
under ``SESSION_KEY_PREFIX + id`` with ``PERMANENT_SESSION_LIFETIME`` as its
TTL, an empty session is neither stored nor given a cookie, and a session
emptied by the view is deleted from Redis and its cookie cleared.  Ids come
from the application's ``token_source``.

When Redis is down, a request whose view touches the session, or whose
session must be saved, answers 503 with a short plain-text body.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crosswind.app.exceptions import ServiceUnavailable
from crosswind.app.sessions import NullSession, SecureCookieSession, SessionInterface
from crosswind.app.wrappers import Response
from itsdangerous import BadSignature, Signer, want_bytes

from ._store import RedisSessionBackend, SessionStoreUnavailable, new_session_id, redis_client

if TYPE_CHECKING:
    import redis
    from crosswind.app import App
    from crosswind.app.sessions import SessionMixin
    from crosswind.app.wrappers import Request

__all__ = ["RedisSession", "RedisSessionInterface", "Session", "UnavailableSession"]

#: What a client sees when the session store is down: short, and nothing about
#: the store's address or the session.
UNAVAILABLE_BODY = "503 Service Unavailable: the session store cannot be reached.\n"

DEFAULTS: dict[str, Any] = {
    "SESSION_TYPE": None,
    "SESSION_REDIS": None,
    "SESSION_KEY_PREFIX": "session:",
    "SESSION_USE_SIGNER": False,
    "SESSION_PERMANENT": True,
    "SESSION_ID_LENGTH": 32,
    "SESSION_SERIALIZATION_FORMAT": "json",
}


def _unavailable_response() -> Response:
    return Response(UNAVAILABLE_BODY, 503, mimetype="text/plain")


class RedisSession(SecureCookieSession):
    """A session kept in Redis: a dict with its id in :attr:`sid`.

    The ``_permanent`` key alone does not make it non-empty, and
    :meth:`clear` keeps it, as in Flask-Session.

    :param initial: the stored values.
    :param sid: the session id.
    :param permanent: set ``_permanent`` on a new session.
    """

    def __init__(self, initial: Any = None, *, sid: str, permanent: bool | None = None) -> None:
        super().__init__(initial)
        self.sid = sid
        if permanent:
            self.permanent = True
        self.modified = False
        self.accessed = False

    def __bool__(self) -> bool:
        return bool(dict(self)) and self.keys() != {"_permanent"}

    def clear(self) -> None:
        permanent = dict.get(self, "_permanent", False)
        super().clear()
        self["_permanent"] = permanent


class UnavailableSession(NullSession):
    """The session while Redis is down: any use of it answers 503."""

    def _fail(self, *args: Any, **kwargs: Any) -> Any:
        raise ServiceUnavailable(response=_unavailable_response())

    __getitem__ = get = __contains__ = __iter__ = __len__ = keys = values = items = _fail
    __setitem__ = __delitem__ = clear = pop = popitem = update = setdefault = _fail
    del _fail


class RedisSessionInterface(SessionInterface):
    """Sessions in Redis behind an id cookie (Flask-Session's ``RedisSessionInterface``).

    :param client: a ``redis.Redis``; by default one for ``127.0.0.1:6379``
        with bounded timeouts (:func:`~crosswind.backends.sessions.redis_client`).
    :param key_prefix: prepended to the id to make the Redis key.
    :param use_signer: sign the id in the cookie with the secret key.
    :param permanent: new sessions are permanent (the cookie gets an expiry).
    :param sid_length: bytes of randomness in an id.
    :param serialization_format: ``"json"`` or ``"msgpack"``.
    """

    session_class = RedisSession
    null_session_class = NullSession

    def __init__(
        self,
        client: redis.Redis | None = None,
        *,
        key_prefix: str = "session:",
        use_signer: bool = False,
        permanent: bool = True,
        sid_length: int = 32,
        serialization_format: str = "json",
    ) -> None:
        self.backend = RedisSessionBackend(
            client if client is not None else redis_client(),
            key_prefix=key_prefix,
            serialization_format=serialization_format,
        )
        self.use_signer = use_signer
        self.permanent = permanent
        self.sid_length = sid_length

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> RedisSessionInterface:
        """An interface set up from Flask-Session's configuration keys.

        :param config: the application's config.
        """
        settings = {**DEFAULTS, **{k: v for k, v in config.items() if k in DEFAULTS}}
        return cls(
            settings["SESSION_REDIS"],
            key_prefix=settings["SESSION_KEY_PREFIX"],
            use_signer=settings["SESSION_USE_SIGNER"],
            permanent=settings["SESSION_PERMANENT"],
            sid_length=settings["SESSION_ID_LENGTH"],
            serialization_format=settings["SESSION_SERIALIZATION_FORMAT"],
        )

    def _signer(self, app: App) -> Signer:
        if not app.secret_key:
            raise KeyError("SECRET_KEY must be set when SESSION_USE_SIGNER is on")
        return Signer(app.secret_key, salt="flask-session", key_derivation="hmac")

    def _new(self, app: App) -> RedisSession:
        return self.session_class(
            sid=new_session_id(app.token_source, self.sid_length), permanent=self.permanent
        )

    def is_null_session(self, obj: object) -> bool:
        return isinstance(obj, NullSession)

    def open_session(self, app: App, request: Request) -> SessionMixin:
        sid = request.cookies.get(self.get_cookie_name(app))
        if not sid:
            return self._new(app)
        if self.use_signer:
            try:
                sid = self._signer(app).unsign(sid).decode("utf-8")
            except (BadSignature, UnicodeDecodeError):
                return self._new(app)
        try:
            data = self.backend.load(sid)
        except SessionStoreUnavailable:
            return UnavailableSession()
        if data is None:
            return self._new(app)
        return self.session_class(data, sid=sid)

    def save_session(self, app: App, session: SessionMixin, response: Response) -> None:
        if not isinstance(session, RedisSession):
            return
        try:
            self._save(app, session, response)
        except SessionStoreUnavailable:
            # The view has run, but what it changed is lost: say so rather than
            # answer as if it were kept.
            failed = _unavailable_response()
            response.status_code = failed.status_code
            response.headers.clear()
            response.headers.update(failed.headers)
            response.set_data(failed.get_data())

    def _save(self, app: App, session: RedisSession, response: Response) -> None:
        name = self.get_cookie_name(app)
        domain = self.get_cookie_domain(app)
        path = self.get_cookie_path(app)
        if session.accessed:
            response.vary.add("Cookie")
        if not session:
            if session.modified:
                self.backend.delete(session.sid)
                response.delete_cookie(name, domain=domain, path=path)
                response.vary.add("Cookie")
            return
        if not (session.modified or app.config["SESSION_REFRESH_EACH_REQUEST"]):
            return
        lifetime = app.permanent_session_lifetime.total_seconds()
        self.backend.store(session.sid, dict(session), lifetime)
        if not self.should_set_cookie(app, session):
            return
        value = (
            self._signer(app).sign(want_bytes(session.sid)).decode("utf-8")
            if self.use_signer
            else session.sid
        )
        response.set_cookie(
            name,
            value,
            expires=self.get_expiration_time(app, session),
            httponly=self.get_cookie_httponly(app),
            domain=domain,
            path=path,
            secure=self.get_cookie_secure(app),
            partitioned=self.get_cookie_partitioned(app),
            samesite=self.get_cookie_samesite(app),
        )
        response.vary.add("Cookie")


class Session:
    """Flask-Session's extension: ``Session(app)`` or ``Session().init_app(app)``.

    :param app: the application to set up now, if any.
    """

    def __init__(self, app: App | None = None) -> None:
        if app is not None:
            self.init_app(app)

    def init_app(self, app: App) -> None:
        """Install the interface ``SESSION_TYPE`` names on *app*.

        :param app: the application.
        :raises ValueError: for a ``SESSION_TYPE`` other than ``"redis"``.
        """
        kind = str(app.config.get("SESSION_TYPE") or "").lower()
        if kind != "redis":
            raise ValueError(f"SESSION_TYPE must be 'redis' (the one server-side store), not {kind!r}")
        app.session_interface = RedisSessionInterface.from_config(app.config)
