"""Jinja2 templates for Flask-style applications.

:func:`stream_template` and :func:`stream_template_string` render piece by
piece instead: a view returns the generator, and the response is sent as the
template produces it, with the request context kept alive until the last
piece (as :func:`~crosswind.app.stream_with_context` keeps it).

Templates are looked up in the application's ``template_folder`` and then in
each blueprint's, in registration order.  Every template sees ``request``,
``session``, ``g``, ``config``, ``url_for`` and ``get_flashed_messages``,
plus what the context processors add.  ``.html``, ``.htm``, ``.xml``,
``.xhtml`` and ``.svg`` templates and template strings are autoescaped.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from jinja2 import BaseLoader, FileSystemLoader, Template, TemplateNotFound
from jinja2 import Environment as _JinjaEnvironment

from . import signals
from .ctx import _cv_app, _cv_request, current_app
from .helpers import stream_with_context

if TYPE_CHECKING:
    from .app import App

__all__ = [
    "DispatchingJinjaLoader",
    "Environment",
    "get_template_attribute",
    "render_template",
    "render_template_string",
    "select_jinja_autoescape",
    "stream_template",
    "stream_template_string",
]

_AUTOESCAPED = (".html", ".htm", ".xml", ".xhtml", ".svg")


def select_jinja_autoescape(filename: str | None) -> bool:
    """Whether a template should be autoescaped (HTML-like names and strings).

    :param filename: the template name, ``None`` for a string template.
    """
    if filename is None:
        return True
    return filename.endswith(_AUTOESCAPED)


class DispatchingJinjaLoader(BaseLoader):
    """Finds templates in the application's folder, then its blueprints'.

    :param app: the application.
    """

    def __init__(self, app: App) -> None:
        self.app = app

    def _loaders(self) -> list[BaseLoader]:
        loaders: list[BaseLoader] = []
        if self.app.jinja_loader is not None:
            loaders.append(self.app.jinja_loader)
        for blueprint in self.app.iter_blueprints():
            if blueprint.jinja_loader is not None:
                loaders.append(blueprint.jinja_loader)
        return loaders

    def get_source(
        self, environment: _JinjaEnvironment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        for loader in self._loaders():
            try:
                return loader.get_source(environment, template)
            except TemplateNotFound:
                continue
        raise TemplateNotFound(template)

    def list_templates(self) -> list[str]:
        found: set[str] = set()
        for loader in self._loaders():
            found.update(loader.list_templates())
        return sorted(found)


class Environment(_JinjaEnvironment):
    """The Jinja environment of one application.

    :param app: the application.
    :param options: Jinja environment options.
    """

    def __init__(self, app: App, **options: Any) -> None:
        options.setdefault("loader", DispatchingJinjaLoader(app))
        super().__init__(**options)
        self.app = app


def folder_loader(root_path: str, template_folder: str | os.PathLike[str] | None) -> FileSystemLoader | None:
    """A loader for *template_folder* under *root_path*, or ``None``.

    :param root_path: the application's or blueprint's root.
    :param template_folder: the folder name (relative to *root_path*).
    """
    if template_folder is None:
        return None
    return FileSystemLoader(os.path.join(root_path, os.fspath(template_folder)))


def _render(app: App, template: Template, context: dict[str, Any]) -> str:
    app.update_template_context(context)
    signals.before_render_template.send(app, template=template, context=context)
    text = template.render(context)
    signals.template_rendered.send(app, template=template, context=context)
    return text


def render_template(template_name_or_list: str | Template | list[str | Template], **context: Any) -> str:
    """Render a template from the template folders.

    :param template_name_or_list: a name, a template, or a list to try in order.
    :param context: variables for the template.
    :raises TemplateNotFound: no such template.
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    template = app.jinja_env.get_or_select_template(template_name_or_list)
    return _render(app, template, context)


def render_template_string(source: str, **context: Any) -> str:
    """Render a template given as a string (always autoescaped).

    :param source: the template source.
    :param context: variables for the template.
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    template = app.jinja_env.from_string(source)
    return _render(app, template, context)


def _stream(app: App, template: Template, context: dict[str, Any]) -> Iterator[str]:
    app.update_template_context(context)
    signals.before_render_template.send(app, template=template, context=context)

    def generate() -> Iterator[str]:
        yield from template.generate(context)
        # Sent once the last piece is out, as Flask does: "rendered" means done.
        signals.template_rendered.send(app, template=template, context=context)

    pieces = generate()
    if _cv_request.get(None) is not None:
        # The template may read request or session long after the view returned.
        return stream_with_context(pieces)  # type: ignore[no-any-return]
    return pieces


def stream_template(
    template_name_or_list: str | Template | list[str | Template], **context: Any
) -> Iterator[str]:
    """Render a template from the template folders as a stream of pieces.

    Return the iterator from a view to send the page as it renders; the
    request context stays active until the template has finished.

    :param template_name_or_list: a name, a template, or a list to try in order.
    :param context: variables for the template.
    :raises TemplateNotFound: no such template (raised at once, not mid-stream).
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    template = app.jinja_env.get_or_select_template(template_name_or_list)
    return _stream(app, template, context)


def stream_template_string(source: str, **context: Any) -> Iterator[str]:
    """Render a template given as a string as a stream of pieces (autoescaped).

    :param source: the template source.
    :param context: variables for the template.
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    template = app.jinja_env.from_string(source)
    return _stream(app, template, context)


def get_template_attribute(template_name: str, attribute: str) -> Any:
    """A macro or variable exported by a template, to call it from Python.

    :param template_name: the template's name.
    :param attribute: the macro or variable name.
    """
    return getattr(current_app.jinja_env.get_template(template_name).module, attribute)


def default_template_context() -> dict[str, Any]:
    """``g`` and ``request`` when their contexts are active."""
    context: dict[str, Any] = {}
    app_ctx = _cv_app.get(None)
    if app_ctx is not None:
        context["g"] = app_ctx.g
    request_ctx = _cv_request.get(None)
    if request_ctx is not None:
        context["request"] = request_ctx.request
        # "session" stays the global proxy: resolving it here would mark the
        # session accessed (and add Vary: Cookie) for templates that never use it.
    return context
