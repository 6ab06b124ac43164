"""A Flask-style example application on crosswind.

It is ordinary Flask code with ``from crosswind.app import ...``: a blueprint
for signing in (session login, flashed messages, templates), a blueprint
for a small JSON API of notes, and a live chat over a WebSocket view
(:mod:`examples.flask_style.chat`).  Serve it alone with
``python -m crosswind serve examples.flask_style:app`` or mounted next to the
Tornado-style demo (see ``examples/demo.py``).
"""

from __future__ import annotations

from .app import create_app

__all__ = ["app", "create_app"]

app = create_app()
