"""A JSON API of notes for the signed-in user.

Errors are JSON too, and ``async def`` views work on every backend as
long as they await nothing that needs a particular event loop.
"""

from __future__ import annotations

from typing import Any

from crosswind.app import Blueprint, MethodView, abort, current_app, g, jsonify, request, session
from crosswind.app.exceptions import HTTPException

__all__ = ["api"]

api = Blueprint("api", __name__)


@api.before_request
def require_login() -> Any:
    g.user = session.get("user")
    if g.user is None:
        return {"error": "sign in first"}, 401
    return None


@api.errorhandler(HTTPException)
def json_error(error: HTTPException) -> Any:
    return {"error": error.name, "status": error.code}, error.code or 500


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
            abort(404)
        return note

    def post(self) -> Any:
        data = request.get_json(silent=True) or {}
        text = data.get("text")
        if not isinstance(text, str) or not text.strip():
            return {"error": "a non-empty 'text' is required"}, 400
        return current_app.extensions["notes"].add(g.user, text.strip()), 201

    def delete(self, note_id: int) -> Any:
        if not current_app.extensions["notes"].delete(g.user, note_id):
            abort(404)
        return "", 204


notes_view = NotesAPI.as_view("notes")
api.add_url_rule("/notes", view_func=notes_view, methods=["GET", "POST"])
api.add_url_rule("/notes/<int:note_id>", view_func=notes_view, methods=["GET", "DELETE"])
