"""A Flask-style application that reports what it received of a request body.

Each view answers JSON with the size and SHA-256 of what it read, so a test
can check the bytes went through whole and in order.  ``/sum`` reads
``request.stream`` in a plain view, ``/asum`` and ``/aiter`` in async views,
``/upload`` and ``/aupload`` read ``request.files``; ``/gated`` and
``/agated`` wait for :data:`GATE` before they read a byte, for the
back-pressure tests.  ``wsgi`` is the application under a WSGI server
(gunicorn imports ``tests.support.upload_app:wsgi``).
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from typing import Any

from crosswind.adapters._runtime import current_library
from crosswind.app import App, request

__all__ = ["GATE", "make_app", "wsgi"]

#: Opened by a test to let the gated views start reading.
GATE = threading.Event()
_READ = 64 * 1024
_GATE_TIMEOUT = 10.0


def _report(size: int, digest: Any, **extra: Any) -> dict[str, Any]:
    return {"size": size, "sha256": digest.hexdigest(), **extra}


async def _sleep(seconds: float) -> None:
    if current_library() == "trio":
        import trio

        await trio.sleep(seconds)
    else:
        import asyncio

        await asyncio.sleep(seconds)


def _file_report(name: str) -> dict[str, Any]:
    upload = request.files[name]
    digest = hashlib.sha256()
    size = 0
    while chunk := upload.read(_READ):
        digest.update(chunk)
        size += len(chunk)
    # A spooled file that rolled over to disk has a descriptor for a name.
    on_disk = isinstance(getattr(upload.stream, "name", None), int)
    return _report(size, digest, on_disk=on_disk, fields=request.form.to_dict())


def make_app(**config: Any) -> App:
    """The application, with *config* applied to ``app.config``.

    :param config: settings such as ``MAX_CONTENT_LENGTH``.
    """
    app = App(__name__)
    app.config.update(config)

    @app.post("/sum")
    def sum_view() -> Any:
        digest = hashlib.sha256()
        size = 0
        while chunk := request.stream.read(_READ):
            digest.update(chunk)
            size += len(chunk)
        return _report(size, digest)

    @app.post("/asum")
    async def asum_view() -> Any:
        digest = hashlib.sha256()
        size = 0
        while chunk := await request.stream.read(_READ):
            digest.update(chunk)
            size += len(chunk)
        return _report(size, digest)

    @app.post("/aiter")
    async def aiter_view() -> Any:
        digest = hashlib.sha256()
        size = 0
        async for chunk in request.stream:
            digest.update(chunk)
            size += len(chunk)
        return _report(size, digest)

    @app.post("/lines")
    def lines_view() -> Any:
        return {"lines": [line.decode() for line in request.stream]}

    @app.post("/data")
    def data_view() -> Any:
        data = request.get_data()
        return _report(len(data), hashlib.sha256(data))

    @app.post("/adata")
    async def adata_view() -> Any:
        data = request.get_data()
        return _report(len(data), hashlib.sha256(data))

    @app.post("/json")
    async def json_view() -> Any:
        return {"json": request.get_json()}

    @app.post("/upload")
    def upload_view() -> Any:
        return _file_report("f")

    @app.post("/aupload")
    async def aupload_view() -> Any:
        return _file_report("f")

    @app.post("/form")
    def form_view() -> Any:
        return {"form": request.form.to_dict(flat=False)}

    @app.post("/gated")
    def gated_view() -> Any:
        GATE.wait(_GATE_TIMEOUT)
        return sum_view()

    @app.post("/agated")
    async def agated_view() -> Any:
        deadline = time.monotonic() + _GATE_TIMEOUT
        while not GATE.is_set() and time.monotonic() < deadline:
            await _sleep(0.01)
        return await asum_view()

    return app


#: For WSGI servers; ``UPLOAD_MAX_CONTENT_LENGTH`` in the environment sets the limit.
wsgi = make_app(
    MAX_CONTENT_LENGTH=int(os.environ["UPLOAD_MAX_CONTENT_LENGTH"])
    if "UPLOAD_MAX_CONTENT_LENGTH" in os.environ
    else None
).wsgi
