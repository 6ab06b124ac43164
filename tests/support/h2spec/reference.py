"""The suite's application as ASGI, to run the cases against another server.

It serves what :class:`~tests.support.h2spec.harness.Target` expects: ``/``
answers with a body of 11 octets (the flow-control cases read it a few octets
at a time) and ``/echo`` reads the whole request body before it answers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["app"]

Message = dict[str, Any]


async def app(
    scope: Message,
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    """Answer ``/`` with ``hello world`` and ``/echo`` with the request body.

    :param scope: the connection scope.
    :param receive: the request's messages.
    :param send: the response's messages.
    """
    if scope["type"] != "http":
        return
    body = b"hello world"
    if scope["path"] == "/echo":
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"text/plain"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
