"""The application factory: configuration, blueprints, the home page."""

from __future__ import annotations

import os
from typing import Any

from crosswind.app import App, render_template, session

from .api import api, json_errors_under
from .auth import auth
from .chat import MAX_MESSAGE_SIZE, Room, chat
from .compress import compress_responses
from .store import NoteStore, UserStore

__all__ = ["create_app"]


def create_app(config: dict[str, Any] | None = None) -> App:
    """Build the application.

    :param config: settings that override the defaults and the
        ``FLASK_STYLE_*`` environment variables (``FLASK_STYLE_SECRET_KEY``...).
    """
    app = App(__name__)
    app.config.from_mapping(
        # Only for trying the example out: set FLASK_STYLE_SECRET_KEY in any real deployment.
        SECRET_KEY=os.environ.get("FLASK_STYLE_SECRET_KEY") or os.urandom(32).hex(),
        SESSION_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=64 * 1024,
        # Sessions are cookies, so only this site's pages may open WebSockets here.
        WEBSOCKET_ALLOWED_ORIGINS="same-origin",
        WEBSOCKET_MAX_MESSAGE_SIZE=MAX_MESSAGE_SIZE,
    )
    app.config.from_prefixed_env("FLASK_STYLE")
    if config:
        app.config.from_mapping(config)
    app.extensions["users"] = UserStore({"demo": "demo-password"})
    app.extensions["notes"] = NoteStore()
    app.extensions["chat"] = Room()
    app.register_blueprint(auth, url_prefix="/auth")
    app.register_blueprint(api, url_prefix="/api")
    json_errors_under(app, "/api")
    compress_responses(app)
    app.register_blueprint(chat, url_prefix="/chat")

    @app.route("/")
    def index() -> str:
        user = session.get("user")
        notes = app.extensions["notes"].for_owner(user) if user else []
        return render_template("index.html", user=user, notes=notes)

    return app
