"""A JSON API of notes for the signed-in user.

Errors are JSON too: ``{"error": reason, "status": code, "message": detail}``,
from the views here and, through :func:`json_errors_under`, for URLs under
the API that match no rule or no method (a blueprint's own error handlers
never see those, as in Flask).  ``async def`` views work on every backend as
long as they await nothing that needs a particular event loop.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from crosswind.app import (
    App,
    Blueprint,
    MethodView,
    abort,
    current_app,
    g,
    jsonify,
    request,
    session,
)
from crosswind.app.exceptions import HTTPException

__all__ = ["api", "json_errors_under"]

api = Blueprint("api", __name__)


@api.before_request
def require_login() -> Any:
    g.user = session.get("user")
    if g.user is None:
        return error_body(401, "sign in first")
    return None


def error_body(code: int, message: str) -> tuple[dict[str, Any], int]:
    """A JSON error response: the reason phrase, the status and what went wrong.

    :param code: the HTTP status.
    :param message: a sentence for the caller, which must not echo the request.
    """
    return {"error": HTTPStatus(code).phrase, "status": code, "message": message}, code


def json_error(error: HTTPException) -> Any:
    """*error* as JSON, keeping its headers (``Allow`` on a 405).

    :param error: the HTTP error raised by a view or by routing.
    """
    code = error.code or 500
    body, _ = error_body(code, error.description or error.name)
    return body, code, [(k, v) for k, v in error.get_headers() if k.lower() != "content-type"]


api.register_error_handler(HTTPException, json_error)


def json_errors_under(app: App, prefix: str) -> None:
    """Answer routing errors (404, 405) under *prefix* in JSON, like the API's own errors.

    :param app: the application the API blueprint is registered on.
    :param prefix: the blueprint's URL prefix, e.g. ``/api``.
    """

    def handle(error: HTTPException) -> Any:
        if request.path == prefix or request.path.startswith(prefix + "/"):
            return json_error(error)
        return error

    app.register_error_handler(HTTPException, handle)


@api.route("/whoami")
async def whoami() -> Any:
    return {"user": g.user, "notes": len(current_app.extensions["notes"].for_owner(g.user))}


class NotesAPI(MethodView):
    def get(self, note_id: int | None = None) -> Any:
        notes = current_app.extensions["notes"]
        if note_id is None:
            return jsonify(notes.for_owner(g.user))
        note = notes.get(g.user, note_id)
        if note is None:
            abort(404, "there is no note with that id")
        return note

    def post(self) -> Any:
        data = request.get_json(silent=True)
        # Any JSON value parses: a list or a string is the caller's mistake, not ours.
        if not isinstance(data, dict):
            return error_body(400, 'the body must be a JSON object such as {"text": "..."}')
        text = data.get("text")
        if not isinstance(text, str) or not text.strip():
            return error_body(400, "a non-empty 'text' is required")
        return current_app.extensions["notes"].add(g.user, text.strip()), 201

    def delete(self, note_id: int) -> Any:
        if not current_app.extensions["notes"].delete(g.user, note_id):
            abort(404, "there is no note with that id")
        return "", 204


notes_view = NotesAPI.as_view("notes")
api.add_url_rule("/notes", view_func=notes_view, methods=["GET", "POST"])
api.add_url_rule("/notes/<int:note_id>", view_func=notes_view, methods=["GET", "DELETE"])
