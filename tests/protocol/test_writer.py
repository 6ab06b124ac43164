"""Response serialization: framing decisions and header validation."""

import h11
import pytest
from crosswind.errors import LocalProtocolError
from crosswind.protocol.http1.writer import CONTINUE, ResponseWriter


def write(status, headers, body_parts=(), *, head_request=False, http10=False, keep_alive=True):
    writer = ResponseWriter(head_request=head_request, http10=http10)
    head, keep = writer.head(status, headers, b"", keep_alive)
    body = b"".join(writer.data(part) for part in body_parts) + writer.end()
    return head, body, keep


def client_reads(data: bytes, method: bytes = b"GET", version: bytes = b"1.1") -> list:
    client = h11.Connection(h11.CLIENT)
    headers = [(b"Host", b"x")] if version == b"1.1" else []
    client.send(h11.Request(method=method, target=b"/", headers=headers, http_version=version))
    client.send(h11.EndOfMessage())
    client.receive_data(data)
    client.receive_data(b"")
    events = []
    while True:
        event = client.next_event()
        if event is h11.NEED_DATA or isinstance(event, h11.ConnectionClosed):
            return events
        events.append(event)
        if isinstance(event, h11.EndOfMessage):
            return events


def test_sized_body_is_sent_as_is_and_keeps_alive():
    head, body, keep = write(200, [(b"Content-Length", b"5")], [b"hel", b"lo"])
    assert head == b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
    assert body == b"hello" and keep
    events = client_reads(head + body)
    assert events[1].data == b"hello"


def test_unsized_body_is_chunked_for_http11():
    head, body, keep = write(200, [(b"Content-Type", b"text/plain")], [b"ab", b"", b"cde"])
    assert b"Transfer-Encoding: chunked\r\n" in head
    assert body == b"2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n" and keep
    assert b"".join(e.data for e in client_reads(head + body) if isinstance(e, h11.Data)) == b"abcde"


def test_unsized_body_to_http10_is_delimited_by_close():
    head, body, keep = write(
        200, [(b"Transfer-Encoding", b"chunked")], [b"abc"], http10=True
    )
    assert b"Transfer-Encoding" not in head and b"Connection: close\r\n" in head
    assert body == b"abc" and not keep


def test_http10_keep_alive_is_announced():
    head, _, keep = write(200, [(b"Content-Length", b"0")], http10=True)
    assert keep and head.endswith(b"Connection: keep-alive\r\n\r\n")


@pytest.mark.parametrize("status", [204, 304])
def test_no_body_statuses_send_no_body(status):
    head, body, _ = write(status, [(b"ETag", b'"x"')], [b"ignored"])
    assert body == b"" and b"Transfer-Encoding" not in head


def test_head_keeps_the_length_a_get_would_have():
    head, body, keep = write(200, [(b"Content-Length", b"13")], [b"Hello, world!"], head_request=True)
    assert b"Content-Length: 13\r\n" in head and body == b"" and keep


def test_close_is_announced_once():
    head, _, keep = write(200, [(b"Content-Length", b"0")], keep_alive=False)
    assert head.count(b"Connection: close") == 1 and not keep
    head, _, keep = write(200, [(b"Connection", b"close"), (b"Content-Length", b"0")])
    assert head.count(b"Connection") == 1 and not keep


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (b"X-Bad", b"a\r\nSet-Cookie: evil=1"),
        (b"X-Bad", b"a\nb"),
        (b"X-Bad", b"nul\x00"),
        (b"Bad Name", b"v"),
        (b"Bad:Name", b"v"),
        (b"", b"v"),
    ],
)
def test_headers_that_would_split_the_block_are_refused(name, value):
    with pytest.raises(LocalProtocolError):
        write(200, [(name, value)])


@pytest.mark.parametrize("value", [b"a\r\nSet-Cookie: evil=1", b"a\rb", b"\x7f"])
def test_the_refusal_names_the_field_with_the_control_character(value):
    headers = [(b"X-Fine", b"1"), (b"X-Bad", value), (b"Content-Length", b"0")]
    with pytest.raises(LocalProtocolError, match="'X-Bad' has a control character"):
        write(200, headers)


