"""The benchmark views written once for Flask's API: real ``flask`` or ``crosswind.app``.

The same source builds the ``flask-waitress`` peer and the
``crosswind-flask-style-asyncio`` row, as :mod:`handlers` does for the
Tornado-style rows, so the two measure the framework and server, not two
different programs.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from scenarios import FORM_PATH, HELLO_BODY, user_payload

__all__ = ["create_app"]


def create_app(flask: ModuleType) -> Any:
    """An application answering every scenario, built with *flask*'s API.

    :param flask: the ``flask`` module or ``crosswind.app``.
    """
    app = flask.Flask(__name__)

    @app.get("/")
    def hello() -> Any:
        return flask.Response(HELLO_BODY, content_type="text/plain; charset=utf-8")

    @app.get("/users/<int:user_id>")
    def user(user_id: int) -> Any:
        fields = flask.request.args.get("fields", "").split(",")
        return flask.jsonify(user_payload(user_id, fields))

    @app.post(FORM_PATH)
    def form() -> Any:
        return flask.Response(
            str(len(flask.request.form)), content_type="text/plain; charset=utf-8"
        )

    return app
