"""Three rules of the HTTP/1.1 layer, each met as soon as the bytes prove it.

* ``Host`` must be ``uri-host [ ":" port ]`` (RFC 9112 section 3.2, RFC 3986
  section 3.2.2), or empty: anything else is a 400.
* A bare LF in a request head, a chunk-size line or a trailer line is a 400
  the moment it arrives, never a wait for the header or body timeout.
* A chunk-size line that takes the body over ``max_body_size`` (as it is when
  the line is read) is a 413 the moment the line ends, before any of the
  chunk's data.

Connections are fed one byte at a time, so a test can tell at which byte the
refusal came.
"""

from __future__ import annotations

import ipaddress

import pytest
from crosswind.errors import RemoteProtocolError, RequestError
from crosswind.protocol.events import NEED_DATA, PAUSED, EndOfMessage, Request
from crosswind.protocol.http1.connection import ServerConnection
from crosswind.protocol.http1.engine import available_engines
from crosswind.protocol.http1.head import _HOST_VALUE, find_head_end, screen_head
from crosswind.protocol.limits import Limits
from crosswind.testing import serve_bytes
from hypothesis import given
from hypothesis import strategies as st

ENGINES = available_engines()

# -- helpers ----------------------------------------------------------------------------------


def head_with_host(host: bytes, version: bytes = b"1.1") -> bytes:
    return b"GET / HTTP/%s\r\nHost: %s\r\nAccept: */*\r\n\r\n" % (version, host)


def refusal_point(
    raw: bytes, engine: str, limits: Limits | None = None, *, raise_limit_to: int | None = None
) -> tuple[int, RequestError] | None:
    """Feed *raw* one byte at a time; say after how many bytes it was refused, and how.

    :param raise_limit_to: set the connection's ``max_body_size`` to this once the
        request head is in, as a route does before it reads the body.
    :returns: ``None`` if every byte was taken without a refusal.
    """
    conn = ServerConnection(limits, clock=lambda: 0.0, engine=engine)
    for count in range(1, len(raw) + 1):
        conn.receive_data(raw[count - 1 : count])
        try:
            while True:
                event = conn.next_event()
                if event is NEED_DATA or event is PAUSED:
                    break
                if type(event) is Request and raise_limit_to is not None:
                    conn.max_body_size = raise_limit_to
        except RequestError as error:
            return count, error
    return None


def body_events(raw: bytes, engine: str, limits: Limits | None = None) -> bool:
    """Whether the one request in *raw* is read to its end (in one read)."""
    conn = ServerConnection(limits, clock=lambda: 0.0, engine=engine)
    conn.receive_data(raw)
    while (event := conn.next_event()) is not NEED_DATA:
        if type(event) is EndOfMessage:
            return True
    return False


# -- Host ---------------------------------------------------------------------------------------

_UNRESERVED = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~"
_SUB_DELIMS = "!$&'()*+,;="
_pct_encoded = st.integers(0, 255).map(lambda octet: f"%{octet:02X}") | st.integers(0, 255).map(
    lambda octet: f"%{octet:02x}"
)
reg_names = st.lists(
    st.sampled_from(_UNRESERVED + _SUB_DELIMS) | _pct_encoded, max_size=20
).map("".join)
dns_names = st.lists(
    st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True), min_size=1, max_size=4
).map(".".join)
ipv4 = st.ip_addresses(v=4).map(str)


