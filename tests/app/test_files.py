"""send_file, send_from_directory and safe_join of crosswind.app."""

from __future__ import annotations

import io
import os
import posixpath
from pathlib import Path
from typing import Any

import pytest
from crosswind.app import App, safe_join, send_file, send_from_directory
from hypothesis import given
from hypothesis import strategies as st

CONTENT = b"0123456789" * 10


@pytest.fixture
def app(tmp_path: Path) -> App:
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "data.bin").write_bytes(CONTENT)
    (tmp_path / "files" / "page.html").write_text("<p>hi</p>")
    (tmp_path / "outside.txt").write_text("secret")
    application = App(__name__, root_path=str(tmp_path), token_source=lambda n: b"\xab" * n)

    @application.route("/data")
    def data() -> Any:
        return send_file("files/data.bin")

    @application.route("/files/<path:name>")
    def files(name: str) -> Any:
        return send_from_directory(tmp_path / "files", name)

    @application.route("/text-mode")
    def text_mode() -> Any:
        return send_file(io.StringIO("text"), mimetype="text/plain")

    @application.route("/nameless")
    def nameless() -> Any:
        return send_file(io.BytesIO(b"x"), as_attachment=True, mimetype="text/plain")

    @application.route("/unknown-type")
    def unknown_type() -> Any:
        return send_file(io.BytesIO(b"x"))

    return application


def test_whole_file_with_validators(app: App) -> None:
    response = app.test_client().get("/data")
    assert response.status_code == 200 and response.data == CONTENT
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["Content-Length"] == str(len(CONTENT))
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["ETag"].startswith('"') and "Last-Modified" in response.headers


def test_head_sends_headers_only(app: App) -> None:
    response = app.test_client().head("/data")
    assert response.status_code == 200 and response.data == b""
    assert response.headers["Content-Length"] == str(len(CONTENT))


def test_if_none_match_gives_304_without_entity_headers(app: App) -> None:
    client = app.test_client()
    etag = client.get("/data").headers["ETag"]
    response = client.get("/data", headers={"If-None-Match": etag})
    assert response.status_code == 304 and response.data == b""
    assert "Content-Length" not in response.headers and response.headers["ETag"] == etag


def test_single_range(app: App) -> None:
    response = app.test_client().get("/data", headers={"Range": "bytes=10-19"})
    assert response.status_code == 206 and response.data == CONTENT[10:20]
    assert response.headers["Content-Range"] == f"bytes 10-19/{len(CONTENT)}"
    assert response.headers["Content-Length"] == "10"


def test_several_ranges_become_multipart_byteranges(app: App) -> None:
    response = app.test_client().get("/data", headers={"Range": "bytes=0-1, 50-52"})
    boundary = "ab" * 16  # from the application's token source
    assert response.status_code == 206
    assert response.headers["Content-Type"] == f"multipart/byteranges; boundary={boundary}"
    body = response.data
    assert body.count(f"--{boundary}\r\n".encode()) == 2 and body.endswith(f"--{boundary}--\r\n".encode())
    assert b"Content-Range: bytes 0-1/100\r\n\r\n01\r\n" in body
    assert b"Content-Range: bytes 50-52/100\r\n\r\n012\r\n" in body
    assert response.headers["Content-Length"] == str(len(body))


def test_unsatisfiable_range_is_416_with_the_size(app: App) -> None:
    response = app.test_client().get("/data", headers={"Range": "bytes=500-"})
    assert response.status_code == 416 and response.headers["Content-Range"] == "bytes */100"


def test_if_range_mismatch_sends_the_whole_file(app: App) -> None:
    response = app.test_client().get("/data", headers={"Range": "bytes=0-1", "If-Range": '"old"'})
    assert response.status_code == 200 and response.data == CONTENT


def test_send_from_directory_guesses_type_and_refuses_escapes(app: App) -> None:
    client = app.test_client()
    page = client.get("/files/page.html")
    assert page.data == b"<p>hi</p>" and page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert client.get("/files/..%2foutside.txt").status_code == 404
    assert client.get("/files/%2e%2e/outside.txt").status_code in (404, 308)
    assert client.get("/files/missing.bin").status_code == 404


def test_send_file_misuse(app: App) -> None:
    app.config["PROPAGATE_EXCEPTIONS"] = True
    client = app.test_client()
    with pytest.raises(ValueError, match="binary mode"):
        client.get("/text-mode")
    with pytest.raises(TypeError, match="No name provided for attachment"):
        client.get("/nameless")
    with pytest.raises(TypeError, match="Unable to detect the MIME type"):
        client.get("/unknown-type")


def test_x_sendfile_leaves_the_body_to_the_front_server(app: App) -> None:
    app.config["USE_X_SENDFILE"] = True
    response = app.test_client().get("/data")
    assert response.headers["X-Sendfile"].endswith(os.path.join("files", "data.bin"))
    assert response.data == b""


def test_safe_join_examples() -> None:
    assert safe_join("/base", "a/b.txt") == "/base/a/b.txt"
    assert safe_join("/base", "a/../b.txt") == "/base/b.txt"
    assert safe_join("/base", "") == "/base/"
    assert safe_join("", "x") == "./x"
    for bad in ("../x", "..", "/etc/passwd", "a/../../x", "a\x00b"):
        assert safe_join("/base", bad) is None


segment = st.sampled_from(["..", ".", "", "a", "b c", "%2e", "...", "x.txt", "\\", "~"])


@given(st.lists(st.lists(segment, max_size=5).map("/".join), min_size=1, max_size=3))
def test_safe_join_never_escapes_the_directory(parts: list[str]) -> None:
    base = "/srv/files"
    joined = safe_join(base, *parts)
    if joined is not None:
        normalized = posixpath.normpath(joined)
        assert normalized == base or normalized.startswith(base + "/")
