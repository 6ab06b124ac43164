"""The demo app that `make demo` serves: a page, JSON endpoints, the blog and the chats.

Run it with ``python -m crosswind serve examples.demo:app`` (add
``--backend trio`` or ``--backend threads`` to switch runtimes).  The
Tornado-style blog of :mod:`examples.blog` lives under ``/blog/`` and the
Tornado-style chat of :mod:`examples.chat` under ``/chat/``; the Flask-style
application of :mod:`examples.flask_style`, with its own chat at
``/flask/chat/``, is mounted under ``/flask/`` on the same server.
"""

from __future__ import annotations

import platform

from crosswind.app import mount
from crosswind.mount import Mount
from crosswind.web import Application, RequestHandler

from examples.blog import blog_routes, blog_settings
from examples.chat import chat_routes
from examples.flask_style import create_app as create_flask_style_app

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>crosswind demo</title></head>
<body>
<h1>crosswind is running</h1>
<p>A sans-IO HTTP/1.1 core with Tornado-style handlers.</p>
<ul>
<li><a href="/blog/">/blog/</a> &mdash; a Tornado-style blog: log in, write a post</li>
<li><a href="/flask/">/flask/</a> &mdash; a Flask-style app: sign in, flashed messages, a JSON notes API</li>
<li><a href="/chat/">/chat/</a> &mdash; a live chat over a Tornado-style WebSocketHandler</li>
<li><a href="/flask/chat/">/flask/chat/</a> &mdash; the same chat as a Flask-style <code>@websocket</code> view</li>
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
    # A JSON API called by scripts, not by forms: exempt from the blog's XSRF check.
    def check_xsrf_cookie(self) -> None:
        pass

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
            (r"/blog", RedirectToBlog),
            *blog_routes("/blog"),
            (r"/chat", RedirectToChat),
            *chat_routes("/chat"),
        ],
        **blog_settings("/blog"),
    )


class RedirectToBlog(RequestHandler):
    def get(self) -> None:
        self.redirect("/blog/", permanent=True)


class RedirectToChat(RequestHandler):
    def get(self) -> None:
        self.redirect("/chat/", permanent=True)


def make_demo() -> Mount:
    """The Tornado-style demo with the Flask-style example mounted under ``/flask``."""
    return mount(make_app(), "/flask", create_flask_style_app())


app = make_demo()
