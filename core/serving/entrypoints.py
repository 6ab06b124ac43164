"""``app.wsgi`` and ``app.asgi``: any crosswind application under other servers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..protocol.exchange import Application

__all__ = ["ServerEntryPoints"]


class ServerEntryPoints:
    """Mixin for applications: cached WSGI and ASGI adapters of ``self``.

    ``uvicorn mymod:app.asgi`` and ``waitress-serve mymod:app.wsgi`` then just
    work; gunicorn takes only a plain name, so write ``wsgi = app.wsgi`` in the
    module.  The adapters are imported on first use: they load a runtime,
    which the sans-IO core itself never does.
    """

    @property
    def wsgi(self: Application) -> Any:
        """This application as a PEP 3333 callable (see ``crosswind.adapters.to_wsgi``)."""
        adapter = self.__dict__.get("_wsgi_adapter")
        if adapter is None:
            from crosswind.adapters import to_wsgi

            adapter = self.__dict__["_wsgi_adapter"] = to_wsgi(self)
        return adapter

    @property
    def asgi(self: Application) -> Any:
        """This application as an ASGI 3 callable (see ``crosswind.adapters.to_asgi``)."""
        adapter = self.__dict__.get("_asgi_adapter")
        if adapter is None:
            from crosswind.adapters import to_asgi

            adapter = self.__dict__["_asgi_adapter"] = to_asgi(self)
        return adapter
