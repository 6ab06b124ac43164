import io
import os

import pytest
from crosswind.errors import LocalProtocolError, RequestError
from crosswind.multipart import MultipartParser, UploadedFile, parse_multipart, secure_filename
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

BOUNDARY = "----crosswindTestBoundary7MA4YWxkTrZu0gW"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def encode_multipart(fields, files, boundary=BOUNDARY) -> bytes:
    """A small reference encoder: fields are (name, str), files (name, filename, type, bytes)."""
    out = []
    for name, value in fields:
        out.append(f"--{boundary}\r\n".encode())
        out.append(f"Content-Disposition: form-data; name={_quote(name)}\r\n\r\n".encode())
        out.append(value.encode() + b"\r\n")
    for name, filename, content_type, data in files:
        out.append(f"--{boundary}\r\n".encode())
        disposition = f"form-data; name={_quote(name)}; filename={_quote(filename)}"
        out.append(f"Content-Disposition: {disposition}\r\n".encode())
        if content_type is not None:
            out.append(f"Content-Type: {content_type}\r\n".encode())
        out.append(b"\r\n" + data + b"\r\n")
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out)


def _close_all(files):
    for _, upload in files.items(multi=True):
        upload.close()


def test_fields_and_files():
    body = encode_multipart(
        [("title", "Hello w\u00f6rld"), ("tag", "a"), ("tag", "b"), ("empty", "")],
        [
            ("doc", "report.pdf", "application/pdf; x=1", b"%PDF-1.4\r\n\x00\xff"),
            ("doc", "", None, b""),
        ],
    )
    fields, files = parse_multipart(body, CONTENT_TYPE)
    assert fields.items(multi=True) == [
        ("title", "Hello w\u00f6rld"),
        ("tag", "a"),
        ("tag", "b"),
        ("empty", ""),
    ]
    first, second = files.getlist("doc")
    assert (first.name, first.filename, first.size) == ("doc", "report.pdf", 12)
    assert first.content_type == "application/pdf; x=1" and first.mimetype == "application/pdf"
    assert first.headers["content-disposition"].startswith("form-data")
    assert first.read(4) == b"%PDF" and first.tell() == 4
    assert first.read() == b"-1.4\r\n\x00\xff"
    first.seek(0)
    assert first.read() == b"%PDF-1.4\r\n\x00\xff"
    assert (second.filename, second.content_type, second.size, second.read()) == ("", None, 0, b"")
    assert "report.pdf" in repr(first)
    _close_all(files)
    assert first.closed


def test_save_to_path_and_file_object(tmp_path):
    body = encode_multipart([], [("f", "a.bin", "application/octet-stream", b"x" * 1000)])
    _, files = parse_multipart(body, CONTENT_TYPE)
    with files["f"] as upload:
        upload.save(tmp_path / "a.bin")
        assert (tmp_path / "a.bin").read_bytes() == b"x" * 1000
        upload.seek(0)
        sink = io.BytesIO()
        upload.save(sink)
        assert sink.getvalue() == b"x" * 1000
        assert not sink.closed
        upload.seek(990)  # like Flask, save() copies from the current position
        upload.save(str(tmp_path / "tail.bin"))
        assert (tmp_path / "tail.bin").read_bytes() == b"x" * 10
    assert upload.closed


def test_large_files_spool_to_disk_in_tempdir(tmp_path):
    body = encode_multipart([], [("small", "s", None, b"s" * 10), ("big", "b", None, b"b" * 5000)])
    parser = MultipartParser(BOUNDARY, spool_threshold=1000, tempdir=tmp_path)
    parser.feed(body)
    parser.close()
    small, big = parser.files["small"], parser.files["big"]
    assert not small.stream._rolled
    assert big.stream._rolled
    if os.path.exists("/proc/self/fd"):
        assert os.readlink(f"/proc/self/fd/{big.stream.fileno()}").startswith(str(tmp_path))
    assert big.read() == b"b" * 5000
    _close_all(parser.files)


def test_spool_threshold_zero_writes_straight_to_disk():
    body = encode_multipart([], [("f", "x", None, b"abc")])
    _, files = parse_multipart(body, CONTENT_TYPE, spool_threshold=0)
    with files["f"] as upload:
        assert upload.stream.fileno() >= 0 and upload.read() == b"abc"


def test_file_factory_decides_where_each_file_part_goes():
    made = []

    def factory():
        made.append(io.BytesIO())
        return made[-1]

    body = encode_multipart([("t", "x")], [("a", "a", None, b"A" * 3000), ("b", "b", None, b"B")])
    # A zero threshold would put files on disk: the factory replaces it.
    fields, files = parse_multipart(body, CONTENT_TYPE, spool_threshold=0, file_factory=factory)
    assert fields["t"] == "x" and len(made) == 2
    assert [files["a"].stream, files["b"].stream] == made
    assert files["a"].read() == b"A" * 3000 and files["b"].read() == b"B"
    _close_all(files)
    assert all(stream.closed for stream in made)


