"""The blog: written exactly as a Tornado application, importing ``crosswind.web``.

* Readers see the posts at ``/blog/`` and each post at ``/blog/post/<id>``.
* ``/blog/compose`` is ``@authenticated``: anonymous visitors are sent to
  ``/blog/auth/login?next=...``.  Logging in sets a signed ``blog_user``
  cookie (``set_signed_cookie``), which ``get_current_user`` reads back.
* Every form carries ``{% module xsrf_form_html() %}``; with ``xsrf_cookies``
  on, a POST without the matching token is answered ``403``.
* Pages are Tornado templates under ``templates/``, in Tornado's own syntax
  (``{% end %}``, ``{% module Entry(post) %}``); real Tornado renders the same
  folder to the same bytes.  The stylesheet is served from ``static/`` through
  ``static_url`` (versioned, cached for a long time).

Run it alone with ``python -m examples.blog.app`` (port 8889), or through the
demo (``make demo``), which mounts it at ``/blog/``.
"""

from __future__ import annotations

import datetime
import hmac
import os
from dataclasses import dataclass, field
from typing import Any

from crosswind.web import Application, HTTPError, RequestHandler, UIModule, authenticated, url

__all__ = ["Post", "PostStore", "blog_routes", "blog_settings", "make_blog_app"]

HERE = os.path.dirname(os.path.abspath(__file__))

#: Demo accounts (a real blog would keep password hashes in a database).
USERS = {"alice": "wonderland", "bob": "builder"}


@dataclass
class Post:
    id: int
    title: str
    body: str
    author: str
    published: datetime.datetime = field(
        default_factory=lambda: datetime.datetime.now(datetime.UTC)
    )


class PostStore:
    """Posts in memory, newest first."""

    def __init__(self) -> None:
        self.posts: dict[int, Post] = {}
        self.add(
            "Welcome to the crosswind blog",
            "This blog is a Tornado application that imports crosswind.web instead "
            "of tornado.web. Log in as alice (password: wonderland) to write a post.",
            "alice",
        )

    def add(self, title: str, body: str, author: str) -> Post:
        post = Post(len(self.posts) + 1, title, body, author)
        self.posts[post.id] = post
        return post

    def latest(self, count: int = 20) -> list[Post]:
        return sorted(self.posts.values(), key=lambda p: p.id, reverse=True)[:count]


class BaseHandler(RequestHandler):
    def initialize(self, store: PostStore) -> None:
        self.store = store

    def get_current_user(self) -> str | None:
        name = self.get_signed_cookie("blog_user")
        return name.decode() if name else None


class HomeHandler(BaseHandler):
    def get(self) -> None:
        self.render("home.html", posts=self.store.latest())


class PostHandler(BaseHandler):
    def get(self, post_id: str) -> None:
        post = self.store.posts.get(int(post_id))
        if post is None:
            raise HTTPError(404)
        self.render("post.html", post=post)


class ComposeHandler(BaseHandler):
    @authenticated
    def get(self) -> None:
        self.render("compose.html", error=None)

    @authenticated
    def post(self) -> None:
        title = self.get_argument("title", "")
        body = self.get_argument("body", "")
        if not title or not body:
            self.set_status(400)
            self.render("compose.html", error="A post needs a title and a body.")
            return
        post = self.store.add(title, body, self.current_user)
        self.redirect(self.reverse_url("post", post.id))


class LoginHandler(BaseHandler):
    def get(self) -> None:
        self.render("login.html", error=None, next=self.get_argument("next", ""))

    def post(self) -> None:
        name = self.get_argument("username", "")
        password = self.get_argument("password", "")
        expected = USERS.get(name)
        if expected is None or not hmac.compare_digest(expected, password):
            self.set_status(403)
            self.render("login.html", error="Wrong name or password.", next=self.get_argument("next", ""))
            return
        self.set_signed_cookie("blog_user", name, httponly=True, samesite="Lax")
        target = self.get_argument("next", "")
        # Only local paths: "next" comes from the query string and must not
        # become an open redirect ("//evil.example", "https://...").
        if not target.startswith("/") or target.startswith("//") or "\\" in target:
            target = self.reverse_url("home")
        self.redirect(target)


class LogoutHandler(BaseHandler):
    def post(self) -> None:
        self.clear_cookie("blog_user")
        self.redirect(self.reverse_url("home"))


class Entry(UIModule):
    """One post in a list: ``{% module Entry(post) %}``."""

    def render(self, post: Post, full: bool = False) -> bytes:
        return self.render_string("entry.html", post=post, full=full)


def blog_routes(prefix: str = "/blog", store: PostStore | None = None) -> list[Any]:
    """The blog's routes under *prefix*.

    :param prefix: where the blog lives, without a trailing slash.
    :param store: where posts are kept (a fresh one by default).
    """
    args = {"store": store or PostStore()}
    return [
        url(prefix + r"/", HomeHandler, args, name="home"),
        url(prefix + r"/post/(\d+)", PostHandler, args, name="post"),
        url(prefix + r"/compose", ComposeHandler, args, name="compose"),
        url(prefix + r"/auth/login", LoginHandler, args, name="login"),
        url(prefix + r"/auth/logout", LogoutHandler, args, name="logout"),
    ]


def blog_settings(prefix: str = "/blog", **overrides: Any) -> dict[str, Any]:
    """The application settings the blog needs.

    :param prefix: as for :func:`blog_routes`.
    :param overrides: settings to add or change (``cookie_secret``, ``debug``, ...).
    """
    settings: dict[str, Any] = {
        # A fresh secret per process logs everyone out on restart, which is
        # fine for a demo; set CROSSWIND_BLOG_SECRET to keep sessions.
        "cookie_secret": os.environ.get("CROSSWIND_BLOG_SECRET") or os.urandom(32).hex(),
        "login_url": prefix + "/auth/login",
        "xsrf_cookies": True,
        "template_path": os.path.join(HERE, "templates"),
        "static_path": os.path.join(HERE, "static"),
        "static_url_prefix": prefix + "/static/",
        "ui_modules": {"Entry": Entry},
    }
    settings.update(overrides)
    return settings


def make_blog_app(prefix: str = "/blog", **settings: Any) -> Application:
    """The blog as an application of its own.

    :param prefix: as for :func:`blog_routes`.
    :param settings: as for :func:`blog_settings`.
    """
    return Application(blog_routes(prefix), **blog_settings(prefix, **settings))


if __name__ == "__main__":
    import logging

    logging.basicConfig(level=logging.INFO)
    make_blog_app().listen(8889)
