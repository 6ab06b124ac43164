"""A Tornado-style blog on crosswind: signed-cookie login, XSRF-protected forms,
Jinja2 templates, static files.  See :mod:`examples.blog.app`."""

from .app import blog_routes, blog_settings, make_blog_app

__all__ = ["blog_routes", "blog_settings", "make_blog_app"]