def test_filenames_are_kept_as_sent_and_match_flask():
    # A hand-written body, as browsers and curl produce them, including old IE full paths.
    body = (
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="a"; filename="../../etc/passwd"\r\n\r\nx\r\n'
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="b"; filename="C:\\\\Users\\\\me\\\\cv.pdf"\r\n\r\nx\r\n'
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="c"; filename=plain.txt\r\n\r\nx\r\n'
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="d"; filename="semi;colon \\"q\\" \u00e9.txt"\r\n\r\nx\r\n'
        f"--{BOUNDARY}\r\n"
        "Content-Disposition: form-data; name=\"e\"; filename=\"x\"; filename*=UTF-8''evil\r\n\r\nx\r\n"
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="f\u00fcld"\r\n\r\nvalue\r\n'
        f"--{BOUNDARY}--\r\n"
    ).encode()
    fields, files = parse_multipart(body, CONTENT_TYPE)
    ours = [(name, upload.filename) for name, upload in files.items(multi=True)]
    assert ours == [
        ("a", "../../etc/passwd"),
        ("b", "C:\\Users\\me\\cv.pdf"),
        ("c", "plain.txt"),
        ("d", 'semi;colon "q" \u00e9.txt'),
        ("e", "x"),  # filename* is ignored (RFC 7578 section 4.2)
    ]
    assert fields.to_dict() == {"f\u00fcld": "value"}
    environ = EnvironBuilder(method="POST", data=body, content_type=CONTENT_TYPE).get_environ()
    flask_request = Request(environ)
    flask_files = [(n, f.filename) for n, f in flask_request.files.items(multi=True)]
    assert ours[:4] == flask_files[:4]
    assert fields.to_dict() == flask_request.form.to_dict()
    _close_all(files)
    flask_request.close()


def test_empty_form():
    fields, files = parse_multipart(f"--{BOUNDARY}--\r\n".encode(), CONTENT_TYPE)
    assert len(fields) == 0 and len(files) == 0


# -- limits ---------------------------------------------------------------------------


def _expect_error(status, message, body, **limits):
    parser = MultipartParser(BOUNDARY, **limits)
    with pytest.raises(RequestError) as info:
        for start in range(0, len(body), 7):
            parser.feed(body[start : start + 7])
        parser.close()
    assert info.value.status_code == status
    assert message in info.value.reason
    with pytest.raises(LocalProtocolError):
        parser.feed(b"more")
    return parser


def test_too_many_parts():
    body = encode_multipart([("k", "v")] * 4, [])
    _expect_error(413, "too many multipart parts (limit 3)", body, max_parts=3)
    assert len(parse_multipart(body, CONTENT_TYPE, max_parts=4)[0].getlist("k")) == 4


def test_field_too_large():
    body = encode_multipart([("k", "x" * 101)], [])
    _expect_error(413, "multipart field 'k' too large (limit 100 bytes)", body, max_field_size=100)
    assert parse_multipart(body, CONTENT_TYPE, max_field_size=101)[0]["k"] == "x" * 101


def test_file_too_large_closes_every_file():
    body = encode_multipart([], [("ok", "a", None, b"a" * 10), ("big", "b", None, b"b" * 51)])
    parser = _expect_error(413, "uploaded file too large (limit 50 bytes)", body, max_file_size=50)
    assert parser.files["ok"].closed


def test_total_too_large():
    body = encode_multipart([("k", "v" * 100)], [])
    _expect_error(413, "multipart body too large (limit 50 bytes)", body, max_total_size=50)


def test_headers_too_large():
    body = (
        f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"k\"\r\n"
        + "".join(f"X-{i}: {'v' * 4000}\r\n" for i in range(5))
        + f"\r\nv\r\n--{BOUNDARY}--\r\n"
    ).encode()
    with pytest.raises(RequestError) as info:
        parse_multipart(body, CONTENT_TYPE)
    assert info.value.status_code == 400
    assert "headers too large" in info.value.reason


# -- malformed input ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (encode_multipart([("k", "v")], [])[:-8], "ended before its closing boundary"),
        (b"", "ended before its closing boundary"),
        (b"not multipart at all", "malformed multipart body"),
        (f"--{BOUNDARY}\r\nno colon here\r\n\r\nv\r\n--{BOUNDARY}--\r\n".encode(), "malformed"),
        (f"--{BOUNDARY}\r\nContent-Type: text/plain\r\n\r\nv\r\n--{BOUNDARY}--\r\n".encode(), "Content-Disposition"),
        (f"--{BOUNDARY}\r\nContent-Disposition: form-data\r\n\r\nv\r\n--{BOUNDARY}--\r\n".encode(), "field name"),
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="k"\r\n\r\n'.encode()
            + b"\xff\xfe\r\n"
            + f"--{BOUNDARY}--\r\n".encode(),
            "invalid utf-8 in multipart field 'k'",
        ),
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="\xff"\r\n\r\nv\r\n--{BOUNDARY}--\r\n'.encode("latin-1"),
            "invalid utf-8 in multipart field name",
        ),
    ],
)
def test_malformed_bodies_are_400(body, message):
    _expect_error(400, message, body)


