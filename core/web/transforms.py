"""Response transforms of Tornado-style applications (``compress_response``).

A transform sees the status, the headers and the first chunk of a response
before they are sent, and every later chunk; :class:`GZipContentEncoding`
is the one the ``compress_response`` setting installs.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

from ..accept import accepts_encoding
from ..headers import Headers
from ..mediatype import parse_content_type

if TYPE_CHECKING:
    from .request import HTTPServerRequest

__all__ = ["GZipContentEncoding", "OutputTransform"]


class OutputTransform:
    """A transform that changes nothing; subclass it.

    :param request: the request whose response is transformed.
    """

    def __init__(self, request: HTTPServerRequest) -> None:
        self.request = request

    def transform_first_chunk(
        self, status_code: int, headers: Headers, chunk: bytes, finishing: bool
    ) -> tuple[int, Headers, bytes]:
        """Change the status, headers and first body chunk.

        :param status_code: the status.
        :param headers: the response headers (may be modified in place).
        :param chunk: the first piece of the body.
        :param finishing: whether this chunk is the whole body.
        """
        return status_code, headers, chunk

    def transform_chunk(self, chunk: bytes, finishing: bool) -> bytes:
        """Change a later body chunk.

        :param chunk: the piece of the body.
        :param finishing: whether it is the last one.
        """
        return chunk


class GZipContentEncoding(OutputTransform):
    """Compress text-like responses with gzip when the client accepts it.

    Every response gets ``Vary: Accept-Encoding`` (caches must not serve a
    compressed copy to a client that cannot read it).  A body sent in one
    piece shorter than :attr:`MIN_LENGTH` is left alone: the gzip framing
    would outweigh the saving.
    """

    #: Media types worth compressing besides ``text/*``.
    CONTENT_TYPES = frozenset(
        {
            "application/javascript",
            "application/x-javascript",
            "application/xml",
            "application/atom+xml",
            "application/json",
            "application/xhtml+xml",
            "image/svg+xml",
        }
    )
    #: zlib level 6: the usual speed/size balance of the gzip tool.
    GZIP_LEVEL = 6
    MIN_LENGTH = 1024

    def __init__(self, request: HTTPServerRequest) -> None:
        super().__init__(request)
        self._gzipping = accepts_encoding(request.headers.get("Accept-Encoding"), "gzip")
        self._compressor: zlib._Compress | None = None

    def _compressible_type(self, content_type: str) -> bool:
        return content_type.startswith("text/") or content_type in self.CONTENT_TYPES

    def transform_first_chunk(
        self, status_code: int, headers: Headers, chunk: bytes, finishing: bool
    ) -> tuple[int, Headers, bytes]:
        vary = headers.get("Vary")
        headers["Vary"] = f"{vary}, Accept-Encoding" if vary else "Accept-Encoding"
        if self._gzipping:
            content_type, _ = parse_content_type(headers.get("Content-Type", ""))
            self._gzipping = (
                self._compressible_type(content_type)
                and (not finishing or len(chunk) >= self.MIN_LENGTH)
                and "Content-Encoding" not in headers
                and status_code not in (204, 304)
            )
        if self._gzipping:
            headers["Content-Encoding"] = "gzip"
            # wbits=31 writes the gzip container with a zero mtime, so equal
            # bodies compress to equal bytes.
            self._compressor = zlib.compressobj(self.GZIP_LEVEL, zlib.DEFLATED, 31)
            chunk = self.transform_chunk(chunk, finishing)
            if "Content-Length" in headers:
                if finishing:
                    headers["Content-Length"] = str(len(chunk))
                else:
                    del headers["Content-Length"]
        return status_code, headers, chunk

    def transform_chunk(self, chunk: bytes, finishing: bool) -> bytes:
        if not self._gzipping or self._compressor is None:
            return chunk
        data = self._compressor.compress(chunk)
        if finishing:
            data += self._compressor.flush(zlib.Z_FINISH)
        else:
            data += self._compressor.flush(zlib.Z_SYNC_FLUSH)
        return data
