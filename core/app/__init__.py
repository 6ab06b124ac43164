"""Flask 3's programming model on the crosswind core.

Replace ``from flask import ...`` with ``from crosswind.app import ...``
(``App`` is ``Flask``; ``Flask`` is also exported as an alias) and the
application runs on crosswind's asyncio, trio and threads backends, with
``async def`` views and WebSocket views (``@app.websocket``), and can share
a server with Tornado-style handlers (:meth:`App.mount`, :func:`mount`).
``docs/porting-from-flask.md`` lists what differs.

The contract: this layer builds on the building blocks, the protocol, routing,
serving (:meth:`App.run`), :mod:`crosswind.testing` (the test client's parser)
and :mod:`crosswind.mount`.  It never imports the Tornado-style layer
(:mod:`crosswind.web`); its test client runs the app on the in-memory backend,
which it imports only when a request is made.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape

from ..mount import Mount
from . import json
from .app import App, Config
from .blueprints import Blueprint, BlueprintSetupState
from .ctx import (
    AppContext,
    RequestContext,
    after_this_request,
    copy_current_request_context,
    current_app,
    g,
    has_app_context,
    has_request_context,
    request,
    session,
)
from .exceptions import HTTPException, abort
from .helpers import (
    flash,
    get_flashed_messages,
    make_response,
    redirect,
    safe_join,
    send_file,
    send_from_directory,
    stream_with_context,
    url_for,
)
from .json import jsonify
from .proxy_fix import ProxyFix
from .sessions import (
    NullSession,
    SecureCookieSession,
    SecureCookieSessionInterface,
    SessionInterface,
)
from .signals import (
    Namespace,
    Signal,
    appcontext_popped,
    appcontext_pushed,
    appcontext_tearing_down,
    before_render_template,
    got_request_exception,
    message_flashed,
    request_finished,
    request_started,
    request_tearing_down,
    template_rendered,
)
from .templating import (
    get_template_attribute,
    render_template,
    render_template_string,
    stream_template,
    stream_template_string,
)
from .testing import AppClient
from .views import MethodView, View
from .websocket import BlockingWebSocket, WebSocket, WebSocketDisconnect, websocket
from .wrappers import FileStorage, Request, Response

__all__ = [
    "App",
    "AppClient",
    "AppContext",
    "BlockingWebSocket",
    "Blueprint",
    "BlueprintSetupState",
    "Config",
    "FileStorage",
    "Flask",
    "HTTPException",
    "Markup",
    "MethodView",
    "Mount",
    "Namespace",
    "NullSession",
    "ProxyFix",
    "Request",
    "RequestContext",
    "Response",
    "SecureCookieSession",
    "SecureCookieSessionInterface",
    "SessionInterface",
    "Signal",
    "View",
    "WebSocket",
    "WebSocketDisconnect",
    "abort",
    "after_this_request",
    "appcontext_popped",
    "appcontext_pushed",
    "appcontext_tearing_down",
    "before_render_template",
    "copy_current_request_context",
    "current_app",
    "escape",
    "flash",
    "g",
    "get_flashed_messages",
    "get_template_attribute",
    "got_request_exception",
    "has_app_context",
    "has_request_context",
    "json",
    "jsonify",
    "make_response",
    "message_flashed",
    "mount",
    "redirect",
    "render_template",
    "render_template_string",
    "request",
    "request_finished",
    "request_started",
    "request_tearing_down",
    "safe_join",
    "send_file",
    "send_from_directory",
    "session",
    "stream_template",
    "stream_template_string",
    "stream_with_context",
    "template_rendered",
    "url_for",
    "websocket",
]

#: For code that says ``Flask(__name__)``.
Flask = App


def mount(application: Any, prefix: str, app: Any) -> Mount:
    """Serve *app* under *prefix* next to *application* (which gets the rest).

    ``mount(tornado_application, "/flask", flask_app)`` returns one
    application for the server: ``/flask/...`` goes to *app* (its
    ``request.script_root`` is ``/flask``), everything else to *application*.

    :param application: the application serving every other path.
    :param prefix: where *app* lives, starting with ``/``.
    :param app: the mounted application.
    :raises ValueError: for a prefix not starting with ``/``.
    """
    if not prefix.rstrip("/"):
        raise ValueError("mount prefix must not be empty; serve the application directly")
    return Mount([(prefix, app), ("", application)])
