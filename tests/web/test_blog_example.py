"""The Tornado-style blog example (examples/blog) and the demo that mounts it, end to end."""

from __future__ import annotations

import re

import httpx
import pytest
from crosswind.testing import Client

from examples.blog import make_blog_app
from examples.demo import make_app as make_demo_app
from tests.support.servers import running_server


def token(html: str) -> str:
    return re.search(r'name="_xsrf" value="([^"]+)"', html).group(1)


@pytest.fixture
def client() -> Client:
    return Client(make_blog_app(cookie_secret="test-secret"))


def log_in(client: Client, next_url: str = "") -> object:
    page = client.get("/blog/auth/login")
    return client.post(
        "/blog/auth/login",
        data={"username": "alice", "password": "wonderland", "_xsrf": token(page.text), "next": next_url},
    )


def test_home_lists_the_welcome_post(client):
    page = client.get("/blog/")
    assert page.status_code == 200
    assert "Welcome to the crosswind blog" in page.text
    assert re.search(r'href="/blog/static/blog.css\?v=[0-9a-f]{128}"', page.text)


def test_static_stylesheet_is_served(client):
    css_url = re.search(r'href="(/blog/static/blog.css\?v=[0-9a-f]+)"', client.get("/blog/").text).group(1)
    response = client.get(css_url)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/css"
    assert response.headers["Cache-Control"] == "max-age=315360000"


def test_compose_requires_login(client):
    response = client.get("/blog/compose")
    assert response.status_code == 302
    assert response.headers["Location"] == "/blog/auth/login?next=%2Fblog%2Fcompose"


def test_login_sets_a_signed_cookie_and_follows_next(client):
    response = log_in(client, "/blog/compose")
    assert response.status_code == 302 and response.headers["Location"] == "/blog/compose"
    cookie = next(h for h in response.headers.get_list("Set-Cookie") if h.startswith("blog_user="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert client.get("/blog/compose").status_code == 200


def test_login_refuses_open_redirects(client):
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        assert log_in(client, target).headers["Location"] == "/blog/"


def test_wrong_password_is_refused(client):
    page = client.get("/blog/auth/login")
    response = client.post(
        "/blog/auth/login", data={"username": "alice", "password": "nope", "_xsrf": token(page.text)}
    )
    assert response.status_code == 403 and "Wrong name or password" in response.text
    assert "blog_user" not in client.cookies


def test_forms_need_the_xsrf_token(client):
    assert client.post("/blog/auth/login", data={"username": "alice", "password": "wonderland"}).status_code == 403
    log_in(client)
    assert client.post("/blog/compose", data={"title": "t", "body": "b"}).status_code == 403


def test_writing_a_post(client):
    log_in(client)
    form = client.get("/blog/compose")
    response = client.post(
        "/blog/compose",
        data={"title": "Second <post>", "body": "Hello & goodbye", "_xsrf": token(form.text)},
    )
    assert response.status_code == 302 and response.headers["Location"] == "/blog/post/2"
    post = client.get("/blog/post/2")
    assert "Second &lt;post&gt;" in post.text and "Hello &amp; goodbye" in post.text
    assert "Second &lt;post&gt;" in client.get("/blog/").text
    empty = client.post("/blog/compose", data={"title": "", "body": "", "_xsrf": token(form.text)})
    assert empty.status_code == 400 and "needs a title" in empty.text


def test_logout(client):
    log_in(client)
    page = client.get("/blog/")
    assert "Log out alice" in page.text
    response = client.post("/blog/auth/logout", data={"_xsrf": token(page.text)})
    assert response.status_code == 302
    assert "blog_user=;" in " ".join(response.headers.get_list("Set-Cookie"))


def test_missing_post_is_404(client):
    assert client.get("/blog/post/999").status_code == 404


def test_demo_keeps_its_pages_and_mounts_the_blog():
    demo = Client(make_demo_app())
    assert "/blog/" in demo.get("/").text
    assert demo.get("/api/info").json()["server"] == "crosswind"
    assert demo.post("/api/echo", data={"name": "x"}).json() == {"hello": "x"}
    assert demo.get("/blog").headers["Location"] == "/blog/"
    assert "Latest posts" in demo.get("/blog/").text


@pytest.mark.network
def test_blog_over_a_real_server():
    with (
        running_server("asyncio", make_blog_app(cookie_secret="s")) as handle,
        httpx.Client(base_url=f"http://127.0.0.1:{handle.port}", timeout=5) as http,
    ):
        page = http.get("/blog/auth/login")
        response = http.post(
            "/blog/auth/login",
            data={"username": "bob", "password": "builder", "_xsrf": token(page.text)},
        )
        assert response.status_code == 302
        assert "Log out bob" in http.get("/blog/").text
