"""The helper functions Flask views call: ``url_for``, ``redirect``,
``flash``, ``send_file`` and friends.

They work on the current application and request (see :mod:`.ctx`), so they
must be called while a request (or, for ``url_for``, an application) context
is active.
"""

from __future__ import annotations

import io
import mimetypes
import os
import posixpath
import unicodedata
import zlib
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit, urlunsplit

from markupsafe import escape

from . import signals
from .ctx import _cv_app, _cv_request, current_app, request, request_ctx, session
from .exceptions import NotFound, abort
from .wrappers import Headers, _FileBody

if TYPE_CHECKING:
    from .app import App
    from .wrappers import Response

__all__ = [
    "abort",
    "flash",
    "get_flashed_messages",
    "iri_to_uri",
    "make_response",
    "redirect",
    "safe_join",
    "send_file",
    "send_from_directory",
    "stream_with_context",
    "url_for",
]


def url_for(
    endpoint: str,
    *,
    _anchor: str | None = None,
    _method: str | None = None,
    _scheme: str | None = None,
    _external: bool | None = None,
    **values: Any,
) -> str:
    """Build the URL of *endpoint* with the current application's rules.

    Inside a request the URL is relative to the current host and ``.view``
    means "``view`` of the current blueprint"; outside one (with only an app
    context) it is absolute and needs ``SERVER_NAME``.  Values the rule does
    not use become the query string.

    :param endpoint: ``"view"`` or ``"blueprint.view"`` or ``".view"``.
    :param _anchor: a ``#fragment`` to append.
    :param _method: pick the rule for this method.
    :param _scheme: the scheme of an external URL (needs ``_external``).
    :param _external: make the URL absolute.
    :param values: the rule's variables, plus query arguments.
    :raises BuildError: no rule of *endpoint* fits the values; the message
        names the endpoint and suggests close matches.
    """
    return current_app.url_for(
        endpoint, _anchor=_anchor, _method=_method, _scheme=_scheme, _external=_external, **values
    )


def iri_to_uri(iri: str) -> str:
    """Percent-encode what may not appear in a URI, keeping its structure.

    :param iri: a URL that may contain spaces, non-ASCII text or ``<>``.
    """
    parts = urlsplit(iri)
    netloc = parts.netloc
    if netloc and not netloc.isascii():
        userinfo, at, hostport = netloc.rpartition("@")
        host, colon, port = hostport.partition(":")
        netloc = f"{userinfo}{at}{host.encode('idna').decode('ascii')}{colon}{port}"
    path = quote(parts.path, safe="%!$&'()*+,/:;=@")
    query = quote(parts.query, safe="%!$&'()*+,/:;=?@")
    fragment = quote(parts.fragment, safe="%!#$&'()*+,/:;=?@")
    return urlunsplit((parts.scheme, netloc, path, query, fragment))


def _redirect_response(
    location: str, code: int = 302, response_class: type[Response] | None = None
) -> Response:
    if response_class is None:
        from .wrappers import Response as default_class

        response_class = default_class
    html = escape(location)
    body = (
        "<!doctype html>\n<html lang=en>\n<title>Redirecting...</title>\n"
        "<h1>Redirecting...</h1>\n"
        "<p>You should be redirected automatically to the target URL: "
        f'<a href="{html}">{html}</a>. If not, click the link.\n'
    )
    response = response_class(body, code, mimetype="text/html")
    response.headers["Location"] = iri_to_uri(location)
    return response


def redirect(location: str, code: int = 302, Response: type[Response] | None = None) -> Response:  # noqa: N803
    """A redirect response to *location* with a small HTML body.

    :param location: the target URL (relative ones are sent as they are).
    :param code: 301, 302, 303, 307 or 308.
    :param Response: the response class (default: the application's).
    """
    ctx = _cv_app.get(None)
    if ctx is not None and Response is None:
        return ctx.app.redirect(location, code)
    return _redirect_response(location, code, Response)


def make_response(*args: Any) -> Response:
    """Turn what a view could return into a response, to change it before returning.

    ``make_response("text", 201, {"X-A": "b"})`` works like returning that tuple.

    :param args: nothing (an empty response), one value, or a tuple's members.
    """
    if not args:
        return current_app.response_class()
    value = args[0] if len(args) == 1 else args
    return current_app.make_response(value)


