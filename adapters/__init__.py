"""Adapters between crosswind applications and WSGI/ASGI servers, both directions.

* :func:`to_wsgi` / :func:`to_asgi`: serve a crosswind application with any
  WSGI or ASGI 3 server.
* :class:`WSGIContainer` / :class:`ASGIContainer`: serve a WSGI or ASGI
  application with a crosswind backend.

The submodules load on first use, so importing this package stays cheap.

The contract: like the backends, the adapters live outside the sans-IO core and
may use threads and event loops.  They hold no HTTP logic of their own: requests
become the core's :class:`~crosswind.protocol.exchange.Exchange`, and response
headers are vetted by the same rule as the response writer's
(:mod:`crosswind.grammar`).  They may import any layer of the core, but neither
framework: a Tornado-style or Flask-style application is just an application here.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .asgi import ASGIContainer, to_asgi
    from .wsgi import WSGIContainer, to_wsgi

__all__ = ["ASGIContainer", "WSGIContainer", "to_asgi", "to_wsgi"]

_HOMES = {
    "ASGIContainer": ".asgi",
    "to_asgi": ".asgi",
    "WSGIContainer": ".wsgi",
    "to_wsgi": ".wsgi",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home, __name__), name)
