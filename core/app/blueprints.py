"""Blueprints: groups of routes, hooks and error handlers registered on an
application (or on another blueprint) under a name and URL prefix.

Everything a blueprint is given is recorded and replayed when it is
registered, so one blueprint can be registered on several applications or
twice on one under different names.  Its endpoints are ``name.view`` (and
``parent.name.view`` when nested).
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from .scaffold import Scaffold, _endpoint_from_view_func
from .websocket import websocket_route

if TYPE_CHECKING:
    from .app import App

__all__ = ["Blueprint", "BlueprintSetupState"]

F = TypeVar("F", bound=Callable[..., Any])
DeferredSetup = Callable[["BlueprintSetupState"], None]


class BlueprintSetupState:
    """What a blueprint's recorded functions see while it is registered.

    :param blueprint: the blueprint being registered.
    :param app: the application.
    :param options: the ``register_blueprint`` options.
    :param first_registration: whether this blueprint is registered for the first time.
    """

    def __init__(
        self, blueprint: Blueprint, app: App, options: dict[str, Any], first_registration: bool
    ) -> None:
        self.app = app
        self.blueprint = blueprint
        self.options = options
        self.first_registration = first_registration
        subdomain = options.get("subdomain")
        self.subdomain = blueprint.subdomain if subdomain is None else subdomain
        url_prefix = options.get("url_prefix")
        self.url_prefix = blueprint.url_prefix if url_prefix is None else url_prefix
        self.name = options.get("name", blueprint.name)
        self.name_prefix = options.get("name_prefix", "")
        self.url_defaults = dict(blueprint.url_values_defaults)
        self.url_defaults.update(options.get("url_defaults", ()))

    def add_url_rule(
        self,
        rule: str,
        endpoint: str | None = None,
        view_func: Callable[..., Any] | None = None,
        **options: Any,
    ) -> None:
        """Add a rule to the application with the blueprint's prefix and name.

        :param rule: the rule, relative to the blueprint's prefix.
        :param endpoint: the endpoint inside the blueprint.
        :param view_func: the view function.
        :param options: as for ``App.add_url_rule``.
        """
        if self.url_prefix is not None:
            rule = "/".join((self.url_prefix.rstrip("/"), rule.lstrip("/"))) if rule else self.url_prefix
        options.setdefault("subdomain", self.subdomain)
        if endpoint is None:
            endpoint = _endpoint_from_view_func(view_func)
        defaults = self.url_defaults
        if "defaults" in options:
            defaults = dict(defaults, **options.pop("defaults"))
        self.app.add_url_rule(
            rule,
            f"{self.name_prefix}.{self.name}.{endpoint}".lstrip("."),
            view_func,
            defaults=defaults,
            **options,
        )


class Blueprint(Scaffold):
    """A reusable group of views and hooks (``flask.Blueprint``).

    :param name: the blueprint's name; endpoints become ``name.view``.
    :param import_name: usually ``__name__``, to find the root path.
    :param static_folder: a static folder served under the blueprint's prefix.
    :param static_url_path: URL of the static folder.
    :param template_folder: a templates folder searched after the application's.
    :param url_prefix: prepended to every rule.
    :param subdomain: the subdomain the rules match.
    :param url_defaults: default view arguments for every rule.
    :param root_path: overrides the root found from *import_name*.
    :param cli_group: accepted for compatibility.
    :raises ValueError: for an empty name or one containing a dot.
    """

    _got_registered_once = False

    def __init__(
        self,
        name: str,
        import_name: str,
        static_folder: str | os.PathLike[str] | None = None,
        static_url_path: str | None = None,
        template_folder: str | os.PathLike[str] | None = None,
        url_prefix: str | None = None,
        subdomain: str | None = None,
        url_defaults: dict[str, Any] | None = None,
        root_path: str | None = None,
        cli_group: str | None = None,
    ) -> None:
        super().__init__(
            import_name,
            static_folder=static_folder,
            static_url_path=static_url_path,
            template_folder=template_folder,
            root_path=root_path,
        )
        if not name:
            raise ValueError("'name' may not be empty.")
        if "." in name:
            raise ValueError("'name' may not contain a dot '.' character.")
        self.name = name
        self.url_prefix = url_prefix
        self.subdomain = subdomain
        self.deferred_functions: list[DeferredSetup] = []
        self.url_values_defaults = dict(url_defaults or {})
        self.cli_group = cli_group
        self._blueprints: list[tuple[Blueprint, dict[str, Any]]] = []

    def _check_setup_finished(self, f_name: str) -> None:
        if self._got_registered_once:
            raise AssertionError(
                f"The setup method '{f_name}' can no longer be called on the blueprint"
                f" '{self.name}'. It has already been registered at least once, any"
                " changes will not be applied consistently.\nMake sure all imports,"
                " decorators, functions, etc. needed to set up the blueprint are done"
                " before registering it."
            )

    def record(self, func: DeferredSetup) -> None:
        """Call *func(state)* every time the blueprint is registered.

        :param func: takes a :class:`BlueprintSetupState`.
        """
        self._check_setup_finished("record")
        self.deferred_functions.append(func)

    def record_once(self, func: DeferredSetup) -> None:
        """Like :meth:`record`, but only on the first registration.

        :param func: takes a :class:`BlueprintSetupState`.
        """

        def wrapper(state: BlueprintSetupState) -> None:
            if state.first_registration:
                func(state)

        self.record(wrapper)

    def make_setup_state(
        self, app: App, options: dict[str, Any], first_registration: bool = False
    ) -> BlueprintSetupState:
        """The state object passed to recorded functions.

        :param app: the application.
        :param options: the registration options.
        :param first_registration: whether this is the first registration.
        """
        return BlueprintSetupState(self, app, options, first_registration)

    def register_blueprint(self, blueprint: Blueprint, **options: Any) -> None:
        """Nest *blueprint* inside this one (its endpoints become ``this.child.view``).

        :param blueprint: the child blueprint.
        :param options: ``url_prefix``, ``subdomain``, ``name``, ``url_defaults``.
        :raises ValueError: for registering a blueprint on itself.
        """
        if blueprint is self:
            raise ValueError("Cannot register a blueprint on itself")
        self._blueprints.append((blueprint, options))

    def register(self, app: App, options: dict[str, Any]) -> None:
        """Apply everything recorded to *app* (``App.register_blueprint`` calls this).

        :param app: the application.
        :param options: the registration options.
        :raises ValueError: the name is already taken by another registration.
        """
        name_prefix = options.get("name_prefix", "")
        own_name = options.get("name", self.name)
        name = f"{name_prefix}.{own_name}".lstrip(".")
        if name in app.blueprints:
            which = "this" if app.blueprints[name] is self else "a different"
            where = f" '{name}'" if own_name != name else ""
            raise ValueError(
                f"The name '{own_name}' is already registered for {which} blueprint{where}."
                " Use 'name=' to provide a unique name."
            )
        first_bp = not any(bp is self for bp in app.blueprints.values())
        first_name = name not in app.blueprints
        app.blueprints[name] = self
        self._got_registered_once = True
        state = self.make_setup_state(app, options, first_bp)
        if self.has_static_folder:
            state.add_url_rule(
                f"{self.static_url_path}/<path:filename>",
                view_func=self.send_static_file,
                endpoint="static",
            )
        if first_bp or first_name:
            self._merge_blueprint_funcs(app, name)
        for deferred in self.deferred_functions:
            deferred(state)
        for blueprint, child_options in self._blueprints:
            self._register_child(app, state, name, blueprint, dict(child_options))

    @staticmethod
    def _register_child(
        app: App, state: BlueprintSetupState, name: str, blueprint: Blueprint, options: dict[str, Any]
    ) -> None:
        subdomain = options.get("subdomain")
        if subdomain is None:
            subdomain = blueprint.subdomain
        if state.subdomain is not None and subdomain is not None:
            options["subdomain"] = f"{subdomain}.{state.subdomain}"
        elif subdomain is not None:
            options["subdomain"] = subdomain
        elif state.subdomain is not None:
            options["subdomain"] = state.subdomain
        prefix = options.get("url_prefix")
        if prefix is None:
            prefix = blueprint.url_prefix
        if state.url_prefix is not None and prefix is not None:
            options["url_prefix"] = state.url_prefix.rstrip("/") + "/" + prefix.lstrip("/")
        elif prefix is not None:
            options["url_prefix"] = prefix
        elif state.url_prefix is not None:
            options["url_prefix"] = state.url_prefix
        options["name_prefix"] = name
        blueprint.register(app, options)

    def _merge_blueprint_funcs(self, app: App, name: str) -> None:
        def qualified(key: str | None) -> str:
            return name if key is None else f"{name}.{key}"

        def extend(source: dict[str | None, list[Any]], target: dict[str | None, list[Any]]) -> None:
            for key, values in source.items():
                target.setdefault(qualified(key), []).extend(values)

        for key, by_code in self.error_handler_spec.items():
            merged: Any = defaultdict(dict)
            for code, handlers in by_code.items():
                merged[code] = dict(handlers)
            app.error_handler_spec[qualified(key)] = merged
        for endpoint, func in self.view_functions.items():
            app.view_functions[qualified(endpoint)] = func
        extend(self.before_request_funcs, app.before_request_funcs)
        extend(self.after_request_funcs, app.after_request_funcs)
        extend(self.teardown_request_funcs, app.teardown_request_funcs)
        extend(self.url_default_functions, app.url_default_functions)
        extend(self.url_value_preprocessors, app.url_value_preprocessors)
        extend(self.template_context_processors, app.template_context_processors)

    # -- routes and app-wide hooks ----------------------------------------------------

    def websocket(self, rule: str, **options: Any) -> Callable[[F], F]:
        """Decorator: register a WebSocket view for *rule*, under the blueprint's prefix.

        See :meth:`App.websocket <crosswind.app.App.websocket>`.

        :param rule: the URL rule.
        :param options: as for :meth:`add_url_rule` (``endpoint`` too), not ``methods``.
        """
        return websocket_route(self, rule, options)

    def add_url_rule(
        self,
        rule: str,
        endpoint: str | None = None,
        view_func: Callable[..., Any] | None = None,
        provide_automatic_options: bool | None = None,
        **options: Any,
    ) -> None:
        """Record a rule, added to the application with the blueprint's prefix.

        :param rule: the URL rule.
        :param endpoint: the endpoint inside the blueprint (no dots).
        :param view_func: the view function.
        :param provide_automatic_options: answer ``OPTIONS`` automatically.
        :param options: as for ``App.add_url_rule``.
        :raises ValueError: the endpoint or view name contains a dot.
        """
        if endpoint and "." in endpoint:
            raise ValueError("'endpoint' may not contain a dot '.' character.")
        if view_func is not None and hasattr(view_func, "__name__") and "." in view_func.__name__:
            raise ValueError("'view_func' name may not contain a dot '.' character.")
        self.record(
            lambda state: state.add_url_rule(
                rule,
                endpoint,
                view_func,
                provide_automatic_options=provide_automatic_options,
                **options,
            )
        )

    def _app_hook(self, attribute: str, f: F) -> F:
        self.record_once(lambda state: getattr(state.app, attribute)[None].append(f))
        return f

    def before_app_request(self, f: F) -> F:
        """Like ``before_request``, for every request of the application.

        :param f: the hook.
        """
        return self._app_hook("before_request_funcs", f)

    def after_app_request(self, f: F) -> F:
        """Like ``after_request``, for every request of the application.

        :param f: the hook.
        """
        return self._app_hook("after_request_funcs", f)

    def teardown_app_request(self, f: F) -> F:
        """Like ``teardown_request``, for every request of the application.

        :param f: the hook.
        """
        return self._app_hook("teardown_request_funcs", f)

    def app_context_processor(self, f: F) -> F:
        """Like ``context_processor``, for every template of the application.

        :param f: the context processor.
        """
        return self._app_hook("template_context_processors", f)

    def app_url_value_preprocessor(self, f: F) -> F:
        """Like ``url_value_preprocessor``, for the whole application.

        :param f: the preprocessor.
        """
        return self._app_hook("url_value_preprocessors", f)

    def app_url_defaults(self, f: F) -> F:
        """Like ``url_defaults``, for the whole application.

        :param f: the function.
        """
        return self._app_hook("url_default_functions", f)

    def app_errorhandler(self, code: type[BaseException] | int) -> Callable[[F], F]:
        """Like ``errorhandler``, for the whole application.

        :param code: an HTTP status or exception class.
        """

        def decorator(f: F) -> F:
            self.record_once(lambda state: state.app.register_error_handler(code, f))
            return f

        return decorator

    def app_template_filter(self, name: str | None = None) -> Callable[[F], F]:
        """Register a Jinja filter on the application.

        :param name: the filter name (the function's name by default).
        """

        def decorator(f: F) -> F:
            self.add_app_template_filter(f, name)
            return f

        return decorator

    def add_app_template_filter(self, f: Callable[..., Any], name: str | None = None) -> None:
        """Register *f* as a Jinja filter on the application.

        :param f: the filter.
        :param name: the filter name.
        """
        self.record_once(lambda state: state.app.add_template_filter(f, name))

    def app_template_global(self, name: str | None = None) -> Callable[[F], F]:
        """Register a Jinja global on the application.

        :param name: the global's name (the function's name by default).
        """

        def decorator(f: F) -> F:
            self.record_once(lambda state: state.app.add_template_global(f, name))
            return f

        return decorator

    def app_template_test(self, name: str | None = None) -> Callable[[F], F]:
        """Register a Jinja test on the application.

        :param name: the test's name (the function's name by default).
        """

        def decorator(f: F) -> F:
            self.record_once(lambda state: state.app.add_template_test(f, name))
            return f

        return decorator