def flash(message: str, category: str = "message") -> None:
    """Store *message* in the session for the next request to show.

    :param message: the text.
    :param category: e.g. ``"error"``, ``"info"``; ``"message"`` by default.
    """
    flashes = session.get("_flashes", [])
    flashes.append((category, message))
    session["_flashes"] = flashes
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    signals.message_flashed.send(app, message=message, category=category)


def get_flashed_messages(
    with_categories: bool = False, category_filter: Iterable[str] = ()
) -> list[Any]:
    """The flashed messages, removed from the session on the first call of a request.

    :param with_categories: return ``(category, message)`` pairs.
    :param category_filter: only messages of these categories.
    """
    ctx = request_ctx._get_current_object()  # type: ignore[attr-defined]
    flashes = ctx.flashes
    if flashes is None:
        flashes = session.pop("_flashes") if "_flashes" in session else []
        ctx.flashes = flashes
    wanted = list(category_filter)
    if wanted:
        flashes = [item for item in flashes if item[0] in wanted]
    if not with_categories:
        return [item[1] for item in flashes]
    return [tuple(item) for item in flashes]


def stream_with_context(generator_or_function: Any) -> Any:
    """Keep the request context alive while a streamed body is generated.

    Use it around a generator a view returns (or as a decorator on the
    generator function) when the generator reads ``request`` or
    ``session``; teardown functions then run after the last chunk.

    :param generator_or_function: a generator, iterable or generator function.
    """
    if callable(generator_or_function) and not hasattr(generator_or_function, "__next__"):
        function = generator_or_function

        def decorated(*args: Any, **kwargs: Any) -> Any:
            return stream_with_context(function(*args, **kwargs))

        return decorated
    iterable: Iterable[Any] = generator_or_function
    ctx = _cv_request.get(None)
    if ctx is None:
        raise RuntimeError(
            "'stream_with_context' can only be used when a request context is active,"
            " such as in a view function."
        )

    def generate() -> Iterator[Any]:
        with ctx:
            yield None  # primed below, so the context is pushed before the view returns
            iterator = iter(iterable)
            try:
                yield from iterator
            finally:
                close = getattr(iterator, "close", None)
                if close is not None:
                    close()

    wrapped = generate()
    next(wrapped)
    return wrapped


# -- files ------------------------------------------------------------------------------

_SEPARATORS = [sep for sep in (os.sep, os.altsep) if sep and sep != "/"]


def safe_join(directory: str, *pathnames: str) -> str | None:
    """Join untrusted *pathnames* under *directory*, or ``None`` if the result
    could escape it.

    ``..`` segments that climb out, absolute paths, backslashes on Windows
    and NUL bytes are refused; the result is never outside *directory*.

    :param directory: the trusted base directory.
    :param pathnames: untrusted path segments (``"a/b.txt"``).
    """
    if not directory:
        directory = "."
    parts = [directory]
    for name in pathnames:
        if "\x00" in name:
            return None
        if name != "":
            name = posixpath.normpath(name)
        if (
            any(sep in name for sep in _SEPARATORS)
            or os.path.isabs(name)
            or name.startswith("/")
            or name == ".."
            or name.startswith("../")
        ):
            return None
        parts.append(name)
    return posixpath.join(*parts)