@st.composite
def ipv6_literals(draw: st.DrawFn) -> str:
    address = draw(st.ip_addresses(v=6))
    form = draw(st.sampled_from(["compressed", "exploded", "ipv4-tail", "upper"]))
    if form == "compressed":
        text = address.compressed
    elif form == "exploded":
        text = address.exploded
    elif form == "upper":
        text = address.compressed.upper()
    else:  # ls32 written as an IPv4 address, six groups or "::" before it
        tail = str(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        groups = address.exploded.split(":")[:6]
        text = draw(st.sampled_from([":".join(groups) + ":", "::", "::ffff:"])) + tail
    return f"[{text}]"


ip_futures = st.builds(
    lambda version, rest: f"[v{version}.{rest}]",
    st.from_regex(r"[0-9A-Fa-f]{1,3}", fullmatch=True),
    st.text(_UNRESERVED + _SUB_DELIMS + ":", min_size=1, max_size=12),
)
ports = st.one_of(st.just(""), st.integers(0, 65535).map(lambda n: f":{n}"), st.just(":"),
                  st.from_regex(r":[0-9]{1,8}", fullmatch=True))
valid_authorities = st.builds(
    lambda host, port: (host + port).encode("ascii"),
    st.one_of(dns_names, reg_names, ipv4, ipv6_literals(), ip_futures),
    ports,
)

# Octets no authority may hold anywhere (controls aside: those are refused for the
# whole head, with a reason of their own).
_NEVER_IN_HOST = [bytes([c]) for c in b' /?#@\\"<>^`{|}'] + [bytes([c]) for c in range(0x80, 0x100)]


@st.composite
def invalid_authorities(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["foreign-octet", "bad-pct", "bad-port", "bare-ipv6",
                                 "bad-literal", "two-ports"]))
    if kind == "foreign-octet":
        valid = draw(valid_authorities)
        at = draw(st.integers(0, len(valid)))
        octet = draw(st.sampled_from(_NEVER_IN_HOST))
        if octet == b" ":  # at either end it is the OWS around the value
            return b"a" + valid[:at] + octet + valid[at:] + b"a"
        return valid[:at] + octet + valid[at:]
    if kind == "bad-pct":
        name = draw(reg_names).encode()
        broken = draw(st.sampled_from([b"%", b"%4", b"%g0", b"%0G", b"%%41"]))
        at = draw(st.integers(0, len(name)))
        return name[:at] + broken + (b"" if broken != b"%4" else b"!") + name[at:]
    if kind == "bad-port":
        host = draw(st.one_of(dns_names, ipv4, ipv6_literals())).encode()
        return host + b":" + draw(st.from_regex(r"[0-9]{0,4}[a-zA-Z.\-_~!$&'()*+,;=%:\[\]]+",
                                                fullmatch=True)).encode()
    if kind == "bare-ipv6":
        # Unbracketed, an IPv6 address has colons a port cannot explain.
        return draw(st.ip_addresses(v=6).map(lambda a: a.exploded)).encode()
    if kind == "two-ports":
        return draw(valid_authorities).split(b":")[0] + b":80:80"
    return draw(st.sampled_from([
        b"[::1", b"::1]", b"[]", b"[1:2:3:4:5:6:7:8:9]", b"[1::2::3]", b"[12345::]",
        b"[1.2.3.4]", b"[::256.1.1.1]", b"[::1.2.3]", b"[::01.2.3.4]", b"[v.a]", b"[vg.a]",
        b"[v1.]", b"[v1.a/b]", b"[::1]x", b"[::1]]", b"[[::1]", b"x[::1]",
    ]))


@given(valid_authorities)
def test_every_valid_authority_is_accepted_as_sent(host: bytes) -> None:
    head = screen_head(head_with_host(host), Limits())
    assert (b"host", host) in head.headers


@given(invalid_authorities(), st.sampled_from([b"1.1", b"1.0"]))
def test_every_invalid_authority_is_a_400(host: bytes, version: bytes) -> None:
    with pytest.raises(RemoteProtocolError, match="invalid Host header") as caught:
        screen_head(head_with_host(host, version), Limits())
    assert caught.value.status_code == 400


@given(st.one_of(valid_authorities, invalid_authorities()), st.sampled_from(ENGINES))
def test_the_connection_answers_as_the_screen_decides(host: bytes, engine: str) -> None:
    try:
        screen_head(head_with_host(host), Limits())
        expected = b"HTTP/1.1 200 "
    except RemoteProtocolError:
        expected = b"HTTP/1.1 400 "

    class Ok:
        async def handle(self, exchange: object) -> None:
            await exchange.respond(200, [], b"")  # type: ignore[attr-defined]

    assert serve_bytes(Ok(), [head_with_host(host)], engine=engine).startswith(expected)


def _screen_accepts_literal(text: str) -> bool:
    try:
        screen_head(head_with_host(b"[" + text.encode("ascii") + b"]"), Limits())
    except RemoteProtocolError:
        return False
    return True


