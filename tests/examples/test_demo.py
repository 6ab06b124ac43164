"""The demo's own pages and JSON endpoints (``examples/demo.py``), in process.

The pages in a real browser are ``test_pages_browser.py``.
"""

from __future__ import annotations

import gzip

import pytest
from crosswind.testing import Client

from examples.demo import make_demo


@pytest.fixture(scope="module")
def client() -> Client:
    return Client(make_demo())


@pytest.mark.parametrize("path", ["/", "/chat/", "/blog/static/blog.css"])
def test_a_browser_receives_gzip_and_every_answer_varies_on_accept_encoding(client: Client, path: str) -> None:
    plain = client.get(path)
    zipped = client.get(path, headers={"Accept-Encoding": "gzip, deflate, br"})
    assert plain.status_code == zipped.status_code == 200
    assert "Content-Encoding" not in plain.headers
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.content) == plain.content
    for response in (plain, zipped):
        assert "Accept-Encoding" in response.headers["Vary"]


def test_a_short_page_goes_uncompressed_but_still_varies(client: Client) -> None:
    # Under a kilobyte in one piece: the gzip framing would outweigh the saving.
    response = client.get("/api/info", headers={"Accept-Encoding": "gzip"})
    assert len(response.content) < 1024
    assert "Content-Encoding" not in response.headers
    assert response.headers["Vary"] == "Accept-Encoding"


def test_the_favicon_is_an_icon(client: Client) -> None:
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/vnd.microsoft.icon"
    # The ICO header: reserved 0, type 1 (icon), then the number of images.
    assert response.content[:4] == b"\x00\x00\x01\x00" and response.content[4] > 0


def test_the_index_links_every_app_and_wears_their_stylesheet(client: Client) -> None:
    page = client.get("/").text
    for path in ("/blog/", "/flask/", "/chat/", "/flask/chat/", "/api/info"):
        assert f'href="{path}"' in page
    assert 'rel="stylesheet" href="/blog/static/blog.css?v=' in page
    assert 'name="viewport"' in page


@pytest.mark.parametrize(
    ("method", "path", "status", "reason", "message"),
    [
        ("GET", "/api/nothing/here", 404, "Not Found", "there is nothing at this URL"),
        ("PUT", "/api/info", 405, "Method Not Allowed", "the Allow header lists the methods this URL answers"),
        ("POST", "/api/echo", 400, "Bad Request", "the argument 'name' is required"),
    ],
)
def test_the_json_endpoints_answer_errors_in_json(
    client: Client, method: str, path: str, status: int, reason: str, message: str
) -> None:
    response = client.request(method, path)
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json() == {"error": reason, "status": status, "message": message}


def test_a_405_names_the_methods_that_are_allowed(client: Client) -> None:
    assert client.request("DELETE", "/api/echo").headers["Allow"] == "GET, POST"
    assert client.request("PUT", "/api/info").headers["Allow"] == "GET"


def test_the_flask_style_api_is_json_under_its_mount_too(client: Client) -> None:
    response = client.get("/flask/api/nothing")
    assert response.status_code == 404 and response.json()["error"] == "Not Found"
    # And the HTML pages keep their HTML errors.
    assert client.get("/no/such/page").headers["Content-Type"].startswith("text/html")
