"""The Flask-style application object, :class:`App`, and its :class:`Config`.

``App`` is a crosswind application (``async def handle(exchange)``): the
driver gives it each request, it pushes the request context, runs the
hooks and the view, and sends the response.  Everything a Flask 3
application does -- routing, hooks, error handlers, sessions, blueprints,
templates -- follows Flask's order and rules.

The body stays on the connection until the view reads it
(:mod:`crosswind.app.body`), bounded by ``MAX_CONTENT_LENGTH``, which
replaces the server's ``max_body_size`` when set.  On an event loop, where
plain code cannot wait for the network, what the view's plain code will
need is received just before it runs (see ``App._read_ahead``).

Views may be plain functions or ``async def``.  A plain view runs right in
the connection's task: on the asyncio and trio backends a view that blocks
(``time.sleep``, a blocking database driver) blocks every connection of the
loop, exactly as a blocking call in any coroutine would; serve such an
application with the threads backend.  An ``async`` view is awaited; on the
threads backend (and in-memory tests without an event loop) it may await
only what completes without a loop.
"""

from __future__ import annotations

import errno
import inspect
import json as _json
import logging
import os
import sys
import time
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import timedelta
from itertools import chain
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from .. import routing
from .._sync import run_sync
from ..errors import RequestError
from ..mount import MountedExchange, match_prefix
from ..protocol.exchange import ClientDisconnected, Exchange
from ..serving.entrypoints import ServerEntryPoints
from . import signals
from .body import RequestBody
from .ctx import (
    AppContext,
    RequestContext,
    _AppCtxGlobals,
    _cv_app,
    _cv_request,
    g,
    request,
    request_ctx,
    session,
)
from .exceptions import (
    Aborter,
    BadRequest,
    BadRequestKeyError,
    HTTPException,
    InternalServerError,
    RequestRedirect,
    from_request_error,
)
from .helpers import _redirect_response, get_flashed_messages
from .json import DefaultJSONProvider, JSONProvider, htmlsafe_dumps
from .scaffold import Scaffold, _endpoint_from_view_func
from .sessions import SecureCookieSessionInterface, SessionInterface
from .templating import Environment, default_template_context, select_jinja_autoescape
from .websocket import is_upgraded, is_websocket_view, websocket_route
from .wrappers import Request, Response

if TYPE_CHECKING:
    from .testing import AppClient

__all__ = ["App", "Config", "URLAdapter"]

F = TypeVar("F", bound=Callable[..., Any])

#: What an ``async def`` view's body may be read ahead by on an event loop: small
#: bodies arrive whole (for ``get_data()``), large ones stay on the connection.
READ_AHEAD = 64 * 1024
_SENTINEL: Any = object()


