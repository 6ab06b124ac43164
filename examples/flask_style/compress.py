"""Gzip for the Flask-style application, as ``compress_response`` does for the Tornado-style one.

Flask itself leaves compression to an extension (Flask-Compress) or to the
proxy in front; the example does it in an ``after_request`` hook so that a
browser opening the demo receives gzip from both halves.  Only bodies held
in memory are compressed: a streamed or passed-through body (a static file,
which may answer a Range request) is sent as it is.
"""

from __future__ import annotations

import gzip

from crosswind.accept import accepts_encoding
from crosswind.app import App, Response, request

__all__ = ["compress_responses"]

#: Text-like media types besides ``text/*``.
COMPRESSIBLE = frozenset(
    {"application/json", "application/javascript", "application/xml", "image/svg+xml"}
)
#: Below this many bytes the gzip framing outweighs the saving.
MIN_LENGTH = 1024


def compress_responses(app: App, level: int = 6) -> None:
    """Gzip text-like responses of *app* for clients that accept it.

    Every response gets ``Vary: Accept-Encoding``, so that a cache never
    hands the compressed copy to a client that cannot read it.

    :param app: the application.
    :param level: the zlib level (6 is the gzip tool's default balance).
    """

    @app.after_request
    def gzip_body(response: Response) -> Response:
        response.vary.add("Accept-Encoding")
        mimetype = response.mimetype or ""
        if (
            response.direct_passthrough
            or response.is_streamed
            or response.status_code in (204, 206, 304)
            or "Content-Encoding" in response.headers
            or not (mimetype.startswith("text/") or mimetype in COMPRESSIBLE)
            or not accepts_encoding(request.headers.get("Accept-Encoding"), "gzip")
        ):
            return response
        body = response.get_data()
        if len(body) < MIN_LENGTH:
            return response
        # mtime=0: equal bodies compress to equal bytes.
        response.set_data(gzip.compress(body, level, mtime=0))
        response.headers["Content-Encoding"] = "gzip"
        return response
