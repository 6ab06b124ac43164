"""``ProxyFix``: werkzeug's middleware for apps behind a known number of proxies.

``ProxyFix(app, x_for=1, x_proto=1, x_host=0, x_port=0, x_prefix=0)`` takes
each of ``X-Forwarded-For``, ``-Proto``, ``-Host``, ``-Port`` and ``-Prefix``
on trust: the argument says how many proxies in front of the application set
that field, and the value taken is that many from the right.  A field with
fewer values than that is ignored, so is one whose count is ``0``.  The values
are used as sent, unvalidated, exactly as werkzeug uses them: the count is the
whole of the protection, and it must match the deployment.

It wraps either kind of application:

* a WSGI callable, such as a Flask-style ``app.wsgi_app`` served by a WSGI
  server (``app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1)``, as in Flask):
  the environ changes as werkzeug changes it, and the original values are
  kept in ``environ["werkzeug.proxy_fix.orig"]``;
* a crosswind application (``async def handle(exchange)``), such as the
  Flask-style ``App`` itself served by ``crosswind serve`` or ``App.run``:
  the exchange's client, scheme, ``Host`` and root path change the same way,
  and every view sees them in ``request.remote_addr``, ``scheme``, ``host``,
  ``url_root`` and ``script_root``.

The server's own ``--proxy-headers`` (:mod:`crosswind.forwarded`) decides by
the peer's address rather than by a count; use one or the other.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from ..protocol.exchange import Exchange

__all__ = ["ProxyFix"]

_FIELDS = {
    "x_for": b"x-forwarded-for",
    "x_proto": b"x-forwarded-proto",
    "x_host": b"x-forwarded-host",
    "x_port": b"x-forwarded-port",
    "x_prefix": b"x-forwarded-prefix",
}
_ENVIRON_KEYS = {
    name: "HTTP_" + field.decode("ascii").upper().replace("-", "_") for name, field in _FIELDS.items()
}
_ESCAPED = re.compile(r"\\(.)", re.ASCII)


def list_items(value: str) -> list[str]:
    """The items of a comma-separated field value, as werkzeug reads them.

    A comma inside a quoted string does not split; an item that is one
    quoted string loses its quotes and escapes, one only partly quoted keeps
    them; empty items are dropped (``""`` is not empty until unquoted); an
    unclosed quote makes the value empty.

    :param value: the field value.
    """
    items: list[str] = []
    start = 0
    quoted = escaped = False
    for index, char in enumerate(value):
        if escaped:
            escaped = False
        elif quoted:
            if char == "\\":
                escaped = True
            elif char == '"':
                quoted = False
        elif char == '"':
            quoted = True
        elif char == ",":
            items.append(value[start:index])
            start = index + 1
    if quoted:
        return []
    items.append(value[start:])
    result = []
    for item in items:
        item = item.strip(" \t")
        if not item:
            continue
        # Emptiness is judged before unquoting: '""' is an item, and an empty one.
        if len(item) >= 2 and item[0] == '"' and item[-1] == '"':
            item = _ESCAPED.sub(r"\1", item[1:-1])
        result.append(item)
    return result


def _split_host(host: str) -> tuple[str, str | None]:
    # A colon that is not the end of an IPv6 literal ("[::1]") starts the port.
    if ":" in host and not host.endswith("]"):
        name, port = host.rsplit(":", 1)
        return name, port
    return host, None


class ProxyFix:
    """Believe the ``X-Forwarded-*`` fields that the given number of proxies set.

    :param app: a WSGI callable, or a crosswind application.
    :param x_for: proxies that set ``X-Forwarded-For`` (the client address).
    :param x_proto: proxies that set ``X-Forwarded-Proto`` (the scheme).
    :param x_host: proxies that set ``X-Forwarded-Host`` (the ``Host``).
    :param x_port: proxies that set ``X-Forwarded-Port`` (the port in ``Host``).
    :param x_prefix: proxies that set ``X-Forwarded-Prefix`` (the root path).
    """

    def __init__(
        self,
        app: Any,
        x_for: int = 1,
        x_proto: int = 1,
        x_host: int = 0,
        x_port: int = 0,
        x_prefix: int = 0,
    ) -> None:
        self.app = app
        self.x_for = x_for
        self.x_proto = x_proto
        self.x_host = x_host
        self.x_port = x_port
        self.x_prefix = x_prefix

    def __repr__(self) -> str:
        counts = ", ".join(f"{name}={getattr(self, name)}" for name in _FIELDS)
        return f"ProxyFix({self.app!r}, {counts})"

    def _real(self, trusted: int, value: str | None) -> str | None:
        """The value *trusted* places from the right; ``None`` if there is none."""
        if not trusted or not value:
            return None
        items = list_items(value)
        return items[-trusted] if len(items) >= trusted else None

    def _values(self, get: Callable[[str], str | None]) -> dict[str, str | None]:
        """The believed value of each field, found with ``get(attribute name)``."""
        return {name: self._real(getattr(self, name), get(name)) for name in _FIELDS}

    # -- WSGI ------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        """Call the wrapped WSGI app with *environ* changed as the fields say.

        :param environ: the WSGI environment (changed in place).
        :param start_response: the WSGI ``start_response``.
        """
        self.fix_environ(environ)
        return self.app(environ, start_response)

    def fix_environ(self, environ: dict[str, Any]) -> None:
        """Change *environ* as werkzeug's ``ProxyFix`` would, keeping the originals.

        :param environ: a WSGI environment.
        """
        environ["werkzeug.proxy_fix.orig"] = {
            key: environ.get(key)
            for key in (
                "REMOTE_ADDR", "wsgi.url_scheme", "HTTP_HOST",
                "SERVER_NAME", "SERVER_PORT", "SCRIPT_NAME",
            )
        }
        real = self._values(lambda name: environ.get(_ENVIRON_KEYS[name]))
        if real["x_for"]:
            environ["REMOTE_ADDR"] = real["x_for"]
        if real["x_proto"]:
            environ["wsgi.url_scheme"] = real["x_proto"]
        host = real["x_host"]
        if host:
            environ["HTTP_HOST"] = environ["SERVER_NAME"] = host
            name, port = _split_host(host)
            if port is not None:
                environ["SERVER_NAME"], environ["SERVER_PORT"] = name, port
        port = real["x_port"]
        if port:
            current = environ.get("HTTP_HOST")
            if current:
                environ["HTTP_HOST"] = f"{_split_host(current)[0]}:{port}"
            environ["SERVER_PORT"] = port
        if real["x_prefix"]:
            environ["SCRIPT_NAME"] = real["x_prefix"]

    # -- crosswind -------------------------------------------------------------------

    async def handle(self, exchange: Exchange) -> None:
        """Serve *exchange* with the wrapped crosswind application, as the fields say.

        :param exchange: the request.
        """
        self.fix_exchange(exchange)
        await self.app.handle(exchange)

    def fix_exchange(self, exchange: Exchange) -> None:
        """Change *exchange*'s client, scheme, ``Host`` and root path as the fields say.

        :param exchange: the request.
        """
        headers = exchange.headers
        real = self._values(lambda name: _joined(headers, _FIELDS[name]))
        info = exchange.info
        changes: dict[str, Any] = {}
        if real["x_for"]:
            peer = info.peer
            changes["peer"] = (real["x_for"], peer[1] if isinstance(peer, tuple) else 0)
            changes["proxy"] = peer
        if real["x_proto"]:
            changes["forwarded_scheme"] = real["x_proto"]
        if real["x_prefix"]:
            changes["extra"] = {**info.extra, "root_path": real["x_prefix"].rstrip("/")}
        if changes:
            exchange.info = replace(info, **changes)
        host = real["x_host"] or _joined(headers, b"host")
        if real["x_port"] and host:
            host = f"{_split_host(host)[0]}:{real['x_port']}"
        if host and (real["x_host"] or real["x_port"]):
            value = host.encode("latin-1")
            exchange.headers = [(n, value) for n, v in headers if n == b"host"] or [(b"host", value)]
            exchange.headers += [(n, v) for n, v in headers if n != b"host"]


def _joined(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> str | None:
    """The fields called *name* joined with ``,`` (as a WSGI server joins them), or ``None``."""
    values = [value for key, value in headers if key == name]
    return b",".join(values).decode("latin-1") if values else None
