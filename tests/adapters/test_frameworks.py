"""Real Django and FastAPI applications served by crosswind's backends through the containers.

* Django's WSGI handler (``get_wsgi_application``) in a
  :class:`~crosswind.adapters.WSGIContainer` on the asyncio, trio and threads
  backends, and its ASGI handler (``get_asgi_application``) in an
  :class:`~crosswind.adapters.ASGIContainer` on asyncio; the site is
  :mod:`tests.support.django_urls`.  Not on trio: Django's ASGI handler calls
  ``asyncio.gather`` and asgiref's ``sync_to_async`` itself, so it needs an
  asyncio loop under any server (hypercorn's trio worker answers 500 too).
* A FastAPI application in an :class:`~crosswind.adapters.ASGIContainer` on
  the asyncio and trio backends.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import django
import httpx
import pytest
from crosswind.adapters import ASGIContainer, WSGIContainer
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from tests.support.adapter_servers import TIMEOUT
from tests.support.apps import wait_for_event
from tests.support.servers import BACKENDS, running_server

pytestmark = pytest.mark.network

def _configure_django() -> None:
    from django.conf import settings

    if settings.configured:
        return
    settings.configure(
        DEBUG=False,
        SECRET_KEY="crosswind-adapter-tests-only",
        ALLOWED_HOSTS=["127.0.0.1"],
        ROOT_URLCONF="tests.support.django_urls",
        INSTALLED_APPS=[],
        MIDDLEWARE=[
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
        ],
        DATABASES={},
        USE_TZ=True,
        # Leave the process's logging configuration alone.
        LOGGING_CONFIG=None,
    )
    django.setup()


# -- Django ---------------------------------------------------------------------------


def _django_wsgi() -> WSGIContainer:
    _configure_django()
    from django.core.wsgi import get_wsgi_application

    return WSGIContainer(get_wsgi_application(), max_workers=4)


def _django_asgi() -> ASGIContainer:
    _configure_django()
    from django.core.asgi import get_asgi_application

    return ASGIContainer(get_asgi_application())


DJANGO_SERVINGS = {
    **{f"wsgi-{backend}": (backend, _django_wsgi) for backend in BACKENDS},
    "asgi-asyncio": ("asyncio", _django_asgi),
}


@pytest.fixture(scope="module", params=list(DJANGO_SERVINGS))
def django_url(request: pytest.FixtureRequest) -> Iterator[str]:
    backend, make = DJANGO_SERVINGS[request.param]
    with running_server(backend, make()) as handle:
        yield f"http://127.0.0.1:{handle.port}"


def test_django_text_and_head(django_url: str) -> None:
    with httpx.Client(base_url=django_url, timeout=TIMEOUT) as client:
        response = client.get("/text")
        head = client.head("/text")
    assert (response.status_code, response.text) == (200, "hello from django")
    assert response.headers["content-type"] == "text/plain"
    assert (head.status_code, head.content) == (200, b"")
    assert head.headers["content-length"] == str(len("hello from django"))


def test_django_json_sees_path_query_host_and_cookies(django_url: str) -> None:
    port = django_url.rsplit(":", 1)[1]
    with httpx.Client(base_url=django_url, timeout=TIMEOUT) as client:
        response = client.get("/json/caf%C3%A9%20au%20lait?x=1&y=%C3%A9",
                              headers={"Cookie": "flavour=mint"})
    assert response.status_code == 200
    assert response.json() == {
        "name": "café au lait",
        "method": "GET",
        "path": "/json/café au lait",
        "query": {"x": "1", "y": "é"},
        "host": f"127.0.0.1:{port}",
        "secure": False,
        "cookie": "mint",
    }


def test_django_form_post_and_csrf(django_url: str) -> None:
    with httpx.Client(base_url=django_url, timeout=TIMEOUT) as client:
        posted = client.post("/form", data={"a": ["1", "2"], "b": "x y é"})
        guarded = client.post("/guarded", data={"a": "1"})
    assert posted.status_code == 200
    assert posted.json() == {"form": {"a": ["1", "2"], "b": ["x y é"]}, "method": "POST"}
    assert guarded.status_code == 403  # the CSRF middleware ran


def test_django_cookies_set_and_sent_back(django_url: str) -> None:
    with httpx.Client(base_url=django_url, timeout=TIMEOUT) as client:
        first = client.get("/cookies")
        set_cookies = first.headers.get_list("set-cookie")
        again = client.get("/cookies")
    assert first.json() == {"seen": {}}
    assert sorted(value.split(";")[0] for value in set_cookies) == ["first=1", "second=two"]
    assert again.json() == {"seen": {"first": "1", "second": "two"}}


def test_django_refusals(django_url: str) -> None:
    with httpx.Client(base_url=django_url, timeout=TIMEOUT) as client:
        missing = client.get("/nowhere")
        foreign_host = client.get("/text", headers={"Host": "evil.example"})
    assert missing.status_code == 404
    assert foreign_host.status_code == 400  # ALLOWED_HOSTS saw the real Host header


def test_django_streaming_response(django_url: str) -> None:
    from tests.support.django_urls import RELEASE

    RELEASE.clear()
    with httpx.Client(base_url=django_url, timeout=TIMEOUT) as client, client.stream(
        "GET", "/stream"
    ) as response:
        assert response.status_code == 200
        assert "content-length" not in response.headers
        pieces = response.iter_raw()
        assert next(pieces) == b"first;"
        RELEASE.set()
        assert b"".join(pieces) == b"second"


# -- FastAPI ----------------------------------------------------------------------------


class Item(BaseModel):
    """FastAPI resolves annotations in the module's namespace, so models live here."""

    name: str = Field(min_length=1)
    price: float = Field(gt=0)
    tags: list[str] = []


