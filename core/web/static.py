"""Serving files from a directory: Tornado's ``StaticFileHandler``.

Requests are answered with ``ETag`` (a hash of the content), ``Last-Modified``,
``Accept-Ranges``, conditional ``304``/``412`` and byte ranges (``206``,
``416``), all decided by :func:`crosswind.conditional.evaluate`.  URLs made by
``static_url`` carry ``?v=<hash>`` and are cached for ten years.

Nothing outside the root is ever served: ``..`` segments (also percent-encoded),
absolute paths, and symlinks leading out of the root (or of the
``allowed_symlink_directory`` list) are refused with ``403``; only regular files
are read; a directory redirect never starts with ``//`` (which a browser would
take for another host).
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import mimetypes
import os
import re
import stat
from collections.abc import Iterator
from typing import Any, ClassVar

from ..conditional import Decision, evaluate
from ..ranges import (
    build_byteranges,
    byteranges_content_type,
    format_unsatisfied_range,
    make_boundary,
)
from ..redirects import is_protocol_relative
from .errors import HTTPError
from .handler import RequestHandler

__all__ = ["StaticFileHandler"]

gen_log = logging.getLogger("crosswind.general")

_CHUNK = 64 * 1024

# One range whose last position comes before its first (``bytes=10-5``).  RFC 9110 says
# to ignore such a header and send the whole file, but Tornado answers it with 416, and
# code ported from Tornado may rely on that answer.
_BACKWARDS_RANGE = re.compile(r"[ \t]*bytes[ \t]*=[ \t]*(\d+)[ \t]*-[ \t]*(\d+)[ \t]*", re.I)


class _RangeReplaced:
    """Request headers whose ``Range`` reads as a stand-in value."""

    __slots__ = ("_headers", "_range")

    def __init__(self, headers: Any, range_value: str) -> None:
        self._headers = headers
        self._range = range_value

    def get(self, name: str, default: Any = None) -> Any:
        if name.lower() == "range":
            return self._range
        return self._headers.get(name, default)


class StaticFileHandler(RequestHandler):
    """Serve the files under *path*.

    Route it with one capture group for the file's path::

        (r"/content/(.*)", StaticFileHandler, {"path": "/var/www"})

    Subclasses may override :meth:`get_absolute_path`,
    :meth:`validate_absolute_path`, :meth:`get_content`,
    :meth:`get_content_size`, :meth:`get_modified_time`,
    :meth:`get_content_type`, :meth:`get_cache_time`,
    :meth:`make_static_url`, :meth:`parse_url_path`, :meth:`get_version` and
    :meth:`set_extra_headers`, as in Tornado.

    :param path: the root directory.
    :param default_filename: served for a directory (e.g. ``"index.html"``).
    :param allowed_symlink_directory: directories symlinks may lead into
        (default: the root only).
    """

    CACHE_MAX_AGE = 86400 * 365 * 10
    #: Files larger than this get no version hash (hashing blocks the loop).
    MAX_VERSION_CONTENT_SIZE = 64 * 1024 * 1024
    #: Versions kept in the cache; the least recently used go first.
    MAX_CACHED_VERSIONS = 10000

    _static_hashes: ClassVar[dict[str, str | None]] = {}
    allowed_symlink_directory: str | list[str] | None = None

    def initialize(  # type: ignore[override]
        self,
        path: str,
        default_filename: str | None = None,
        allowed_symlink_directory: str | list[str] | None = None,
    ) -> None:
        self.root = path
        self.default_filename = default_filename
        self.allowed_symlink_directory = allowed_symlink_directory
        self.absolute_path: str | None = None
        self.modified: datetime.datetime | None = None

    @classmethod
    def reset(cls) -> None:
        """Forget cached version hashes (``static_hash_cache=False`` does this per request)."""
        cls._static_hashes = {}

    def head(self, path: str) -> Any:
        """Answer as :meth:`get` would, without the body.

        :param path: the captured file path.
        """
        return self.get(path, include_body=False)

    async def get(self, path: str, include_body: bool = True) -> None:
        """Serve the file at *path* (whole, in ranges, or as a 304).

        :param path: the captured file path, relative to the root.
        :param include_body: send the content (``False`` for HEAD).
        """
        self.path = self.parse_url_path(path)
        del path
        absolute_path = self.get_absolute_path(self.root, self.path)
        self.absolute_path = self.validate_absolute_path(self.root, absolute_path)
        if self.absolute_path is None:
            return
        self.modified = self.get_modified_time()
        self.set_headers()
        size = self.get_content_size()
        headers: Any = self.request.headers
        backwards = _BACKWARDS_RANGE.fullmatch(headers.get("Range") or "")
        if backwards is not None and int(backwards[2]) >= int(backwards[1]):
            backwards = None
        if backwards is not None:
            # A valid stand-in range tells whether the preconditions and If-Range would
            # have let the range be served; only then is it refused, as Tornado does.
            headers = _RangeReplaced(headers, "bytes=0-0")
        # HEAD answers exactly as GET would, ranges included.
        decision = evaluate(
            "GET" if self.request.method == "HEAD" else self.request.method,
            headers,
            etag=self._headers.get("Etag"),
            last_modified=self.modified,
            size=size,
            supports_ranges=True,
        )
        if decision.status == 304:
            self.set_status(304)
            return
        if backwards is not None and decision.status == 206:
            decision = Decision(416, headers=(("Content-Range", format_unsatisfied_range(size)),))
        if decision.status in (412, 416):
            self.set_status(decision.status)
            self.set_header("Content-Type", "text/plain")
            for name, value in decision.headers:
                self.set_header(name, value)
            self.set_header("Content-Length", 0)
            return
        ranges = list(decision.ranges)
        if decision.status == 206 and ranges == [(0, size)]:
            # A range covering everything is answered 200: some media players
            # refuse a 206 to "bytes=0-".
            ranges = []
        if len(ranges) > 1:
            await self._send_byteranges(ranges, size, include_body)
            return
        if ranges:
            start, end = ranges[0]
            self.set_status(206)
            for name, value in decision.headers:
                self.set_header(name, value)
        else:
            start, end = 0, size
        self.set_header("Content-Length", end - start)
        if include_body and self.request.method != "HEAD":
            content = self.get_content(
                self.absolute_path, start if ranges else None, end if ranges else None
            )
            for chunk in [content] if isinstance(content, bytes) else content:
                self.write(chunk)
                await self.flush()

    async def _send_byteranges(
        self, ranges: list[tuple[int, int]], size: int, include_body: bool
    ) -> None:
        assert self.absolute_path is not None
        content_type = self._headers.get("Content-Type")
        parts = []
        for start, end in ranges:
            data = self.get_content(self.absolute_path, start, end)
            parts.append((start, end, data if isinstance(data, bytes) else b"".join(data)))
        boundary = make_boundary(self.application.token_source)
        body = build_byteranges(parts, content_type, size, boundary)
        self.set_status(206)
        self.set_header("Content-Type", byteranges_content_type(boundary))
        self.set_header("Content-Length", len(body))
        if include_body and self.request.method != "HEAD":
            self.write(body)

    def compute_etag(self) -> str | None:
        """The ETag: the file's version hash, the same for whole and partial responses."""
        if self.absolute_path is None:
            return None
        version = self._get_cached_version(self.absolute_path)
        return f'"{version}"' if version else None

    def set_headers(self) -> None:
        """Set ``Accept-Ranges``, ``Etag``, ``Last-Modified``, ``Content-Type`` and caching."""
        self.set_header("Accept-Ranges", "bytes")
        self.set_etag_header()
        if self.modified is not None:
            self.set_header("Last-Modified", self.modified)
        content_type = self.get_content_type()
        if content_type:
            self.set_header("Content-Type", content_type)
        cache_time = self.get_cache_time(self.path, self.modified, content_type)
        if cache_time > 0:
            self.set_header(
                "Expires",
                datetime.datetime.fromtimestamp(
                    self.application.clock() + cache_time, datetime.UTC
                ),
            )
            self.set_header("Cache-Control", "max-age=" + str(cache_time))
        self.set_extra_headers(self.path)

    def should_return_304(self) -> bool:
        """Whether the request's validators match (kept for subclasses; ``get``
        uses :func:`~crosswind.conditional.evaluate`)."""
        decision = evaluate(
            "GET",
            self.request.headers,
            etag=self._headers.get("Etag"),
            last_modified=self.modified,
            size=None,
            supports_ranges=False,
        )
        return decision.status == 304

    @classmethod
    def get_absolute_path(cls, root: str, path: str) -> str:
        """The filesystem path of *path* under *root*.

        :param root: the served directory.
        :param path: the requested path, relative to it.
        :raises HTTPError: 403 if *path* leads outside *root* as written.
        """
        absolute = os.path.abspath(os.path.join(root, path))
        cls._check_in_root(root, absolute, path)
        return absolute

    def validate_absolute_path(self, root: str, absolute_path: str) -> str | None:
        """Check the file may be served and return its (resolved) path.

        May redirect (returning ``None``) when a directory is requested
        without its trailing slash and a ``default_filename`` is set.

        :param root: the served directory.
        :param absolute_path: from :meth:`get_absolute_path`.
        :raises HTTPError: 403 outside the root or not a regular file, 404 missing.
        """
        root = self._check_in_root(root, absolute_path, self.path)
        allowed = self.allowed_symlink_directory or root
        allowed_list = [allowed] if isinstance(allowed, str) else list(allowed)
        absolute_path = self._resolve_symlink_target(absolute_path, allowed_list, self.path)
        if os.path.isdir(absolute_path) and self.default_filename is not None:
            if not self.request.path.endswith("/"):
                if is_protocol_relative(self.request.path):
                    raise HTTPError(403, "cannot redirect path with two initial slashes")
                self.redirect(self.request.path + "/", permanent=True)
                return None
            absolute_path = os.path.join(absolute_path, self.default_filename)
            absolute_path = self._resolve_symlink_target(absolute_path, allowed_list, self.path)
        self._stat_result = self._stat_regular_file(absolute_path, self.path)
        return absolute_path

    @staticmethod
    def _stat_regular_file(absolute_path: str, path_message: str) -> os.stat_result:
        try:
            result = os.stat(absolute_path)
        except (OSError, ValueError):
            raise HTTPError(404) from None
        # Devices and FIFOs may never end or may block on open.
        if not stat.S_ISREG(result.st_mode):
            raise HTTPError(403, "%s is not a file", path_message)
        return result

    @staticmethod
    def _check_in_root(root: str, absolute_path: str, path_message: str) -> str:
        root = os.path.abspath(root)
        if not root.endswith(os.path.sep):
            root += os.path.sep
        # The separator on both sides keeps "/static-other" out of "/static".
        if not (absolute_path + os.path.sep).startswith(root):
            raise HTTPError(403, "%s is not in root static directory", path_message)
        if os.name == "nt" and ":" in absolute_path[len(root) :]:
            raise HTTPError(403, "%s is not a file", path_message)
        return root

    @staticmethod
    def _resolve_symlink_target(
        absolute_path: str, allowed_directories: list[str], path_message: str
    ) -> str:
        resolved = os.path.realpath(absolute_path)
        for directory in allowed_directories:
            allowed = os.path.realpath(directory)
            if not allowed.endswith(os.path.sep):
                allowed += os.path.sep
            if (resolved + os.path.sep).startswith(allowed):
                return resolved
        # The same message as _check_in_root: which check failed is nobody's business.
        raise HTTPError(403, "%s is not in root static directory", path_message)

    @classmethod
    def get_content(
        cls, abspath: str, start: int | None = None, end: int | None = None
    ) -> Iterator[bytes] | bytes:
        """The file's bytes from *start* to *end* (exclusive), in chunks.

        :param abspath: the file.
        :param start: first byte, default 0.
        :param end: end offset, default the end of the file.
        """
        cls._stat_regular_file(abspath, abspath)
        return _read_chunks(abspath, start, end)

    @classmethod
    def get_content_version(cls, abspath: str) -> str:
        """The version hash of the file (SHA-512 of its content).

        :param abspath: the file.
        :raises ValueError: it is larger than :attr:`MAX_VERSION_CONTENT_SIZE`.
        """
        data = cls.get_content(abspath)
        chunks = [data] if isinstance(data, bytes) else data
        hasher = hashlib.sha512()
        size = 0
        try:
            for chunk in chunks:
                size += len(chunk)
                if size > cls.MAX_VERSION_CONTENT_SIZE:
                    raise ValueError(
                        "content is larger than MAX_VERSION_CONTENT_SIZE (%d bytes)"
                        % cls.MAX_VERSION_CONTENT_SIZE
                    )
                hasher.update(chunk)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        return hasher.hexdigest()

    def _stat(self) -> os.stat_result:
        if not hasattr(self, "_stat_result"):
            assert self.absolute_path is not None
            self._stat_result = os.stat(self.absolute_path)
        return self._stat_result

    def get_content_size(self) -> int:
        """The file's size in bytes."""
        return self._stat().st_size

    def get_modified_time(self) -> datetime.datetime | None:
        """The file's modification time (whole seconds, UTC)."""
        return datetime.datetime.fromtimestamp(int(self._stat().st_mtime), datetime.UTC)

    def get_content_type(self) -> str:
        """The media type guessed from the file name (``application/octet-stream`` if unknown)."""
        assert self.absolute_path is not None
        mime_type, encoding = mimetypes.guess_type(self.absolute_path)
        if encoding == "gzip":
            return "application/gzip"  # RFC 6713
        if encoding is not None:
            return "application/octet-stream"
        return mime_type or "application/octet-stream"

    def set_extra_headers(self, path: str) -> None:
        """Override to add headers to every file response.

        :param path: the requested path.
        """

    def get_cache_time(
        self, path: str, modified: datetime.datetime | None, mime_type: str
    ) -> int:
        """Seconds the response may be cached: ten years for versioned URLs, else 0.

        :param path: the requested path.
        :param modified: the file's modification time.
        :param mime_type: its media type.
        """
        return self.CACHE_MAX_AGE if "v" in self.request.arguments else 0

    @classmethod
    def make_static_url(
        cls, settings: dict[str, Any], path: str, include_version: bool = True
    ) -> str:
        """The URL for *path*, with ``?v=<hash>`` unless *include_version* is false.

        :param settings: the application settings.
        :param path: the file, relative to ``static_path``.
        :param include_version: add the version query.
        """
        prefix: str = settings.get("static_url_prefix", "/static/")
        url = prefix + path
        if not include_version:
            return url
        version = cls.get_version(settings, path)
        return f"{url}?v={version}" if version else url

    def parse_url_path(self, url_path: str) -> str:
        """Turn the URL's path into a path relative to the root.

        :param url_path: the captured part of the URL.
        """
        if os.path.sep != "/":
            url_path = url_path.replace("/", os.path.sep)
        return url_path

    @classmethod
    def get_version(cls, settings: dict[str, Any], path: str) -> str | None:
        """The version string for *path* (cached).

        :param settings: the application settings.
        :param path: the file, relative to ``static_path``.
        """
        absolute = cls.get_absolute_path(settings["static_path"], path)
        return cls._get_cached_version(absolute)

    @classmethod
    def _get_cached_version(cls, abs_path: str) -> str | None:
        hashes = cls._static_hashes
        if abs_path in hashes:
            # Re-inserting marks the entry most recently used.
            version = hashes.pop(abs_path, None)
            hashes[abs_path] = version
            return version or None
        try:
            version = cls.get_content_version(abs_path)
        except Exception as exc:
            gen_log.error("Could not open static file %r: %s", abs_path, exc)
            version = None
        while hashes and len(hashes) >= cls.MAX_CACHED_VERSIONS:
            hashes.pop(next(iter(hashes)), None)
        hashes[abs_path] = version
        return version or None


def _read_chunks(abspath: str, start: int | None, end: int | None) -> Iterator[bytes]:
    with open(abspath, "rb") as handle:
        if start is not None:
            handle.seek(start)
        remaining = None if end is None else end - (start or 0)
        while remaining is None or remaining > 0:
            size = _CHUNK if remaining is None else min(_CHUNK, remaining)
            chunk = handle.read(size)
            if not chunk:
                return
            if remaining is not None:
                remaining -= len(chunk)
            yield chunk