@pytest.mark.parametrize("reason", [b"OK\r\nSet-Cookie: evil=1", b"O\nK", b"O\x00K"])
def test_a_reason_phrase_that_would_split_the_block_is_refused(reason):
    writer = ResponseWriter(head_request=False, http10=False)
    with pytest.raises(LocalProtocolError, match="reason phrase"):
        writer.head(200, [(b"Content-Length", b"0")], reason, True)


def test_tab_and_obs_text_are_allowed_in_values():
    head, _, _ = write(200, [(b"X-Ok", b"a\tb \xe9"), (b"Content-Length", b"0")])
    assert b"X-Ok: a\tb \xe9\r\n" in head


@pytest.mark.parametrize("value", [b"-1", b"1e3", b"", b"0x10", b"1" * 19])
def test_invalid_content_length_is_refused(value):
    with pytest.raises(LocalProtocolError, match="Content-Length"):
        write(200, [(b"Content-Length", value)])


def test_body_must_match_its_declared_length():
    writer = ResponseWriter(head_request=False, http10=False)
    writer.head(200, [(b"Content-Length", b"3")], b"", True)
    with pytest.raises(LocalProtocolError, match="longer"):
        writer.data(b"abcd")
    writer = ResponseWriter(head_request=False, http10=False)
    writer.head(200, [(b"Content-Length", b"3")], b"", True)
    writer.data(b"ab")
    with pytest.raises(LocalProtocolError, match="shorter"):
        writer.end()


def test_unsupported_transfer_coding_is_refused():
    with pytest.raises(LocalProtocolError, match="Transfer-Encoding"):
        write(200, [(b"Transfer-Encoding", b"gzip")])


def test_continue_is_a_complete_interim_response():
    assert CONTINUE == b"HTTP/1.1 100 Continue\r\n\r\n"


def test_a_2xx_to_connect_opens_a_tunnel_without_framing():
    # RFC 9110 section 9.3.6: no Content-Length or Transfer-Encoding, no body.
    writer = ResponseWriter(head_request=False, http10=False, connect=True)
    head, _ = writer.head(200, [(b"Content-Length", b"5"), (b"X-A", b"1")], b"", False)
    assert b"Content-Length" not in head and b"Transfer-Encoding" not in head
    assert b"X-A: 1\r\n" in head
    assert writer.data(b"hello") == b"" and writer.end() == b""
    refused = ResponseWriter(head_request=False, http10=False, connect=True)
    head, _ = refused.head(407, [(b"Content-Length", b"4")], b"", False)
    assert b"Content-Length: 4\r\n" in head and refused.data(b"nope") == b"nope"


def test_text_fields_are_written_as_latin1():
    head, body, keep = write(
        200, [("Content-Type", "text/plain"), ("X-Name", "caf\u00e9"), ("Content-Length", "2")],
        [b"ok"],
    )
    assert head == (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Name: caf\xe9\r\n"
        b"Content-Length: 2\r\n\r\n"
    )
    assert body == b"ok" and keep


@pytest.mark.parametrize(
    "headers",
    [
        [("X-A", "1"), (b"X-B", b"2")],
        [(b"X-A", b"1"), ("X-B", "2")],
        [("X-A", b"1")],
        [(b"X-A", "1")],
    ],
)
def test_bytes_and_text_fields_cannot_be_mixed(headers):
    # A bytes value among text fields would otherwise be written as its repr, b'1'.
    writer = ResponseWriter(head_request=False, http10=False)
    with pytest.raises(LocalProtocolError, match="all bytes or all str"):
        writer.head(200, headers, b"", True)


@pytest.mark.parametrize(
    ("name", "value"),
    [("X-Bad", "a\r\nSet-Cookie: x=1"), ("X Bad", "1"), ("X-Euro", "\u20ac")],
)
def test_text_fields_are_validated_like_bytes(name, value):
    writer = ResponseWriter(head_request=False, http10=False)
    with pytest.raises(LocalProtocolError):
        writer.head(200, [(name, value)], b"", True)