def send_file(
    path_or_file: str | os.PathLike[str] | IO[bytes],
    mimetype: str | None = None,
    as_attachment: bool = False,
    download_name: str | None = None,
    conditional: bool = True,
    etag: bool | str = True,
    last_modified: datetime | int | float | None = None,
    max_age: int | Callable[[str | None], int | None] | None = None,
) -> Response:
    """A response with the contents of a file, answering conditional and
    range requests.

    Never pass a path that came from the client: use
    :func:`send_from_directory` for that.

    :param path_or_file: a path (relative ones are relative to the
        application's root) or a binary file object.
    :param mimetype: the media type; guessed from the file name if omitted.
    :param as_attachment: ask the browser to save it (``Content-Disposition: attachment``).
    :param download_name: the file name the browser sees.
    :param conditional: answer ``If-*`` and ``Range`` headers (304, 206, 416).
    :param etag: compute an ETag (from path, size and time), or use this string.
    :param last_modified: the modification time, for file objects.
    :param max_age: seconds the client may cache it; by default the
        application's ``get_send_file_max_age``.
    :raises TypeError: the media type cannot be guessed, or an attachment has no name.
    :raises ValueError: a text-mode file was given.
    """
    app: App = current_app._get_current_object()  # type: ignore[attr-defined]
    if max_age is None:
        max_age = app.get_send_file_max_age
    path: str | None = None
    file: IO[bytes] | None = None
    size: int | None = None
    mtime: float | None = None
    headers = Headers()
    if isinstance(path_or_file, str | os.PathLike):
        path = os.path.join(app.root_path, os.fspath(path_or_file))
        stat = os.stat(path)
        size, mtime = stat.st_size, stat.st_mtime
    else:
        file = path_or_file
    if download_name is None and path is not None:
        download_name = os.path.basename(path)
    if mimetype is None:
        if download_name is None:
            raise TypeError(
                "Unable to detect the MIME type because a file name is not available."
                " Either set 'download_name', pass a path instead of a file, or set 'mimetype'."
            )
        mimetype, encoding = mimetypes.guess_type(download_name)
        if mimetype is None:
            mimetype = "application/octet-stream"
        # A browser saving foo.tar.gz would otherwise unpack it.
        if encoding is not None and not as_attachment:
            headers["Content-Encoding"] = encoding
    if download_name is not None:
        disposition = "attachment" if as_attachment else "inline"
        try:
            download_name.encode("ascii")
        except UnicodeEncodeError:
            plain = unicodedata.normalize("NFKD", download_name).encode("ascii", "ignore").decode()
            encoded = quote(download_name, safe="!#$&+-.^_`|~")
            headers.set("Content-Disposition", disposition, filename=plain, **{"filename*": f"UTF-8''{encoded}"})
        else:
            headers.set("Content-Disposition", disposition, filename=download_name)
    elif as_attachment:
        raise TypeError(
            "No name provided for attachment. Either set 'download_name' or pass a"
            " path instead of a file."
        )
    body: Any
    if app.config.get("USE_X_SENDFILE") and path is not None:
        headers["X-Sendfile"] = path
        body = None
        # The front server sends the file and its length; a Content-Length
        # here would promise bytes this response never carries.
        size = None
    else:
        if file is None:
            assert path is not None
            file = open(path, "rb")  # noqa: SIM115 - closed once the body has been sent
        elif isinstance(file, io.BytesIO):
            size = file.getbuffer().nbytes
        elif isinstance(file, io.TextIOBase):
            raise ValueError("Files must be opened in binary mode or use BytesIO.")
        body = _FileBody(file)
    response = app.response_class(body, mimetype=mimetype, headers=headers, direct_passthrough=True)
    if size is not None:
        response.content_length = size
    if last_modified is not None:
        response.last_modified = last_modified
    elif mtime is not None:
        response.last_modified = mtime
    response.cache_control.no_cache = True
    if callable(max_age):
        max_age = max_age(path)
    if max_age is not None:
        if max_age > 0:
            response.cache_control.no_cache = None
            response.cache_control.public = True
        response.cache_control.max_age = max_age
        response.expires = int(app.clock() + max_age)
    if isinstance(etag, str):
        response.set_etag(etag)
    elif etag and path is not None:
        check = zlib.adler32(path.encode()) & 0xFFFFFFFF
        response.set_etag(f"{mtime}-{size}-{check}")
    if conditional:
        try:
            response = response.make_conditional(request, accept_ranges=True, complete_length=size)
        except Exception:
            response.close()
            raise
        if response.status_code == 304:
            response.headers.remove("X-Sendfile")
    return response


def send_from_directory(
    directory: str | os.PathLike[str], path: str | os.PathLike[str], **kwargs: Any
) -> Response:
    """Send a file from *directory*, where *path* may come from the client.

    :param directory: the trusted directory (relative to the application root).
    :param path: the untrusted file path inside it.
    :param kwargs: passed to :func:`send_file`.
    :raises NotFound: the path escapes *directory* or is not a file.
    """
    joined = safe_join(os.fspath(directory), os.fspath(path))
    if joined is None:
        raise NotFound()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    full = os.path.join(app.root_path, joined)
    if not os.path.isfile(full):
        raise NotFound()
    return send_file(full, **kwargs)
