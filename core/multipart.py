"""Incremental ``multipart/form-data`` parsing (RFC 7578) on top of python-multipart.

The body is fed in as it streams in; text fields collect into a :class:`MultiDict`
of ``str`` and file parts into one of :class:`UploadedFile`, each spooled to a
temporary file once it outgrows memory.  Every size is bounded so a client cannot make
the server buffer without limit.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Callable
from typing import IO, Any

try:
    from python_multipart.exceptions import FormParserError
    from python_multipart.multipart import MultipartParser as _Engine
except ImportError:  # pragma: no cover - releases before 0.0.13 were named "multipart"
    from multipart.exceptions import FormParserError  # type: ignore[no-redef]
    from multipart.multipart import MultipartParser as _Engine  # type: ignore[no-redef]

from .errors import LocalProtocolError, RequestError
from .forms import MultiDict
from .headers import Headers
from .mediatype import parse_content_type

__all__ = ["MultipartParser", "UploadedFile", "parse_multipart", "secure_filename", "spooled_file"]

_MiB = 1024 * 1024
# Part headers are tiny in practice; this bounds what one part can make us hold.
_MAX_PART_HEADER_BYTES = 16 * 1024
# Printable ASCII not ending in a space: what werkzeug (so Flask) accepts, a superset of
# RFC 2046's 70-character bchars that real clients stay within.
_BOUNDARY = re.compile(rb"[ -~]{0,199}[!-~]")


class UploadedFile:
    """One uploaded file from a ``multipart/form-data`` body, like Flask's ``FileStorage``.

    The content lives in memory until it passes the parser's ``spool_threshold`` and in
    an anonymous temporary file after that.  Close it (or use ``with``) when done.

    :param name: the form field the file was sent under.
    :param filename: the file name exactly as the client sent it; it may contain path
        separators or ``..`` -- pass it through :func:`secure_filename` before using it
        on a file system.
    :param content_type: the part's ``Content-Type`` header, or ``None``.
    :param headers: all of the part's headers.
    :param stream: a readable, seekable binary file holding the content.
    :param size: the content length in bytes.
    """

    def __init__(
        self,
        name: str,
        filename: str,
        content_type: str | None,
        headers: Headers,
        stream: IO[bytes],
        size: int = 0,
    ) -> None:
        self.name = name
        self.filename = filename
        self.content_type = content_type
        self.headers = headers
        self.size = size
        self._stream = stream

    @property
    def stream(self) -> IO[bytes]:
        """The underlying binary file object."""
        return self._stream

    @property
    def mimetype(self) -> str:
        """The media type of :attr:`content_type` without parameters, lowercased."""
        return parse_content_type(self.content_type)[0]

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has been called."""
        return self._stream.closed

    def read(self, n: int = -1) -> bytes:
        """Read up to *n* bytes from the current position (all of the rest if negative).

        :param n: the most bytes to return.
        """
        return self._stream.read(n)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """Move the read position, as :meth:`io.IOBase.seek` does.

        :param offset: the new position, relative to *whence*.
        :param whence: ``os.SEEK_SET``, ``os.SEEK_CUR`` or ``os.SEEK_END``.
        """
        return self._stream.seek(offset, whence)

    def tell(self) -> int:
        """Return the read position."""
        return self._stream.tell()

    def save(self, dst: str | os.PathLike[str] | IO[bytes], buffer_size: int = 64 * 1024) -> None:
        """Copy the content from the current read position to *dst*, as Flask does.

        Right after parsing the position is at the start, so the whole file is written.

        :param dst: a path (created or truncated) or a writable binary file object,
            which is left open.
        :param buffer_size: the copy's chunk size.
        """
        if isinstance(dst, str | os.PathLike):
            with open(dst, "wb") as target:
                shutil.copyfileobj(self._stream, target, buffer_size)
        else:
            shutil.copyfileobj(self._stream, dst, buffer_size)

    def close(self) -> None:
        """Release the memory or temporary file holding the content."""
        self._stream.close()

    def __enter__(self) -> UploadedFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.name!r}: {self.filename!r} "
            f"({self.content_type!r}, {self.size} bytes)>"
        )


