"""Hypothesis strategies for testing HTTP applications and servers with generated input.

Every strategy produces what a client would send *and* what a correct server makes of
it, so a property can compare the two::

    from hypothesis import given
    from crosswind.testing import serve_bytes, parse_responses
    from crosswind.testing.strategies import pipelined

    @given(pipelined())
    def test_every_request_is_answered(stream):
        out = serve_bytes(my_app, [stream])
        assert len(parse_responses(out, [r.method.encode() for r in stream.requests])) \\
            == len(stream.requests)

Hypothesis is a test-time dependency: ``pip install crosswind[test]``.  Nothing else in
crosswind imports this module.

* :func:`valid_requests`, :func:`pipelined`, :func:`split_into_chunks` -- well-formed
  request bytes (any method, target form, header set, body framing) and the ways TCP
  may cut them.
* :func:`hostile_requests` -- the request smuggling and malformation families a server
  must refuse (:data:`HOSTILE_FAMILIES`), each with the status crosswind answers.
* :func:`cookie_headers`, :func:`query_strings`, :func:`urlencoded_bodies`,
  :func:`multipart_bodies` -- encoded values with the fields they decode to.
* :func:`route_paths` -- paths that reach the rules of a :class:`~crosswind.routing.map.Map`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple
from urllib.parse import quote, unquote

try:
    from hypothesis import strategies as st
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "crosswind.testing.strategies needs Hypothesis: pip install crosswind[test]"
    ) from exc

from ..grammar import CTL, OBS_TEXT, TCHARS, VCHARS
from ..protocol.limits import Limits
from ..routing import Map, Rule
from ..routing.converters import (
    AnyConverter,
    BaseConverter,
    FloatConverter,
    NumberConverter,
    PathConverter,
    UnicodeConverter,
    UUIDConverter,
    ValidationError,
)

__all__ = [
    "HOSTILE_FAMILIES",
    "SMUGGLE_PROBE",
    "HTTPRequest",
    "HostileRequest",
    "MultipartField",
    "Pipeline",
    "RoutePath",
    "cookie_headers",
    "hostile_requests",
    "multipart_bodies",
    "pipelined",
    "query_strings",
    "route_paths",
    "split_into_chunks",
    "urlencoded_bodies",
    "valid_requests",
]

#: A request to put behind a hostile one: a server that answers it has been smuggled.
SMUGGLE_PROBE = b"GET /smuggled HTTP/1.1\r\nHost: example.com\r\n\r\n"

_TCHARS = TCHARS
_DIGITS = "0123456789"
_HEX = "0123456789abcdefABCDEF"
_UNRESERVED = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~"
_SUB_DELIMS = "!$&'()*+,;="
# Fields whose meaning the framing, the connection or a protocol switch depends on:
# generated extra headers never use these names, so they cannot change the framing.
_RESERVED_FIELDS = frozenset(
    {
        "host", "content-length", "transfer-encoding", "connection", "expect", "upgrade",
        "te", "trailer", "keep-alive", "proxy-connection", "http2-settings",
    }
)
_STANDARD_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
# bytes that no strategy here ever puts in a header value (C0 except HTAB, and DEL);
# CR and LF are left to the families about line ends, DEL is added where used
_CONTROL_CHARS = [char.encode("latin-1") for char in CTL if char not in "\t\r\n\x7f"]


# -- the values ------------------------------------------------------------------------


class HTTPRequest(bytes):
    """The raw bytes of one request, carrying what a server should make of them.

    It *is* the bytes (pass it wherever ``bytes`` go); the attributes describe it:

    * ``method``, ``target`` -- as on the request line (``str``);
    * ``http_version`` -- as sent (``"1.1"``; ``"1.2"`` and up are served as 1.1);
    * ``headers`` -- ``(name, value)`` byte pairs as a server reports them: names
      lowercased, values without surrounding whitespace, in the order sent;
    * ``body`` -- the body after de-chunking; ``trailers`` -- chunked trailer fields,
      reported like ``headers``;
    * ``framing`` -- ``"none"``, ``"length"`` or ``"chunked"``;
    * ``head_size`` -- how many of the bytes are the head (any leading empty lines,
      the request line, the header section and its blank line);
    * ``expect_continue`` -- the request says ``Expect: 100-continue``;
    * ``keep_alive`` -- the client allows the connection to be reused afterwards;
    * ``quirks`` -- the unusual but valid forms it uses (``"absolute-form"``,
      ``"asterisk-form"``, ``"obs-text"``, ``"http-minor-above-1"``, ``"leading-crlf"``,
      ``"chunk-extension"``, ``"chunk-extension-bws"`` (whitespace between the size
      and ``;``), ``"trailers"``,
      ``"empty-host"``, ``"custom-method"``, ``"trailing-ows"``).
    """

    method: str
    target: str
    http_version: str
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes
    trailers: tuple[tuple[bytes, bytes], ...]
    framing: str
    head_size: int
    expect_continue: bool
    keep_alive: bool
    quirks: frozenset[str]

    def __new__(
        cls,
        raw: bytes,
        *,
        method: str,
        target: str,
        http_version: str,
        headers: Sequence[tuple[bytes, bytes]],
        body: bytes,
        trailers: Sequence[tuple[bytes, bytes]] = (),
        framing: str,
        head_size: int,
        expect_continue: bool = False,
        keep_alive: bool = True,
        quirks: frozenset[str] = frozenset(),
    ) -> HTTPRequest:
        """Wrap *raw* with its description (see the class docstring for the fields)."""
        self = super().__new__(cls, raw)
        self.method = method
        self.target = target
        self.http_version = http_version
        self.headers = tuple(headers)
        self.body = body
        self.trailers = tuple(trailers)
        self.framing = framing
        self.head_size = head_size
        self.expect_continue = expect_continue
        self.keep_alive = keep_alive
        self.quirks = quirks
        return self

    @property
    def pipelinable(self) -> bool:
        """Whether a request may follow it on the connection whatever the server does.

        HTTP/1.0 and ``Connection: close`` end the connection; a server that answers an
        ``Expect: 100-continue`` request without asking for the body must close too.
        """
        return self.keep_alive and self.http_version != "1.0" and not self.expect_continue

    def __repr__(self) -> str:
        return f"HTTPRequest({bytes(self)!r})"


class Pipeline(bytes):
    """Several requests sent back to back; ``requests`` holds them in order."""

    requests: tuple[HTTPRequest, ...]

    def __new__(cls, requests: Sequence[HTTPRequest]) -> Pipeline:
        """Concatenate *requests*."""
        self = super().__new__(cls, b"".join(requests))
        self.requests = tuple(requests)
        return self

    def __repr__(self) -> str:
        return f"Pipeline({list(self.requests)!r})"


class HostileRequest(bytes):
    """Bytes a server must refuse; ``family`` names the attack (a key of
    :data:`HOSTILE_FAMILIES`), ``status`` is crosswind's answer with the limits given to
    :func:`hostile_requests`, and ``stage`` says whether the head (``"head"``) or the
    body (``"body"``, refused once the application reads it) is at fault.
    """

    family: str
    status: int
    stage: str

    def __new__(cls, raw: bytes, *, family: str, status: int, stage: str) -> HostileRequest:
        """Wrap *raw* with its family, expected status and stage."""
        self = super().__new__(cls, raw)
        self.family = family
        self.status = status
        self.stage = stage
        return self

    def __repr__(self) -> str:
        return f"HostileRequest({self.family!r}, {bytes(self)!r})"


class MultipartField(NamedTuple):
    """One part of a ``multipart/form-data`` body.

    ``filename`` is ``None`` for a text field (whose ``data`` is UTF-8 text) and a
    name for a file upload; ``content_type`` is the part's own ``Content-Type``.
    """

    name: str
    data: bytes
    filename: str | None = None
    content_type: str | None = None


class RoutePath(NamedTuple):
    """A path generated for one rule of a :class:`~crosswind.routing.map.Map`.

    * ``path`` -- decoded, for :meth:`Map.match <crosswind.routing.map.Map.match>`;
    * ``url`` -- the same path percent-encoded, for a request target;
    * ``method`` -- a method the rule accepts;
    * ``rule`` -- the rule the path was built from;
    * ``values`` -- what a match of that rule returns (converted values and defaults);
    * ``domain`` -- the subdomain (or, with ``host_matching``, the host) the rule
      needs: pass it as ``subdomain=`` (or ``host=``) to ``match``.
    """

    path: str
    url: str
    method: str
    rule: Rule
    values: dict[str, Any]
    domain: str


# -- requests --------------------------------------------------------------------------

_tokens = st.text(_TCHARS, min_size=1, max_size=12)
_field_names = _tokens.filter(lambda name: name.lower() not in _RESERVED_FIELDS)
_VCHARS = [char.encode("latin-1") for char in VCHARS]
_OBS_TEXT = [char.encode("latin-1") for char in OBS_TEXT]


def _field_value(obs_text: bool) -> st.SearchStrategy[bytes]:
    """A field value as RFC 9110 section 5.5 has it: no whitespace at either end."""
    visible = st.sampled_from(_VCHARS + _OBS_TEXT if obs_text else _VCHARS)
    inner = st.one_of(visible, st.sampled_from([b" ", b"\t"]))
    return st.one_of(
        st.just(b""),
        visible,
        st.builds(
            lambda first, middle, last: first + b"".join(middle) + last,
            visible,
            st.lists(inner, max_size=16),
            visible,
        ),
    )


_pct_encoded = st.builds(lambda a, b: "%" + a + b, st.sampled_from(_HEX), st.sampled_from(_HEX))
_pchar = st.one_of(st.sampled_from(_UNRESERVED + _SUB_DELIMS + ":@"), _pct_encoded)
_segment = st.lists(_pchar, max_size=8).map("".join)
_path_abempty = st.lists(_segment, min_size=1, max_size=4).map(lambda s: "/" + "/".join(s))
_query = st.lists(st.one_of(_pchar, st.sampled_from("/?")), max_size=16).map("".join)
_reg_names = st.lists(
    st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8), min_size=1, max_size=3
).map(".".join)
_hosts = st.one_of(
    st.just("example.com"),
    _reg_names,
    st.builds(lambda h, p: f"{h}:{p}", st.sampled_from(["localhost", "127.0.0.1", "[::1]"]),
              st.integers(1, 65535)),
)


@st.composite
def _origin_form(draw: st.DrawFn) -> str:
    path = draw(_path_abempty)
    if draw(st.booleans()):
        path += "?" + draw(_query)
    return path


def _custom_methods() -> st.SearchStrategy[str]:
    # CONNECT turns the connection into a tunnel; it is not a request a test can echo.
    return st.text(_TCHARS.upper(), min_size=1, max_size=10).filter(
        lambda m: m.upper() not in ("CONNECT", *_STANDARD_METHODS) and m == m.upper()
    )


def _chunk_extension(draw: st.DrawFn, quirks: set[str], allowed: bool) -> bytes:
    if not allowed or draw(st.integers(0, 3)) != 0:
        return b""
    quirks.add("chunk-extension")
    out = b""
    for index in range(draw(st.integers(1, 2))):
        bws = b""
        if index == 0 and draw(st.booleans()):  # between the size and the first ";"
            bws = draw(st.sampled_from([b" ", b"\t", b"  "]))
            quirks.add("chunk-extension-bws")
        name = draw(_tokens).encode()
        value = draw(
            st.one_of(
                st.just(b""),
                _tokens.map(lambda t: b"=" + t.encode()),
                st.text(_TCHARS + " ()[]{}:/?,@", max_size=8).map(
                    lambda t: b'="' + t.encode() + b'"'
                ),
            )
        )
        out += bws + b";" + name + value
    return out


@st.composite
def _request(
    draw: st.DrawFn,
    methods: tuple[str, ...] | None,
    host: str | None,
    max_body_size: int,
    framings: tuple[str, ...],
    http_versions: tuple[str, ...],
    keep_alive: bool | None,
    expect_continue: bool | None,
    quirks_allowed: bool,
) -> HTTPRequest:
    quirks: set[str] = set()
    if methods is not None:
        method = draw(st.sampled_from(methods))
    elif quirks_allowed and draw(st.integers(0, 9)) == 0:
        method = draw(_custom_methods())
        quirks.add("custom-method")
    else:
        method = draw(st.sampled_from(_STANDARD_METHODS))

    version = draw(st.sampled_from(http_versions))
    if quirks_allowed and version == "1.1" and draw(st.integers(0, 19)) == 0:
        version = "1.%d" % draw(st.integers(2, 9))
        quirks.add("http-minor-above-1")

    host_value = host if host is not None else draw(_hosts)
    if host is None and quirks_allowed and draw(st.integers(0, 19)) == 0:
        host_value = ""  # RFC 9112 section 3.2: a target without an authority
        quirks.add("empty-host")

    form = "origin"
    if quirks_allowed:
        form = draw(st.sampled_from(["origin"] * 8 + ["absolute", "asterisk"]))
    if form == "asterisk" and method == "OPTIONS":
        target = "*"
        quirks.add("asterisk-form")
    elif form == "absolute" and host_value:
        target = f"http://{host_value}{draw(_origin_form())}"
        quirks.add("absolute-form")
    else:
        target = draw(_origin_form())

    obs_text = quirks_allowed and draw(st.integers(0, 4)) == 0
    fields: list[tuple[bytes, bytes]] = []  # as sent (name case kept)
    for _ in range(draw(st.integers(0, 5))):
        name = draw(_field_names).encode()
        value = draw(_field_value(obs_text))
        if any(byte >= 0x80 for byte in value):
            quirks.add("obs-text")
        fields.append((name, value))

    framing_choices = [f for f in framings if f != "chunked" or version != "1.0"]
    if not framing_choices:
        framing_choices = ["length"]
    framing = draw(st.sampled_from(framing_choices))
    body = b"" if framing == "none" else draw(st.binary(max_size=max_body_size))

    alive = draw(st.sampled_from([True, True, True, False])) if keep_alive is None else keep_alive
    expect = (
        draw(st.integers(0, 4)) == 0 if expect_continue is None else expect_continue
    ) and version != "1.0" and framing != "none"

    framing_fields: list[tuple[bytes, bytes]] = []
    if framing == "length":
        framing_fields.append((b"Content-Length", b"%d" % len(body)))
    elif framing == "chunked":
        framing_fields.append((b"Transfer-Encoding", b"chunked"))
    if expect:
        framing_fields.append((b"Expect", b"100-continue"))
    if version == "1.0":
        if alive:
            framing_fields.append((b"Connection", b"keep-alive"))
    elif not alive:
        framing_fields.append((b"Connection", b"close"))
    elif draw(st.integers(0, 9)) == 0:
        framing_fields.append((b"Connection", b"keep-alive"))

    # Host goes anywhere among the fields; on HTTP/1.0 it may be left out.
    all_fields = fields + framing_fields
    if version != "1.0" or draw(st.booleans()):
        at = draw(st.integers(0, len(all_fields)))
        all_fields.insert(at, (draw(st.sampled_from([b"Host", b"host", b"HOST"])),
                               host_value.encode()))
    lines = [b"%s %s HTTP/%s" % (method.encode(), target.encode(), version.encode())]
    for name, value in all_fields:
        name = _recase(draw, name)
        ows = draw(st.sampled_from([b" ", b"", b"\t", b"  "]))
        trailing = b""
        if quirks_allowed and draw(st.integers(0, 9)) == 0:
            trailing = draw(st.sampled_from([b" ", b"\t"]))
            quirks.add("trailing-ows")
        lines.append(name + b":" + ows + value + trailing)
    prefix = b""
    if quirks_allowed and draw(st.integers(0, 19)) == 0:
        prefix = b"\r\n"
        quirks.add("leading-crlf")
    head = prefix + b"\r\n".join(lines) + b"\r\n\r\n"

    trailers: list[tuple[bytes, bytes]] = []
    payload = body
    if framing == "chunked":
        payload = b""
        cuts = sorted(set(draw(st.lists(st.integers(1, max(1, len(body) - 1)), max_size=4))))
        bounds = [0, *[c for c in cuts if c < len(body)], len(body)]
        for start, end in zip(bounds, bounds[1:], strict=False):
            piece = body[start:end]
            if not piece:
                continue
            size = b"%x" % len(piece)
            if draw(st.booleans()):
                size = size.upper()
            if draw(st.integers(0, 5)) == 0:
                size = b"0" + size
            extension = _chunk_extension(draw, quirks, quirks_allowed)
            payload += size + extension + b"\r\n" + piece + b"\r\n"
        payload += draw(st.sampled_from([b"0", b"00", b"000"]))
        payload += _chunk_extension(draw, quirks, quirks_allowed) + b"\r\n"
        if quirks_allowed and draw(st.integers(0, 3)) == 0:
            quirks.add("trailers")
            for _ in range(draw(st.integers(1, 2))):
                name = draw(_field_names).encode()
                value = draw(_field_value(False))
                payload += name + b": " + value + b"\r\n"
                trailers.append((name.lower(), value))
        payload += b"\r\n"

    reported = tuple((name.lower(), value) for name, value in all_fields)
    return HTTPRequest(
        head + payload,
        method=method,
        target=target,
        http_version=version,
        headers=reported,
        body=body,
        trailers=trailers,
        framing=framing,
        head_size=len(head),
        expect_continue=expect,
        keep_alive=alive,
        quirks=frozenset(quirks),
    )


def _recase(draw: st.DrawFn, name: bytes) -> bytes:
    style = draw(st.integers(0, 3))
    if style == 1:
        return name.lower()
    if style == 2:
        return name.upper()
    return name


def valid_requests(
    *,
    methods: Sequence[str] | None = None,
    host: str | None = None,
    max_body_size: int = 256,
    framings: Sequence[str] = ("none", "length", "chunked"),
    http_versions: Sequence[str] = ("1.1", "1.1", "1.1", "1.0"),
    keep_alive: bool | None = None,
    expect_continue: bool | None = None,
    quirks: bool = True,
) -> st.SearchStrategy[HTTPRequest]:
    """Well-formed HTTP/1.x requests as raw bytes (:class:`HTTPRequest`).

    Methods, origin/absolute/asterisk-form targets, header sets with any name case and
    optional whitespace, and bodies framed by ``Content-Length`` or chunked with
    extensions and trailers.  Never ``CONNECT``, never a field that asks for a protocol
    switch, and no generated extra field changes the framing.

    :param methods: choose among these; by default the common methods, and now and
        then (with *quirks*) another token.
    :param host: the ``Host`` value to send; generated when ``None``.
    :param max_body_size: the largest body generated.
    :param framings: the body framings to use: ``"none"``, ``"length"``, ``"chunked"``
        (HTTP/1.0 requests never use chunked).
    :param http_versions: the versions to choose among, e.g. ``("1.1",)``; repeat one
        to make it likelier (the default is three parts 1.1 to one part 1.0).  With
        *quirks*, an HTTP/1.1 request is now and then sent as HTTP/1.2 to 1.9, which
        servers must handle as 1.1.
    :param keep_alive: ``True`` never sends ``Connection: close``, ``False`` always
        does (or, on HTTP/1.0, omits ``keep-alive``); ``None`` mixes.
    :param expect_continue: whether requests with a body say ``Expect: 100-continue``
        (``None``: sometimes).
    :param quirks: also use valid forms that are rare in practice (see
        :attr:`HTTPRequest.quirks`); ``False`` keeps to what common clients send.
    """
    if not framings or any(f not in ("none", "length", "chunked") for f in framings):
        raise ValueError(f"framings must name 'none', 'length' or 'chunked', not {framings!r}")
    if not http_versions or any(v not in ("1.0", "1.1") for v in http_versions):
        raise ValueError(f"http_versions must be '1.0' or '1.1', not {http_versions!r}")
    if methods is not None and (not methods or any(m.upper() == "CONNECT" for m in methods)):
        raise ValueError("methods must be a non-empty list without CONNECT")
    return _request(
        tuple(methods) if methods is not None else None,
        host,
        max_body_size,
        tuple(framings),
        tuple(http_versions),
        keep_alive,
        expect_continue,
        quirks,
    )


def split_into_chunks(data: bytes, *, max_pieces: int = 16) -> st.SearchStrategy[list[bytes]]:
    """Ways TCP could deliver *data*: non-empty pieces that join back to it.

    :param data: the bytes to cut.
    :param max_pieces: the most pieces generated.
    """
    if max_pieces < 1:
        raise ValueError(f"max_pieces must be at least 1, not {max_pieces}")
    data = bytes(data)
    if len(data) < 2 or max_pieces == 1:
        return st.just([data] if data else [])

    def cut(points: list[int]) -> list[bytes]:
        bounds = [0, *sorted(points), len(data)]
        return [data[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]

    return st.lists(
        st.integers(1, len(data) - 1), unique=True, max_size=min(max_pieces - 1, len(data) - 1)
    ).map(cut)


@st.composite
def _pipeline(
    draw: st.DrawFn, requests: st.SearchStrategy[HTTPRequest], min_size: int, max_size: int
) -> Pipeline:
    chosen: list[HTTPRequest] = []
    while len(chosen) < max_size:
        request = draw(requests)
        chosen.append(request)
        if not request.pipelinable:
            break  # nothing behind it could be answered
        if len(chosen) >= min_size and not draw(st.booleans()):
            break
    return Pipeline(chosen)


def pipelined(
    requests: st.SearchStrategy[HTTPRequest] | None = None,
    *,
    min_size: int = 1,
    max_size: int = 4,
) -> st.SearchStrategy[Pipeline]:
    """Requests sent back to back on one connection (a :class:`Pipeline`).

    Only the last request may end the connection (see :attr:`HTTPRequest.pipelinable`);
    the list stops early at one that does, so it can hold fewer than *min_size*.

    :param requests: where the requests come from (default :func:`valid_requests`).
    :param min_size: the fewest requests, unless one ends the connection.
    :param max_size: the most requests.
    """
    if not 1 <= min_size <= max_size:
        raise ValueError(f"need 1 <= min_size <= max_size, got {min_size}, {max_size}")
    return _pipeline(requests if requests is not None else valid_requests(), min_size, max_size)


# -- hostile requests --------------------------------------------------------------------

#: Every family :func:`hostile_requests` generates, with what makes it hostile.
HOSTILE_FAMILIES: Mapping[str, str] = {
    "cl-and-te": "Content-Length and Transfer-Encoding together (CL.TE / TE.CL smuggling)",
    "duplicate-content-length": "Content-Length repeated or listed with differing values",
    "content-length-not-digits": "a Content-Length that is not a plain decimal number",
    "content-length-too-long": "a Content-Length of more than 18 digits",
    "chunk-size-not-hex": "a chunk size that is not hexadecimal digits",
    "chunk-size-too-long": "a chunk size of more than 16 hex digits",
    "chunk-data-overrun": "chunk data not followed by CRLF where its size says",
    "chunk-extension-control-char": "a control character inside a chunk extension",
    "chunk-line-bare-lf": "a chunk size line ended by a bare LF",
    "chunked-end-bare-lf": "the blank line ending a chunked body is a bare LF",
    "trailer-invalid": "a trailer field without a colon or with space before it",
    "trailer-obs-fold-or-control": "a folded trailer line or a control character in a trailer",
    "control-char-in-field-value": "a C0 control character (other than HTAB) or DEL in a field",
    "control-char-in-request-line": "a control character in the method or target",
    "obs-fold": "a header line continued by leading whitespace (obsolete line folding)",
    "bare-lf": "head lines ended by LF without CR",
    "bare-cr": "a CR not followed by LF inside the head",
    "missing-host": "an HTTP/1.1 request without Host",
    "duplicate-host": "more than one Host field",
    "request-line-too-long": "a request line longer than the limit",
    "head-too-large": "a header section larger than the limit",
    "too-many-header-fields": "more header fields than the limit",
    "unsupported-http-version": "a well-formed version that is not HTTP/1.x",
    "malformed-http-version": "an HTTP version that is not HTTP-name/DIGIT.DIGIT",
    "transfer-encoding-not-chunked": "a Transfer-Encoding whose final coding is not chunked",
    "transfer-encoding-unsupported": "a transfer coding other than chunked before chunked",
    "transfer-encoding-chunked-twice": "chunked applied twice",
    "transfer-encoding-http10": "Transfer-Encoding on an HTTP/1.0 request",
    "space-before-colon": "whitespace between a field name and its colon",
    "invalid-field-name": "a field name that is not a token",
    "unsupported-expectation": "an Expect other than 100-continue",
    "malformed-request-line": "a request line without exactly method SP target SP version",
}

_BASE_TARGETS = st.sampled_from(["/", "/a", "/index.html", "/search?q=1", "/x/y/z"])
_BODY_METHODS = st.sampled_from(["POST", "PUT", "PATCH"])


def _head(request_line: bytes, fields: Sequence[tuple[bytes, bytes]]) -> bytes:
    return request_line + b"\r\n" + b"".join(n + b": " + v + b"\r\n" for n, v in fields) + b"\r\n"


def _line(draw: st.DrawFn, method: st.SearchStrategy[str] | None = None) -> bytes:
    chosen = draw(method if method is not None else st.sampled_from(["GET", "POST", "DELETE"]))
    return b"%s %s HTTP/1.1" % (chosen.encode(), draw(_BASE_TARGETS).encode())


def _some_fields(draw: st.DrawFn) -> list[tuple[bytes, bytes]]:
    return [(draw(_field_names).encode(), draw(_field_value(False)))
            for _ in range(draw(st.integers(0, 2)))]


def _with_host(draw: st.DrawFn, fields: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    fields = _some_fields(draw) + fields
    fields.insert(draw(st.integers(0, len(fields))), (b"Host", b"example.com"))
    return fields


def _chunked_request(draw: st.DrawFn, payload: bytes) -> bytes:
    fields = _with_host(draw, [(b"Transfer-Encoding", b"chunked")])
    return _head(_line(draw, _BODY_METHODS), fields) + payload


def _good_chunk(draw: st.DrawFn) -> bytes:
    data = draw(st.binary(min_size=1, max_size=8))
    return b"%x\r\n" % len(data) + data + b"\r\n"


Family = Callable[[st.DrawFn, Limits], tuple[bytes, int, str]]


def _cl_and_te(draw: st.DrawFn, limits: Limits) -> tuple[bytes, int, str]:
    chunked = b"0\r\n\r\n" + SMUGGLE_PROBE
    te_value = draw(st.sampled_from([b"chunked", b"Chunked", b"CHUNKED"]))
    cl = (b"Content-Length", draw(st.sampled_from([b"%d" % len(chunked), b"5", b"0", b"4"])))
    te = (b"Transfer-Encoding", te_value)
    pair = [cl, te] if draw(st.booleans()) else [te, cl]
    return _head(_line(draw, _BODY_METHODS), _with_host(draw, pair)) + chunked, 400, "head"


def _duplicate_cl(draw: st.DrawFn, limits: Limits) -> tuple[bytes, int, str]:
    a, b = draw(st.lists(st.integers(0, 30), min_size=2, max_size=2, unique=True))
    if draw(st.booleans()):
        fields = [(b"Content-Length", b"%d" % a), (b"Content-Length", b"%d" % b)]
    else:
        fields = [(b"Content-Length", b"%d, %d" % (a, b))]
    body = b"x" * max(a, b)
    return _head(_line(draw, _BODY_METHODS), _with_host(draw, fields)) + body, 400, "head"


def _cl_not_digits(draw: st.DrawFn, limits: Limits) -> tuple[bytes, int, str]:
    value = draw(st.sampled_from(
        [b"+5", b"-5", b"0x5", b"5 5", b"", b"5.0", b"1e1", b"five", b"5_0", b"\xd9\xa5"]
    ))
    fields = [(b"Content-Length", value)]
    return _head(_line(draw, _BODY_METHODS), _with_host(draw, fields)) + b"hello", 400, "head"


def _cl_too_long(draw: st.DrawFn, limits: Limits) -> tuple[bytes, int, str]:
    digits = draw(st.integers(19, 24))
    value = b"5".rjust(digits, b"0")
    fields = [(b"Content-Length", value)]
    return _head(_line(draw, _BODY_METHODS), _with_host(draw, fields)) + b"hello", 400, "head"


def _chunk_size_not_hex(draw: st.DrawFn, limits: Limits) -> tuple[bytes, int, str]:
    size = draw(st.sampled_from([b"g", b"0x5", b"-5", b"", b" 5", b"+5", b"5_0", b"z5", b";a"]))
    payload = _good_chunk(draw) + size + b"\r\nhello\r\n0\r\n\r\n"
    return _chunked_request(draw, payload), 400, "body"


def _chunk_size_too_long(draw: st.DrawFn, limits: Limits) -> tuple[bytes, int, str]:
    digits = draw(st.integers(17, 24))
    size = b"5".rjust(digits, b"0") if draw(st.booleans()) else b"f" * digits
    payload = size + b"\r\nhello\r\n0\r\n\r\n"
    return _chunked_request(draw, payload), 400, "body"


def _chunk_overrun(draw: st.DrawFn, limits: Limits) -> tuple[bytes, int, str]:
    data = draw(st.text("abcdefghij", min_size=2, max_size=10)).encode()
    said = draw(st.integers(1, len(data) - 1))
    payload = b"%x\r\n" % said + data + b"\r\n0\r\n\r\n"
    return _chunked_request(draw, payload), 400, "body"


def _chunk_ext_control(draw: st.DrawFn, limits: Limits) -> tuple[bytes, int, str]:
    control = draw(st.sampled_from([*_CONTROL_CHARS, b"\x7f"]))
    payload = b"5;ext=" + control + b"\r\nhello\r\n0\r\n\r\n"
    return _chunked_request(draw, payload), 400, "body"


def _chunk_bare_lf(draw: st.DrawFn, limits: Limits) -> tuple[bytes, int, str]:
    payload = draw(st.sampled_from([b"5\nhello\r\n0\r\n\r\n", b"5\r\nhello\r\n0\n\r\n"]))
    return _chunked_request(draw, payload), 400, "body"


def _chunked_end_bare_lf(draw: st.DrawFn, limits: Limits) -> tuple[bytes, int, str]:
    payload = _good_chunk(draw) + b"0\r\n" + draw(st.sampled_from([b"", b"X-T: 1\r\n"])) + b"\n"
    return _chunked_request(draw, payload), 400, "body"


def _trailer_invalid(draw: st.DrawFn, limits: Limits) -> tuple[bytes, int, str]:
    line = draw(st.sampled_from([b"no colon", b"X-T : 1", b": empty name", b"X(T): 1"]))
    return _chunked_request(draw, b"0\r\n" + line + b"\r\n\r\n"), 400, "body"


def _trailer_fold_control(draw: st.DrawFn, limits: Limits) -> tuple[bytes, int, str]:
    control = draw(st.sampled_from([*_CONTROL_CHARS, b"\x7f"]))
    lines = draw(st.sampled_from(
        [b"X-T: a\r\n b\r\n", b"X-T: a\r\n\tb\r\n", b"X-T: a" + control + b"b\r\n"]
    ))
    return _chunked_request(draw, b"0\r\n" + lines + b"\r\n"), 400, "body"


def _control_in_value(draw: st.DrawFn, limits: Limits) -> tuple[bytes, int, str]:
    control = draw(st.sampled_from([*_CONTROL_CHARS, b"\x7f"]))
    value = draw(st.sampled_from([b"a%sb", b"%sb", b"a%s", b"chunked%s"])) % control
    name = draw(st.sampled_from([b"X-Test", b"User-Agent", b"Transfer-Encoding"]))
    return _head(_line(draw), _with_host(draw, [(name, value)])), 400, "head"


def _control_in_request_line(draw: st.DrawFn, limits: Limits) -> tuple[bytes, int, str]:
    control = draw(st.sampled_from([*_CONTROL_CHARS, b"\x7f"]))
    line = draw(st.sampled_from([b"GET /a%sb HTTP/1.1", b"G%sET / HTTP/1.1", b"GET /%s HTTP/1.1"]))
    return _head(line % control, _with_host(draw, [])), 400, "head"


def _obs_fold(draw: st.DrawFn, limits: Limits) -> tuple[bytes, int, str]:
    fold = draw(st.sampled_from([b" ", b"\t", b"  "]))
    head = _head(_line(draw), _with_host(draw, [(b"X-Folded", b"first")]))
    at = head.index(b"X-Folded: first\r\n") + len(b"X-Folded: first\r\n")
    return head[:at] + fold + b"second\r\n" + head[at:], 400, "head"


def _bare_lf(draw: st.DrawFn, limits: Limits) -> tuple[bytes, int, str]:
    head = _head(_line(draw), _with_host(draw, []))
    lines = head[:-4].split(b"\r\n")
    # The last field line and the blank line keep their CRLF: without a CRLF CRLF the
    # head has not ended, and a server rightly waits for more.
    which = draw(st.sets(st.integers(0, len(lines) - 2), min_size=1))
    out = b""
    for index, line in enumerate(lines):
        out += line + (b"\n" if index in which else b"\r\n")
    return out + b"\r\n", 400, "head"


def _bare_cr(draw: st.DrawFn, limits: Limits) -> tuple[bytes, int, str]:
    head = _head(_line(draw), _with_host(draw, [(b"X-A", b"1"), (b"X-B", b"2")]))
    where = draw(st.sampled_from([b"\r\nX-A: 1\r\n", b"X-A: 1\r\n", b"\r\nX-B"]))
    replacement = where.replace(b"\r\n", b"\r", 1)
    return head.replace(where, replacement, 1), 400, "head"


def _missing_host(draw: st.DrawFn, limits: Limits) -> tuple[bytes, int, str]:
    return _head(_line(draw), _some_fields(draw)), 400, "head"


def _duplicate_host(draw: st.DrawFn, limits: Limits) -> tuple[bytes, int, str]:
    other = draw(st.sampled_from([b"example.com", b"evil.example", b""]))
    fields = _with_host(draw, [(draw(st.sampled_from([b"Host", b"host"])), other)])
    version = draw(st.sampled_from([b"1.1", b"1.0"]))
    return _head(b"GET / HTTP/" + version, fields), 400, "head"


def _request_line_too_long(draw: st.DrawFn, limits: Limits) -> tuple[bytes, int, str]:
    extra = draw(st.integers(1, 64))
    path = b"/" + b"a" * (limits.max_request_line - len(b"GET / HTTP/1.1") + extra)
    return _head(b"GET " + path + b" HTTP/1.1", _with_host(draw, [])), 414, "head"


def _head_too_large(draw: st.DrawFn, limits: Limits) -> tuple[bytes, int, str]:
    count = min(limits.max_header_count - 2, 8)
    size = limits.max_head_size // count + draw(st.integers(1, 64))
    fields = [(b"X-Big-%d" % i, b"v" * min(size, limits.max_head_size)) for i in range(count)]
    return _head(_line(draw), _with_host(draw, fields)), 431, "head"


def _too_many_fields(draw: st.DrawFn, limits: Limits) -> tuple[bytes, int, str]:
    count = limits.max_header_count + draw(st.integers(0, 8))
    fields = [(b"X-%d" % i, b"1") for i in range(count)]
    return _head(_line(draw), _with_host(draw, fields)), 431, "head"


def _unsupported_version(draw: st.DrawFn, limits: Limits) -> tuple[bytes, int, str]:
    version = draw(st.sampled_from([b"0.9", b"2.0", b"3.0", b"9.9", b"0.1", b"2.1"]))
    return _head(b"GET / HTTP/" + version, _with_host(draw, [])), 505, "head"


def _malformed_version(draw: st.DrawFn, limits: Limits) -> tuple[bytes, int, str]:
    version = draw(st.sampled_from(
        [b"HTTP/1.10", b"HTTP/11", b"http/1.1", b"HTTP/1.x", b"HTTP/1", b"HTTP 1.1", b"HTTPS/1.1",
         b"HTTP/1.1 ", b"HTTP/\xd9\xa1.1"]
    ))
    return _head(b"GET / " + version, _with_host(draw, [])), 400, "head"


def _te_not_chunked(draw: st.DrawFn, limits: Limits) -> tuple[bytes, int, str]:
    value = draw(st.sampled_from(
        [b"gzip", b"identity", b"chunked, gzip", b"", b"chunked;q=1", b"chunk", b"xchunked"]
    ))
    fields = _with_host(draw, [(b"Transfer-Encoding", value)])
    return _head(_line(draw, _BODY_METHODS), fields) + b"0\r\n\r\n", 400, "head"


def _te_unsupported(draw: st.DrawFn, limits: Limits) -> tuple[bytes, int, str]:
    value = draw(st.sampled_from([b"gzip, chunked", b"deflate, chunked", b"br,chunked"]))
    if draw(st.booleans()):
        first, _, last = value.partition(b",")
        fields = [(b"Transfer-Encoding", first.strip()), (b"Transfer-Encoding", last.strip())]
    else:
        fields = [(b"Transfer-Encoding", value)]
    return _head(_line(draw, _BODY_METHODS), _with_host(draw, fields)) + b"0\r\n\r\n", 501, "head"


def _te_twice(draw: st.DrawFn, limits: Limits) -> tuple[bytes, int, str]:
    if draw(st.booleans()):
        fields = [(b"Transfer-Encoding", b"chunked")] * 2
    else:
        fields = [(b"Transfer-Encoding", b"chunked, chunked")]
    return _head(_line(draw, _BODY_METHODS), _with_host(draw, fields)) + b"0\r\n\r\n", 400, "head"


def _te_http10(draw: st.DrawFn, limits: Limits) -> tuple[bytes, int, str]:
    fields = [(b"Transfer-Encoding", b"chunked")]
    if draw(st.booleans()):
        fields.append((b"Host", b"example.com"))
    return _head(b"POST / HTTP/1.0", fields) + b"5\r\nhello\r\n0\r\n\r\n", 400, "head"


def _space_before_colon(draw: st.DrawFn, limits: Limits) -> tuple[bytes, int, str]:
    name = draw(st.sampled_from([b"Host", b"Transfer-Encoding", b"Content-Length", b"X-A"]))
    space = draw(st.sampled_from([b" ", b"\t"]))
    value = {b"Transfer-Encoding": b"chunked", b"Content-Length": b"0"}.get(name, b"example.com")
    head = _head(_line(draw), _with_host(draw, []))
    line = name + space + b": " + value + b"\r\n"
    return head[:-2] + line + b"\r\n", 400, "head"


def _invalid_field_name(draw: st.DrawFn, limits: Limits) -> tuple[bytes, int, str]:
    name = draw(st.sampled_from(
        [b"X(A)", b"X@A", b"X\x80A", b"", b"X A", b"X/A", b"X{A}", b"X\"A", b"X[A]"]
    ))
    head = _head(_line(draw), _with_host(draw, []))
    return head[:-2] + name + b": 1\r\n\r\n", 400, "head"


def _unsupported_expectation(draw: st.DrawFn, limits: Limits) -> tuple[bytes, int, str]:
    value = draw(st.sampled_from(
        [b"200-ok", b"100-continue, foo", b"foo", b"100-continues", b"continue"]
    ))
    fields = _with_host(draw, [(b"Expect", value), (b"Content-Length", b"5")])
    return _head(_line(draw, _BODY_METHODS), fields) + b"hello", 417, "head"


def _malformed_request_line(draw: st.DrawFn, limits: Limits) -> tuple[bytes, int, str]:
    line = draw(st.sampled_from(
        [b"GET  / HTTP/1.1", b"GET / HTTP/1.1 x", b"GET HTTP/1.1", b" GET / HTTP/1.1",
         b"GET\t/\tHTTP/1.1", b"GET /a b HTTP/1.1", b"G(T / HTTP/1.1", b"/ HTTP/1.1",
         b"GET /", b"GET / HTTP/1.1\x20"]
    ))
    return _head(line, _with_host(draw, [])), 400, "head"


_FAMILIES: dict[str, Family] = {
    "cl-and-te": _cl_and_te,
    "duplicate-content-length": _duplicate_cl,
    "content-length-not-digits": _cl_not_digits,
    "content-length-too-long": _cl_too_long,
    "chunk-size-not-hex": _chunk_size_not_hex,
    "chunk-size-too-long": _chunk_size_too_long,
    "chunk-data-overrun": _chunk_overrun,
    "chunk-extension-control-char": _chunk_ext_control,
    "chunk-line-bare-lf": _chunk_bare_lf,
    "chunked-end-bare-lf": _chunked_end_bare_lf,
    "trailer-invalid": _trailer_invalid,
    "trailer-obs-fold-or-control": _trailer_fold_control,
    "control-char-in-field-value": _control_in_value,
    "control-char-in-request-line": _control_in_request_line,
    "obs-fold": _obs_fold,
    "bare-lf": _bare_lf,
    "bare-cr": _bare_cr,
    "missing-host": _missing_host,
    "duplicate-host": _duplicate_host,
    "request-line-too-long": _request_line_too_long,
    "head-too-large": _head_too_large,
    "too-many-header-fields": _too_many_fields,
    "unsupported-http-version": _unsupported_version,
    "malformed-http-version": _malformed_version,
    "transfer-encoding-not-chunked": _te_not_chunked,
    "transfer-encoding-unsupported": _te_unsupported,
    "transfer-encoding-chunked-twice": _te_twice,
    "transfer-encoding-http10": _te_http10,
    "space-before-colon": _space_before_colon,
    "invalid-field-name": _invalid_field_name,
    "unsupported-expectation": _unsupported_expectation,
    "malformed-request-line": _malformed_request_line,
}
assert set(_FAMILIES) == set(HOSTILE_FAMILIES)


@st.composite
def _hostile(draw: st.DrawFn, families: tuple[str, ...], limits: Limits) -> HostileRequest:
    family = draw(st.sampled_from(families))
    raw, status, stage = _FAMILIES[family](draw, limits)
    return HostileRequest(raw, family=family, status=status, stage=stage)


def hostile_requests(
    *, families: Sequence[str] | None = None, limits: Limits | None = None
) -> st.SearchStrategy[HostileRequest]:
    """Requests a server must refuse: smuggling attempts and malformed framing.

    Each is complete (a server has all it needs for a verdict without waiting), and
    none includes a request behind it; append :data:`SMUGGLE_PROBE` to check that
    nothing after a refused request is served.

    :param families: keys of :data:`HOSTILE_FAMILIES` to draw from (default all).
    :param limits: the server's limits, which the size families exceed (default
        :class:`~crosswind.protocol.limits.Limits`).
    :raises ValueError: for an unknown family name.
    """
    chosen = tuple(families) if families is not None else tuple(_FAMILIES)
    unknown = [name for name in chosen if name not in _FAMILIES]
    if unknown or not chosen:
        raise ValueError(f"unknown hostile request families {unknown!r}; see HOSTILE_FAMILIES")
    return _hostile(chosen, limits or Limits())


# -- field values --------------------------------------------------------------------------

_COOKIE_OCTETS = "".join(c for c in VCHARS if c not in '",;\\')
_cookie_names = st.text(_TCHARS, min_size=1, max_size=10)
_cookie_values = st.text(_COOKIE_OCTETS, max_size=16)


@st.composite
def _cookie_header(draw: st.DrawFn) -> tuple[str, dict[str, str]]:
    pairs = draw(st.lists(st.tuples(_cookie_names, _cookie_values), min_size=1, max_size=6))
    pieces = []
    expected: dict[str, str] = {}
    for name, value in pairs:
        wire = f'"{value}"' if draw(st.integers(0, 4)) == 0 else value
        pieces.append(f"{name}={wire}")
        expected.setdefault(name, value)
    separator = draw(st.sampled_from(["; ", "; ", ";"]))
    return separator.join(pieces), expected


def cookie_headers() -> st.SearchStrategy[tuple[str, dict[str, str]]]:
    """``Cookie`` header values as browsers send them, with the cookies they carry.

    Yields ``(header, cookies)``: names are RFC 6265 tokens, values cookie-octets,
    sometimes double-quoted (the quotes are not part of the value), pairs joined by
    ``"; "``.  When a name repeats, the first value is the one in *cookies*, because
    browsers send the most specific cookie first.
    """
    return _cookie_header()


# Characters a form encoder may leave as they are; everything else gets percent-encoded.
_FORM_SAFE = _UNRESERVED + "!$'()*,/:;?@"
_form_text = st.text(
    st.characters(exclude_categories=["Cs"], max_codepoint=0x10FFFF), max_size=12
)


def _form_encode(draw: st.DrawFn, text: str, *, in_name: bool) -> str:
    out = []
    for char in text:
        if char == " ":
            out.append(draw(st.sampled_from(["+", "%20"])))
        elif char in _FORM_SAFE and (char != "=" or not in_name):
            out.append(char if draw(st.integers(0, 4)) else quote(char, safe=""))
        else:
            encoded = quote(char, safe="")
            out.append(encoded.lower() if draw(st.integers(0, 4)) == 0 else encoded)
    return "".join(out)


@st.composite
def _form_pairs(draw: st.DrawFn, bare_names: bool) -> tuple[str, list[tuple[str, str]]]:
    pairs = draw(st.lists(st.tuples(_form_text.filter(bool), _form_text), max_size=6))
    pieces = []
    for name, value in pairs:
        encoded_name = _form_encode(draw, name, in_name=True)
        if not value and bare_names and draw(st.booleans()):
            pieces.append(encoded_name)
        else:
            pieces.append(encoded_name + "=" + _form_encode(draw, value, in_name=False))
        if draw(st.integers(0, 9)) == 0:
            pieces.append("")  # "a=1&&b=2": empty pieces carry nothing
    return "&".join(pieces), pairs


def query_strings() -> st.SearchStrategy[tuple[str, list[tuple[str, str]]]]:
    """URL query strings (without ``?``) and the fields they decode to, in order.

    Yields ``(query, fields)``.  Names and values are any Unicode text, UTF-8 and
    percent-encoded as browsers do (a space as ``+`` or ``%20``, hex digits in either
    case, safe characters sometimes left alone); names are never empty; a field with
    an empty value is sometimes sent as a bare name; repeated names stay in order.
    """
    return _form_pairs(True)


def urlencoded_bodies() -> st.SearchStrategy[tuple[bytes, list[tuple[str, str]]]]:
    """``application/x-www-form-urlencoded`` UTF-8 bodies and the fields they carry.

    Yields ``(body, fields)``, encoded as in :func:`query_strings`.
    """
    return _form_pairs(True).map(lambda pair: (pair[0].encode("ascii"), pair[1]))


_BCHARS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'()+_,-./:=?"
# Part names and file names: printable text without the characters browsers escape
# (quote, backslash, CR, LF), so every parser reads them the same way.
_part_text = st.text(
    st.characters(
        exclude_categories=("Cs", "Cc"), exclude_characters='"\\', max_codepoint=0x2FFF
    ),
    min_size=1,
    max_size=12,
)
_part_types = st.sampled_from(
    [None, "application/octet-stream", "text/plain", "image/png", "text/plain; charset=utf-8"]
)


@st.composite
def _multipart(draw: st.DrawFn) -> tuple[str, bytes, list[MultipartField]]:
    fields: list[MultipartField] = []
    for _ in range(draw(st.integers(0, 5))):
        name = draw(_part_text)
        if draw(st.booleans()):
            fields.append(MultipartField(name, draw(_form_text).encode("utf-8")))
        else:
            fields.append(MultipartField(
                name, draw(st.binary(max_size=64)), draw(_part_text), draw(_part_types)
            ))
    boundary = draw(st.text(_BCHARS, min_size=1, max_size=40))
    if draw(st.integers(0, 4)) == 0 and 2 <= len(boundary) < 70:
        at = draw(st.integers(1, len(boundary) - 1))
        boundary = boundary[:at] + " " + boundary[at:]  # inner spaces only (RFC 2046)
    # Lengthen the boundary until no part contains the delimiter; the delimiter is only
    # looked for after a line break, but refusing it anywhere keeps this simple.
    while any(b"--" + boundary.encode() in f.data for f in fields):
        boundary += draw(st.sampled_from(_BCHARS))
    delimiter = b"--" + boundary.encode("ascii")
    body = b""
    for field in fields:
        disposition = b'form-data; name="' + field.name.encode("utf-8") + b'"'
        if field.filename is not None:
            disposition += b'; filename="' + field.filename.encode("utf-8") + b'"'
        body += delimiter + b"\r\nContent-Disposition: " + disposition + b"\r\n"
        if field.content_type is not None:
            body += b"Content-Type: " + field.content_type.encode("ascii") + b"\r\n"
        body += b"\r\n" + field.data + b"\r\n"
    body += delimiter + b"--\r\n"
    if not fields:
        body = delimiter + b"--\r\n"
    parameter = boundary if all(c in _TCHARS for c in boundary) else f'"{boundary}"'
    return f"multipart/form-data; boundary={parameter}", body, fields


def multipart_bodies() -> st.SearchStrategy[tuple[str, bytes, list[MultipartField]]]:
    """``multipart/form-data`` bodies as browsers build them (RFC 7578).

    Yields ``(content_type, body, expected_fields)``: the ``Content-Type`` header value
    (with the boundary, quoted when it is not a token), the body, and its parts in
    order as :class:`MultipartField` values.  Text fields hold UTF-8 text; file parts
    hold any bytes, a file name and sometimes a ``Content-Type``.  Field and file names
    may be non-ASCII (sent as raw UTF-8, as browsers do) but never hold a quote,
    backslash or line break.
    """
    return _multipart()


# -- routes --------------------------------------------------------------------------------

_segment_text = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="/"), min_size=1, max_size=10
).filter(lambda s: s not in (".", ".."))
_UNICODE_RE = re.compile(r"\[\^/\]\{(\d+)(?:,(\d*))?\}")


def _converter_values(converter: BaseConverter) -> st.SearchStrategy[Any]:
    """Python values *converter* turns into URL text it matches again."""
    if isinstance(converter, AnyConverter):
        return st.sampled_from(sorted(converter.items))
    if isinstance(converter, UUIDConverter):
        return st.uuids()
    if isinstance(converter, PathConverter):
        # Its regex, like werkzeug's, is "[^/].*?": the "." stops at a newline.
        segment = _segment_text.filter(lambda s: "\n" not in s)
        return st.lists(segment, min_size=1, max_size=4).map("/".join)
    if isinstance(converter, FloatConverter):
        return _float_values(converter)
    if isinstance(converter, NumberConverter):
        return _int_values(converter)
    if type(converter) is UnicodeConverter:
        match = _UNICODE_RE.fullmatch(converter.regex)
        low, high = 1, None
        if match is not None:
            low = int(match.group(1))
            if match.group(2) is None:
                high = low
            elif match.group(2):
                high = int(match.group(2))
        text = st.text(
            st.characters(exclude_categories=["Cs"], exclude_characters="/"),
            min_size=low,
            max_size=high if high is not None else max(low, 10),
        )
        return text.filter(lambda s: s not in (".", ".."))
    return _custom_values(converter)


def _int_values(converter: NumberConverter) -> st.SearchStrategy[int]:
    low = 0 if not converter.signed else -(10**12)
    high = 10**12
    if converter.fixed_digits:
        high = min(high, 10**converter.fixed_digits - 1)
        if converter.signed:
            # "-" counts as a character, not a digit, in werkzeug's check
            low = max(low, -(10 ** (converter.fixed_digits - 1) - 1))
    if converter.min is not None:
        low = max(low, int(-(-converter.min // 1)))
    if converter.max is not None:
        high = min(high, int(converter.max // 1))
    if low > high:
        raise ValueError(f"integer converter accepts no value in [{low}, {high}]")
    return st.integers(low, high)


def _float_values(converter: FloatConverter) -> st.SearchStrategy[float]:
    # to_url writes str(value), which must stay digits.digits for the regex to match.
    plain = re.compile(r"-?\d+\.\d+" if converter.signed else r"\d+\.\d+")

    def fits(value: float) -> bool:
        return bool(plain.fullmatch(str(value))) and (
            (converter.min is None or value >= converter.min)
            and (converter.max is None or value <= converter.max)
        )

    low = converter.min if converter.min is not None else (-1e6 if converter.signed else 0.0)
    high = converter.max if converter.max is not None else 1e6
    return st.builds(
        lambda whole, frac: round(whole + frac / 1000, 3),
        st.integers(int(low) - 1, int(high) + 1),
        st.integers(0, 999),
    ).filter(fits)


_REFUSED = object()


def _custom_values(converter: BaseConverter) -> st.SearchStrategy[Any]:
    def convert(text: str) -> Any:
        try:
            return converter.to_python(text)
        except ValidationError:
            return _REFUSED

    pattern = converter.regex if converter.part_isolating else f"(?:{converter.regex})"
    texts = st.from_regex(pattern, fullmatch=True)
    if converter.part_isolating:
        texts = texts.filter(lambda s: "/" not in s)
    return texts.map(convert).filter(lambda value: value is not _REFUSED)



@st.composite
def _route_path(draw: st.DrawFn, url_map: Map, methods: tuple[str, ...] | None) -> RoutePath:
    rules = [rule for rule in url_map.iter_rules() if not rule.build_only]
    rules = [
        rule for rule in rules
        if methods is None or rule.methods is None or set(methods) & rule.methods
    ]
    if not rules:
        raise ValueError("the map has no rule that can match (all build-only or no method)")
    rule = draw(st.sampled_from(rules))
    values = {
        name: draw(_converter_values(converter))
        for name, converter in rule.converters.items()
        if name not in rule.defaults
    }
    built = rule.build(values, append_unknown=False)
    if built is None:
        raise ValueError(f"rule {rule.rule!r} refused values generated for it: {values!r}")
    domain, url = built
    allowed = sorted(rule.methods) if rule.methods is not None else list(_STANDARD_METHODS)
    if methods is not None:
        allowed = [m for m in allowed if m in methods] or list(methods)
    method = draw(st.sampled_from(allowed))
    expected = {
        name: converter.to_python(unquote(converter.to_url(values[name])))
        for name, converter in rule.converters.items()
        if name in values
    }
    expected.update(rule.defaults)
    return RoutePath(unquote(url), url, method, rule, expected, unquote(domain))


def route_paths(
    url_map: Map, *, methods: Sequence[str] | None = None
) -> st.SearchStrategy[RoutePath]:
    """Paths that reach a rule of *url_map*, with converter values generated per type.

    ``int``/``float`` values respect ``min``, ``max``, ``signed`` and ``fixed_digits``;
    ``string`` the length limits; ``any`` picks a listed word; ``uuid`` any UUID;
    ``path`` one or more segments; a custom converter gets text matching its regex
    that its ``to_python`` accepts.  Segments are never ``.`` or ``..``, which clients
    resolve before sending.

    Matching :attr:`RoutePath.path` with :attr:`RoutePath.method` never raises
    ``NotFound`` or ``MethodNotAllowed``; it returns :attr:`RoutePath.rule` unless an
    earlier rule also matches the path, and may redirect where the rule asks to
    (``redirect_to``, defaults, slashes).

    :param url_map: the map whose rules to reach; build-only rules are skipped.
    :param methods: only rules accepting one of these methods.
    :raises ValueError: (when drawn) if no rule of the map can match.
    """
    return _route_path(url_map, tuple(methods) if methods is not None else None)