@pytest.mark.parametrize(
    "content_type",
    [
        "multipart/form-data",
        "multipart/form-data; boundary=",
        "multipart/form-data; boundary=\"\"",
        "multipart/form-data; boundary=" + "x" * 201,
        "multipart/form-data; boundary=caf\u00e9",
        "application/x-www-form-urlencoded; boundary=x",
    ],
)
def test_bad_content_type_or_boundary_is_400(content_type):
    with pytest.raises(RequestError) as info:
        parse_multipart(b"--x--\r\n", content_type)
    assert info.value.status_code == 400


def test_close_is_idempotent_and_feed_after_close_is_misuse():
    parser = MultipartParser(BOUNDARY)
    parser.feed(encode_multipart([("k", "v")], []))
    parser.close()
    parser.close()
    with pytest.raises(LocalProtocolError):
        parser.feed(b"x")


def test_context_manager_releases_files_when_the_caller_fails():
    body = encode_multipart([], [("f", "a", None, b"data")])
    with pytest.raises(RuntimeError), MultipartParser(BOUNDARY) as parser:
        parser.feed(body)
        raise RuntimeError("handler gave up")
    assert parser.files["f"].closed


# -- property: any chunking gives the same result --------------------------------------

_names = st.text(
    alphabet=st.characters(exclude_categories=["Cs", "Cc"]), min_size=1, max_size=8
)
_field_values = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=40)
_files = st.tuples(
    _names,
    _names,
    st.one_of(st.none(), st.sampled_from(["text/plain", "image/png", "application/octet-stream"])),
    st.binary(max_size=300),
)


@given(
    fields=st.lists(st.tuples(_names, _field_values), max_size=5),
    files=st.lists(_files, max_size=4),
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=12),
    spool_threshold=st.sampled_from([0, 16, 1024 * 1024]),
)
def test_any_chunking_parses_to_the_same_fields_and_files(fields, files, cuts, spool_threshold):
    body = encode_multipart(fields, files)
    points = sorted({min(cut, len(body)) for cut in cuts} | {0, len(body)})
    parser = MultipartParser(BOUNDARY, spool_threshold=spool_threshold)
    for start, end in zip(points, points[1:], strict=False):
        parser.feed(body[start:end])
    parser.close()
    try:
        assert parser.fields.items(multi=True) == sorted(
            fields, key=lambda pair: [name for name, _ in fields].index(pair[0])
        )
        got = [
            (name, upload.filename, upload.content_type, upload.read(), upload.size)
            for name, upload in parser.files.items(multi=True)
        ]
        expected = sorted(files, key=lambda f: [name for name, *_ in files].index(f[0]))
        assert got == [(n, fn, ct, data, len(data)) for n, fn, ct, data in expected]
    finally:
        _close_all(parser.files)


# -- secure_filename ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("My cool movie.mov", "My_cool_movie.mov"),
        ("../../../etc/passwd", "passwd"),
        ("..\\..\\windows\\win.ini", "win.ini"),
        ("C:\\Users\\me\\cv.pdf", "cv.pdf"),
        ("r\u00e9sum\u00e9.pdf", "resume.pdf"),
        ("i contain cool \u00fcml\u00e4uts.txt", "i_contain_cool_umlauts.txt"),
        (".bashrc", "bashrc"),
        ("..", ""),
        ("/", ""),
        ("\u6f22\u5b57", ""),
        ("CON", "_CON"),
        ("nul.txt", "_nul.txt"),
        ("lpt1.tar.gz", "_lpt1.tar.gz"),
        ("console.txt", "console.txt"),
        ("a\x00b;rm -rf$(x).sh", "abrm_-rfx.sh"),
        ("trailing. . .", "trailing._._"),
    ],
)
def test_secure_filename(name, expected):
    assert secure_filename(name) == expected


def test_secure_filename_keeps_length_and_extension_bounded():
    result = secure_filename("a" * 400 + ".tar")
    assert len(result) == 255 and result.endswith(".tar")


@given(st.text())
def test_secure_filename_output_is_always_safe(name):
    result = secure_filename(name)
    assert "/" not in result and "\\" not in result
    assert not result.startswith(".")
    assert all(c.isascii() and (c.isalnum() or c in "._-") for c in result)
    assert len(result) <= 255


def test_uploaded_file_can_be_built_directly():
    upload = UploadedFile("f", "n.txt", "text/plain", None, io.BytesIO(b"hi"), 2)  # type: ignore[arg-type]
    assert upload.read() == b"hi" and upload.mimetype == "text/plain"
