"""The demo app that `make demo` serves: a page, JSON endpoints, the blog and the chats.

Run it with ``python -m crosswind serve examples.demo:app`` (add
``--backend trio`` or ``--backend threads`` to switch runtimes).  The
Tornado-style blog of :mod:`examples.blog` lives under ``/blog/`` and the
Tornado-style chat of :mod:`examples.chat` under ``/chat/``; the Flask-style
application of :mod:`examples.flask_style`, with its own chat at
``/flask/chat/``, is mounted under ``/flask/`` on the same server.

Responses are gzip-compressed for clients that accept it
(``compress_response``); ``/favicon.ico`` comes from the blog's ``static/``
folder, which is the application's ``static_path``, as Tornado does it.
The JSON endpoints under ``/api/`` answer their errors in JSON.
"""

from __future__ import annotations

import json
import platform
from typing import Any

from crosswind.app import mount
from crosswind.mount import Mount
from crosswind.web import (
    Application,
    HTTPError,
    MissingArgumentError,
    RequestHandler,
)

from examples.blog import blog_routes, blog_settings
from examples.chat import chat_routes
from examples.flask_style import create_app as create_flask_style_app

# The blog's stylesheet (the application's static_path), so the index looks like the apps it lists.
PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>crosswind demo</title>
<link rel="stylesheet" href="{stylesheet}">
</head>
<body>
<header>
  <a class="brand" href="/">crosswind demo</a>
  <nav><a href="/blog/">Blog</a> <a href="/flask/">Notes</a> <a href="/chat/">Chat</a></nav>
</header>
<main>
<h1>crosswind is running</h1>
<p>A sans-IO HTTP/1.1 core with Tornado-style and Flask-style applications, served side by side.</p>
<ul class="apps">
<li><a href="/blog/">/blog/</a> &mdash; a Tornado-style blog: log in, write a post</li>
<li><a href="/flask/">/flask/</a> &mdash; a Flask-style app: sign in, flashed messages, a JSON notes API</li>
<li><a href="/chat/">/chat/</a> &mdash; a live chat over a Tornado-style WebSocketHandler</li>
<li><a href="/flask/chat/">/flask/chat/</a> &mdash; the same chat as a Flask-style <code>@websocket</code> view</li>
<li><a href="/api/info">/api/info</a> &mdash; a JSON endpoint</li>
<li><a href="/api/echo?name=world">/api/echo?name=world</a> &mdash; query arguments</li>
</ul>
<p class="hint">Responses are gzip-compressed for clients that accept it; JSON endpoints answer errors in JSON.</p>
</main>
</body>
</html>
"""


class IndexHandler(RequestHandler):
    def get(self) -> None:
        self.write(PAGE.format(stylesheet=self.static_url("blog.css")))


class JSONHandler(RequestHandler):
    """A JSON endpoint whose errors are JSON too: the reason phrase, the status, a message."""

    # Called by scripts, not by forms: exempt from the blog's XSRF check.
    def check_xsrf_cookie(self) -> None:
        pass

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        error = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(error, MissingArgumentError):
            message = f"the argument {error.arg_name!r} is required"
        elif status_code == 405:
            allowed = [m for m in self.SUPPORTED_METHODS if getattr(type(self), m.lower()) is not getattr(RequestHandler, m.lower())]
            self.set_header("Allow", ", ".join(allowed))
            message = "the Allow header lists the methods this URL answers"
        elif status_code == 404:
            message = "there is nothing at this URL"
        else:
            message = self._reason
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(json.dumps({"error": self._reason, "status": status_code, "message": message}))


class NoSuchEndpoint(JSONHandler):
    """Any other URL under ``/api/``: a 404 in JSON rather than the HTML page."""

    def prepare(self) -> None:
        raise HTTPError(404)


class InfoHandler(JSONHandler):
    def get(self) -> None:
        self.write({"server": "crosswind", "python": platform.python_version()})


class EchoHandler(JSONHandler):
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
            (r"/api/.*", NoSuchEndpoint),
            (r"/blog", RedirectToBlog),
            *blog_routes("/blog"),
            (r"/chat", RedirectToChat),
            *chat_routes("/chat"),
        ],
        # Gzip for clients that accept it; every response says Vary: Accept-Encoding.
        compress_response=True,
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
