"""Authenticated RPC services: handler classes whose ``export_<name>`` methods are remote calls.

A service is a :class:`Service` subclass.  Each ``export_<name>`` method
(plain or ``async def``) returns :func:`S_OK` or :func:`S_ERROR`; an
``auth_<name>`` attribute says who may call it (see
:mod:`crosswind.rpc.authorization`) and a ``types_<name>`` attribute which
argument types it accepts (see :mod:`crosswind.rpc.typecheck`)::

    class CalculatorHandler(Service):
        auth_add = ["authenticated"]
        types_add = [int, int]

        def export_add(self, a, b):
            return S_OK(a + b)

    app = rpc_application([CalculatorHandler], rpc_users={...})

Every call is checked in this order, and the first failure answers:

=====================================================  ======
content type is not ``application/json``                415
body is not a call, or names no exported method         400
presented credentials are invalid (bad or expired JWT)  401
not allowed by the method's policy                      401 without credentials, else 403
arguments of the wrong type or count                    400
=====================================================  ======

after which the method runs and its result is sent with status 200, an
exception in it becoming an ``S_ERROR`` (the traceback goes to the log,
never to the caller).
"""

from __future__ import annotations

import inspect
import logging
import platform
import re
import time
import types
from collections.abc import Awaitable, Callable, Generator, Iterable, Mapping, Sequence
from typing import Any, ClassVar, NoReturn

from .._version import __version__
from ..errors import RequestError
from ..mediatype import parse_content_type
from ..web import Application, RequestHandler
from .auth import (
    AUTHENTICATION_METHODS,
    AuthenticationError,
    Credentials,
    JWTVerifier,
    authenticate,
    bearer_token,
)
from .authorization import POLICY_PREFIX, Decision, authorize, resolve_policy, validate_policy
from .protocol import CONTENT_TYPE, S_ERROR, S_OK, Call, decode_call, encode_result
from .typecheck import TypeSpec, check_arguments, validate_type_spec

__all__ = [
    "TYPES_PREFIX",
    "S_ERROR",
    "S_OK",
    "Service",
    "initialize_services",
    "rpc_application",
]

rpc_log = logging.getLogger("crosswind.rpc")

TYPES_PREFIX = "types_"

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


class _Refused(RequestError):
    """A refusal carrying a ``WWW-Authenticate`` challenge."""

    def __init__(self, reason: str, status_code: int, challenge: str | None) -> None:
        super().__init__(reason, status_code)
        self.challenge = challenge


class _NotReady(RequestError):
    """The service could not initialize itself; the call is refused."""


class _Startup:
    """A service class's one-time initialization, shared by its concurrent first calls.

    The core imports no threading, so there is no lock object.  The claim is one
    ``dict.setdefault``, which the interpreter performs atomically, whatever thread
    or task calls it; the call that wins runs ``initializeHandler``, and the others
    wait for it:

    * while the winner runs without yielding to an event loop (a plain
      ``initializeHandler``, or any one on the threaded backend, where nothing
      yields), only calls in other threads can look: they wait for the outcome,
      as DIRAC's calls wait on its lock;
    * while an ``async def`` one is suspended on an event loop, a call served by
      the same loop cannot wait without blocking it, so it is refused with 503 and
      ``Retry-After`` (``suspended`` tells the two cases apart).

    The claim is let go when ``initializeHandler`` raises, so the next call tries
    again, as in DIRAC.
    """

    __slots__ = ("claim", "suspended")

    def __init__(self) -> None:
        self.claim: dict[str, object] = {}
        self.suspended = False


# How long a call in another thread sleeps between looks at a running initialization.
_STARTUP_POLL = 0.001