class MultipartParser:
    """Parse a ``multipart/form-data`` body fed in chunks of any size.

    Call :meth:`feed` as the body arrives and :meth:`close` at its end, then read
    :attr:`fields` and :attr:`files`.  After a :class:`~crosswind.errors.RequestError`
    every file created so far is closed and the parser refuses further use.

    :param boundary: the boundary from the request's ``Content-Type``.
    :param max_parts: the most parts accepted.
    :param max_field_size: the most bytes in one text field.
    :param max_file_size: the most bytes in one file, or ``None`` for no limit.
    :param max_total_size: the most body bytes fed in total, or ``None`` for no limit.
    :param spool_threshold: files larger than this move from memory to a temporary file;
        ``0`` writes every file to disk at once.
    :param tempdir: where temporary files go (the system default if ``None``).
    :param charset: the encoding of field names, text values and file names.
    :param file_factory: makes the empty, readable and writable binary file that holds
        one file part; it replaces *spool_threshold* and *tempdir*.  The parser only
        writes, seeks and closes what it gets, so the caller decides where content goes
        (the Flask-style application passes werkzeug's 500 KiB spooled file).
    :raises RequestError: 400 if *boundary* is empty or not printable ASCII.
    """

    def __init__(
        self,
        boundary: bytes | str,
        *,
        max_parts: int = 1000,
        max_field_size: int = _MiB,
        max_file_size: int | None = None,
        max_total_size: int | None = None,
        spool_threshold: int = _MiB,
        tempdir: str | os.PathLike[str] | None = None,
        charset: str = "utf-8",
        file_factory: Callable[[], IO[bytes]] | None = None,
    ) -> None:
        if isinstance(boundary, str):
            boundary = boundary.encode("latin-1", "replace")
        if not _BOUNDARY.fullmatch(boundary):
            raise RequestError("invalid multipart boundary", 400)
        self.fields: MultiDict[str] = MultiDict()
        self.files: MultiDict[UploadedFile] = MultiDict()
        self._max_parts = max_parts
        self._max_field_size = max_field_size
        self._max_file_size = max_file_size
        self._max_total_size = max_total_size
        self._spool_threshold = spool_threshold
        # SpooledTemporaryFile takes only a str directory, though it hands it on unchanged.
        self._tempdir = None if tempdir is None else os.fspath(tempdir)
        self._charset = charset
        self._file_factory = file_factory
        self._total = 0
        # The opening boundary is checked here, before python-multipart sees
        # the body: it skips a stray CR and the byte after it when the body
        # arrives whole but refuses them split (fuzz finding multipart-fea8037e).
        self._opening: bytes | None = b"--" + boundary
        self._head = bytearray()
        self._parts = 0
        self._ended = False
        self._closed = False
        self._failed: RequestError | None = None
        self._reset_part()
        self._engine = _Engine(
            boundary,
            {
                "on_part_begin": self._on_part_begin,
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._on_header_end,
                "on_headers_finished": self._on_headers_finished,
                "on_part_data": self._on_part_data,
                "on_part_end": self._on_part_end,
                "on_end": self._on_end,
            },
        )

    # -- public ------------------------------------------------------------------------

    def feed(self, chunk: bytes) -> None:
        """Parse the next piece of the body.

        :param chunk: body bytes; any split is fine, including empty chunks.
        :raises RequestError: 413 when a size or count limit is passed, 400 for a
            malformed body.
        :raises LocalProtocolError: if called after :meth:`close` or after an error.
        """
        self._check_usable()
        if not chunk:
            return
        self._total += len(chunk)
        try:
            if self._max_total_size is not None and self._total > self._max_total_size:
                raise RequestError(
                    f"multipart body too large (limit {self._max_total_size} bytes)", 413
                )
            if self._opening is not None:
                chunk = self._check_opening(chunk)
                if not chunk:
                    return
            self._engine.write(chunk)
        except RequestError as exc:
            self._fail(exc)
            raise
        except (FormParserError, ValueError) as exc:
            error = RequestError(f"malformed multipart body: {exc}", 400)
            self._fail(error)
            raise error from None

    def _check_opening(self, chunk: bytes) -> bytes:
        """Hold bytes back until the body is known to open with its boundary.

        One CRLF before the boundary is tolerated; any other preamble is a 400.
        Returns what may go to the parser (nothing while undecided).
        """
        assert self._opening is not None
        self._head += chunk
        head = bytes(self._head)
        candidate = head
        if head[:1] == b"\r":
            if len(head) < 2:
                return b""
            if head[1:2] != b"\n":
                raise RequestError("malformed multipart body: it does not start with its boundary", 400)
            candidate = head[2:]
        opening = self._opening
        shared = min(len(candidate), len(opening))
        if candidate[:shared] != opening[:shared]:
            raise RequestError("malformed multipart body: it does not start with its boundary", 400)
        if len(candidate) < len(opening):
            return b""
        self._opening = None
        self._head = bytearray()
        return head

    def close(self) -> None:
        """Declare the body complete and check that it ended with the closing boundary.

        :raises RequestError: 400 if the body was cut short (or never had a boundary).
        """
        if self._closed and self._failed is None:
            return
        self._check_usable()
        if not self._ended:
            error = RequestError("multipart body ended before its closing boundary", 400)
            self._fail(error)
            raise error
        self._engine.finalize()
        self._closed = True

    def __enter__(self) -> MultipartParser:
        return self

    def __exit__(self, exc_type: object, *exc_info: object) -> None:
        # A caller bailing out with its own exception must not leak the spooled files.
        if exc_type is not None and self._failed is None:
            self._fail(RequestError("multipart parsing abandoned", 400))

    # -- internals ---------------------------------------------------------------------

    def _check_usable(self) -> None:
        if self._failed is not None:
            raise LocalProtocolError(f"multipart parser already failed: {self._failed.reason}")
        if self._closed:
            raise LocalProtocolError("multipart parser is closed")

    def _fail(self, error: RequestError) -> None:
        self._failed = error
        if self._file is not None:
            self._file.close()
        for _, upload in self.files.items(multi=True):
            upload.close()

    def _reset_part(self) -> None:
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._raw_headers: list[tuple[bytes, bytes]] = []
        self._header_bytes = 0
        self._name = ""
        self._field: bytearray | None = None
        self._file: UploadedFile | None = None

    def _on_part_begin(self) -> None:
        self._parts += 1
        if self._parts > self._max_parts:
            raise RequestError(f"too many multipart parts (limit {self._max_parts})", 413)
        self._reset_part()

    def _count_header_bytes(self, amount: int) -> None:
        self._header_bytes += amount
        if self._header_bytes > _MAX_PART_HEADER_BYTES:
            raise RequestError("multipart part headers too large", 400)

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._count_header_bytes(end - start)
        self._header_field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._count_header_bytes(end - start)
        self._header_value += data[start:end]

    def _on_header_end(self) -> None:
        self._raw_headers.append((bytes(self._header_field), bytes(self._header_value).strip()))
        self._header_field = bytearray()
        self._header_value = bytearray()

    def _on_headers_finished(self) -> None:
        try:
            headers = Headers(self._raw_headers)
        except ValueError:
            raise RequestError("malformed multipart part header", 400) from None
        disposition = headers.get("content-disposition")
        if disposition is None:
            raise RequestError("multipart part without Content-Disposition", 400)
        # Quoted values are unescaped the way werkzeug does, so names match Flask's.
        # filename* is ignored: RFC 7578 section 4.2 forbids it, and honouring it would let
        # a client show one name to a proxy that reads filename and another to us.
        _, params = parse_content_type(disposition)
        raw_name = params.get("name")
        if raw_name is None:
            raise RequestError("multipart part without a field name", 400)
        try:
            self._name = raw_name.encode("latin-1").decode(self._charset)
        except UnicodeDecodeError:
            raise RequestError(f"invalid {self._charset} in multipart field name", 400) from None
        raw_filename = params.get("filename")
        if raw_filename is None:
            self._field = bytearray()
            return
        # A mangled file name should not sink the whole upload, so undecodable bytes
        # become U+FFFD rather than an error.
        filename = raw_filename.encode("latin-1").decode(self._charset, "replace")
        # The file outlives this call: UploadedFile.close() (or _fail) releases it.
        if self._file_factory is not None:
            stream = self._file_factory()
        else:
            stream = spooled_file(self._spool_threshold, self._tempdir)
        self._file = UploadedFile(
            self._name, filename, headers.get("content-type"), headers, stream
        )

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        length = end - start
        if self._field is not None:
            if len(self._field) + length > self._max_field_size:
                raise RequestError(
                    f"multipart field {self._name!r} too large "
                    f"(limit {self._max_field_size} bytes)",
                    413,
                )
            self._field += data[start:end]
        elif self._file is not None:
            upload = self._file
            if self._max_file_size is not None and upload.size + length > self._max_file_size:
                raise RequestError(
                    f"uploaded file too large (limit {self._max_file_size} bytes)", 413
                )
            upload.stream.write(memoryview(data)[start:end])
            upload.size += length

    def _on_part_end(self) -> None:
        if self._field is not None:
            try:
                value = self._field.decode(self._charset)
            except UnicodeDecodeError:
                raise RequestError(
                    f"invalid {self._charset} in multipart field {self._name!r}", 400
                ) from None
            self.fields.add(self._name, value)
            self._field = None
        elif self._file is not None:
            self._file.stream.seek(0)
            self.files.add(self._name, self._file)
            self._file = None

    def _on_end(self) -> None:
        self._ended = True


