"""StaticFileHandler: validators, conditional requests, ranges, versioned URLs,
and every way out of the root refused."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import pytest
from crosswind.testing import Client
from crosswind.web import Application, RequestHandler, StaticFileHandler
from hypothesis import given
from hypothesis import strategies as st

NOW = 1_700_000_000.0
CONTENT = b"0123456789abcdefghij"
MTIME = 1_600_000_000


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "static"
    root.mkdir()
    (root / "a.txt").write_bytes(CONTENT)
    os.utime(root / "a.txt", (MTIME, MTIME))
    (root / "style.css").write_text("body{}")
    (root / "favicon.ico").write_bytes(b"icon")
    (root / "robots.txt").write_text("User-agent: *")
    (root / "data.bin.gz").write_bytes(b"\x1f\x8b")
    (root / "docs").mkdir()
    (root / "docs" / "index.html").write_text("docs index")
    (tmp_path / "secret.txt").write_text("top secret")
    (tmp_path / "static-sibling").mkdir()
    (tmp_path / "static-sibling" / "x.txt").write_text("sibling")
    StaticFileHandler.reset()
    return root


def make_client(site: Path, handlers=(), **settings) -> Client:
    settings.setdefault("clock", lambda: NOW)
    settings.setdefault("token_source", lambda n: b"\x01" * n)
    settings.setdefault("static_path", str(site))
    return Client(Application(list(handlers), **settings))


def test_serves_file_with_validators(site):
    response = make_client(site).get("/static/a.txt")
    assert response.status_code == 200
    assert response.content == CONTENT
    assert response.headers["Content-Type"] == "text/plain"
    assert response.headers["Content-Length"] == str(len(CONTENT))
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.headers["Etag"] == '"%s"' % hashlib.sha512(CONTENT).hexdigest()
    assert response.headers["Last-Modified"] == "Sun, 13 Sep 2020 12:26:40 GMT"
    assert "Cache-Control" not in response.headers


def test_content_types(site):
    client = make_client(site)
    assert client.get("/static/style.css").headers["Content-Type"] == "text/css"
    assert client.get("/static/data.bin.gz").headers["Content-Type"] == "application/gzip"


def test_favicon_and_robots_are_served_from_static_path(site):
    client = make_client(site)
    assert client.get("/favicon.ico").content == b"icon"
    assert client.get("/robots.txt").text == "User-agent: *"


def test_head_has_headers_only(site):
    response = make_client(site).head("/static/a.txt")
    assert response.status_code == 200 and response.content == b""
    assert response.headers["Content-Length"] == str(len(CONTENT))


def test_missing_file_is_404_and_post_is_405(site):
    client = make_client(site)
    assert client.get("/static/nope.txt").status_code == 404
    assert client.post("/static/a.txt").status_code == 405


def test_if_none_match_and_if_modified_since_give_304(site):
    client = make_client(site)
    etag = client.get("/static/a.txt").headers["Etag"]
    response = client.get("/static/a.txt", headers={"If-None-Match": etag})
    assert response.status_code == 304 and response.content == b""
    assert response.headers["Etag"] == etag
    assert "Content-Type" not in response.headers
    since = {"If-Modified-Since": "Sun, 13 Sep 2020 12:26:40 GMT"}
    assert client.get("/static/a.txt", headers=since).status_code == 304
    older = {"If-Modified-Since": "Sun, 13 Sep 2020 12:26:39 GMT"}
    assert client.get("/static/a.txt", headers=older).status_code == 200
    # If-None-Match wins over If-Modified-Since.
    both = {"If-None-Match": '"other"', **since}
    assert client.get("/static/a.txt", headers=both).status_code == 200


def test_if_match_failure_is_412(site):
    response = make_client(site).get("/static/a.txt", headers={"If-Match": '"nope"'})
    assert response.status_code == 412


@pytest.mark.parametrize(
    "header,status,body,content_range",
    [
        ("bytes=0-4", 206, CONTENT[0:5], "bytes 0-4/20"),
        ("bytes=15-", 206, CONTENT[15:], "bytes 15-19/20"),
        ("bytes=-3", 206, CONTENT[-3:], "bytes 17-19/20"),
        ("bytes=5-100", 206, CONTENT[5:], "bytes 5-19/20"),
        ("bytes=0-", 200, CONTENT, None),
        ("bytes=0-19", 200, CONTENT, None),
        ("bytes=20-", 416, b"", "bytes */20"),
        ("bytes=9-3", 416, b"", "bytes */20"),  # last before first: Tornado's 416
        ("bytes=9-3,0-1", 200, CONTENT, None),  # in a list, the header is ignored (RFC 9110)
        ("items=0-1", 200, CONTENT, None),
    ],
)
def test_ranges(site, header, status, body, content_range):
    response = make_client(site).get("/static/a.txt", headers={"Range": header})
    assert response.status_code == status
    assert response.content == body
    assert response.headers.get("Content-Range") == content_range
    assert response.headers["Content-Length"] == str(len(body))


def test_range_response_keeps_the_full_etag(site):
    client = make_client(site)
    etag = client.get("/static/a.txt").headers["Etag"]
    assert client.get("/static/a.txt", headers={"Range": "bytes=0-1"}).headers["Etag"] == etag


def test_a_backwards_range_is_refused_only_where_a_range_would_be_served(site):
    client = make_client(site)
    etag = client.get("/static/a.txt").headers["Etag"]
    backwards = {"Range": "bytes=10-5"}
    assert client.get("/static/a.txt", headers={**backwards, "If-None-Match": etag}).status_code == 304
    assert client.get("/static/a.txt", headers={**backwards, "If-Match": '"x"'}).status_code == 412
    stale = client.get("/static/a.txt", headers={**backwards, "If-Range": '"x"'})
    assert stale.status_code == 200 and stale.content == CONTENT
    fresh = client.get("/static/a.txt", headers={**backwards, "If-Range": etag})
    assert fresh.status_code == 416 and fresh.headers["Content-Range"] == "bytes */20"


def test_multiple_ranges_are_multipart_byteranges(site):
    response = make_client(site).get("/static/a.txt", headers={"Range": "bytes=0-1,10-11"})
    assert response.status_code == 206
    content_type = response.headers["Content-Type"]
    assert content_type.startswith("multipart/byteranges; boundary=")
    boundary = content_type.split("boundary=")[1]
    assert response.content == (
        f"--{boundary}\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-1/20\r\n\r\n01\r\n"
        f"--{boundary}\r\nContent-Type: text/plain\r\nContent-Range: bytes 10-11/20\r\n\r\nab\r\n"
        f"--{boundary}--\r\n"
    ).encode()


def test_if_range_with_stale_etag_sends_everything(site):
    response = make_client(site).get(
        "/static/a.txt", headers={"Range": "bytes=0-1", "If-Range": '"stale"'}
    )
    assert response.status_code == 200 and response.content == CONTENT


@given(st.integers(min_value=0, max_value=25), st.integers(min_value=0, max_value=25))
def test_property_single_ranges_slice_the_file(start, end):
    # A directory of its own per example, outside the checkout: two runs of
    # the suite at once must not delete each other's file.
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        (root / "f.bin").write_bytes(CONTENT)
        response = make_client(root).get("/static/f.bin", headers={"Range": f"bytes={start}-{end}"})
    if end < start or start >= len(CONTENT):
        assert response.status_code == 416
    else:
        expected = CONTENT[start : end + 1]
        assert response.content == expected
        assert response.status_code == (200 if expected == CONTENT else 206)


def test_static_url_is_versioned_and_cached_for_ten_years(site):
    class Page(RequestHandler):
        def get(self):
            self.write(
                self.static_url("a.txt")
                + " "
                + self.static_url("a.txt", include_version=False)
                + " "
                + self.static_url("style.css", include_host=True)
                + " "
                + self.static_url("missing.txt")
            )

    client = make_client(site, [(r"/", Page)])
    versioned, plain, absolute, missing = client.get("/").text.split(" ")
    digest = hashlib.sha512(CONTENT).hexdigest()
    assert versioned == f"/static/a.txt?v={digest}"
    assert plain == "/static/a.txt"
    assert absolute.startswith("http://testserver/static/style.css?v=")
    assert missing == "/static/missing.txt"
    response = client.get(versioned)
    assert response.headers["Cache-Control"] == "max-age=315360000"
    assert response.headers["Expires"] == "Fri, 11 Nov 2033 22:13:20 GMT"


def test_static_url_refuses_paths_outside_the_root(site):
    class Escape(RequestHandler):
        def get(self):
            self.write(self.static_url("../secret.txt"))

    assert make_client(site, [(r"/", Escape)]).get("/").status_code == 403


def test_static_url_prefix_and_handler_args(site):
    client = make_client(
        site,
        static_url_prefix="/assets/",
        static_handler_args={"default_filename": "index.html"},
    )
    assert client.get("/assets/a.txt").content == CONTENT
    assert client.get("/static/a.txt").status_code == 404
    assert client.get("/assets/docs/").text == "docs index"
    redirect = client.get("/assets/docs")
    assert (redirect.status_code, redirect.headers["Location"]) == (301, "/assets/docs/")


def test_static_hash_cache_off_recomputes_versions(site):
    class Page(RequestHandler):
        def get(self):
            self.write(self.static_url("style.css"))

    cached = make_client(site, [(r"/", Page)])
    fresh = make_client(site, [(r"/", Page)], static_hash_cache=False)
    before = cached.get("/").text
    (site / "style.css").write_text("body{color:red}")
    assert cached.get("/").text == before
    assert fresh.get("/").text != before


# -- ways out of the root ----------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/static/../secret.txt",
        "/static/%2e%2e/secret.txt",
        "/static/%2E%2E%2Fsecret.txt",
        "/static/docs/../../secret.txt",
        "/static//etc/passwd",
        "/static/%2Fetc%2Fpasswd",
        "/static/../static-sibling/x.txt",
    ],
)
def test_traversal_is_refused(site, path):
    response = make_client(site).get(path)
    assert response.status_code == 403
    assert b"secret" not in response.content and b"root:" not in response.content


def test_symlink_out_of_the_root_is_refused(site):
    (site / "leak.txt").symlink_to(site.parent / "secret.txt")
    (site / "leakdir").symlink_to(site.parent / "static-sibling")
    client = make_client(site)
    assert client.get("/static/leak.txt").status_code == 403
    assert client.get("/static/leakdir/x.txt").status_code == 403


def test_symlink_inside_the_root_or_allowed_directory_is_served(site):
    (site / "alias.txt").symlink_to(site / "a.txt")
    (site / "shared").symlink_to(site.parent / "static-sibling")
    assert make_client(site).get("/static/alias.txt").content == CONTENT
    allowed = make_client(
        site,
        static_handler_args={
            "allowed_symlink_directory": [str(site), str(site.parent / "static-sibling")]
        },
    )
    assert allowed.get("/static/shared/x.txt").text == "sibling"


def test_directories_and_devices_are_not_served(site):
    assert make_client(site).get("/static/docs").status_code == 403
    devices = make_client(site, [(r"/dev/(.*)", StaticFileHandler, {"path": "/dev"})])
    assert devices.get("/dev/null").status_code == 403


def test_default_filename_redirect_cannot_become_protocol_relative(site):
    client = make_client(
        site,
        [(r"/+(.*)", StaticFileHandler, {"path": str(site), "default_filename": "index.html"})],
        static_path=None,
    )
    assert client.get("/docs").headers["Location"] == "/docs/"
    response = client.get("//docs")
    assert response.status_code == 403 and "Location" not in response.headers


def test_overridable_path_methods(site):
    class Mapped(StaticFileHandler):
        @classmethod
        def get_absolute_path(cls, root, path):
            return super().get_absolute_path(root, path.replace("alias-", ""))

        def validate_absolute_path(self, root, absolute_path):
            if absolute_path.endswith(".css"):
                self.set_status(451)
                self.finish("blocked")
                return None
            return super().validate_absolute_path(root, absolute_path)

    client = make_client(site, [(r"/m/(.*)", Mapped, {"path": str(site)})])
    assert client.get("/m/alias-a.txt").content == CONTENT
    response = client.get("/m/style.css")
    assert (response.status_code, response.text) == (451, "blocked")


def test_large_files_get_no_version(site, monkeypatch):
    monkeypatch.setattr(StaticFileHandler, "MAX_VERSION_CONTENT_SIZE", 4)

    class Page(RequestHandler):
        def get(self):
            self.write(self.static_url("a.txt"))

    assert make_client(site, [(r"/", Page)]).get("/").text == "/static/a.txt"
    assert "Etag" not in make_client(site).get("/static/a.txt").headers