@types.coroutine
def _resume(steps: Generator[Any, Any, Any], step: Any) -> Generator[Any, Any, Any]:
    """Go on awaiting *steps*, whose first *step* was taken already (``yield from`` by hand)."""
    while True:
        try:
            sent = yield step
        except GeneratorExit:
            steps.close()
            raise
        except BaseException as exc:  # noqa: BLE001 -- handed on to the awaited code
            try:
                step = steps.throw(exc)
            except StopIteration as stop:
                return stop.value
        else:
            try:
                step = steps.send(sent)
            except StopIteration as stop:
                return stop.value


class Service(RequestHandler):
    """Base class of RPC services; see the module documentation.

    Class attributes a service may set:

    * ``BASE_URL`` -- the path prefix of the service's URL (default ``""``);
    * ``DEFAULT_LOCATION`` -- the service's name in its URL (default: the
      class name without a ``Handler`` suffix), so calls go to
      ``POST {BASE_URL}/{DEFAULT_LOCATION}``;
    * ``METHOD_PREFIX`` -- the prefix of remotely callable methods;
    * ``DEFAULT_AUTHENTICATION`` -- the enabled credential sources, tried in
      order: ``"SSL"`` (client certificate) and ``"JWT"`` (bearer token);
    * ``DEFAULT_AUTHORIZATION`` -- the policy of methods without an
      ``auth_<name>``; ``None`` refuses them;
    * ``rpc_settings`` -- settings that take precedence over the
      application's: ``rpc_users``, ``rpc_groups``, ``rpc_jwt_keys``,
      ``rpc_jwt_audience``, ``rpc_jwt_issuer``, ``rpc_jwt_leeway``,
      ``rpc_jwt_claims``.

    The built-in ``ping``, ``echo`` and ``whoami`` are open to everyone.
    """

    SUPPORTED_METHODS: ClassVar[tuple[str, ...]] = ("POST",)
    METHOD_PREFIX: ClassVar[str] = "export_"
    BASE_URL: ClassVar[str] = ""
    DEFAULT_LOCATION: ClassVar[str | None] = None
    DEFAULT_AUTHENTICATION: ClassVar[Sequence[str]] = ["SSL", "JWT"]
    DEFAULT_AUTHORIZATION: ClassVar[Sequence[str] | None] = None
    rpc_settings: ClassVar[Mapping[str, Any]] = {}

    auth_ping: ClassVar[Sequence[str]] = ["all"]
    auth_echo: ClassVar[Sequence[str]] = ["all"]
    auth_whoami: ClassVar[Sequence[str]] = ["all"]

    _rpc_type_specs: ClassVar[dict[str, TypeSpec]] = {}
    _rpc_service_info: ClassVar[dict[str, Any]]
    _rpc_startup: ClassVar[_Startup] = _Startup()

    #: The call being served, once it has been decoded.
    rpc_call: Call | None = None
    _credentials: Credentials | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._validate_declarations()
        # Made here, once per class, so that no two calls can make two of them.
        cls._rpc_startup = _Startup()

    @classmethod
    def _validate_declarations(cls) -> None:
        """Refuse malformed declarations when the class is defined, not at the first call."""
        methods = cls.DEFAULT_AUTHENTICATION
        if isinstance(methods, str) or not isinstance(methods, list | tuple):
            raise TypeError(f"{cls.__name__}.DEFAULT_AUTHENTICATION must be a list, e.g. ['SSL']")
        unknown = [method for method in methods if method not in AUTHENTICATION_METHODS]
        if unknown:
            raise TypeError(
                f"{cls.__name__}.DEFAULT_AUTHENTICATION names {unknown}; "
                f"known methods are {sorted(AUTHENTICATION_METHODS)}"
            )
        if cls.DEFAULT_AUTHORIZATION is not None:
            validate_policy(cls.DEFAULT_AUTHORIZATION, f"{cls.__name__}.DEFAULT_AUTHORIZATION")
        # A misspelt declaration would silently deny a method or, worse, skip
        # its type check, so one without a matching export is an error.
        for name in cls.__dict__:
            for prefix in (POLICY_PREFIX, TYPES_PREFIX):
                if name.startswith(prefix) and getattr(cls, name) is not None:
                    export = cls.METHOD_PREFIX + name[len(prefix) :]
                    if not callable(getattr(cls, export, None)):
                        raise TypeError(f"{cls.__name__}.{name} has no method {export}")
        specs: dict[str, TypeSpec] = {}
        for name in dir(cls):
            value = getattr(cls, name, None)
            if value is None:
                continue
            if name.startswith(POLICY_PREFIX):
                validate_policy(value, f"{cls.__name__}.{name}")
            elif name.startswith(TYPES_PREFIX):
                specs[name[len(TYPES_PREFIX) :]] = validate_type_spec(
                    value, f"{cls.__name__}.{name}"
                )
        cls._rpc_type_specs = specs

    # -- identity and start-up ----------------------------------------------

    @classmethod
    def service_name(cls) -> str:
        """The service's name: ``DEFAULT_LOCATION``, else the class name less ``Handler``."""
        if cls.DEFAULT_LOCATION:
            return cls.DEFAULT_LOCATION.strip("/")
        name = cls.__name__
        return name[: -len("Handler")] if name.endswith("Handler") and name != "Handler" else name

    @classmethod
    def url_path(cls) -> str:
        """The path calls are POSTed to: ``{BASE_URL}/{service_name()}``."""
        return cls.BASE_URL.rstrip("/") + "/" + cls.service_name()

    @classmethod
    def initializeHandler(cls, serviceInfoDict: dict[str, Any]) -> Awaitable[None] | None:
        """Prepare class-wide state; runs once per class.

        Override it as a ``classmethod``, plain or ``async``.  It runs at start-up
        when the application is built by :func:`rpc_application` or
        :func:`initialize_services` (an exception then stops the start-up), else
        at the first call (see :meth:`initialize`).

        :param serviceInfoDict: ``serviceName``, ``URL``, ``startTime`` (POSIX
            seconds) and whatever the application passed as ``service_info``.
        """
        return None

    def initialize(self, **kwargs: Any) -> None:
        """Runs at every request; at the first one, the service initializes itself.

        As in DIRAC, a service routed in a plain :class:`~crosswind.web.Application`
        runs :meth:`initializeHandler` at its first call, once however many first
        calls arrive together; the others wait for it.  An ``async``
        ``initializeHandler`` is awaited by the call itself, before the method runs.
        A subclass that overrides this method need not call it: the call does
        whatever it left undone.

        :param kwargs: the route's keyword arguments.
        """
        super().initialize(**kwargs)
        cls = type(self)
        if "_rpc_service_info" in cls.__dict__ or inspect.iscoroutinefunction(
            cls.initializeHandler
        ):
            return
        try:
            self._start_service(plain=True)
        except _NotReady as refusal:
            self._rpc_refusal = refusal

    _rpc_refusal: _NotReady | None = None

    async def _ensure_started(self) -> None:
        if self._rpc_refusal is not None:
            raise self._rpc_refusal
        if "_rpc_service_info" not in type(self).__dict__:
            pending = self._start_service(plain=False)
            if pending is not None:
                await pending

    def _start_service(self, *, plain: bool) -> Awaitable[None] | None:
        """Claim and run the one-time initialization, or wait for the call that did.

        Returns an awaitable when ``initializeHandler`` is ``async``; the claim is
        held until it has been awaited, so the caller awaits it at once.

        :param plain: called where nothing can be awaited (``initialize``).
        """
        cls = type(self)
        startup = cls._rpc_startup
        while "_rpc_service_info" not in cls.__dict__:
            mine = object()
            if startup.claim.setdefault("owner", mine) is mine:
                break
            if startup.suspended:
                raise _NotReady(f"service {cls.service_name()} is starting; try again", 503)
            # Another thread is running initializeHandler; waiting for it is what the
            # threaded backend's blocking calls are for.
            time.sleep(_STARTUP_POLL)
        else:
            return None
        info = {
            "serviceName": cls.service_name(),
            "URL": self.request.path,
            "startTime": self.application.clock(),
        }
        try:
            started = cls.initializeHandler(info)
        except Exception as error:
            self._failed_start(error)
        if started is None or not inspect.isawaitable(started):
            self._started(info)
            return None
        if plain:
            # A plain initializeHandler that returns an awaitable cannot be awaited
            # here, and must not hold the claim while the call goes on without it.
            if inspect.iscoroutine(started):
                started.close()
            self._failed_start(TypeError("it returned an awaitable; declare it async def"))
        return self._finish_start(started, info)

    async def _finish_start(self, started: Awaitable[Any], info: dict[str, Any]) -> None:
        startup = type(self)._rpc_startup
        steps = started.__await__()
        try:
            try:
                # The first step runs at once: without an event loop (the threaded
                # backend) it is the whole of it, and other threads wait as above.
                step = steps.send(None)
            except StopIteration:
                pass
            else:
                startup.suspended = True
                await _resume(steps, step)
        except Exception as error:
            self._failed_start(error)
        except BaseException:
            # Cancelled (the client left, the server stops): the next call tries again.
            startup.suspended = False
            startup.claim.clear()
            raise
        self._started(info)

    def _started(self, info: dict[str, Any]) -> None:
        cls = type(self)
        cls._rpc_service_info = info
        cls._rpc_startup.suspended = False
        cls._rpc_startup.claim.clear()

    def _failed_start(self, error: Exception) -> NoReturn:
        cls = type(self)
        rpc_log.error(
            "Service %s could not initialize itself: initializeHandler raised %s: %s",
            cls.service_name(),
            type(error).__name__,
            error,
        )
        rpc_log.debug("initializeHandler of %s failed", cls.service_name(), exc_info=error)
        cls._rpc_startup.suspended = False
        # Let go of the claim: the next call tries again.
        cls._rpc_startup.claim.clear()
        raise _NotReady(
            f"service {cls.service_name()} could not initialize itself; see the server log", 500
        ) from None

    def initializeRequest(self) -> Awaitable[None] | None:
        """Prepare per-call state; runs for every authorized, well-formed call.

        May be ``async``.  It sees :attr:`rpc_call` and :attr:`credentials`;
        an exception in it fails the call like one in the method.
        """
        return None

    @property
    def credentials(self) -> Credentials | None:
        """The caller's credentials, or ``None`` when none were presented."""
        return self._credentials

    def rpc_setting(self, name: str, default: Any = None) -> Any:
        """A setting from :attr:`rpc_settings`, else from the application's settings.

        :param name: e.g. ``"rpc_users"``.
        :param default: returned when neither has it.
        """
        if name in self.rpc_settings:
            return self.rpc_settings[name]
        return self.settings.get(name, default)

    # -- serving ----------------------------------------------------------

    def check_xsrf_cookie(self) -> None:
        """Do nothing: calls are not cookie-authenticated, and requiring a JSON
        content type already stops cross-site forms (browsers preflight it)."""

    async def post(self) -> None:
        """Serve one call."""
        try:
            await self._ensure_started()
        except _NotReady as refusal:
            if refusal.status_code == 503:
                self.set_header("Retry-After", "1")
            self._reply(refusal.status_code, encode_result(S_ERROR(refusal.reason)))
            return
        try:
            body = await self._dispatch()
        except _Refused as refusal:
            if refusal.challenge:
                self.set_header("WWW-Authenticate", refusal.challenge)
            self._reply(refusal.status_code, encode_result(S_ERROR(refusal.reason)))
        except RequestError as error:
            self._reply(error.status_code, encode_result(S_ERROR(error.reason)))
        else:
            self._reply(200, body)

    def _reply(self, status_code: int, body: bytes) -> None:
        self.set_status(status_code)
        self.set_header("Content-Type", CONTENT_TYPE)
        self.finish(body)

    async def _dispatch(self) -> bytes:
        mimetype, _ = parse_content_type(self.request.headers.get("Content-Type", ""))
        if mimetype != CONTENT_TYPE:
            raise RequestError(f"calls must be sent as {CONTENT_TYPE}", 415)
        call = self.rpc_call = decode_call(self.request.body)
        method = getattr(self, self.METHOD_PREFIX + call.method, None)
        if not callable(method):
            raise RequestError(f"unknown method {call.method!r}", 400)
        self._credentials = self._authenticate()
        decision = authorize(
            call.method,
            resolve_policy(self, call.method, self.DEFAULT_AUTHORIZATION),
            self._credentials,
        )
        if not decision.allowed:
            raise _Refused(decision.reason, decision.status_code, self._challenge(decision))
        self._check_arguments(call, method)
        return await self._run(call, method)

    def _challenge(self, decision: Decision) -> str | None:
        # RFC 9110 section 15.5.2: a 401 names a scheme that could succeed.
        if decision.status_code == 401 and "JWT" in self.DEFAULT_AUTHENTICATION:
            return f'Bearer realm="{self.service_name()}"'
        return None

    def _authenticate(self) -> Credentials | None:
        methods = list(self.DEFAULT_AUTHENTICATION)
        exchange = self.request.exchange
        tls = exchange.info.tls if exchange is not None else None
        authorization = self.request.headers.get("Authorization")
        try:
            return authenticate(
                methods,
                certificate=tls.peer_certificate if tls is not None else None,
                authorization=authorization,
                users=self.rpc_setting("rpc_users"),
                groups=self.rpc_setting("rpc_groups"),
                verifier=self._jwt_verifier(authorization) if "JWT" in methods else None,
                claim_names=self.rpc_setting("rpc_jwt_claims"),
            )
        except AuthenticationError as error:
            raise _Refused(error.reason, 401, error.challenge) from None

    def _jwt_verifier(self, authorization: str | None) -> JWTVerifier | None:
        keys = self.rpc_setting("rpc_jwt_keys")
        if not keys or bearer_token(authorization) is None:
            return None  # keys are parsed only when a token needs them
        return JWTVerifier(
            keys,
            audience=self.rpc_setting("rpc_jwt_audience"),
            clock=self.application.clock,
            issuer=self.rpc_setting("rpc_jwt_issuer"),
            leeway=self.rpc_setting("rpc_jwt_leeway", 0.0),
        )

    def _check_arguments(self, call: Call, method: Callable[..., Any]) -> None:
        try:
            signature: inspect.Signature | None = inspect.signature(method)
        except (TypeError, ValueError):  # some builtins have no signature to check
            signature = None
        found = [
            p for p in (signature.parameters.values() if signature else ()) if p.kind in _POSITIONAL
        ]
        spec = self._rpc_type_specs.get(call.method)
        if spec is not None:
            check_arguments(
                call.method,
                spec,
                call.args,
                call.kwargs,
                [p.name for p in found],
                {p.name for p in found if p.default is not p.empty},
            )
        if signature is not None:
            try:
                signature.bind(*call.args, **call.kwargs)
            except TypeError as error:
                raise RequestError(f"wrong arguments for {call.method!r}: {error}", 400) from None

    async def _run(self, call: Call, method: Callable[..., Any]) -> bytes:
        try:
            started = self.initializeRequest()
            if started is not None and inspect.isawaitable(started):
                await started
            result = method(*call.args, **call.kwargs)
            if inspect.isawaitable(result):
                result = await result
        except Exception:
            rpc_log.error(
                "Exception in %s.%s (caller %s)",
                self.service_name(),
                call.method,
                self._caller(),
                exc_info=True,
            )
            return encode_result(
                S_ERROR(f"internal error while executing {call.method!r}; see the server log")
            )
        try:
            return encode_result(result)
        except (TypeError, ValueError):
            rpc_log.error(
                "%s.%s returned %r, which is not an S_OK/S_ERROR dict of JSON values",
                self.service_name(),
                call.method,
                result,
            )
            return encode_result(S_ERROR(f"{call.method!r} returned an invalid result"))

    def _caller(self) -> str:
        credentials = self._credentials
        if credentials is None:
            return "anonymous"
        return credentials["username"] or credentials["DN"] or "unregistered"

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Answer errors outside a call (405, 500, ...) with an ``S_ERROR`` body.

        :param status_code: the status.
        :param kwargs: ``exc_info`` when an exception caused the error; never sent.
        """
        if status_code == 405:
            self.set_header("Allow", ", ".join(self.SUPPORTED_METHODS))
        self.set_header("Content-Type", CONTENT_TYPE)
        self.finish(encode_result(S_ERROR(self._reason)))

    # -- built-in methods -------------------------------------------------

    def export_ping(self) -> dict[str, Any]:
        """Server information and uptime: whether the service is alive."""
        now = self.application.clock()
        started = self._rpc_service_info["startTime"]
        return S_OK(
            {
                "name": self.service_name(),
                "version": __version__,
                "host": platform.node(),
                "python": platform.python_version(),
                "time": now,
                "startTime": started,
                "uptime": now - started,
            }
        )

    def export_echo(self, value: Any) -> dict[str, Any]:
        """Return *value* unchanged.

        :param value: any JSON value.
        """
        return S_OK(value)

    def export_whoami(self) -> dict[str, Any]:
        """The credentials the service sees for this call."""
        credentials = self._credentials
        if credentials is None:
            return S_OK(
                {
                    "authenticated": False,
                    "method": None,
                    "username": None,
                    "DN": None,
                    "issuer": None,
                    "group": None,
                    "properties": [],
                }
            )
        return S_OK({"authenticated": bool(credentials["username"]), **credentials})


def initialize_services(
    services: Iterable[type[Service]],
    *,
    clock: Callable[[], float],
    service_info: Mapping[str, Any] | None = None,
) -> list[tuple[str, type[Service]]]:
    """Run each service's ``initializeHandler`` once and return its route.

    A class already initialized (by an earlier application) is not
    initialized again.

    :param services: the service classes.
    :param clock: POSIX seconds, for ``startTime`` and ``ping``'s uptime.
    :param service_info: extra entries for every ``serviceInfoDict``.
    :returns: ``(pattern, class)`` routes for :class:`~crosswind.web.Application`.
    :raises TypeError: something other than a :class:`Service` subclass.
    :raises ValueError: two services share a URL.
    """
    routes: list[tuple[str, type[Service]]] = []
    paths: dict[str, type[Service]] = {}
    for service in services:
        if not (isinstance(service, type) and issubclass(service, Service)):
            raise TypeError(f"{service!r} is not a Service subclass")
        path = service.url_path()
        if path in paths:
            raise ValueError(f"{service.__name__} and {paths[path].__name__} both serve {path}")
        paths[path] = service
        if "_rpc_service_info" not in service.__dict__:
            info = {
                **(service_info or {}),
                "serviceName": service.service_name(),
                "URL": path,
                "startTime": clock(),
            }
            service.initializeHandler(info)
            # Marked only after success, so a failed start-up can be retried.
            service._rpc_service_info = info
        routes.append((re.escape(path), service))
    return routes


def rpc_application(
    services: Iterable[type[Service]],
    *,
    handlers: Iterable[Any] = (),
    service_info: Mapping[str, Any] | None = None,
    **settings: Any,
) -> Application:
    """An application serving *services* (initialized) next to other *handlers*.

    :param services: the service classes.
    :param handlers: further routes, as for :class:`~crosswind.web.Application`.
    :param service_info: extra entries for every ``serviceInfoDict``.
    :param settings: application settings; ``clock`` defaults to :func:`time.time`.
    """
    clock = settings.get("clock") or time.time
    routes = initialize_services(services, clock=clock, service_info=service_info)
    return Application([*routes, *handlers], **settings)