def _stdlib_accepts(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


@st.composite
def near_ipv6(draw: st.DrawFn) -> str:
    """IPv6 addresses with a few characters inserted, deleted or replaced."""
    text = draw(ipv6_literals())[1:-1]
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(text)))
        char = draw(st.sampled_from("0123456789abcdefABCDEF:."))
        text = draw(st.sampled_from([text[:at] + char + text[at:],
                                     text[:at] + text[at + 1 :],
                                     text[:at] + char + text[at + 1 :]]))
    return text


@given(near_ipv6())
def test_an_ip_literal_is_an_ipv6_address_exactly_when_the_stdlib_says_so(text: str) -> None:
    # An independent reading of RFC 4291 section 2.2, which RFC 3986's IPv6address follows.
    if text[:1] in "vV":
        return
    assert _screen_accepts_literal(text) == _stdlib_accepts(text), text


@given(st.lists(st.sampled_from([b"a", b"Z", b"0", b"9", b".", b"-", b"~", b"!", b":", b"[",
                                 b"]", b"%", b"%4", b"%41", b"v", b"@", b"/", b"\x80", b"::1"]),
                max_size=10).map(b"".join))
def test_the_quick_path_for_plain_names_agrees_with_the_grammar(host: bytes) -> None:
    # screen_head settles a plain name (and port) without its regex; the verdict
    # must be the regex's all the same.
    try:
        screen_head(head_with_host(host), Limits())
        accepted = True
    except RemoteProtocolError:
        accepted = False
    assert accepted == (_HOST_VALUE.fullmatch(host) is not None)


@pytest.mark.parametrize("host", [
    b"", b"example.com", b"EXAMPLE.COM:8080", b"127.0.0.1", b"[::1]:443", b"[V7.a:b]",
    b"xn--bcher-kva.example", b"a_b~c!$&'()*+,;=", b"%41bc", b"host:", b":80",
    b"999.999.999.999",  # not an IPv4 address, but a reg-name
])
def test_valid_examples(host: bytes) -> None:
    screen_head(head_with_host(host), Limits())


@pytest.mark.parametrize("host", [
    b"a b", b"a/b", b"user@host", b"host:80:80", b"host:8o", b"::1", b"[::1", b"ex%zzample",
    b"h\xc3\xa9", b"example.com/", b"[::1]:x",
])
def test_invalid_examples(host: bytes) -> None:
    with pytest.raises(RemoteProtocolError, match="invalid Host header"):
        screen_head(head_with_host(host), Limits())


def test_an_empty_host_is_allowed_with_or_without_whitespace() -> None:
    for raw in (b"GET / HTTP/1.1\r\nHost:\r\n\r\n", b"GET / HTTP/1.1\r\nHost:  \r\n\r\n"):
        assert (b"host", b"") in screen_head(raw, Limits()).headers


def test_the_host_regex_does_not_backtrack_on_a_long_refusal() -> None:
    # Runs of plain characters between percent triplets: a failure is linear.
    host = b"a" * 20000 + b"%4"
    with pytest.raises(RemoteProtocolError):
        screen_head(head_with_host(host), Limits(max_head_size=65536))


# -- bare LF ------------------------------------------------------------------------------------

field_lines = st.lists(
    st.tuples(st.from_regex(r"X-[A-Za-z]{1,8}", fullmatch=True),
              st.from_regex(r"[a-z0-9 ]{0,10}[a-z0-9]", fullmatch=True)),
    max_size=4,
)


@st.composite
def heads_with_a_bare_lf(draw: st.DrawFn) -> tuple[bytes, int]:
    """A head with one line ending changed to a bare LF, and the index of that LF."""
    lines = [b"GET /p HTTP/1.1", b"Host: example.com"]
    lines += [f"{name}: {value}".encode() for name, value in draw(field_lines)]
    lines.append(b"")
    which = draw(st.integers(0, len(lines) - 1))
    raw = b""
    at = -1
    for index, line in enumerate(lines):
        raw += line
        if index == which:
            at = len(raw)
            raw += b"\n"
        else:
            raw += b"\r\n"
    return raw, at


