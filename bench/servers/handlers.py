"""The benchmark's ``RequestHandler`` classes, written once for any Tornado-style ``web`` module.

The same source runs on ``crosswind.web`` and on ``tornado.web``: that is the
compatibility the project promises, and it keeps the comparison honest.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from scenarios import FORM_PATH, HELLO_BODY, user_payload

__all__ = ["routes"]


def routes(web: ModuleType) -> list[tuple[str, Any]]:
    """The URL specs of every scenario, with handlers subclassing ``web.RequestHandler``.

    :param web: ``crosswind.web`` or ``tornado.web``.
    """

    class HelloHandler(web.RequestHandler):  # type: ignore[name-defined,misc]
        def get(self) -> None:
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.write(HELLO_BODY)

    class UserHandler(web.RequestHandler):  # type: ignore[name-defined,misc]
        def get(self, user_id: str) -> None:
            fields = self.get_query_argument("fields", "").split(",")
            self.write(user_payload(int(user_id), fields))

    class FormHandler(web.RequestHandler):  # type: ignore[name-defined,misc]
        def post(self) -> None:
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.write(str(len(self.request.body_arguments)))

    return [
        (r"/", HelloHandler),
        (r"/users/([0-9]+)", UserHandler),
        (FORM_PATH, FormHandler),
    ]