def spooled_file(threshold: int, tempdir: str | None = None) -> IO[bytes]:
    """An anonymous temporary file that stays in memory up to *threshold* bytes.

    :param threshold: bytes held in memory before the content moves to disk; ``0`` puts
        it on disk at once.
    :param tempdir: the directory of the file on disk (the system default if ``None``).
    """
    # The caller owns the file and closes it (UploadedFile.close).
    if threshold > 0:
        return tempfile.SpooledTemporaryFile(  # noqa: SIM115
            max_size=threshold, mode="w+b", dir=tempdir
        )
    return tempfile.TemporaryFile(mode="w+b", dir=tempdir)  # noqa: SIM115


def parse_multipart(
    body: bytes, content_type: str, **limits: Any
) -> tuple[MultiDict[str], MultiDict[UploadedFile]]:
    """Parse a complete ``multipart/form-data`` body in one call.

    :param body: the whole request body.
    :param content_type: the request's ``Content-Type`` header, which names the boundary.
    :param limits: keyword arguments for :class:`MultipartParser`.
    :returns: ``(fields, files)``; the caller owns (and should close) the files.
    :raises RequestError: 400 if the content type is not multipart/form-data or has no
        boundary, or the body is malformed; 413 when a limit is passed.
    """
    mimetype, params = parse_content_type(content_type)
    if mimetype != "multipart/form-data":
        raise RequestError("expected a multipart/form-data body", 400)
    boundary = params.get("boundary")
    if not boundary:
        raise RequestError("multipart/form-data without a boundary", 400)
    parser = MultipartParser(boundary, **limits)
    parser.feed(body)
    parser.close()
    return parser.fields, parser.files


