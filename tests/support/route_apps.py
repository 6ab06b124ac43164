"""Applications whose routes ``crosswind routes`` lists, built twice from one source.

``build(ns)`` runs with Flask's names and with crosswind's, so the same
application exists as ``flask_*`` (real Flask) and ``cw_*`` (crosswind.app),
and ``flask routes`` can be compared with ``python -m crosswind routes``.
The Tornado-style ``tornado_app`` and the mount ``combo`` have no Flask twin.
"""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import flask
from crosswind import app as cw
from crosswind.app import mount
from crosswind.web import Application, RequestHandler
from crosswind.websocket import WebSocketHandler

ROOT = str(Path(__file__).resolve().parent / "route_apps_root")


def _names(kind: str) -> types.SimpleNamespace:
    if kind == "flask":
        return types.SimpleNamespace(App=flask.Flask, Blueprint=flask.Blueprint)
    return types.SimpleNamespace(App=cw.App, Blueprint=cw.Blueprint)


def build(ns: types.SimpleNamespace) -> Any:
    app = ns.App("route_apps", root_path=ROOT, static_folder=None)

    @app.route("/")
    def index() -> str:
        return "index"

    @app.route("/post/<int:post_id>", methods=["GET", "POST", "DELETE"])
    def post(post_id: int) -> str:
        return "post"

    @app.route("/zeta", endpoint="a_first")
    def zeta() -> str:
        return "zeta"

    @app.route("/raw", methods=["OPTIONS", "PATCH"], provide_automatic_options=False)
    def raw() -> str:
        return "raw"

    admin = ns.Blueprint("admin", "route_apps", url_prefix="/admin")

    @admin.route("/users/<name>", methods=["PUT"])
    def user(name: str) -> str:
        return name

    @admin.route("/")
    def home() -> str:
        return "admin"

    app.register_blueprint(admin)

    @app.shell_context_processor
    def shell_names() -> dict[str, Any]:
        return {"answer": 42, "site": app.name}

    return app


def build_subdomains(ns: types.SimpleNamespace) -> Any:
    app = ns.App("route_subdomains", subdomain_matching=True, static_folder=None)
    app.config["SERVER_NAME"] = "example.com"

    @app.route("/", subdomain="<user>")
    def user_home(user: str) -> str:
        return user

    @app.route("/about")
    def about() -> str:
        return "about"

    @app.route("/api", subdomain="api", methods=["POST"])
    def api() -> str:
        return "api"

    return app


def build_hosts(ns: types.SimpleNamespace) -> Any:
    app = ns.App("route_hosts", host_matching=True, static_host="static.example", root_path=ROOT)

    @app.route("/", host="a.example")
    def a() -> str:
        return "a"

    @app.route("/b", host="<who>.b.example")
    def b(who: str) -> str:
        return who

    return app


def build_empty(ns: types.SimpleNamespace) -> Any:
    return ns.App("route_empty", static_folder=None)


BUILDERS = {"main": build, "subdomains": build_subdomains, "hosts": build_hosts, "empty": build_empty}

flask_main, cw_main = build(_names("flask")), build(_names("crosswind"))
flask_subdomains, cw_subdomains = build_subdomains(_names("flask")), build_subdomains(_names("crosswind"))
flask_hosts, cw_hosts = build_hosts(_names("flask")), build_hosts(_names("crosswind"))
flask_empty, cw_empty = build_empty(_names("flask")), build_empty(_names("crosswind"))


class MainHandler(RequestHandler):
    def get(self) -> None:
        self.write("main")


class ItemHandler(RequestHandler):
    async def get(self, ident: str) -> None:
        self.write(ident)

    async def delete(self, ident: str) -> None:
        self.set_status(204)


class EchoHandler(WebSocketHandler):
    def on_message(self, message: str | bytes) -> None:
        self.write_message(message)


tornado_app = Application([
    (r"/", MainHandler),
    (r"/items/([0-9]+)", ItemHandler, {}, "item"),
    (r"/echo", EchoHandler),
])
tornado_app.add_handlers(r"api\.example\.com", [(r"/v1/ping", MainHandler, {}, "ping")])

#: A Tornado-style application with the Flask-style one under /flask.
combo = mount(tornado_app, "/flask", cw_main)
