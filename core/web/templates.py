"""Templates for Tornado-style handlers: the engines, and UI modules.

``self.render("page.html", **values)`` renders through one of two engines,
chosen by the application setting ``template_engine``:

* ``"tornado"`` (the default): :mod:`crosswind.template`, Tornado's own
  template language, so the template folder of a Tornado application is used
  as it is.  ``{% module Name(...) %}`` reaches the UI modules.
* ``"jinja2"``: Jinja2 behind Tornado's loader interface (:class:`Jinja2Loader`,
  also importable as :class:`Loader`), for applications written against it.
  UI modules are ``{{ modules.Name(...) }}`` and, like ``xsrf_form_html()``,
  give markup that is not escaped again.  A ``template_loader`` setting that is
  a :class:`Jinja2Loader` selects this engine by itself.

Both loaders have the interface of ``tornado.template.Loader``
(``load(name).generate(**namespace)`` returning bytes, and ``reset()``), so a
``template_loader`` setting or an overridden ``create_template_loader`` keeps
working.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import jinja2
from markupsafe import Markup

from .. import escape

if TYPE_CHECKING:
    from .handler import RequestHandler

__all__ = [
    "DEFAULT_NAMESPACE",
    "TEMPLATE_ENGINES",
    "Jinja2Loader",
    "Jinja2Template",
    "Loader",
    "Template",
    "TemplateModule",
    "UIModule",
    "UIModuleNamespace",
]

#: The values of the ``template_engine`` setting; the first is the default.
TEMPLATE_ENGINES = ("tornado", "jinja2")

#: Names every template sees, as in Tornado's template module.
DEFAULT_NAMESPACE: dict[str, Any] = {
    "escape": escape.xhtml_escape,
    "xhtml_escape": escape.xhtml_escape,
    "url_escape": escape.url_escape,
    "json_encode": escape.json_encode,
    "squeeze": escape.squeeze,
    "linkify": escape.linkify,
    "datetime": datetime,
}


def _text(value: Any) -> Any:
    # Tornado writes bytes as the text they encode, not as "b'...'".
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _tornado_escape(value: Any) -> Any:
    """Escape ``{{ }}`` output with Tornado's entities (``&quot;``, ``&#x27;``).

    markupsafe would write ``&#34;`` and ``&#39;``; the meaning is the same,
    but pages ported from Tornado should come out byte for byte the same.
    """
    if hasattr(value, "__html__"):
        return value
    return Markup(escape.xhtml_escape(str(_text(value))))


class Jinja2Template:
    """A compiled Jinja2 template, with the interface of Tornado's ``Template``.

    :param template: the Jinja2 template.
    """

    def __init__(self, template: jinja2.Template) -> None:
        self.template = template
        self.name = template.name

    def generate(self, **namespace: Any) -> bytes:
        """Render with *namespace* and return UTF-8 bytes.

        :param namespace: the values the template sees.
        """
        return self.template.render(**namespace).encode("utf-8")


class Jinja2Loader:
    """Loads Jinja2 templates from a directory, with Tornado's loader interface.

    :param root_directory: where template names are looked up.
    :param autoescape: ``"xhtml_escape"`` (the default) escapes ``{{ }}``
        output; ``None`` turns escaping off, as Tornado's setting does.
    :param namespace: extra names every template sees.
    :param whitespace: accepted for compatibility; ``"all"`` keeps whitespace
        as written (Jinja2's default), other modes trim block lines.
    :param environment: a Jinja2 environment to use instead of building one
        (its loader decides where templates come from).
    """

    def __init__(
        self,
        root_directory: str | None = None,
        autoescape: str | None = "xhtml_escape",
        namespace: Mapping[str, Any] | None = None,
        whitespace: str | None = None,
        *,
        environment: jinja2.Environment | None = None,
    ) -> None:
        if environment is None:
            if root_directory is None:
                raise TypeError("Loader needs a root_directory or an environment")
            trim = whitespace is not None and whitespace != "all"
            environment = jinja2.Environment(
                loader=jinja2.FileSystemLoader(root_directory),
                autoescape=autoescape is not None,
                finalize=_tornado_escape if autoescape is not None else _text,
                trim_blocks=trim,
                lstrip_blocks=trim,
                # Reloading is decided by reset(), which the application calls
                # on every request when compiled_template_cache is off.
                auto_reload=False,
            )
        self.root = root_directory
        self.environment = environment
        environment.globals.update(DEFAULT_NAMESPACE)
        if namespace:
            environment.globals.update(namespace)
        self._templates: dict[str, Jinja2Template] = {}

    def load(self, name: str, parent_path: str | None = None) -> Jinja2Template:
        """Return the template called *name* (compiled once, then cached).

        :param name: the template's path relative to the root.
        :param parent_path: the including template's name; relative names are
            resolved against its folder.
        :raises jinja2.TemplateNotFound: there is no such template.
        """
        if parent_path and not name.startswith("/") and "/" in parent_path:
            name = parent_path.rsplit("/", 1)[0] + "/" + name
        template = self._templates.get(name)
        if template is None:
            template = Jinja2Template(self.environment.get_template(name))
            self._templates[name] = template
        return template

    def reset(self) -> None:
        """Forget compiled templates so the next load reads the files again."""
        self._templates.clear()
        cache = self.environment.cache
        if cache is not None:
            cache.clear()


#: The names this module had when Jinja2 was the only engine.
Loader = Jinja2Loader
Template = Jinja2Template


class UIModule:
    """A reusable piece of a page: ``{% module Name(...) %}`` in a template
    (``{{ modules.Name(...) }}`` with Jinja2).

    A module may ask for JavaScript and CSS; :meth:`RequestHandler.render`
    gathers them from every module used on the page and inserts them before
    ``</head>`` and ``</body>``.

    :param handler: the handler rendering the page.
    """

    def __init__(self, handler: RequestHandler) -> None:
        self.handler = handler
        self.request = handler.request
        self.ui = handler.ui
        self.locale = handler.locale

    @property
    def current_user(self) -> Any:
        """The handler's current user."""
        return self.handler.current_user

    def render(self, *args: Any, **kwargs: Any) -> str | bytes:
        """Return the module's HTML; subclasses must override it."""
        raise NotImplementedError()

    def embedded_javascript(self) -> str | None:
        """JavaScript to embed in the page."""
        return None

    def javascript_files(self) -> Iterable[str] | None:
        """Script URLs (relative ones go through ``static_url``)."""
        return None

    def embedded_css(self) -> str | None:
        """CSS to embed in the page."""
        return None

    def css_files(self) -> Iterable[str] | None:
        """Stylesheet URLs (relative ones go through ``static_url``)."""
        return None

    def html_head(self) -> str | None:
        """HTML to put at the end of ``<head>``."""
        return None

    def html_body(self) -> str | None:
        """HTML to put at the end of ``<body>``."""
        return None

    def render_string(self, path: str, **kwargs: Any) -> bytes:
        """Render a template with the handler's namespace.

        :param path: the template name.
        :param kwargs: values for the template.
        """
        return self.handler.render_string(path, **kwargs)


class _Linkify(UIModule):
    def render(self, text: str, **kwargs: Any) -> str:
        return escape.linkify(text, **kwargs)


class _XSRFFormHTML(UIModule):
    def render(self) -> str:
        return self.handler.xsrf_form_html()


class TemplateModule(UIModule):
    """``{% module Template("part.html", **values) %}``: render a template in its own namespace.

    The template may call ``set_resources(javascript_files=..., embedded_css=...)``
    to ask for page resources, once per template file.
    """

    def __init__(self, handler: RequestHandler) -> None:
        super().__init__(handler)
        self._resource_list: list[dict[str, Any]] = []
        self._resource_dict: dict[str, dict[str, Any]] = {}

    def render(self, path: str, **kwargs: Any) -> bytes:
        def set_resources(**resources: Any) -> str:
            known = self._resource_dict.get(path)
            if known is None:
                self._resource_list.append(resources)
                self._resource_dict[path] = resources
            elif known != resources:
                raise ValueError("set_resources called with different resources for the same template")
            return ""

        return self.render_string(path, set_resources=set_resources, **kwargs)

    def _resources(self, key: str) -> list[Any]:
        return [r[key] for r in self._resource_list if key in r]

    def _files(self, key: str) -> list[str]:
        out: list[str] = []
        for entry in self._resources(key):
            if isinstance(entry, str | bytes):
                out.append(entry if isinstance(entry, str) else entry.decode("utf-8"))
            else:
                out.extend(entry)
        return out

    def embedded_javascript(self) -> str:
        return "\n".join(self._resources("embedded_javascript"))

    def javascript_files(self) -> list[str]:
        return self._files("javascript_files")

    def embedded_css(self) -> str:
        return "\n".join(self._resources("embedded_css"))

    def css_files(self) -> list[str]:
        return self._files("css_files")

    def html_head(self) -> str:
        return "".join(self._resources("html_head"))

    def html_body(self) -> str:
        return "".join(self._resources("html_body"))


#: The modules every application has, as in Tornado.
BUILTIN_UI_MODULES: dict[str, type[UIModule]] = {
    "linkify": _Linkify,
    "xsrf_form_html": _XSRFFormHTML,
    "Template": TemplateModule,
}


class UIModuleNamespace:
    """``modules`` and ``_tt_modules`` in templates: ``modules.Name(...)`` renders that module.

    :param render_module: ``render_module(name, cls, *args, **kwargs)`` renders
        through the handler (which keeps one instance per module and page).
    :param ui_modules: the application's modules by name.
    :param markup: wrap the output in :class:`markupsafe.Markup`, so that
        Jinja2's autoescaping leaves it alone.  Tornado's engine gets plain
        text, as from Tornado: ``{% module %}`` never escapes, and
        ``{{ modules.Name() }}`` escapes there as it does in Tornado.
    """

    def __init__(
        self,
        render_module: Callable[..., str],
        ui_modules: Mapping[str, type[UIModule]],
        *,
        markup: bool = True,
    ) -> None:
        self._render_module = render_module
        self._ui_modules = ui_modules
        self._markup = markup

    def __getitem__(self, name: str) -> Callable[..., str]:
        cls = self._ui_modules[name]
        render_module = self._render_module
        if not self._markup:
            return lambda *args, **kwargs: render_module(name, cls, *args, **kwargs)

        def render(*args: Any, **kwargs: Any) -> Markup:
            # Module output is HTML by contract, so autoescaping must not touch it.
            return Markup(render_module(name, cls, *args, **kwargs))

        return render

    def __getattr__(self, name: str) -> Callable[..., str]:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None