@pytest.mark.parametrize("engine", ENGINES)
@given(case=heads_with_a_bare_lf())
def test_a_bare_lf_in_the_head_is_refused_when_it_arrives(case: tuple[bytes, int],
                                                          engine: str) -> None:
    raw, at = case
    refused = refusal_point(raw + b"rest of the stream\r\n\r\n", engine)
    assert refused is not None
    count, error = refused
    assert (count, error.status_code, error.reason) == (at + 1, 400, "bare LF in request head")


@pytest.mark.parametrize("engine", ENGINES)
def test_a_head_of_bare_lf_lines_is_refused_at_the_first(engine: str) -> None:
    raw = b"GET / HTTP/1.1\nHost: a\n\n"
    assert refusal_point(raw, engine)[0] == len(b"GET / HTTP/1.1\n")  # type: ignore[index]
    # Before the request line too: only CRLF may precede it.
    assert refusal_point(b"\r\n\nGET / HTTP/1.1\r\n", engine)[0] == 3  # type: ignore[index]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_bare_lf_before_the_first_crlf_is_seen_in_the_same_read(engine: str) -> None:
    # Found by the protocol fuzz target: a read holding the bare LF and the CRLF
    # after it must be refused like the same bytes read one at a time.
    conn = ServerConnection(clock=lambda: 0.0, engine=engine)
    conn.receive_data(b"GET / HT\nGET / HTTP/1.1\r\nHost: a")
    with pytest.raises(RemoteProtocolError, match="bare LF"):
        conn.next_event()


@given(st.lists(st.sampled_from([b"GET / HTTP/1.1", b"Host: a", b"X: \x01", b"X-A: b" * 3,
                                 b"", b"\n", b"\r", b"\r\n", b"x\ny"]), max_size=8),
       st.sampled_from([b"\r\n\r\n", b"\r\n", b""]), st.integers(1, 7))
def test_the_verdict_on_a_head_does_not_depend_on_how_it_was_cut(parts: list[bytes], end: bytes,
                                                                 step: int) -> None:
    # The bare LF rule is met while the head is incomplete; for the same bytes
    # arriving whole, complete or not, the answer must be the same, reason included.
    raw = b"\r\n".join(parts) + end
    limits = Limits(max_header_count=3)

    class Ok:
        async def handle(self, exchange: object) -> None:
            await exchange.respond(200, [], b"")  # type: ignore[attr-defined]

    whole = serve_bytes(Ok(), [raw], limits=limits)
    cut = serve_bytes(Ok(), [raw[i : i + step] for i in range(0, len(raw), step)], limits=limits)
    assert cut == whole


CHUNKED_HEAD = b"POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("body, lf_at", [
    (b"5\nhello\r\n0\r\n\r\n", 1),  # size line
    (b"5;ext=1\nhello\r\n0\r\n\r\n", 7),  # size line with an extension
    (b"5\r\nhello\n0\r\n\r\n", 8),  # the line ending chunk data
    (b"5\r\nhello\r\n0\n\r\n", 11),  # last-chunk line
    (b"5\r\nhello\r\n0\r\nX-T: 1\nX-U: 2\r\n\r\n", 19),  # trailer line
    (b"5\r\nhello\r\n0\r\n\n", 13),  # the blank line ending the trailers
])
def test_a_bare_lf_in_chunked_framing_is_refused_when_it_arrives(body: bytes, lf_at: int,
                                                                 engine: str) -> None:
    assert body[lf_at : lf_at + 1] == b"\n" and body[lf_at - 1 : lf_at] != b"\r"
    count, error = refusal_point(CHUNKED_HEAD + body, engine)  # type: ignore[misc]
    assert (count, error.status_code) == (len(CHUNKED_HEAD) + lf_at + 1, 400)


# -- a chunk over the body limit ------------------------------------------------------------------


def chunked(sizes: list[int]) -> tuple[bytes, list[int]]:
    """A chunked body of chunks of *sizes*, and where each size line ends (its LF)."""
    body = b""
    line_ends = []
    for size in [*sizes, 0]:
        body += b"%x\r\n" % size
        line_ends.append(len(CHUNKED_HEAD) + len(body))
        if size:
            body += b"x" * size + b"\r\n"
    return CHUNKED_HEAD + body + b"\r\n", line_ends


