"""One server for Flask-style and Tornado-style applications: crosswind.mount.Mount,
crosswind.app.mount, App.mount and Tornado's FallbackHandler."""

from __future__ import annotations

from typing import Any

import pytest
from crosswind.app import App, mount, redirect, request, url_for
from crosswind.mount import Mount, MountedExchange, match_prefix
from crosswind.testing import Client
from crosswind.web import Application, FallbackHandler, RequestHandler


def flask_style() -> App:
    app = App(__name__)
    app.secret_key = "mount"

    @app.route("/")
    def index() -> Any:
        return {"script_root": request.script_root, "path": request.path,
                "url": request.url, "home": url_for("index"), "hello": url_for("hello", name="x")}

    @app.route("/hello/<name>")
    def hello(name: str) -> str:
        return f"flask says hello {name}"

    @app.route("/go")
    def go() -> Any:
        return redirect(url_for("hello", name="there"))

    @app.route("/slash/")
    def slash() -> str:
        return "slash"

    return app


class PathHandler(RequestHandler):
    def get(self, rest: str = "") -> None:
        self.write({"tornado_path": self.request.path, "rest": rest})


def tornado_style() -> Application:
    return Application([(r"/(.*)", PathHandler)])


def test_match_prefix_is_segment_aware() -> None:
    assert match_prefix("/api", "/api") and match_prefix("/api/x", "/api")
    assert not match_prefix("/apix", "/api") and match_prefix("/anything", "")


def test_mount_helper_puts_flask_under_a_prefix() -> None:
    client = Client(mount(tornado_style(), "/flask", flask_style()))
    response = client.get("/flask/")
    assert response.json() == {
        "script_root": "/flask", "path": "/", "url": "http://testserver/flask/",
        "home": "/flask/", "hello": "/flask/hello/x",
    }
    assert client.get("/flask/hello/bob").text == "flask says hello bob"
    assert client.get("/flask/go").headers["Location"] == "/flask/hello/there"
    redirected = client.get("/flask/slash")
    assert redirected.status_code == 308
    assert redirected.headers["Location"] == "http://testserver/flask/slash/"
    assert client.get("/elsewhere").json() == {"tornado_path": "/elsewhere", "rest": "elsewhere"}
    assert client.get("/flaskish").json()["tornado_path"] == "/flaskish"


def test_app_mount_puts_tornado_under_a_prefix() -> None:
    app = flask_style()
    app.mount("/legacy", tornado_style())
    client = Client(app)
    assert client.get("/legacy/users/1").json() == {"tornado_path": "/users/1", "rest": "users/1"}
    assert client.get("/legacy").json() == {"tornado_path": "/", "rest": ""}
    assert client.get("/hello/ann").text == "flask says hello ann"
    with pytest.raises(ValueError):
        app.mount("legacy", tornado_style())


def test_flask_style_app_as_tornado_fallback() -> None:
    flask_app = flask_style()
    tornado = Application([(r"/t/(.*)", PathHandler), (r".*", FallbackHandler, {"fallback": flask_app})])
    client = Client(tornado)
    assert client.get("/t/x").json() == {"tornado_path": "/t/x", "rest": "x"}
    assert client.get("/hello/zoe").text == "flask says hello zoe"


def test_mount_dispatch_order_and_errors() -> None:
    inner = flask_style()
    outer = Mount([("/a", tornado_style()), ("/a/b/", inner)])
    client = Client(outer)
    assert client.get("/a/b/hello/q").text == "flask says hello q"
    assert client.get("/a/c").json()["tornado_path"] == "/c"
    assert client.get("/zzz").status_code == 404
    with pytest.raises(ValueError):
        Mount([("/x", inner), ("/x/", inner)])
    with pytest.raises(ValueError):
        Mount([("x", inner)])


def test_nested_mounts_accumulate_the_root_path() -> None:
    app = flask_style()
    client = Client(Mount([("/outer", Mount([("/inner", app)]))]))
    assert client.get("/outer/inner/").json()["script_root"] == "/outer/inner"


def test_mounted_exchange_forwards_writes() -> None:
    class Recorder:
        path = "/p/rest"
        query = "q=1"
        status = 0

    recorder = Recorder()
    mounted = MountedExchange(recorder, "/p")  # type: ignore[arg-type]
    assert (mounted.path, mounted.target, mounted.root_path) == ("/rest", "/rest?q=1", "/p")
    mounted.status = 201
    assert recorder.status == 201


def test_app_is_a_wsgi_application_with_script_name() -> None:
    from werkzeug.test import Client as WSGIClient

    app = flask_style()

    @app.route("/env")
    def env() -> Any:
        return {"custom": request.environ.get("custom.key"), "script": request.environ["SCRIPT_NAME"]}

    def middleware(environ: dict[str, Any], start_response: Any) -> Any:
        environ["custom.key"] = "from middleware"
        return wrapped(environ, start_response)

    wrapped = app.wsgi_app
    app.wsgi_app = middleware  # type: ignore[method-assign]
    client = WSGIClient(app)
    response = client.get("/", environ_overrides={"SCRIPT_NAME": "/mnt"})
    assert response.json["script_root"] == "/mnt" and response.json["hello"] == "/mnt/hello/x"
    assert client.get("/env").json == {"custom": "from middleware", "script": ""}


def test_app_is_an_asgi_application() -> None:
    import asyncio

    import httpx

    async def main() -> Any:
        transport = httpx.ASGITransport(app=flask_style().asgi)
        async with httpx.AsyncClient(transport=transport, base_url="http://asgi.test") as client:
            return (await client.get("/hello/asgi")).text

    assert asyncio.run(main()) == "flask says hello asgi"