@pytest.mark.parametrize("text", [False, True])
def test_a_known_length_adds_content_length_unless_framed(text):
    def fields(*pairs):
        return [(n.decode(), v.decode()) for n, v in pairs] if text else list(pairs)

    writer = ResponseWriter(head_request=False, http10=False)
    head, _ = writer.head(200, fields((b"X-A", b"1")), b"", True, length=5)
    assert head.endswith(b"X-A: 1\r\nContent-Length: 5\r\n\r\n")
    assert writer.data(b"hello") == b"hello" and writer.end() == b""
    # The application's own framing wins.
    writer = ResponseWriter(head_request=False, http10=False)
    head, _ = writer.head(200, fields((b"Transfer-Encoding", b"chunked")), b"", True, length=5)
    assert b"Content-Length" not in head
    writer = ResponseWriter(head_request=False, http10=False)
    head, _ = writer.head(204, fields((b"X-A", b"1")), b"", True, length=0)
    assert b"Content-Length" not in head
    # HEAD reports the length a GET would have, and sends no body.
    writer = ResponseWriter(head_request=True, http10=False)
    head, _ = writer.head(200, fields((b"X-A", b"1")), b"", True, length=5)
    assert b"Content-Length: 5\r\n" in head and writer.data(b"hello") == b""


# -- Date and Server ------------------------------------------------------------------

NOW = 784111777.5  # Sun, 06 Nov 1994 08:49:37 GMT


def stamped(headers, status=200, **kwargs):
    """The head a writer given a wall clock and a Server value makes."""
    from crosswind.httpdate import DateCache

    writer = ResponseWriter(
        head_request=False, http10=False, date=DateCache(lambda: NOW), server="crosswind", **kwargs
    )
    head, _ = writer.head(status, headers, b"", True, length=0)
    return head


def field_lines(head: bytes, name: bytes) -> list[bytes]:
    lines = head.split(b"\r\n")[1:]
    return [line for line in lines if line.split(b":", 1)[0].lower() == name]


@pytest.mark.parametrize("headers", [[(b"Content-Type", b"text/plain")], [("Content-Type", "text/plain")], []])
def test_date_and_server_are_added_to_bytes_and_text_fields(headers):
    head = stamped(headers)
    assert field_lines(head, b"date") == [b"Date: Sun, 06 Nov 1994 08:49:37 GMT"]
    assert field_lines(head, b"server") == [b"Server: crosswind"]
    response = client_reads(head)[0]
    assert (b"date", b"Sun, 06 Nov 1994 08:49:37 GMT") in response.headers
    assert (b"server", b"crosswind") in response.headers


@pytest.mark.parametrize(
    "headers",
    [
        [(b"date", b"Sat, 01 Jan 2000 00:00:00 GMT"), (b"SERVER", b"mine")],
        [("Date", "Sat, 01 Jan 2000 00:00:00 GMT"), ("Server", "mine")],
        [("DATE", "Sat, 01 Jan 2000 00:00:00 GMT"), ("server", "mine")],
    ],
)
def test_the_applications_own_date_and_server_are_kept_once(headers):
    head = stamped(headers)
    [date] = field_lines(head, b"date")
    [server] = field_lines(head, b"server")
    assert date.endswith(b": Sat, 01 Jan 2000 00:00:00 GMT") and server.endswith(b": mine")


def test_only_the_missing_one_is_added():
    head = stamped([(b"Server", b"mine")])
    assert field_lines(head, b"server") == [b"Server: mine"]
    assert field_lines(head, b"date") == [b"Date: Sun, 06 Nov 1994 08:49:37 GMT"]
    head = stamped([(b"Date", b"Sat, 01 Jan 2000 00:00:00 GMT")])
    assert field_lines(head, b"date") == [b"Date: Sat, 01 Jan 2000 00:00:00 GMT"]
    assert field_lines(head, b"server") == [b"Server: crosswind"]


