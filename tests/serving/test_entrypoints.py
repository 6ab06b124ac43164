"""Every kind of crosswind application offers ``.wsgi`` and ``.asgi``."""

import asyncio
from wsgiref.util import setup_testing_defaults
from wsgiref.validate import validator

import httpx
import pytest
from crosswind.app import App
from crosswind.mount import Mount
from crosswind.web import Application, RequestHandler


class Hello(RequestHandler):
    def get(self) -> None:
        self.write("tornado-style")


def flask_style() -> App:
    app = App(__name__)
    app.add_url_rule("/", "index", lambda: "flask-style")
    return app


APPS = {
    "Application": (lambda: Application([(r"/", Hello)]), "/", "tornado-style"),
    "App": (flask_style, "/", "flask-style"),
    "Mount": (lambda: Mount([("/f", flask_style()), ("", Application([(r"/", Hello)]))]),
              "/f/", "flask-style"),
}


@pytest.mark.parametrize("kind", APPS)
def test_wsgi_entry_point_serves_and_is_cached(kind: str) -> None:
    make, path, text = APPS[kind]
    app = make()
    assert app.wsgi is app.wsgi
    environ: dict = {"PATH_INFO": path, "QUERY_STRING": "", "SCRIPT_NAME": ""}
    setup_testing_defaults(environ)
    statuses = []
    result = validator(app.wsgi)(environ, lambda s, h, e=None: statuses.append(s))
    try:
        body = b"".join(result)
    finally:
        result.close()  # as every WSGI server must
    assert statuses == ["200 OK"] and body.decode() == text


@pytest.mark.parametrize("kind", APPS)
def test_asgi_entry_point_serves_and_is_cached(kind: str) -> None:
    make, path, text = APPS[kind]
    app = make()
    assert app.asgi is app.asgi

    async def fetch() -> httpx.Response:
        transport = httpx.ASGITransport(app=app.asgi)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get(path)

    response = asyncio.run(fetch())
    assert response.status_code == 200 and response.text == text
