"""The benchmark scenarios as a Starlette app, for uvicorn.

Usage: ``uvicorn starlette_app:app --app-dir bench/servers --http h11``.
"""

from __future__ import annotations

from scenarios import FORM_PATH, HELLO_BODY, PARAMS_PATH, user_payload
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

__all__ = ["app"]


async def hello(request: Request) -> Response:
    """``GET /``: the fixed greeting.

    :param request: the request.
    """
    return PlainTextResponse(HELLO_BODY)


async def user(request: Request) -> Response:
    """``GET /users/{user_id}``: the JSON document built from path and query.

    :param request: the request.
    """
    fields = request.query_params.get("fields", "").split(",")
    return JSONResponse(user_payload(request.path_params["user_id"], fields))


async def form(request: Request) -> Response:
    """``POST /form``: the number of fields in the urlencoded body.

    :param request: the request.
    """
    data = await request.form()
    return PlainTextResponse(str(len(data)))


app = Starlette(
    routes=[
        Route("/", hello),
        Route(PARAMS_PATH.replace("{user_id}", "{user_id:int}"), user),
        Route(FORM_PATH, form, methods=["POST"]),
    ]
)
