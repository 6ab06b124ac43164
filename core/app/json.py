"""JSON for Flask-style applications: the provider, ``jsonify`` and helpers.

The default provider writes what Flask's does -- sorted keys, ASCII only,
compact separators and a trailing newline for responses (indented in debug
mode) -- and knows dates, decimals, UUIDs, dataclasses and objects with
``__html__``.  An application swaps it by setting ``app.json`` or
``App.json_provider_class``.
"""

from __future__ import annotations

import json as _json
from typing import IO, TYPE_CHECKING, Any

from ..sessions import json_fallback
from .ctx import _cv_app, current_app

if TYPE_CHECKING:
    from .app import App
    from .wrappers import Response

__all__ = ["DefaultJSONProvider", "JSONProvider", "dump", "dumps", "jsonify", "load", "loads"]


# The same conversions Flask's provider makes (dates as HTTP dates, Decimal and
# UUID as strings, dataclasses as dicts, __html__ objects as their markup); the
# session serializer needs them too, so they live with it.
_default = json_fallback


class JSONProvider:
    """The interface: ``dumps``, ``loads`` and ``response``.

    :param app: the application it serves.
    """

    def __init__(self, app: App) -> None:
        self._app = app

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        """Serialize *obj* to a JSON string.

        :param obj: the data.
        :param kwargs: passed to :func:`json.dumps`.
        """
        raise NotImplementedError

    def dump(self, obj: Any, fp: IO[str], **kwargs: Any) -> None:
        """Serialize *obj* into the text file *fp*.

        :param obj: the data.
        :param fp: a writable text file.
        :param kwargs: passed to :meth:`dumps`.
        """
        fp.write(self.dumps(obj, **kwargs))

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Parse a JSON document.

        :param s: the text (bytes are decoded as UTF-8/16/32).
        :param kwargs: passed to :func:`json.loads`.
        """
        raise NotImplementedError

    def load(self, fp: IO[Any], **kwargs: Any) -> Any:
        """Parse the JSON document in file *fp*.

        :param fp: a readable file.
        :param kwargs: passed to :meth:`loads`.
        """
        return self.loads(fp.read(), **kwargs)

    def _prepare(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if args and kwargs:
            raise TypeError("app.json.response() takes either args or kwargs, not both")
        if not args and not kwargs:
            return None
        if len(args) == 1:
            return args[0]
        return args or kwargs

    def response(self, *args: Any, **kwargs: Any) -> Response:
        """A response with the JSON of the arguments (one value, several as a
        list, or keyword arguments as an object).

        :param args: one value, or several.
        :param kwargs: an object's members.
        """
        obj = self._prepare(args, kwargs)
        return self._app.response_class(self.dumps(obj), mimetype="application/json")


class DefaultJSONProvider(JSONProvider):
    """Flask's default JSON behaviour.

    :param app: the application it serves.
    """

    default: Any = staticmethod(_default)
    ensure_ascii = True
    sort_keys = True
    #: ``None``: indent in debug mode only; ``True``/``False`` force it.
    compact: bool | None = None
    mimetype = "application/json"

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        kwargs.setdefault("default", self.default)
        kwargs.setdefault("ensure_ascii", self.ensure_ascii)
        kwargs.setdefault("sort_keys", self.sort_keys)
        return _json.dumps(obj, **kwargs)

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return _json.loads(s, **kwargs)

    def response(self, *args: Any, **kwargs: Any) -> Response:
        obj = self._prepare(args, kwargs)
        indent = (self.compact is None and self._app.debug) or self.compact is False
        if type(self).dumps is DefaultJSONProvider.dumps:
            text = self._encoder(indent).encode(obj)
        elif indent:
            text = self.dumps(obj, indent=2)
        else:
            text = self.dumps(obj, separators=(",", ":"))
        return self._app.response_class(f"{text}\n", mimetype=self.mimetype)

    def _encoder(self, indent: bool) -> _json.JSONEncoder:
        # The encoder json.dumps would build for these options, kept while they
        # stay the same (see bench/NOTES.md).
        key = (self.default, self.ensure_ascii, self.sort_keys, indent)
        cached: tuple[tuple[Any, ...], _json.JSONEncoder] | None = self.__dict__.get(
            "_cached_encoder"
        )
        if cached is not None and cached[0] == key:
            return cached[1]
        encoder = _json.JSONEncoder(
            default=self.default,
            ensure_ascii=self.ensure_ascii,
            sort_keys=self.sort_keys,
            **({"indent": 2} if indent else {"separators": (",", ":")}),
        )
        self.__dict__["_cached_encoder"] = (key, encoder)
        return encoder


def dumps(obj: Any, **kwargs: Any) -> str:
    """Serialize with the current application's provider (or Flask's defaults).

    :param obj: the data.
    :param kwargs: passed on.
    """
    ctx = _cv_app.get(None)
    if ctx is not None:
        return ctx.app.json.dumps(obj, **kwargs)
    kwargs.setdefault("default", _default)
    return _json.dumps(obj, **kwargs)


def dump(obj: Any, fp: IO[str], **kwargs: Any) -> None:
    """Serialize into a text file.

    :param obj: the data.
    :param fp: a writable text file.
    :param kwargs: passed on.
    """
    fp.write(dumps(obj, **kwargs))


def loads(s: str | bytes, **kwargs: Any) -> Any:
    """Parse with the current application's provider (or :func:`json.loads`).

    :param s: the document.
    :param kwargs: passed on.
    """
    ctx = _cv_app.get(None)
    if ctx is not None:
        return ctx.app.json.loads(s, **kwargs)
    return _json.loads(s, **kwargs)


def load(fp: IO[Any], **kwargs: Any) -> Any:
    """Parse the document in a file.

    :param fp: a readable file.
    :param kwargs: passed on.
    """
    return loads(fp.read(), **kwargs)


def jsonify(*args: Any, **kwargs: Any) -> Response:
    """A JSON response of the arguments, with ``application/json``.

    ``jsonify(a=1)`` and ``jsonify({"a": 1})`` give ``{"a":1}``; several
    positional arguments give a list.

    :param args: one value, or several.
    :param kwargs: an object's members.
    :raises RuntimeError: outside an application context.
    """
    # The context variable read here, not an import and a proxy per call (see
    # bench/NOTES.md).
    ctx = _cv_app.get(None)
    app = ctx.app if ctx is not None else current_app._get_current_object()  # type: ignore[attr-defined]
    return app.json.response(*args, **kwargs)


def htmlsafe_dumps(obj: Any, **kwargs: Any) -> str:
    """JSON that is safe inside HTML ``<script>`` tags and attributes.

    :param obj: the data.
    :param kwargs: passed to :func:`dumps`.
    """
    return (
        dumps(obj, **kwargs)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("'", "\\u0027")
    )