@pytest.mark.parametrize("engine", ENGINES)
@given(sizes=st.lists(st.integers(1, 40), min_size=1, max_size=5), limit=st.integers(1, 120))
def test_a_chunk_over_the_limit_is_refused_when_its_size_line_ends(
    sizes: list[int], limit: int, engine: str
) -> None:
    raw, line_ends = chunked(sizes)
    refused = refusal_point(raw, engine, Limits(max_body_size=limit))
    totals = [sum(sizes[: i + 1]) for i in range(len(sizes))]
    over = next((i for i, total in enumerate(totals) if total > limit), None)
    if over is None:
        assert refused is None
        assert body_events(raw, engine, Limits(max_body_size=limit))
    else:
        assert refused is not None
        count, error = refused
        assert (count, error.status_code) == (line_ends[over], 413)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_huge_declared_chunk_is_refused_without_its_data(engine: str) -> None:
    raw = CHUNKED_HEAD + b"fffffffffffffff\r\n"
    count, error = refusal_point(raw, engine)  # type: ignore[misc]
    assert (count, error.status_code, error.reason) == (len(raw), 413, "request body too large")


@pytest.mark.parametrize("engine", ENGINES)
def test_the_limit_is_the_one_set_when_the_size_line_is_read(engine: str) -> None:
    raw, line_ends = chunked([8, 8])
    small = Limits(max_body_size=10)
    # Raised by the route before it reads: both chunks pass.
    assert refusal_point(raw, engine, small, raise_limit_to=16) is None
    # Lowered by the route: the first chunk is already too much.
    count, error = refusal_point(raw, engine, Limits(), raise_limit_to=7)  # type: ignore[misc]
    assert (count, error.status_code) == (line_ends[0], 413)
    # The server's own limit, unchanged: the second chunk crosses it.
    count, error = refusal_point(raw, engine, small)  # type: ignore[misc]
    assert (count, error.status_code) == (line_ends[1], 413)


def test_the_scanner_counts_what_its_size_lines_declared() -> None:
    from crosswind.protocol.http1.chunked import ChunkedScanner

    scanner = ChunkedScanner()
    assert scanner.scan(b"4\r\nabcd\r\n", max_body=6) == 9
    # The limit may change between calls; the 4 bytes already declared still count.
    with pytest.raises(RequestError) as caught:
        scanner.scan(b"3\r\n", max_body=6)
    assert caught.value.status_code == 413
    assert ChunkedScanner().scan(b"ffffffff\r\n") == 10  # no limit given: none applied


def test_the_reasons_name_no_peer_bytes() -> None:
    # A refusal's reason goes back to the peer: it must not echo what it sent.
    with pytest.raises(RemoteProtocolError) as caught:
        screen_head(head_with_host(b"<script>"), Limits())
    assert "script" not in caught.value.reason


def _head_end_by_the_line_first(buffer: bytes, limits: Limits) -> int | str:
    """find_head_end's answer as two searches give it: the line's end, then the blank line."""
    line_end = buffer.find(b"\r\n", 0, limits.max_request_line + 2)
    if line_end < 0:
        return "refused" if b"\n" in buffer[: limits.max_request_line + 2] or len(
            buffer
        ) > limits.max_request_line + 1 else -1
    end = buffer.find(b"\r\n\r\n", line_end, limits.max_head_size + 4)
    if end < 0:
        return "refused or waiting"
    return end + 4


@given(
    st.lists(
        st.sampled_from([b"\r\n", b"\r\n\r\n", b"GET / HTTP/1.1", b"Host: a", b"x" * 7, b"\n"]),
        max_size=12,
    )
)
def test_the_end_of_a_head_is_found_where_two_searches_find_it(pieces: list[bytes]) -> None:
    # One search for the blank line answers a short head; it must agree with
    # looking for the end of the request line first.
    limits = Limits(max_request_line=24, max_head_size=48)
    buffer = b"".join(pieces)
    expected = _head_end_by_the_line_first(buffer, limits)
    try:
        found: int | str = find_head_end(buffer, limits)
    except RemoteProtocolError:
        found = "refused"
    if isinstance(expected, str):
        assert found == "refused" or (found == -1 and expected != "refused")
    else:
        assert found == expected
