"""A tiny Django site (views and URLconf) for the adapter tests.

``tests/adapters/test_frameworks.py`` configures Django with
``ROOT_URLCONF = "tests.support.django_urls"`` and serves it through
:class:`~crosswind.adapters.WSGIContainer` and
:class:`~crosswind.adapters.ASGIContainer`.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator

from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from tests.support.apps import wait_for_event

__all__ = ["RELEASE", "urlpatterns"]

#: Lets the streamed response's second piece go; the test sets it once it
#: has received the first.
RELEASE = threading.Event()


def text(request: HttpRequest) -> HttpResponse:
    return HttpResponse("hello from django", content_type="text/plain")


def json_view(request: HttpRequest, name: str) -> JsonResponse:
    return JsonResponse({
        "name": name,
        "method": request.method,
        "path": request.path,
        "query": request.GET.dict(),
        "host": request.get_host(),
        "secure": request.is_secure(),
        "cookie": request.COOKIES.get("flavour"),
    })


@csrf_exempt
def form(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"form": dict(request.POST.lists()), "method": request.method})


def guarded(request: HttpRequest) -> HttpResponse:
    # Not exempt: the CSRF middleware refuses a POST without a token.
    return HttpResponse("should not be reached")


def cookies(request: HttpRequest) -> JsonResponse:
    response = JsonResponse({"seen": dict(sorted(request.COOKIES.items()))})
    response.set_cookie("first", "1")
    response.set_cookie("second", "two", httponly=True)
    return response


def stream(request: HttpRequest) -> StreamingHttpResponse:
    # Django serves synchronous iterators under WSGI and asynchronous ones
    # under ASGI without a warning; anything else it converts, and warns.
    if isinstance(request, ASGIRequest):
        async def pieces() -> AsyncIterator[bytes]:
            yield b"first;"
            yield b"second" if await wait_for_event(RELEASE, 5.0) else b"not streamed"

        return StreamingHttpResponse(pieces(), content_type="text/plain")

    def blocking_pieces() -> Iterator[bytes]:
        yield b"first;"
        yield b"second" if RELEASE.wait(5.0) else b"not streamed"

    return StreamingHttpResponse(blocking_pieces(), content_type="text/plain")


urlpatterns = [
    path("text", text),
    path("json/<str:name>", json_view),
    path("form", form),
    path("guarded", guarded),
    path("cookies", cookies),
    path("stream", stream),
]
