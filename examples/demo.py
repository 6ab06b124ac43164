"""The demo app that `make demo` serves: a page and a JSON endpoint.

Run it with ``python -m crosswind serve examples.demo:app`` (add
``--backend trio`` or ``--backend threads`` to switch runtimes).
"""

from __future__ import annotations

import platform

from crosswind.web import Application, RequestHandler

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>crosswind demo</title></head>
<body>
<h1>crosswind is running</h1>
<p>A sans-IO HTTP/1.1 core with Tornado-style handlers.</p>
<ul>
<li><a href="/api/info">/api/info</a> &mdash; a JSON endpoint</li>
<li><a href="/api/echo?name=world">/api/echo?name=world</a> &mdash; query arguments</li>
</ul>
</body></html>
"""


class IndexHandler(RequestHandler):
    def get(self) -> None:
        self.write(PAGE)


class InfoHandler(RequestHandler):
    def get(self) -> None:
        self.write({"server": "crosswind", "python": platform.python_version()})


class EchoHandler(RequestHandler):
    def get(self) -> None:
        self.write({"hello": self.get_argument("name", "world")})

    def post(self) -> None:
        self.write({"hello": self.get_argument("name")})


def make_app() -> Application:
    return Application(
        [
            (r"/", IndexHandler),
            (r"/api/info", InfoHandler),
            (r"/api/echo", EchoHandler),
        ]
    )


app = make_app()
