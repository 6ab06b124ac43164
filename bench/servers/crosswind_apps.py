"""The Tornado-style benchmark app as WSGI and ASGI callables, for peer servers.

Usage: ``uvicorn crosswind_apps:asgi --app-dir bench/servers`` or
``gunicorn --chdir bench/servers crosswind_apps:wsgi``.
"""

from __future__ import annotations

from typing import Any

import crosswind.web
from handlers import routes

__all__ = ["app", "asgi", "wsgi"]

#: The ``crosswind.web`` application the ``crosswind-<backend>`` rows serve natively.
app = crosswind.web.Application(routes(crosswind.web))
#: It as an ASGI 3 callable (``crosswind.adapters.to_asgi``).
asgi: Any = app.asgi
#: It as a PEP 3333 callable (``crosswind.adapters.to_wsgi``).
wsgi: Any = app.wsgi
