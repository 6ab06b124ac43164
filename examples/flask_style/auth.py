"""Signing in and out: a session login with flashed messages."""

from __future__ import annotations

from typing import Any

from crosswind.app import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

__all__ = ["auth"]

auth = Blueprint("auth", __name__)


@auth.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "POST":
        name = request.form.get("username", "")
        password = request.form.get("password", "")
        if current_app.extensions["users"].check(name, password):
            session.clear()
            session["user"] = name
            session.permanent = bool(request.form.get("remember"))
            flash(f"Welcome, {name}!", "success")
            return redirect(url_for("index"))
        flash("Wrong username or password.", "error")
        return render_template("login.html"), 401
    return render_template("login.html")


@auth.route("/logout", methods=["POST"])
def logout() -> Any:
    session.pop("user", None)
    flash("You are signed out.", "info")
    return redirect(url_for("index"))