async def _call(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call a hook or view; await it if it is ``async``."""
    result = func(*args, **kwargs)
    if _is_awaitable(result):
        result = await result
    return result


#: Types a sync view or hook returns all the time, none of them awaitable.
_NEVER_AWAITABLE = frozenset({str, bytes, dict, list, tuple, type(None), Response})


def _is_awaitable(value: Any) -> bool:
    # inspect.isawaitable ends in an ABC check; the common results are told apart
    # by their exact type first (hot path, see bench/NOTES.md).
    cls = type(value)
    if cls is types.CoroutineType:
        return True
    if cls in _NEVER_AWAITABLE:
        return False
    return inspect.isawaitable(value)


def _current_request_ctx() -> RequestContext:
    # The context variable directly rather than through the request_ctx proxy
    # (hot path, see bench/NOTES.md).
    ctx = _cv_request.get(None)
    if ctx is None:
        return request_ctx._get_current_object()  # type: ignore[attr-defined, no-any-return]
    return ctx


#: The hook names looked up for a request outside any blueprint.
_APP_ONLY: tuple[None] = (None,)

#: The steps of a request that a subclass may override; App skips those with
#: nothing to do only while a class overrides none of them.
_PIPELINE_STEPS = ("preprocess_request", "dispatch_request", "finalize_request", "process_response")


def _call_sync(func: Callable[..., Any], *args: Any) -> Any:
    # Teardown runs while a context is popped, which is synchronous; an async
    # teardown function must therefore finish without waiting on a loop.
    result = func(*args)
    if inspect.iscoroutine(result):
        result = run_sync(result)
    return result


class Config(dict[str, Any]):
    """The application's configuration: a dict with loaders.

    Only upper-case keys are taken from objects, files and mappings.

    :param root_path: base directory of relative file names.
    :param defaults: initial values.
    """

    def __init__(self, root_path: str | os.PathLike[str] = ".", defaults: Mapping[str, Any] | None = None) -> None:
        super().__init__(defaults or {})
        self.root_path = os.fspath(root_path)

    def from_envvar(self, variable_name: str, silent: bool = False) -> bool:
        """Load the Python file named by environment variable *variable_name*.

        :param variable_name: the variable holding a file path.
        :param silent: return ``False`` instead of failing when it is unset.
        :raises RuntimeError: the variable is not set.
        """
        value = os.environ.get(variable_name)
        if not value:
            if silent:
                return False
            raise RuntimeError(
                f"The environment variable {variable_name!r} is not set and as such"
                " configuration could not be loaded. Set this variable and make it"
                " point to a configuration file"
            )
        return self.from_pyfile(value, silent=silent)

    def from_prefixed_env(
        self,
        prefix: str = "FLASK",
        *,
        loads: Callable[[str], Any] = _json.loads,
        environ: Mapping[str, str] | None = None,
    ) -> bool:
        """Load variables named ``PREFIX_KEY``; values are parsed with *loads*
        when possible (``"1"`` becomes ``1``), and ``A__B`` sets a nested key.

        :param prefix: the variable prefix (without the underscore).
        :param loads: parses each value; on failure the string is kept.
        :param environ: the variables to read (default: the process environment).
        """
        source = os.environ if environ is None else environ
        start = f"{prefix}_"
        for key in sorted(source):
            if not key.startswith(start):
                continue
            raw = source[key]
            key = key[len(start) :]
            value: Any
            try:
                value = loads(raw)
            except Exception:
                value = raw
            if "__" not in key:
                self[key] = value
                continue
            current: dict[str, Any] = self
            *parents, tail = key.split("__")
            for part in parents:
                if part not in current:
                    current[part] = {}
                current = current[part]
            current[tail] = value
        return True

    def from_pyfile(self, filename: str | os.PathLike[str], silent: bool = False) -> bool:
        """Execute a Python file and load its upper-case names.

        :param filename: relative to :attr:`root_path`, or absolute.
        :param silent: return ``False`` if the file does not exist.
        :raises OSError: the file cannot be read (and not *silent*).
        """
        path = os.path.join(self.root_path, os.fspath(filename))
        module = types.ModuleType("config")
        module.__file__ = path
        try:
            with open(path, mode="rb") as config_file:
                exec(compile(config_file.read(), path, "exec"), module.__dict__)
        except OSError as error:
            if silent and error.errno in (errno.ENOENT, errno.EISDIR, errno.ENOTDIR):
                return False
            error.strerror = f"Unable to load configuration file ({error.strerror})"
            raise
        self.from_object(module)
        return True

    def from_object(self, obj: object | str) -> None:
        """Load the upper-case attributes of *obj* (a module, class or import path).

        :param obj: an object, or ``"package.module:attr"``/``"package.module.attr"``.
        """
        if isinstance(obj, str):
            obj = _import_string(obj)
        for key in dir(obj):
            if key.isupper():
                self[key] = getattr(obj, key)

    def from_file(
        self,
        filename: str | os.PathLike[str],
        load: Callable[[Any], Mapping[str, Any]],
        silent: bool = False,
        text: bool = True,
    ) -> bool:
        """Load a data file (JSON, TOML...) with *load* and take its upper-case keys.

        :param filename: relative to :attr:`root_path`, or absolute.
        :param load: reads an open file, e.g. ``json.load``.
        :param silent: return ``False`` if the file does not exist.
        :param text: open in text mode (``False`` for ``tomllib.load``).
        """
        path = os.path.join(self.root_path, os.fspath(filename))
        try:
            with open(path, "r" if text else "rb") as data_file:
                obj = load(data_file)
        except OSError as error:
            if silent and error.errno in (errno.ENOENT, errno.EISDIR):
                return False
            error.strerror = f"Unable to load configuration file ({error.strerror})"
            raise
        return self.from_mapping(obj)

    def from_mapping(self, mapping: Mapping[str, Any] | None = None, **kwargs: Any) -> bool:
        """Load the upper-case keys of *mapping* and *kwargs*.

        :param mapping: the values.
        :param kwargs: more values.
        """
        values: dict[str, Any] = {}
        if mapping is not None:
            values.update(mapping)
        values.update(kwargs)
        for key, value in values.items():
            if key.isupper():
                self[key] = value
        return True

    def get_namespace(
        self, namespace: str, lowercase: bool = True, trim_namespace: bool = True
    ) -> dict[str, Any]:
        """The keys that start with *namespace* (``"IMAGE_STORE_"``), as a dict.

        :param namespace: the key prefix.
        :param lowercase: lowercase the resulting keys.
        :param trim_namespace: drop the prefix from the keys.
        """
        found = {}
        for key, value in self.items():
            if not key.startswith(namespace):
                continue
            name = key[len(namespace) :] if trim_namespace else key
            found[name.lower() if lowercase else name] = value
        return found

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {dict.__repr__(self)}>"


def _import_string(path: str) -> Any:
    import importlib

    path = path.replace(":", ".")
    try:
        return importlib.import_module(path)
    except ImportError:
        module_name, _, attribute = path.rpartition(".")
        if not module_name:
            raise
        return getattr(importlib.import_module(module_name), attribute)


class URLAdapter:
    """A URL map bound to one request (or to ``SERVER_NAME``): matches the
    request's URL and builds URLs relative to it.

    :param url_map: the application's rules.
    :param host: the host the request went to (or ``SERVER_NAME``).
    :param script_name: where the application is mounted.
    :param url_scheme: ``http`` or ``https``.
    :param path: the decoded request path.
    :param method: the request method.
    :param query_string: the raw query, kept on redirects.
    :param subdomain: the subdomain to match (``None``: derive it from *host*).
    :param request: the request to read *host* and *query_string* from, when
        first needed, instead of the two arguments.
    :param server_name: the host that subdomains of built URLs hang from
        (``SERVER_NAME`` outside a request).

    Matching goes to :meth:`crosswind.routing.map.Map.match`, which remembers what
    it found (see :attr:`crosswind.routing.map.Map.remembered_matches`).
    """

    def __init__(
        self,
        url_map: routing.Map,
        *,
        host: str | None = None,
        script_name: str = "",
        url_scheme: str = "http",
        path: str = "/",
        method: str = "GET",
        query_string: str = "",
        subdomain: str | None = None,
        request: Request | None = None,
        server_name: str | None = None,
    ) -> None:
        self.map = url_map
        self.server_name = server_name
        self._request = request
        self._host = _SENTINEL if request is not None else host
        self._query_string = _SENTINEL if request is not None else query_string
        self.script_name = script_name
        self.url_scheme = url_scheme
        self.path = path
        self.method = method
        self.subdomain = subdomain

    # The host and the query string of a request are read only when a redirect or
    # a URL needs them (deliberately lazy: see bench/NOTES.md).
    @property
    def host(self) -> str | None:
        """The host the request went to (or ``SERVER_NAME``)."""
        host = self._host
        if host is _SENTINEL:
            host = self._host = self._request.host  # type: ignore[union-attr]
        return host

    @host.setter
    def host(self, value: str | None) -> None:
        self._host = value

    @property
    def query_string(self) -> str:
        """The raw query, kept on redirects."""
        query = self._query_string
        if query is _SENTINEL:
            query = self._request.query_string.decode("latin-1")  # type: ignore[union-attr]
            self._query_string = query
        return query

    @query_string.setter
    def query_string(self, value: str) -> None:
        self._query_string = value

    def match(self, return_rule: bool = False) -> tuple[Any, dict[str, Any]]:
        """Match the request's URL.

        With a given subdomain (no host matching) the host plays no part in
        which rule matches, only in the URL of a redirect: it is read then only,
        whether the map remembered the match or not.

        :param return_rule: return the rule instead of its endpoint.
        :raises HTTPException: ``NotFound``, ``MethodNotAllowed`` or ``RequestRedirect``.
        """
        url_map = self.map
        if self.subdomain is None or url_map.host_matching:
            return self._match(return_rule, self.host)
        found = url_map.remembered(self.path, self.method, self.subdomain)
        if found is not None:
            return (found[0] if return_rule else found[0].endpoint), found[1]
        if self._host is not _SENTINEL:
            return self._match(return_rule, self._host)
        try:
            return self._match(return_rule, None, convert=False)
        except routing.RequestRedirect:
            # Worked out again with the host, which the redirect's URL needs.
            return self._match(return_rule, self.host)
        except RequestError as error:
            raise from_request_error(error) from None

    def _match(
        self, return_rule: bool, host: str | None, convert: bool = True
    ) -> tuple[Any, dict[str, Any]]:
        try:
            return self.map.match(
                self.path,
                self.method,
                host,
                subdomain=self.subdomain,
                query_string=self.query_string,
                url_scheme=self.url_scheme,
                # Most applications are served at the root: no quote() call there.
                script_name=(
                    quote(self.script_name, safe="/%!$&'()*+,:;=@") if self.script_name else ""
                ),
                return_rule=return_rule,
            )
        except RequestError as error:
            if not convert:
                raise
            raise from_request_error(error) from None

    def allowed_methods(self) -> list[str]:
        """The methods some rule accepts for the request's URL."""
        methods = self.map.allowed_methods(self.path, self.host, subdomain=self.subdomain)
        return sorted(methods) if methods else []

    def build(
        self,
        endpoint: str,
        values: Mapping[str, Any] | None = None,
        method: str | None = None,
        force_external: bool = False,
        url_scheme: str | None = None,
        anchor: str | None = None,
    ) -> str:
        """Build a URL for *endpoint*.

        :param endpoint: the endpoint.
        :param values: the rule's variables and extra query arguments.
        :param method: pick the rule for this method.
        :param force_external: return an absolute URL.
        :param url_scheme: the scheme of an absolute URL.
        :param anchor: the fragment.
        :raises BuildError: no rule fits.
        """
        return self.map.build(
            endpoint,
            values,
            method=method,
            force_external=force_external,
            url_scheme=url_scheme or self.url_scheme,
            anchor=anchor,
            host=self.host,
            subdomain=self.subdomain,
            script_name=quote(self.script_name, safe="/%!$&'()*+,:;=@"),
            server_name=self.server_name,
        )


_DEFAULT_CONFIG: dict[str, Any] = {
    "DEBUG": False,
    "TESTING": False,
    "PROPAGATE_EXCEPTIONS": None,
    "SECRET_KEY": None,
    "SECRET_KEY_FALLBACKS": None,
    "PERMANENT_SESSION_LIFETIME": timedelta(days=31),
    "USE_X_SENDFILE": False,
    "TRUSTED_HOSTS": None,
    "SERVER_NAME": None,
    "APPLICATION_ROOT": "/",
    "SESSION_COOKIE_NAME": "session",
    "SESSION_COOKIE_DOMAIN": None,
    "SESSION_COOKIE_PATH": None,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SECURE": False,
    "SESSION_COOKIE_PARTITIONED": False,
    "SESSION_COOKIE_SAMESITE": None,
    "SESSION_REFRESH_EACH_REQUEST": True,
    "MAX_CONTENT_LENGTH": None,
    "MAX_FORM_MEMORY_SIZE": 500_000,
    "MAX_FORM_PARTS": 1_000,
    "SEND_FILE_MAX_AGE_DEFAULT": None,
    "TRAP_BAD_REQUEST_ERRORS": None,
    "TRAP_HTTP_EXCEPTIONS": False,
    "EXPLAIN_TEMPLATE_LOADING": False,
    "PREFERRED_URL_SCHEME": "http",
    "TEMPLATES_AUTO_RELOAD": None,
    "MAX_COOKIE_SIZE": 4093,
    "PROVIDE_AUTOMATIC_OPTIONS": True,
    # WebSocket views: see crosswind.app.websocket.
    "WEBSOCKET_ALLOWED_ORIGINS": None,
    "WEBSOCKET_PING_INTERVAL": None,
    "WEBSOCKET_PING_TIMEOUT": None,
    "WEBSOCKET_MAX_MESSAGE_SIZE": None,
    "WEBSOCKET_COMPRESSION": None,
}


class App(ServerEntryPoints, Scaffold):
    """A Flask-style application (``flask.Flask``).

    :param import_name: the application's module, usually ``__name__``.
    :param static_url_path: URL of the static folder (default ``/static``).
    :param static_folder: folder of static files, relative to the root path.
    :param static_host: the host static files are served on (host matching).
    :param host_matching: match rules against the whole host.
    :param subdomain_matching: match rules' subdomains against ``SERVER_NAME``.
    :param template_folder: folder of templates, relative to the root path.
    :param instance_path: the instance folder (default ``<root>/instance``).
    :param instance_relative_config: make ``config`` paths relative to the instance folder.
    :param root_path: overrides the root found from *import_name*.
    :param clock: POSIX seconds, for session signing and expiry, cookie and
        cache expiry dates; default :func:`time.time`.
    :param token_source: random bytes, for multipart range boundaries and
        test-client form boundaries; default :func:`os.urandom`.
    """

    request_class: type[Request] = Request
    response_class: type[Response] = Response
    aborter_class = Aborter
    app_ctx_globals_class = _AppCtxGlobals
    config_class = Config
    url_rule_class = routing.Rule
    url_map_class = routing.Map
    json_provider_class: type[JSONProvider] = DefaultJSONProvider
    session_interface: SessionInterface = SecureCookieSessionInterface()
    jinja_environment = Environment
    jinja_options: dict[str, Any] = {}
    test_client_class: type[AppClient] | None = None
    default_config = _DEFAULT_CONFIG
    #: Whether the class keeps App's own steps of a request, so that steps with
    #: nothing registered are skipped instead of awaited (set per class).
    _plain_pipeline = True
    #: Whether the class keeps App's own teardown steps, so that a context with
    #: nothing registered to tear it down skips them (set per class).
    _plain_teardown = True
    #: Whether the class keeps App's own app_context() and request_context(),
    #: so that a request makes its contexts without calling them (set per class).
    _plain_contexts = True
    #: Whether the class keeps App's own create_url_adapter, so that a request
    #: context makes its adapter only when asked (set per class).
    _plain_url_adapter = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._plain_url_adapter = cls.create_url_adapter is App.create_url_adapter
        cls._plain_contexts = (
            cls.app_context is App.app_context and cls.request_context is App.request_context
        )
        cls._plain_pipeline = all(
            getattr(cls, name) is getattr(App, name) for name in _PIPELINE_STEPS
        )
        cls._plain_teardown = all(
            getattr(cls, name) is getattr(App, name)
            for name in ("do_teardown_request", "do_teardown_appcontext")
        )

    def __init__(
        self,
        import_name: str,
        static_url_path: str | None = None,
        static_folder: str | os.PathLike[str] | None = "static",
        static_host: str | None = None,
        host_matching: bool = False,
        subdomain_matching: bool = False,
        template_folder: str | os.PathLike[str] | None = "templates",
        instance_path: str | None = None,
        instance_relative_config: bool = False,
        root_path: str | None = None,
        *,
        clock: Callable[[], float] | None = None,
        token_source: Callable[[int], bytes] | None = None,
    ) -> None:
        super().__init__(
            import_name,
            static_folder=static_folder,
            static_url_path=static_url_path,
            template_folder=template_folder,
            root_path=root_path,
        )
        self.clock: Callable[[], float] = clock or time.time
        self.token_source: Callable[[int], bytes] = token_source or os.urandom
        if instance_path is None:
            instance_path = os.path.join(self.root_path, "instance")
        elif not os.path.isabs(instance_path):
            raise ValueError("If an instance path is provided it must be absolute. A relative path was given instead.")
        self.instance_path = instance_path
        self.config = self.config_class(
            instance_path if instance_relative_config else self.root_path, self.default_config
        )
        self.aborter = self.aborter_class()
        self.json: JSONProvider = self.json_provider_class(self)
        self.url_build_error_handlers: list[Callable[[Exception, str, dict[str, Any]], str]] = []
        self.teardown_appcontext_funcs: list[Callable[[BaseException | None], Any]] = []
        self.shell_context_processors: list[Callable[[], dict[str, Any]]] = []
        self.blueprints: dict[str, Any] = {}
        self.extensions: dict[str, Any] = {}
        self.url_map = self.url_map_class(host_matching=host_matching)
        self.subdomain_matching = subdomain_matching
        self.template_context_processors[None].append(default_template_context)
        self._got_first_request = False
        self._mounts: list[tuple[str, Any]] = []
        self._async_views: dict[Callable[..., Any], bool] = {}
        self._jinja_env: Environment | None = None
        self.logger = logging.getLogger(import_name if import_name != "__main__" else "crosswind.app")
        if self.has_static_folder:
            if bool(static_host) != host_matching:
                raise AssertionError("Invalid static_host/host_matching combination")
            self.add_url_rule(
                f"{self.static_url_path}/<path:filename>",
                endpoint="static",
                host=static_host,
                view_func=self.send_static_file,
            )

    @property
    def name(self) -> str:  # type: ignore[override]
        """The application's name: the import name, or the script's for ``__main__``."""
        if self.import_name == "__main__":
            filename: str | None = getattr(sys.modules["__main__"], "__file__", None)
            if filename is None:
                return "__main__"
            return os.path.splitext(os.path.basename(filename))[0]
        return self.import_name

    def _check_setup_finished(self, f_name: str) -> None:
        if self._got_first_request:
            raise AssertionError(
                f"The setup method '{f_name}' can no longer be called on the application."
                " It has already handled its first request, any changes will not be"
                " applied consistently.\nMake sure all imports, decorators, functions,"
                " etc. needed to set up the application are done before running it."
            )

    # -- configuration shortcuts ------------------------------------------------------

    def _config_property(key: str, doc: str) -> Any:  # type: ignore[misc]  # noqa: N805
        def getter(self: App) -> Any:
            return self.config[key]

        def setter(self: App, value: Any) -> None:
            self.config[key] = value

        return property(getter, setter, doc=doc)

    secret_key = _config_property("SECRET_KEY", "``SECRET_KEY``: signs sessions.")
    testing = _config_property("TESTING", "``TESTING``: let exceptions reach the test client.")
    del _config_property

    @property
    def debug(self) -> bool:
        """``DEBUG``: detailed errors, indented JSON, template reloading."""
        return bool(self.config["DEBUG"])

    @debug.setter
    def debug(self, value: bool) -> None:
        self.config["DEBUG"] = value
        if self.config["TEMPLATES_AUTO_RELOAD"] is None and self._jinja_env is not None:
            self._jinja_env.auto_reload = value

    @property
    def permanent_session_lifetime(self) -> timedelta:
        """``PERMANENT_SESSION_LIFETIME`` as a timedelta (ints are seconds)."""
        value = self.config["PERMANENT_SESSION_LIFETIME"]
        return value if isinstance(value, timedelta) else timedelta(seconds=value)

    @permanent_session_lifetime.setter
    def permanent_session_lifetime(self, value: timedelta | int) -> None:
        self.config["PERMANENT_SESSION_LIFETIME"] = value

    # -- routes -------------------------------------------------------------------------

    def add_url_rule(
        self,
        rule: str,
        endpoint: str | None = None,
        view_func: Callable[..., Any] | None = None,
        provide_automatic_options: bool | None = None,
        **options: Any,
    ) -> None:
        """Connect the URL *rule* to *view_func* under *endpoint*.

        The view function's ``methods``, ``required_methods`` and
        ``provide_automatic_options`` attributes are honoured, as in Flask;
        ``GET`` implies ``HEAD``, and ``OPTIONS`` is answered automatically
        unless the rule lists it or ``PROVIDE_AUTOMATIC_OPTIONS`` is off.

        :param rule: e.g. ``/post/<int:post_id>``.
        :param endpoint: the name for ``url_for`` (the function's name by default).
        :param view_func: the view.
        :param provide_automatic_options: answer ``OPTIONS`` automatically.
        :param options: ``methods``, ``defaults``, ``subdomain``, ``host``,
            ``strict_slashes``, ``merge_slashes``, ``redirect_to``, ``build_only``.
        :raises TypeError: ``methods`` is a string.
        :raises AssertionError: the endpoint already has a different view.
        """
        self._check_setup_finished("add_url_rule")
        if endpoint is None:
            endpoint = _endpoint_from_view_func(view_func)
        methods = options.pop("methods", None)
        if methods is None:
            methods = getattr(view_func, "methods", None) or ("GET",)
        if isinstance(methods, str):
            raise TypeError(
                "Allowed methods must be a list of strings, for example:"
                ' @app.route(..., methods=["POST"])'
            )
        method_set = {item.upper() for item in methods}
        required = set(getattr(view_func, "required_methods", ()))
        if provide_automatic_options is None:
            provide_automatic_options = getattr(view_func, "provide_automatic_options", None)
        if provide_automatic_options is None:
            if "OPTIONS" not in method_set and self.config["PROVIDE_AUTOMATIC_OPTIONS"]:
                provide_automatic_options = True
                required.add("OPTIONS")
            else:
                provide_automatic_options = False
        method_set |= required
        rule_obj = self.url_rule_class(rule, endpoint=endpoint, methods=method_set, **options)
        rule_obj.provide_automatic_options = provide_automatic_options  # type: ignore[attr-defined]
        self.url_map.add(rule_obj)
        if view_func is not None:
            existing = self.view_functions.get(endpoint)
            if existing is not None and existing != view_func:
                raise AssertionError(
                    "View function mapping is overwriting an existing endpoint function:"
                    f" {endpoint}"
                )
            self.view_functions[endpoint] = view_func

    def websocket(self, rule: str, **options: Any) -> Callable[[F], F]:
        """Decorator: register a WebSocket view for *rule* (see :mod:`crosswind.app.websocket`).

        The rule answers only WebSocket upgrades: a plain ``GET`` gets ``400``.

        :param rule: the URL rule.
        :param options: as for :meth:`add_url_rule` (``endpoint`` too), but
            not ``methods``: a WebSocket upgrade is a ``GET``.
        """
        return websocket_route(self, rule, options)

    def register_blueprint(self, blueprint: Any, **options: Any) -> None:
        """Add a blueprint's routes, hooks and handlers.

        :param blueprint: the blueprint.
        :param options: ``url_prefix``, ``subdomain``, ``name``, ``url_defaults``.
        """
        self._check_setup_finished("register_blueprint")
        blueprint.register(self, options)

    def iter_blueprints(self) -> Iterator[Any]:
        """The registered blueprints, in registration order."""
        return iter(self.blueprints.values())

    def teardown_appcontext(self, f: F) -> F:
        """Run *f(exc)* when the application context ends.

        :param f: takes the unhandled exception or ``None``.
        """
        self._check_setup_finished("teardown_appcontext")
        self.teardown_appcontext_funcs.append(f)
        return f

    def shell_context_processor(self, f: F) -> F:
        """Register a shell context processor: its dict joins the namespace of
        ``python -m crosswind shell``.

        :param f: returns a dict.
        """
        self.shell_context_processors.append(f)
        return f

    def make_shell_context(self) -> dict[str, Any]:
        """The names ``python -m crosswind shell`` starts with: ``app``, ``g``
        and what each shell context processor returns."""
        namespace: dict[str, Any] = {"app": self, "g": g}
        for processor in self.shell_context_processors:
            namespace.update(processor())
        return namespace

    @property
    def mounts(self) -> list[tuple[str, Any]]:
        """The ``(prefix, application)`` pairs :meth:`mount` added, longest prefix first."""
        return list(self._mounts)

    def mount(self, prefix: str, application: Any) -> None:
        """Serve another crosswind application (a Tornado-style
        ``Application``, say) under *prefix*; its requests never reach this
        application's routes.

        :param prefix: a path starting with ``/``, e.g. ``/legacy``.
        :param application: anything with ``async def handle(exchange)``.
        :raises ValueError: for a prefix not starting with ``/``.
        """
        normalized = prefix.rstrip("/")
        if not normalized.startswith("/"):
            raise ValueError(f"mount prefix {prefix!r} must start with '/'")
        self._mounts.append((normalized, application))
        self._mounts.sort(key=lambda item: len(item[0]), reverse=True)

    # -- templates ------------------------------------------------------------------

    @property
    def jinja_env(self) -> Environment:
        """The Jinja environment (created on first use)."""
        if self._jinja_env is None:
            self._jinja_env = self.create_jinja_environment()
        return self._jinja_env

    def select_jinja_autoescape(self, filename: str | None) -> bool:
        """Whether a template is autoescaped.

        :param filename: the template name, ``None`` for strings.
        """
        return select_jinja_autoescape(filename)

    def create_jinja_environment(self) -> Environment:
        """Build the Jinja environment with Flask's globals and filters."""
        options = dict(self.jinja_options)
        options.setdefault("autoescape", self.select_jinja_autoescape)
        if "auto_reload" not in options:
            auto_reload = self.config["TEMPLATES_AUTO_RELOAD"]
            options["auto_reload"] = self.debug if auto_reload is None else auto_reload
        env = self.jinja_environment(self, **options)
        env.globals.update(
            url_for=self.url_for,
            get_flashed_messages=get_flashed_messages,
            config=self.config,
            request=request,
            session=session,
            g=g,
        )
        env.policies["json.dumps_function"] = self.json.dumps
        env.filters["tojson"] = _tojson_filter
        return env

    def update_template_context(self, context: dict[str, Any]) -> None:
        """Add what the context processors return (without overriding *context*).

        :param context: the template variables, changed in place.
        """
        names: Iterable[str | None] = (None,)
        ctx = _cv_request.get(None)
        if ctx is not None:
            names = chain(names, reversed(ctx.request.blueprints))
        original = context.copy()
        for name in names:
            for func in self.template_context_processors.get(name, ()):
                context.update(_call_sync(func))
        context.update(original)

    def add_template_filter(self, f: Callable[..., Any], name: str | None = None) -> None:
        """Register a Jinja filter.

        :param f: the filter.
        :param name: its name (the function's name by default).
        """
        self.jinja_env.filters[name or f.__name__] = f

    def template_filter(self, name: str | None = None) -> Callable[[F], F]:
        """Decorator: register a Jinja filter.

        :param name: its name (the function's name by default).
        """

        def decorator(f: F) -> F:
            self.add_template_filter(f, name)
            return f

        return decorator

    def add_template_global(self, f: Callable[..., Any], name: str | None = None) -> None:
        """Register a Jinja global.

        :param f: the function.
        :param name: its name.
        """
        self.jinja_env.globals[name or f.__name__] = f

    def template_global(self, name: str | None = None) -> Callable[[F], F]:
        """Decorator: register a Jinja global.

        :param name: its name.
        """

        def decorator(f: F) -> F:
            self.add_template_global(f, name)
            return f

        return decorator

    def add_template_test(self, f: Callable[..., Any], name: str | None = None) -> None:
        """Register a Jinja test.

        :param f: the test.
        :param name: its name.
        """
        self.jinja_env.tests[name or f.__name__] = f

    def template_test(self, name: str | None = None) -> Callable[[F], F]:
        """Decorator: register a Jinja test.

        :param name: its name.
        """

        def decorator(f: F) -> F:
            self.add_template_test(f, name)
            return f

        return decorator

    # -- contexts -------------------------------------------------------------------

    def app_context(self) -> AppContext:
        """A new application context (``with app.app_context(): ...``)."""
        return AppContext(self)

    def request_context(self, request: Request) -> RequestContext:
        """A request context for *request*.

        :param request: the request.
        """
        return RequestContext(self, request)

    def test_request_context(self, *args: Any, **kwargs: Any) -> RequestContext:
        """A request context for a made-up request, for tests and scripts.

        Takes the arguments of the test client's ``open`` (``path``,
        ``method``, ``headers``, ``data``, ``json``, ``query_string``,
        ``base_url``...).
        """
        from .testing import make_request

        return self.request_context(make_request(self, *args, **kwargs))

    def test_client(self, use_cookies: bool = True, **kwargs: Any) -> AppClient:
        """A client that sends requests to this application in memory.

        :param use_cookies: keep cookies between requests.
        :param kwargs: passed to the client class.
        """
        from .testing import AppClient

        cls = self.test_client_class or AppClient
        return cls(self, use_cookies=use_cookies, **kwargs)

    def create_url_adapter(self, request: Request | None) -> URLAdapter | None:
        """Bind the URL map to *request*, or to ``SERVER_NAME`` without one.

        With ``TRUSTED_HOSTS`` set, a request whose ``Host`` is not in it gets
        no adapter: :class:`~crosswind.app.exceptions.SecurityError` (400) is
        raised here and becomes the request's routing exception, as in Flask.

        :param request: the request, or ``None``.
        :raises SecurityError: the request's host is not trusted.
        """
        server_name = self.config["SERVER_NAME"]
        if request is not None:
            trusted_hosts = self.config["TRUSTED_HOSTS"]
            if trusted_hosts is not None:
                request.trusted_hosts = trusted_hosts
                request.host  # noqa: B018 - read now, so an untrusted host fails before routing
            subdomain: str | None = self.url_map.default_subdomain or ""
            if self.url_map.host_matching or (self.subdomain_matching and server_name):
                subdomain = None
                self.url_map.server_name = server_name.lower() if server_name else None
            adapter = URLAdapter(
                self.url_map,
                script_name=request.root_path,
                url_scheme=request.scheme,
                path=request.path,
                method=request.method,
                subdomain=subdomain,
                request=request,
            )
            if server_name and subdomain is not None:
                # Flask binds to SERVER_NAME: it does not restrict which hosts are
                # served, but external URLs and redirects name it, not the request's host.
                adapter.host = _without_default_port(server_name.lower(), request.scheme)
            return adapter
        if server_name:
            scheme = self.config["PREFERRED_URL_SCHEME"]
            server_name = server_name.lower()
            return URLAdapter(
                self.url_map,
                host=server_name,
                script_name=self.config["APPLICATION_ROOT"].rstrip("/"),
                url_scheme=scheme,
                subdomain=None if self.url_map.host_matching else self.url_map.default_subdomain or "",
                server_name=None if self.url_map.host_matching else server_name,
            )
        return None

    # -- URLs -----------------------------------------------------------------------

    def inject_url_defaults(self, endpoint: str, values: dict[str, Any]) -> None:
        """Let the ``url_defaults`` functions fill in *values* for *endpoint*.

        :param endpoint: the endpoint being built.
        :param values: the values, changed in place.
        """
        names: Iterable[str | None] = (None,)
        if "." in endpoint:
            parts = endpoint.rpartition(".")[0].split(".")
            prefixes = [".".join(parts[:i]) for i in range(1, len(parts) + 1)]
            names = chain(names, prefixes)
        for name in names:
            for func in self.url_default_functions.get(name, ()):
                func(endpoint, values)

    def handle_url_build_error(self, error: Exception, endpoint: str, values: dict[str, Any]) -> str:
        """Ask ``url_build_error_handlers`` for a URL; re-raise *error* if none gives one.

        :param error: the :class:`~crosswind.routing.map.BuildError`.
        :param endpoint: the endpoint.
        :param values: the values.
        """
        for handler in self.url_build_error_handlers:
            try:
                result = handler(error, endpoint, values)
            except routing.BuildError as new_error:
                error = new_error
                continue
            if result is not None:
                return result
        if error is sys.exc_info()[1]:
            raise
        raise error

    def url_for(
        self,
        endpoint: str,
        *,
        _anchor: str | None = None,
        _method: str | None = None,
        _scheme: str | None = None,
        _external: bool | None = None,
        **values: Any,
    ) -> str:
        """Build a URL; see :func:`crosswind.app.url_for`.

        :param endpoint: the endpoint.
        :param _anchor: the fragment.
        :param _method: the method the rule must accept.
        :param _scheme: the scheme (needs ``_external``).
        :param _external: return an absolute URL.
        :param values: rule variables and query arguments.
        """
        req_ctx = _cv_request.get(None)
        if req_ctx is not None:
            adapter = req_ctx.url_adapter
            blueprint = req_ctx.request.blueprint
            if endpoint[:1] == ".":
                endpoint = f"{blueprint}{endpoint}" if blueprint is not None else endpoint[1:]
            if _external is None:
                _external = _scheme is not None
        else:
            app_ctx = _cv_app.get(None)
            adapter = app_ctx.url_adapter if app_ctx is not None else self.create_url_adapter(None)
            if _external is None:
                _external = True
        # A request whose host was refused has no adapter either: Flask says this then too.
        if adapter is None:
            raise RuntimeError(
                "Unable to build URLs outside an active request without 'SERVER_NAME'"
                " configured. Also configure 'APPLICATION_ROOT' and"
                " 'PREFERRED_URL_SCHEME' as needed."
            )
        if _scheme is not None and not _external:
            raise ValueError("When specifying '_scheme', '_external' must be True.")
        self.inject_url_defaults(endpoint, values)
        if _external and _scheme is None and is_websocket_view(self.view_functions.get(endpoint)):
            _scheme = "wss" if adapter.url_scheme == "https" else "ws"
        try:
            url = adapter.build(
                endpoint, values, method=_method, url_scheme=_scheme, force_external=_external
            )
        except routing.BuildError as error:
            values.update(_anchor=_anchor, _method=_method, _scheme=_scheme, _external=_external)
            return self.handle_url_build_error(error, endpoint, values)
        if _anchor is not None:
            url = f"{url}#{quote(_anchor, safe='%!#$&()*+,/:;=?@')}"
        return url

    def redirect(self, location: str, code: int = 302) -> Response:
        """A redirect response (what :func:`crosswind.app.redirect` uses).

        :param location: the target URL.
        :param code: the redirect status.
        """
        return _redirect_response(location, code, self.response_class)

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """*func*, made callable synchronously if it is ``async``.

        The request pipeline itself awaits ``async`` views and hooks directly;
        this is for code that must call them from synchronous code.

        :param func: a function or coroutine function.
        """
        if inspect.iscoroutinefunction(func):

            def run(*args: Any, **kwargs: Any) -> Any:
                return run_sync(func(*args, **kwargs))

            return run
        return func

    def make_response(self, rv: Any) -> Response:
        """Turn a view's return value into a :class:`Response`.

        Accepted: a response; ``str``/``bytes`` (the body); a ``dict`` or
        ``list`` (JSON); an iterator or generator (streamed); an
        :class:`HTTPException`; or a tuple ``(body, status)``,
        ``(body, headers)`` or ``(body, status, headers)``.

        :param rv: what the view returned.
        :raises TypeError: for ``None`` or anything else.
        """
        # The usual returns by their exact type, before the general checks.
        kind = type(rv)
        if kind is self.response_class:
            return rv  # type: ignore[no-any-return]
        if kind is str or kind is bytes:
            return self.response_class(rv, status=None, headers=None)
        if kind is dict:
            return self.json.response(rv)
        status = headers = None
        if isinstance(rv, tuple):
            if len(rv) == 3:
                rv, status, headers = rv
            elif len(rv) == 2:
                if isinstance(rv[1], Mapping | tuple | list) or hasattr(rv[1], "items"):
                    rv, headers = rv
                else:
                    rv, status = rv
            else:
                raise TypeError(
                    "The view function did not return a valid response tuple. The tuple"
                    " must have the form (body, status, headers), (body, status), or"
                    " (body, headers)."
                )
        if rv is None:
            endpoint = request.endpoint if _cv_request.get(None) is not None else None
            raise TypeError(
                f"The view function for {endpoint!r} did not return a valid response."
                " The function either returned None or ended without a return"
                " statement."
            )
        if not isinstance(rv, self.response_class):
            if isinstance(rv, (str | bytes | bytearray, Iterator)) or _is_async_iter(rv):
                rv = self.response_class(rv, status=status, headers=headers)
                status = headers = None
            elif isinstance(rv, dict | list):
                rv = self.json.response(rv)
            elif isinstance(rv, HTTPException):
                rv = rv.get_response()
            elif isinstance(rv, Response):
                converted = self.response_class(rv.response, rv.status, rv.headers)
                converted._on_close = rv._on_close
                rv = converted
            else:
                raise TypeError(
                    "The view function did not return a valid response. The return type"
                    " must be a string, dict, list, tuple with headers or status,"
                    f" Response instance, or iterator, but it was a {type(rv).__name__}."
                )
        response: Response = rv
        if status is not None:
            if isinstance(status, str | bytes | bytearray):
                response.status = status
            else:
                response.status_code = status
        if headers:
            response.headers.update(headers)
        return response

    # -- the request pipeline -------------------------------------------------------

    async def handle(self, exchange: Exchange) -> None:
        """Serve one request (the crosswind application interface).

        :param exchange: the request being served.
        """
        for prefix, mounted in self._mounts:
            if match_prefix(exchange.path, prefix):
                await mounted.handle(MountedExchange(exchange, prefix))
                return
        self._got_first_request = True
        # No body to wait for (a GET): nothing to set up (see bench/NOTES.md).
        source = None if exchange.body_complete else self._body_of(exchange)
        req = self.request_class._from_exchange(exchange, source)
        await self._serve(req, exchange)

    def _body_of(self, exchange: Exchange) -> RequestBody:
        """The body of *exchange*, left on the connection for the view to read.

        ``MAX_CONTENT_LENGTH`` replaces the server's ``max_body_size`` for the
        request, lower or higher, as a Tornado-style handler's own limit does.
        """
        limit = self.config["MAX_CONTENT_LENGTH"]
        reads_block = exchange.reads_block
        if limit is not None:
            declared = exchange.get_header(b"content-length")
            if declared is not None and declared.strip().isdigit() and int(declared) > limit:
                # Never read: the driver drains or closes the connection.
                error = RequestError("request body too large", 413)
                return RequestBody(exchange, error=error, reads_block=reads_block)
            exchange.max_body_size = limit
        return RequestBody(exchange, reads_block=reads_block)

    async def _read_ahead(self, req: Request) -> None:
        """On an event loop, receive before the view what its plain code will ask for.

        Where reads block the thread, nothing is read ahead: every accessor
        waits for the body itself.  On an event loop a plain function cannot
        wait, so a plain ``def`` view gets its body collected first (a form
        parsed as it arrives, files spooled); an ``async def`` view gets a form
        parsed and a JSON body collected, and any other body is left on the
        connection for ``await request.stream.read()``, save a first
        :data:`READ_AHEAD` bytes so that a small body is whole for
        ``get_data()``.
        """
        source = req._source
        if source is None or source.reads_block or source.complete:
            return
        try:
            if req._is_form():
                await req.load_form()
            elif not req.async_view or req.is_json:
                # One byte past the limit: a body that stops exactly at it has not
                # shown yet whether it is too large, and the view cannot wait to see.
                limit = self.config["MAX_CONTENT_LENGTH"]
                await source.read_ahead(limit + 1 if limit else 2**62)
            else:
                await source.read_ahead(READ_AHEAD)
        except RequestError:
            # Kept on the request (or its source) and raised when the view touches
            # the body, as Flask raises 413 only then.
            pass

    async def _serve(self, req: Request, exchange: Exchange) -> None:
        ctx = RequestContext(self, req) if self._plain_contexts else self.request_context(req)
        error: BaseException | None = None
        try:
            try:
                ctx.push()
                if req._source is not None:
                    req.async_view = self._is_async_view(req)
                    await self._read_ahead(req)
                response = await self.full_dispatch_request()
            except ClientDisconnected as exc:
                # Left reading the body (ahead of the view, or in it): nobody is there
                # to answer, and the driver closes the connection without a log line.
                error = exc
                raise
            except Exception as exc:
                error = exc
                response = await self.handle_exception(exc)
            except BaseException as exc:
                error = exc
                raise
        finally:
            # Flask's order: wsgi_app pops the context, running the teardown
            # functions, before the server writes a byte.  A client that has read
            # the response can count on them having run, whichever thread serves
            # its next request.  A streamed body is produced afterwards, and
            # stream_with_context keeps the context for a generator that needs it.
            ctx.pop(error)
        pieces = response.response
        if (
            type(pieces) is list and len(pieces) == 1 and type(pieces[0]) is bytes
            and response._plain_status and response._plain_close and not response._on_close
            and req.method != "HEAD"
        ):
            # _send's first case without its coroutine: a body set_data left, a
            # status with a body and a reason line seen before (see bench/NOTES.md).
            status = response._status_code
            reason = _REASONS.get(response._status)
            if reason is not None and status >= 200 and status != 204 and status != 304:
                waiter = exchange.respond_nowait(status, response._wire_fields(), pieces[0], reason)
                if waiter is not None:
                    await waiter
                return
        await self._send(exchange, req, response)

    def _is_async_view(self, req: Request) -> bool:
        rule = req.url_rule
        if rule is None or req.routing_exception is not None:
            return False
        view = self.view_functions.get(rule.endpoint)
        if view is None:
            return False
        known = self._async_views.get(view)
        if known is None:
            known = self._async_views[view] = inspect.iscoroutinefunction(view)
        return known

    async def _send(self, exchange: Exchange, req: Request, response: Response) -> None:
        if response._plain_status:
            status = response._status_code
            line = response._status
        else:
            status = response.status_code
            line = response.status
        reason = _REASONS.get(line)
        if reason is None:
            reason = line.partition(" ")[2].encode("latin-1", "replace")
            if len(_REASONS) < 64:
                _REASONS[line] = reason
        headers = response._wire_fields()
        bodiless = req.method == "HEAD" or status in (204, 304) or 100 <= status < 200
        if status == 101 and is_upgraded(req, status):
            response.close()  # a WebSocket view ran: its 101 went out already
            return
        try:
            pieces = response.response
            if type(pieces) is list and len(pieces) == 1 and type(pieces[0]) is bytes and not bodiless:
                # What set_data leaves: the body without a generator, sent by a plain
                # call without respond's coroutine (see bench/NOTES.md).
                waiter = exchange.respond_nowait(status, headers, pieces[0], reason)
                if waiter is not None:
                    await waiter
                return
            if response.is_sequence or bodiless:
                body = b"" if bodiless else b"".join(response.iter_encoded())
                if req.method == "HEAD" and not response.is_sequence:
                    await exchange.start_response(status, headers, reason)
                    await exchange.end()
                else:
                    await exchange.respond(status, headers, body, reason)
                return
            await exchange.start_response(status, headers, reason)
            if response.is_async_streamed:
                async for chunk in response.response:
                    if chunk:
                        await exchange.write(chunk.encode(response.charset) if isinstance(chunk, str) else chunk)
            else:
                for chunk in response.iter_encoded():
                    if chunk:
                        await exchange.write(chunk)
            await exchange.end()
        finally:
            # A list body without call_on_close functions has nothing to close.
            if response._on_close or type(response.response) is not list or not response._plain_close:
                response.close()

    async def full_dispatch_request(self) -> Response:
        """Run the hooks and the view, handle errors, and finalize the response."""
        if not self._plain_pipeline:
            return await self._full_dispatch_overridden()
        ctx = _cv_request.get(None) or _current_request_ctx()
        try:
            # Signals without receivers are not called, here and at the five other
            # sends of every request (see bench/NOTES.md).
            if signals.request_started._receivers:
                signals.request_started.send(self)
            # The steps are App's own: those with nothing registered are skipped,
            # not awaited (see bench/NOTES.md).
            rv = None
            if self.url_value_preprocessors or self.before_request_funcs:
                rv = await self.preprocess_request()
            if rv is None:
                rv = self._call_view(ctx.request)
                if type(rv) not in _NEVER_AWAITABLE and _is_awaitable(rv):
                    rv = await rv
        except Exception as exc:
            rv = await self.handle_user_exception(exc)
        response = self.make_response(rv)
        if ctx._after_request_functions or self.after_request_funcs:
            response = await self.process_response(response)
        elif ctx._session is not None:  # None: deferred and never read, nothing to save
            self._save_session(ctx, response)
        if signals.request_finished._receivers:
            signals.request_finished.send(self, response=response)
        return response

    async def _full_dispatch_overridden(self) -> Response:
        # full_dispatch_request through every step, for a class that overrides one.
        try:
            if signals.request_started._receivers:
                signals.request_started.send(self)
            rv = await self.preprocess_request()
            if rv is None:
                rv = await self.dispatch_request()
        except Exception as exc:
            rv = await self.handle_user_exception(exc)
        return await self.finalize_request(rv)

    async def preprocess_request(self) -> Any:
        """Run the URL value preprocessors and ``before_request`` hooks
        (application first, then the blueprints outside in); the first hook
        that returns something ends the request with that."""
        # The context variable itself, _current_request_ctx only to raise outside a
        # request; here, in dispatch_request and process_response (hot path, see
        # bench/NOTES.md).
        req = (_cv_request.get(None) or _current_request_ctx()).request
        preprocessors = self.url_value_preprocessors
        before = self.before_request_funcs
        if not preprocessors and not before:
            # Empty hook dicts: no blueprint names to work out, no loops (see
            # bench/NOTES.md).
            return None
        blueprints = req.blueprints
        names = (None, *reversed(blueprints)) if blueprints else _APP_ONLY
        if preprocessors:
            for name in names:
                for func in preprocessors.get(name, ()):
                    func(req.endpoint, req.view_args)
        if before:
            for name in names:
                for func in before.get(name, ()):
                    rv = await _call(func)
                    if rv is not None:
                        return rv
        return None

    async def dispatch_request(self) -> Any:
        """Call the view of the matched rule (or answer ``OPTIONS``)."""
        rv = self._call_view((_cv_request.get(None) or _current_request_ctx()).request)
        if _is_awaitable(rv):
            rv = await rv
        return rv

    def _call_view(self, req: Request) -> Any:
        # What the view returns, awaitable or not: the view called here instead of
        # through _call, one coroutine less per request (see bench/NOTES.md).
        if req.routing_exception is not None:
            self.raise_routing_exception(req)
        rule = req.url_rule
        if req.method == "OPTIONS" and getattr(rule, "provide_automatic_options", False):
            return self.make_default_options_response()
        view_args = req.view_args
        view = self.view_functions[rule.endpoint]
        return view(**view_args) if view_args else view()

    def raise_routing_exception(self, req: Request) -> None:
        """Raise the exception URL matching produced (404, 405 or a redirect).

        :param req: the request.
        """
        assert req.routing_exception is not None
        raise req.routing_exception

    def make_default_options_response(self) -> Response:
        """The automatic answer to ``OPTIONS``: empty, with ``Allow``."""
        adapter = request_ctx.url_adapter
        response = self.response_class()
        response.allow.update(adapter.allowed_methods() if adapter is not None else [])
        return response

    async def finalize_request(self, rv: Any, from_error_handler: bool = False) -> Response:
        """Make the response, run the ``after_request`` hooks, save the session.

        :param rv: what the view (or an error handler) returned.
        :param from_error_handler: errors here are logged instead of raised.
        """
        response = self.make_response(rv)
        try:
            response = await self.process_response(response)
            if signals.request_finished._receivers:
                signals.request_finished.send(self, response=response)
        except Exception:
            if not from_error_handler:
                raise
            self.logger.exception("Request finalizing failed with an error while handling an error")
        return response

    async def process_response(self, response: Response) -> Response:
        """``after_this_request`` functions, then ``after_request`` hooks
        (blueprints inside out, then the application's, each newest first),
        then the session is saved.

        :param response: the response.
        """
        ctx = _cv_request.get(None) or _current_request_ctx()
        for func in ctx._after_request_functions:
            response = await _call(func, response)
        # As in preprocess_request, no loop over empty hooks.
        after = self.after_request_funcs
        if after:
            blueprints = ctx.request.blueprints
            for name in (*blueprints, None) if blueprints else _APP_ONLY:
                for func in reversed(after.get(name, ())):
                    response = await _call(func, response)
        self._save_session(ctx, response)
        return response

    def _save_session(self, ctx: RequestContext, response: Response) -> None:
        session = ctx._session  # not ctx.session, which would mark it accessed
        if session is not None and not self.session_interface.is_null_session(session):
            self.session_interface.save_session(self, session, response)

    def trap_http_exception(self, e: Exception) -> bool:
        """Whether an HTTP exception should propagate instead of becoming a page.

        :param e: the exception.
        """
        if self.config["TRAP_HTTP_EXCEPTIONS"]:
            return True
        trap_bad_request = self.config["TRAP_BAD_REQUEST_ERRORS"]
        if trap_bad_request is None and self.debug and isinstance(e, BadRequestKeyError):
            return True
        if trap_bad_request:
            return isinstance(e, BadRequest)
        return False

    async def handle_http_exception(self, e: HTTPException) -> Any:
        """The registered handler's result for *e*, or *e* itself (its page).

        :param e: the HTTP exception.
        """
        if e.code is None or isinstance(e, RequestRedirect):
            return e
        handler = self._find_error_handler(e, request_ctx.request.blueprints)
        if handler is None:
            return e
        return await _call(handler, e)

    async def handle_user_exception(self, e: Exception) -> Any:
        """Handle an exception raised by a hook or view: HTTP errors become
        pages (or go to their handler), others go to their handler or propagate.

        :param e: the exception.
        """
        if isinstance(e, RequestError) and not isinstance(e, HTTPException):
            converted = from_request_error(e)
            converted.__cause__ = e
            e = converted
        if isinstance(e, HTTPException) and not self.trap_http_exception(e):
            return await self.handle_http_exception(e)
        handler = self._find_error_handler(e, request_ctx.request.blueprints)
        if handler is None:
            raise e
        return await _call(handler, e)

    async def handle_exception(self, e: Exception) -> Response:
        """Turn an unhandled exception into a 500 response (or re-raise it
        when ``PROPAGATE_EXCEPTIONS``, testing or debug say so).

        :param e: the exception.
        """
        exc_info = sys.exc_info()
        signals.got_request_exception.send(self, exception=e)
        propagate = self.config["PROPAGATE_EXCEPTIONS"]
        if propagate is None:
            propagate = self.testing or self.debug
        if propagate:
            raise e
        self.log_exception(exc_info)
        server_error: Any = InternalServerError(original_exception=e)
        ctx = _cv_request.get(None)
        blueprints = ctx.request.blueprints if ctx is not None else []
        handler = self._find_error_handler(server_error, blueprints)
        if handler is not None:
            server_error = await _call(handler, server_error)
        return await self.finalize_request(server_error, from_error_handler=True)

    def log_exception(self, exc_info: Any) -> None:
        """Log an unhandled exception.

        :param exc_info: ``sys.exc_info()`` of it.
        """
        req = request_ctx.request
        self.logger.error(f"Exception on {req.path} [{req.method}]", exc_info=exc_info)

    def _find_error_handler(self, e: BaseException, blueprints: list[str]) -> Callable[..., Any] | None:
        exc_class, code = self._get_exc_class_and_code(type(e))
        names = (*blueprints, None)
        for c in (code, None) if code is not None else (None,):
            for name in names:
                handler_map = self.error_handler_spec.get(name, {}).get(c)
                if not handler_map:
                    continue
                for cls in exc_class.__mro__:
                    handler = handler_map.get(cls)
                    if handler is not None:
                        return handler
        return None

    def should_ignore_error(self, error: BaseException | None) -> bool:
        """Whether teardown functions should see *error* as ``None``.

        :param error: the exception.
        """
        return False

    def do_teardown_request(self, exc: BaseException | None = _SENTINEL) -> None:
        """Run the ``teardown_request`` functions (blueprints first, newest first).

        :param exc: the unhandled exception, or ``None``.
        """
        if exc is _SENTINEL:
            exc = sys.exc_info()[1]
        # Nothing registered, nothing to look up (see bench/NOTES.md).
        teardown = self.teardown_request_funcs
        if teardown:
            ctx = _cv_request.get(None)
            blueprints = ctx.request.blueprints if ctx is not None else []
            for name in (*blueprints, None) if blueprints else _APP_ONLY:
                for func in reversed(teardown.get(name, ())):
                    _call_sync(func, exc)
        if signals.request_tearing_down._receivers:
            signals.request_tearing_down.send(self, exc=exc)

    def do_teardown_appcontext(self, exc: BaseException | None = _SENTINEL) -> None:
        """Run the ``teardown_appcontext`` functions (newest first).

        :param exc: the unhandled exception, or ``None``.
        """
        if exc is _SENTINEL:
            exc = sys.exc_info()[1]
        if self.teardown_appcontext_funcs:
            for func in reversed(self.teardown_appcontext_funcs):
                _call_sync(func, exc)
        if signals.appcontext_tearing_down._receivers:
            signals.appcontext_tearing_down.send(self, exc=exc)

    # -- running --------------------------------------------------------------------

    def wsgi_app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        """The application as a WSGI callable (for gunicorn, uWSGI, mod_wsgi...).

        As in Flask, wrap it to add WSGI middleware:
        ``app.wsgi_app = ProxyFix(app.wsgi_app)``.

        :param environ: the WSGI environment.
        :param start_response: the WSGI ``start_response``.
        """
        return self.wsgi(environ, start_response)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        """WSGI entry point; calls :meth:`wsgi_app` (so middleware can replace it).

        :param environ: the WSGI environment.
        :param start_response: the WSGI ``start_response``.
        """
        return self.wsgi_app(environ, start_response)

    def run(self, host: str = "127.0.0.1", port: int = 5000, backend: str = "asyncio", **options: Any) -> None:
        """Serve the application until interrupted.

        :param host: the address to listen on.
        :param port: the port.
        :param backend: ``"asyncio"``, ``"trio"`` or ``"threads"`` (use threads
            for views that block).
        :param options: passed to the backend's ``serve`` (``limits``, ``ssl_context``...).
        """
        from ..serving.backends import load_backend
        from ..serving.logs import ensure_server_logging

        options.pop("debug", None)
        options.pop("load_dotenv", None)
        serve = load_backend(backend)
        # The "Serving on" line shows, as with crosswind serve, unless the
        # application set up logging itself.
        ensure_server_logging()
        serve(self, host, port, **options)


def _without_default_port(host: str, scheme: str) -> str:
    if scheme in ("http", "ws"):
        return host.removesuffix(":80")
    if scheme in ("https", "wss"):
        return host.removesuffix(":443")
    return host


def _is_async_iter(value: Any) -> bool:
    return hasattr(value, "__aiter__")


def _tojson_filter(value: Any, indent: int | None = None) -> Any:
    from markupsafe import Markup

    return Markup(htmlsafe_dumps(value, indent=indent))


#: The reason phrase of status lines sent before (the first 64 distinct ones), so
#: that each response does not split and encode its line (see bench/NOTES.md).
_REASONS: dict[str, bytes] = {}