_WINDOWS_DEVICES = frozenset(
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]
    + [f"{stem}{digit}" for stem in ("COM", "LPT") for digit in "0123456789"]
)
_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9._-]")


def secure_filename(filename: str) -> str:
    """Reduce a client-supplied file name to a harmless one for local storage.

    Directories are dropped (``'../../etc/passwd'`` gives ``'passwd'``, either slash
    counts), the name is folded to ASCII, whitespace becomes ``_``, characters other
    than letters, digits, ``.``, ``_`` and ``-`` are removed, leading dots (hidden files,
    ``..``) and trailing dots are stripped, and Windows device names such as ``CON`` get
    a ``_`` prefix.  The result may be empty: callers must then pick a name of their own.

    :param filename: the name as the client sent it.
    """
    # Keep only the last path component, whichever separator the client's OS used.
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode("ascii")
    base = "_".join(base.split())
    base = _UNSAFE_CHARS.sub("", base)
    base = base.lstrip("._").rstrip(".")
    stem = base.split(".", 1)[0]
    if stem.upper() in _WINDOWS_DEVICES:
        base = "_" + base
    if len(base) > 255:
        root, dot, extension = base.rpartition(".")
        if dot and 0 < len(extension) < 16:
            base = root[: 254 - len(extension)] + "." + extension
        else:
            base = base[:255]
    return base
