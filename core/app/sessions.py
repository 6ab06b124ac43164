"""Flask's session interfaces on top of :mod:`crosswind.sessions`.

The default, :class:`SecureCookieSessionInterface`, keeps the session in a
signed cookie that is byte-compatible with Flask's: the same secret key reads
cookies a Flask application wrote and writes cookies it accepts, so users
stay logged in across the port.  Time (signing stamps and expiry) comes from
the application's clock.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..sessions import SessionSerializer

if TYPE_CHECKING:
    from .app import App
    from .wrappers import Request, Response

__all__ = [
    "NullSession",
    "SecureCookieSession",
    "SecureCookieSessionInterface",
    "SessionInterface",
    "SessionMixin",
]


class SessionMixin(MutableMapping[str, Any]):
    """What every session object offers on top of being a dict.

    A mutable mapping of ``str`` keys, as Flask's is, so ``session["seen"] = True``
    type-checks wherever a session is expected.
    """

    #: Some interfaces can tell whether a session was just created; the
    #: signed-cookie one cannot and always says ``False``, as Flask's does.
    new = False
    #: Set when the session was changed (so it must be saved).
    modified = True
    #: Set when the session was read (so responses must ``Vary: Cookie``).
    accessed = True

    @property
    def permanent(self) -> bool:
        """Whether the cookie outlives the browser session (``_permanent`` key)."""
        return bool(self.get("_permanent", False))

    @permanent.setter
    def permanent(self, value: bool) -> None:
        self["_permanent"] = bool(value)


class SecureCookieSession(dict[str, Any], SessionMixin):
    """A session dict that records whether it was read or changed.

    :param initial: the data loaded from the cookie.
    """

    modified = False
    accessed = False

    def __init__(self, initial: Any = None) -> None:
        super().__init__(initial or ())

    def _changed(self) -> None:
        self.modified = True
        self.accessed = True

    def __getitem__(self, key: str) -> Any:
        self.accessed = True
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self.accessed = True
        return super().get(key, default)

    def setdefault(self, key: str, default: Any = None) -> Any:
        self.accessed = True
        if key not in self:
            self._changed()
        return super().setdefault(key, default)

    def __setitem__(self, key: str, value: Any) -> None:
        self._changed()
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self._changed()
        super().__delitem__(key)

    def pop(self, key: str, *default: Any) -> Any:
        self._changed()
        return super().pop(key, *default)

    def popitem(self) -> tuple[str, Any]:
        self._changed()
        return super().popitem()

    def update(self, *args: Any, **kwargs: Any) -> None:
        self._changed()
        super().update(*args, **kwargs)

    def clear(self) -> None:
        self._changed()
        super().clear()


class NullSession(SecureCookieSession):
    """The session when no secret key is set: readable, empty, not writable."""

    def _fail(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(
            "The session is unavailable because no secret key was set.  Set the"
            " secret_key on the application to something unique and secret."
        )

    __setitem__ = __delitem__ = clear = pop = popitem = update = setdefault = _fail
    del _fail


#: What a request without cookies goes through in the stock interface: a subclass
#: that changes one of them has its sessions opened on every request.
_SESSION_STEPS = (
    "open_session",
    "save_session",
    "is_null_session",
    "make_null_session",
    "should_set_cookie",
    "session_class",
    "null_session_class",
)


class SessionInterface:
    """How sessions are opened from requests and saved into responses.

    Subclass it and set ``app.session_interface`` to store sessions
    elsewhere; :meth:`open_session` and :meth:`save_session` are the two
    methods to write.
    """

    null_session_class: type[SessionMixin] = NullSession
    pickle_based = False
    #: Whether the class keeps the stock cookie interface's steps, which open an
    #: empty session for a request without cookies and save nothing for it while
    #: untouched; such a session is then opened only if the view reads it (set
    #: per class).
    _plain = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        stock = globals().get("SecureCookieSessionInterface")
        cls._plain = (
            stock is not None
            and issubclass(cls, stock)
            and all(getattr(cls, name) is getattr(stock, name) for name in _SESSION_STEPS)
        )

    def make_null_session(self, app: App) -> SessionMixin:
        """The session used when :meth:`open_session` returns ``None``.

        :param app: the application.
        """
        return self.null_session_class()

    def is_null_session(self, obj: object) -> bool:
        """Whether *obj* is the null session.

        :param obj: a session.
        """
        return isinstance(obj, self.null_session_class)

    def get_cookie_name(self, app: App) -> str:
        """``SESSION_COOKIE_NAME``.

        :param app: the application.
        """
        return str(app.config["SESSION_COOKIE_NAME"])

    def get_cookie_domain(self, app: App) -> str | None:
        """``SESSION_COOKIE_DOMAIN``.

        :param app: the application.
        """
        return app.config["SESSION_COOKIE_DOMAIN"] or None

    def get_cookie_path(self, app: App) -> str:
        """``SESSION_COOKIE_PATH``, else ``APPLICATION_ROOT``.

        :param app: the application.
        """
        return str(app.config["SESSION_COOKIE_PATH"] or app.config["APPLICATION_ROOT"])

    def get_cookie_httponly(self, app: App) -> bool:
        """``SESSION_COOKIE_HTTPONLY``.

        :param app: the application.
        """
        return bool(app.config["SESSION_COOKIE_HTTPONLY"])

    def get_cookie_secure(self, app: App) -> bool:
        """``SESSION_COOKIE_SECURE``.

        :param app: the application.
        """
        return bool(app.config["SESSION_COOKIE_SECURE"])

    def get_cookie_samesite(self, app: App) -> str | None:
        """``SESSION_COOKIE_SAMESITE``.

        :param app: the application.
        """
        samesite: str | None = app.config["SESSION_COOKIE_SAMESITE"]
        return samesite

    def get_cookie_partitioned(self, app: App) -> bool:
        """``SESSION_COOKIE_PARTITIONED``.

        :param app: the application.
        """
        return bool(app.config.get("SESSION_COOKIE_PARTITIONED", False))

    def get_expiration_time(self, app: App, session: SessionMixin) -> datetime | None:
        """When a permanent session's cookie expires (by the app's clock).

        :param app: the application.
        :param session: the session.
        """
        if session.permanent:
            return datetime.fromtimestamp(app.clock(), UTC) + app.permanent_session_lifetime
        return None

    def should_set_cookie(self, app: App, session: SessionMixin) -> bool:
        """Whether to send the cookie: it changed, or it is permanent and
        ``SESSION_REFRESH_EACH_REQUEST`` is on.

        :param app: the application.
        :param session: the session.
        """
        return bool(
            session.modified
            or (session.permanent and app.config["SESSION_REFRESH_EACH_REQUEST"])
        )

    def open_session(self, app: App, request: Request) -> SessionMixin | None:
        """Load the session for *request*; ``None`` means "use a null session".

        :param app: the application.
        :param request: the request.
        """
        raise NotImplementedError

    def save_session(self, app: App, session: SessionMixin, response: Response) -> None:
        """Store *session*, typically by adding a cookie to *response*.

        :param app: the application.
        :param session: the session.
        :param response: the response.
        """
        raise NotImplementedError


class SecureCookieSessionInterface(SessionInterface):
    """Sessions in a cookie signed with the application's secret key.

    The cookie format is Flask's: an itsdangerous timed signature over
    compact tagged JSON, HMAC-SHA1 with the ``cookie-session`` salt.
    """

    salt = "cookie-session"
    digest_method = "sha1"
    key_derivation = "hmac"
    session_class = SecureCookieSession

    def get_signing_serializer(self, app: App) -> SessionSerializer | None:
        """The serializer for *app*'s keys, or ``None`` without a secret key.

        :param app: the application.
        """
        secret_key = app.secret_key
        if not secret_key:
            return None
        fallbacks: Iterable[str | bytes] = app.config.get("SECRET_KEY_FALLBACKS") or ()
        # A serializer holds nothing but these settings, so one is kept while they
        # stay the same (see bench/NOTES.md).
        settings = (secret_key, tuple(fallbacks), self.salt, self.digest_method, self.key_derivation)
        cached: tuple[tuple[Any, ...], SessionSerializer] | None = self.__dict__.get(
            "_cached_serializer"
        )
        if cached is not None and cached[0] == settings:
            return cached[1]
        serializer = SessionSerializer(
            secret_key,
            salt=self.salt,
            fallback_keys=list(fallbacks),
            digest=self.digest_method,
            key_derivation=self.key_derivation,
        )
        self.__dict__["_cached_serializer"] = (settings, serializer)
        return serializer

    def open_session(self, app: App, request: Request) -> SecureCookieSession | None:
        serializer = self.get_signing_serializer(app)
        if serializer is None:
            return None
        value = request.cookies.get(self.get_cookie_name(app))
        if not value:
            return self.session_class()
        max_age = int(app.permanent_session_lifetime.total_seconds())
        data = serializer.loads(value, max_age=max_age, clock=app.clock)
        return self.session_class(data) if data is not None else self.session_class()

    def save_session(self, app: App, session: SessionMixin, response: Response) -> None:
        if not session.accessed and not session.modified and not session:
            # Untouched and empty: nothing to send or vary on, so no cookie
            # settings to look up.
            return
        name = self.get_cookie_name(app)
        domain = self.get_cookie_domain(app)
        path = self.get_cookie_path(app)
        secure = self.get_cookie_secure(app)
        partitioned = self.get_cookie_partitioned(app)
        samesite = self.get_cookie_samesite(app)
        httponly = self.get_cookie_httponly(app)
        if session.accessed:
            response.vary.add("Cookie")
        if not session:
            if session.modified:
                response.delete_cookie(
                    name,
                    path=path,
                    domain=domain,
                    secure=secure,
                    partitioned=partitioned,
                    samesite=samesite,
                    httponly=httponly,
                )
                response.vary.add("Cookie")
            return
        if not self.should_set_cookie(app, session):
            return
        serializer = self.get_signing_serializer(app)
        assert serializer is not None
        value = serializer.dumps(dict(session), clock=app.clock)
        response.set_cookie(
            name,
            value,
            expires=self.get_expiration_time(app, session),
            httponly=httponly,
            domain=domain,
            path=path,
            secure=secure,
            partitioned=partitioned,
            samesite=samesite,
        )
        response.vary.add("Cookie")


SecureCookieSessionInterface._plain = True