@pytest.mark.parametrize("status", [204, 304, 404, 500])
def test_every_final_status_is_stamped(status):
    head = stamped([], status=status)
    assert len(field_lines(head, b"date")) == len(field_lines(head, b"server")) == 1


def test_a_tunnel_is_stamped_too():
    head = stamped([(b"Content-Length", b"0")], connect=True)
    assert field_lines(head, b"content-length") == []
    assert len(field_lines(head, b"date")) == 1


def test_without_a_clock_or_a_server_value_nothing_is_added():
    head, _, _ = write(200, [(b"Content-Length", b"0")])
    assert head == b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"


@pytest.mark.parametrize("value", ["crosswind\r\nX-Injected: 1", "snow\u2603man"])
def test_a_server_value_that_is_no_field_value_is_refused_up_front(value):
    with pytest.raises(LocalProtocolError, match="'Server'"):
        ResponseWriter(head_request=False, http10=False, server=value)


def test_the_server_field_can_be_left_out_of_one_response():
    writer = ResponseWriter(head_request=False, http10=False, server="crosswind")
    writer.omit_server()
    head, _ = writer.head(200, [(b"Content-Length", b"0")], b"", True)
    assert field_lines(head, b"server") == []
    writer.omit_server()
    head, _ = writer.head(200, [(b"Server", b"mine"), (b"Content-Length", b"0")], b"", True)
    assert field_lines(head, b"server") == [b"Server: mine"]
    writer.reset(False, False)  # the next request's response has it again
    head, _ = writer.head(200, [(b"Content-Length", b"0")], b"", True)
    assert field_lines(head, b"server") == [b"Server: crosswind"]


# -- fields written once and looked up after -------------------------------------------


@pytest.mark.parametrize("text", [False, True])
def test_a_repeated_response_is_written_the_same_every_time(text):
    fields = [(b"Content-Type", b"text/plain"), (b"X-Seen", b"again"), (b"Content-Length", b"2")]
    if text:
        fields = [(name.decode(), value.decode()) for name, value in fields]
    heads = []
    for _ in range(3):
        writer = ResponseWriter(head_request=False, http10=False)
        head, keep = writer.head(200, fields, b"", True)
        heads.append(head)
        assert keep and writer.data(b"ok") == b"ok" and writer.end() == b""
    assert heads == [
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Seen: again\r\n"
        b"Content-Length: 2\r\n\r\n"
    ] * 3


def test_a_known_content_length_still_holds_the_body_to_it():
    fields = [(b"Content-Length", b"3")]
    write(200, fields, [b"abc"])
    writer = ResponseWriter(head_request=False, http10=False)
    writer.head(200, fields, b"", True)
    with pytest.raises(LocalProtocolError, match="longer"):
        writer.data(b"abcd")
    writer = ResponseWriter(head_request=False, http10=False)
    with pytest.raises(LocalProtocolError, match="Content-Length"):
        writer.head(200, [(b"Content-Length", b"3"), (b"Content-Length", b"4")], b"", True)
    write(200, [(b"Content-Length", b"4")], [b"abcd"])
    with pytest.raises(LocalProtocolError, match="Content-Length"):
        writer.head(200, [(b"Content-Length", b"3"), (b"Content-Length", b"4")], b"", True)


def test_a_known_connection_close_still_closes():
    for _ in range(2):
        head, _, keep = write(200, [(b"Connection", b"close"), (b"Content-Length", b"0")])
        assert not keep and head.count(b"Connection") == 1


def test_a_refused_field_is_refused_every_time():
    for _ in range(2):
        with pytest.raises(LocalProtocolError, match="'X-Bad' has a control character"):
            write(200, [(b"X-Fine", b"1"), (b"X-Bad", b"a\r\nb"), (b"Content-Length", b"0")])
    write(200, [(b"X-Fine", b"1"), (b"Content-Length", b"0")])
    with pytest.raises(LocalProtocolError, match="'X-Bad' has a control character"):
        write(200, [(b"X-Fine", b"1"), (b"X-Bad", b"a\r\nb"), (b"Content-Length", b"0")])