def make_fastapi_app(release: threading.Event) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, str]]:
        yield {"greeting": "hello from the lifespan"}

    app = FastAPI(lifespan=lifespan)

    @app.get("/items/{item_id}")
    async def read_item(item_id: int, q: str | None = None) -> dict[str, Any]:
        return {"item_id": item_id, "q": q}

    @app.post("/items", status_code=201)
    async def create_item(item: Item) -> dict[str, Any]:
        return {"item": item.model_dump(), "with_tax": round(item.price * 1.2, 2)}

    @app.get("/thread")
    async def loop_thread() -> int:
        return threading.get_ident()

    @app.get("/blocking")
    def blocking(request: Request) -> dict[str, Any]:
        # A plain def runs in a worker thread of whichever library serves it.
        return {"thread": threading.get_ident(), "greeting": request.state.greeting}

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def pieces() -> AsyncIterator[bytes]:
            yield b"first;"
            yield b"second" if await wait_for_event(release, 5.0) else b"not streamed"

        return StreamingResponse(pieces(), media_type="text/plain")

    return app


@pytest.fixture(scope="module", params=["asyncio", "trio"])
def fastapi_site(request: pytest.FixtureRequest) -> Iterator[tuple[str, threading.Event]]:
    release = threading.Event()
    with running_server(request.param, ASGIContainer(make_fastapi_app(release))) as handle:
        yield f"http://127.0.0.1:{handle.port}", release


def test_fastapi_path_and_query_parameters(fastapi_site: tuple[str, threading.Event]) -> None:
    url, _ = fastapi_site
    with httpx.Client(base_url=url, timeout=TIMEOUT) as client:
        found = client.get("/items/42", params={"q": "blue é"})
        not_a_number = client.get("/items/forty-two")
        missing = client.get("/nowhere")
    assert (found.status_code, found.json()) == (200, {"item_id": 42, "q": "blue é"})
    assert not_a_number.status_code == 422
    assert [error["loc"] for error in not_a_number.json()["detail"]] == [["path", "item_id"]]
    assert missing.status_code == 404


def test_fastapi_validates_json_bodies(fastapi_site: tuple[str, threading.Event]) -> None:
    url, _ = fastapi_site
    with httpx.Client(base_url=url, timeout=TIMEOUT) as client:
        created = client.post("/items", json={"name": "lamp", "price": 10, "tags": ["a"]})
        invalid = client.post("/items", json={"name": "", "price": -1})
        not_json = client.post("/items", content=b"{not json",
                               headers={"Content-Type": "application/json"})
    assert (created.status_code, created.json()) == (
        201, {"item": {"name": "lamp", "price": 10.0, "tags": ["a"]}, "with_tax": 12.0})
    assert invalid.status_code == 422
    assert sorted(tuple(error["loc"]) for error in invalid.json()["detail"]) == [
        ("body", "name"), ("body", "price")]
    assert not_json.status_code == 422
    assert not_json.json()["detail"][0]["type"] == "json_invalid"


def test_fastapi_sync_endpoint_and_lifespan_state(
    fastapi_site: tuple[str, threading.Event],
) -> None:
    url, _ = fastapi_site
    with httpx.Client(base_url=url, timeout=TIMEOUT) as client:
        loop_thread = client.get("/thread").json()
        response = client.get("/blocking").json()
    assert response["greeting"] == "hello from the lifespan"
    assert response["thread"] != loop_thread


def test_fastapi_streaming_response(fastapi_site: tuple[str, threading.Event]) -> None:
    url, release = fastapi_site
    release.clear()
    with httpx.Client(base_url=url, timeout=TIMEOUT) as client, client.stream(
        "GET", "/stream"
    ) as response:
        assert response.status_code == 200
        pieces = response.iter_raw()
        assert next(pieces) == b"first;"
        release.set()
        assert b"".join(pieces) == b"second"