def test_a_known_bytes_field_is_still_refused_among_text_fields():
    write(200, [(b"X-Both", b"1"), (b"Content-Length", b"0")])
    write(200, [("X-Both", "1"), ("Content-Length", "0")])
    writer = ResponseWriter(head_request=False, http10=False)
    with pytest.raises(LocalProtocolError, match="all bytes or all str"):
        writer.head(200, [("X-Both", "1"), (b"X-Both", b"1")], b"", True)
    with pytest.raises(LocalProtocolError, match="all bytes or all str"):
        writer.head(200, [(b"X-Both", b"1"), ("X-Both", "1")], b"", True)


def test_a_field_left_out_of_a_tunnel_is_checked_when_it_is_sent():
    tunnel = ResponseWriter(head_request=False, http10=False, connect=True)
    tunnel.head(200, [(b"Transfer-Encoding", b"gzip")], b"", False)
    with pytest.raises(LocalProtocolError, match="Transfer-Encoding"):
        write(200, [(b"Transfer-Encoding", b"gzip")])


def test_unhashable_fields_are_written_too():
    head, body, _ = write(200, [[b"X-List", b"1"], (b"X-Array", bytearray(b"2"))], [b"ok"])
    assert b"X-List: 1\r\nX-Array: 2\r\n" in head and body == b"2\r\nok\r\n0\r\n\r\n"


def test_fields_that_never_repeat_are_not_all_kept():
    from crosswind.protocol.http1 import writer as module

    for index in range(3 * module._MAX_LINES):
        head, _, _ = write(200, [(b"Etag", b'"%d"' % index), (b"Content-Length", b"0")])
        assert b'Etag: "%d"\r\n' % index in head
    assert len(module._BYTES_LINES) <= module._MAX_LINES
    head, _, _ = write(200, [(b"X-Long", b"x" * 5000), (b"Content-Length", b"0")])
    assert (b"X-Long", b"x" * 5000) not in module._BYTES_LINES


@pytest.mark.parametrize(
    ("status", "headers", "body", "head_request", "http10"),
    [
        (200, [(b"Content-Type", b"text/plain")], b"hello", False, False),
        (200, [("Content-Type", "text/plain")], b"hello", False, True),
        (200, [(b"Content-Length", b"5")], b"hello", False, False),
        (200, [(b"Transfer-Encoding", b"chunked")], b"hello", False, False),
        (200, [(b"Transfer-Encoding", b"chunked")], b"", False, False),
        (200, [(b"Transfer-Encoding", b"chunked")], b"hello", False, True),
        (200, [(b"X-A", b"1")], b"hello", True, False),
        (204, [(b"X-A", b"1")], b"", False, False),
        (304, [(b"Etag", b'"x"')], b"", False, True),
        (200, [], b"", False, False),
    ],
)
def test_a_whole_response_is_written_as_head_data_and_end_write_it(
    status, headers, body, head_request, http10
):
    apart = ResponseWriter(head_request=head_request, http10=http10, server="crosswind")
    head, keep = apart.head(status, headers, b"", True, len(body))
    expected = head + (apart.data(body) if body else b"") + apart.end()
    whole = ResponseWriter(head_request=head_request, http10=http10, server="crosswind")
    assert whole.head(status, headers, b"", True, len(body), body) == (expected, keep)


@pytest.mark.parametrize(("body", "message"), [(b"abcd", "longer"), (b"ab", "shorter"), (b"", "shorter")])
def test_a_whole_body_must_match_its_declared_length(body, message):
    writer = ResponseWriter(head_request=False, http10=False)
    assert not writer.head_written
    with pytest.raises(LocalProtocolError, match=message):
        writer.head(200, [(b"Content-Length", b"3")], b"", True, len(body), body)
    assert writer.head_written
    refused = ResponseWriter(head_request=False, http10=False)
    with pytest.raises(LocalProtocolError, match="Content-Length"):
        refused.head(200, [(b"Content-Length", b"x")], b"", True, len(body), body)
    assert not refused.head_written
    writer.reset(False, False)
    assert not writer.head_written
