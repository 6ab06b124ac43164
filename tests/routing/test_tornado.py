"""crosswind.routing URLSpec/HandlerTable/HostRouter (Tornado style), checked
against tornado.web.Application's own routing on tables of requests."""

from __future__ import annotations

import re
from typing import Any

import pytest
import tornado.httputil as httputil
import tornado.web
from crosswind.errors import RequestError
from crosswind.routing import HandlerMatch, HandlerTable, HostRouter, URLSpec, url


class Home(tornado.web.RequestHandler):
    pass


class Article(tornado.web.RequestHandler):
    pass


class Named(tornado.web.RequestHandler):
    pass


class Optional(tornado.web.RequestHandler):
    pass


class Static(tornado.web.RequestHandler):
    pass


class CatchAll(tornado.web.RequestHandler):
    pass


class WwwOnly(tornado.web.RequestHandler):
    pass


class ApiOnly(tornado.web.RequestHandler):
    pass


def handlers(url_factory: Any) -> list[Any]:
    return [
    (r"/", Home),
    (r"/article/([0-9]+)", Article, {"mode": "full"}, "article"),
    (r"/article/([0-9]+)/([a-z-]+)", Article, None, "article_slug"),
    url_factory(r"/user/(?P<name>[^/]+)/(?P<tab>[a-z]+)", Named, name="user"),
    (r"/opt/(\d+)?", Optional),
    (r"/static/(.*)", Static),
    (r"/(favicon\.ico)", Static),
    (r"/first/(.*)", Home),
    (r"/first/x", Article),  # shadowed by the line above: first match wins
    url_factory(re.compile(r"/compiled/(\d+)"), Article),  # compiled: no "$" added
    (r"/CaseSensitive", Home),
    (r"/(?i:ci)/(\d+)", Article),
    (r"/.*\.php", CatchAll),
]  # fmt: skip


PATHS = [
    "/",
    "/article/42",
    "/article/42/",
    "/article/42/hello-world",
    "/article/x",
    "/user/alice%20b/posts",
    "/user/al%2Fice/posts",
    "/user/%E2%9C%93/posts",
    "/opt/",
    "/opt/12",
    "/static/css/site.css",
    "/static/",
    "/favicon.ico",
    "/faviconXico",
    "/first/x",
    "/compiled/12",
    "/compiled/12/trailing",
    "/casesensitive",
    "/CaseSensitive",
    "/CI/5",
    "/ci/5",
    "/index.php",
    "/a/b/c.php",
    "/missing",
    "",
]


def tornado_lookup(app: tornado.web.Application, path: str, host: str = "example.com",
                   headers: dict[str, str] | None = None) -> tuple:  # fmt: skip
    all_headers = httputil.HTTPHeaders({"Host": host, **(headers or {})})
    start = httputil.RequestStartLine("GET", path or "/", "HTTP/1.1")
    request = httputil.HTTPServerRequest(start_line=start, headers=all_headers)
    delegate = app.find_handler(request)
    if delegate.handler_class is tornado.web.ErrorHandler:
        return (None,)
    args = [a if a is None else a.decode() for a in delegate.path_args]
    kwargs = {k: v if v is None else v.decode() for k, v in delegate.path_kwargs.items()}
    return (delegate.handler_class, args, kwargs, delegate.handler_kwargs)


def our_lookup(found: HandlerMatch | None) -> tuple:
    if found is None:
        return (None,)
    return (found.handler, found.path_args, found.path_kwargs, found.handler_kwargs)


@pytest.fixture(scope="module")
def pair() -> tuple[tornado.web.Application, HandlerTable]:
    return tornado.web.Application(handlers(tornado.web.url)), HandlerTable(handlers(url))


@pytest.mark.parametrize("path", PATHS)
def test_find_agrees_with_tornado(pair: tuple, path: str) -> None:
    app, table = pair
    # Tornado matches the path of the request target; "" is sent as "/".
    assert our_lookup(table.find(path or "/")) == tornado_lookup(app, path)


def test_expected_values_spelled_out(pair: tuple) -> None:
    _, table = pair
    found = table.find("/user/alice%20b/posts")
    assert found is not None
    assert found.handler is Named
    assert found.path_args == []
    assert found.path_kwargs == {"name": "alice b", "tab": "posts"}
    assert found.raw_path_kwargs == {"name": b"alice b", "tab": b"posts"}
    article = table.find("/article/42")
    assert article is not None and article.path_args == ["42"]
    assert article.handler_kwargs == {"mode": "full"}
    optional = table.find("/opt/")
    assert optional is not None and optional.path_args == [None]
    shadow = table.find("/first/x")
    assert shadow is not None and shadow.handler is Home


def test_invalid_utf8_in_a_path_argument_is_a_400() -> None:
    table = HandlerTable([(r"/(.*)", Home), (r"/n/(?P<v>.*)", Named)])
    found = table.find("/%FF")
    assert found is not None and found.raw_path_args == (b"\xff",)
    with pytest.raises(RequestError) as err:
        _ = found.path_args
    assert err.value.status_code == 400
    assert "Invalid unicode in url" in err.value.reason


def test_named_and_unnamed_groups_may_not_mix() -> None:
    with pytest.raises(ValueError, match="all named or all positional"):
        URLSpec(r"/(?P<a>\d+)/(\d+)", Home)
    with pytest.raises(TypeError):
        URLSpec(re.compile(rb"/bytes"), Home)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        HandlerTable([("/only-pattern",)])  # type: ignore[list-item]


REVERSIBLE = [
    (r"/article/([0-9]+)", (42,)),
    (r"/article/([0-9]+)/([a-z-]+)", ("7", "slug")),
    (r"/user/(?P<name>[^/]+)/(?P<tab>[a-z]+)", ("a b", "x")),
    (r"/static/(.*)", ("dir/file name.txt",)),
    (r"/(favicon\.ico)", ("favicon.ico",)),
    (r"/files/file\.txt", ()),
    (r"/files/file.txt", ()),
    (r"^/anchored/(\d+)$", (3,)),
    (r"/uni/(.+)", ("ünï ✓",)),
    (r"/bytes/(.+)", (b"\xc3\xa9",)),
    (r"/float/(.+)", (1.5,)),
    (r"/pct/(.+)", ("100%?&#",)),
]


@pytest.mark.parametrize(("pattern", "args"), REVERSIBLE)
def test_reverse_agrees_with_tornado(pattern: str, args: tuple) -> None:
    app = tornado.web.Application([tornado.web.url(pattern, Home, name="n")])
    table = HandlerTable([URLSpec(pattern, Home, name="n")])
    assert table.reverse_url("n", *args) == app.reverse_url("n", *args)
    # and the reversed URL leads back to the same spec with the same values
    found = table.find(table.reverse_url("n", *args))
    assert found is not None and found.spec is table.named["n"]
    assert len(found.raw_path_args) + len(found.raw_path_kwargs) == len(args)


def test_reverse_values() -> None:
    table = HandlerTable([(r"/a/(\d+)/([^/]+)", Home, None, "a")])
    assert table.reverse_url("a", 1, "x y/z") == "/a/1/x%20y/z"
    assert table.reverse("a", 2, "ü") == "/a/2/%C3%BC"


def test_reverse_errors() -> None:
    table = HandlerTable(
        [
            (r"/a/(\d+)", Home, None, "one"),
            (r"/(?:x|y)/(\d+)", Home, None, "noncapturing"),
            (r"/a+/(\d+)", Home, None, "quantified"),
            (r"/\d/(\d+)", Home, None, "class_escape"),
            (r"/((a)b)", Home, None, "nested"),
            (r"/a|/b", Home, None, "alternation"),
        ]
    )
    with pytest.raises(KeyError, match="nope not found in named urls"):
        table.reverse_url("nope")
    with pytest.raises(ValueError, match="takes 1 argument"):
        table.reverse_url("one")
    with pytest.raises(ValueError, match="takes 1 argument"):
        table.reverse_url("one", 1, 2)
    for name in ("noncapturing", "quantified", "class_escape", "nested", "alternation"):
        with pytest.raises(ValueError, match="cannot reverse URL regex"):
            table.reverse_url(name, 1)


def test_later_duplicate_name_replaces_earlier() -> None:
    table = HandlerTable([(r"/old", Home, None, "n"), (r"/new", Home, None, "n")])
    app = tornado.web.Application([(r"/old", Home, None, "n"), (r"/new", Home, None, "n")])
    assert table.reverse_url("n") == app.reverse_url("n") == "/new"


def test_handler_table_add_appends_after_existing_entries() -> None:
    table = HandlerTable([(r"/(.*)", Home)])
    table.add([(r"/x", Article)])
    found = table.find("/x")
    assert found is not None and found.handler is Home
    assert table.find("/x/y") is not None


def test_index_only_runs_regexes_that_can_match() -> None:
    table = HandlerTable(
        [(rf"/api/v1/r{i}/(\d+)", Home) for i in range(100)] + [(r"/(.*)", CatchAll)]
    )
    candidates = table.candidates("/api/v1/r42/7")
    assert [c.regex.pattern for c in candidates] == [r"/api/v1/r42/(\d+)$", r"/(.*)$"]
    found = table.find("/api/v1/r42/7")
    assert found is not None and found.handler is Home and found.path_args == ["7"]
    assert table.candidates("/elsewhere") == (table.specs[-1],)


# -- virtual hosts ---------------------------------------------------------

HOST_REQUESTS = [
    ("/", "example.com", {}),
    ("/", "www.example.com", {}),
    ("/", "WWW.Example.com:8080", {}),
    ("/www", "www.example.com", {}),
    ("/www", "other.org", {}),
    ("/www", "other.org", {"X-Real-Ip": "10.0.0.1"}),
    ("/api", "api.example.com", {}),
    ("/api", "www.example.com", {}),
    ("/shared", "www.example.com", {}),
    ("/shared", "api.example.com", {}),
    ("/fallthrough", "www.example.com", {}),
    ("/nothing", "www.example.com", {}),
    ("/static/x", "[::1]:8888", {}),
]


def build_host_apps(default_host: str | None) -> tuple[tornado.web.Application, HostRouter]:
    base = [(r"/", Home), (r"/fallthrough", CatchAll), (r"/static/(.*)", Static)]
    www = [(r"/www", WwwOnly), (r"/shared", WwwOnly, None, "shared"), (r"/", WwwOnly)]
    www_too = [(r"/fallthrough", Article)]
    api = [(r"/api", ApiOnly), (r"/shared", ApiOnly, None, "shared")]
    app = tornado.web.Application(base, default_host=default_host)
    router = HostRouter(base, default_host=default_host)
    for pattern, handlers in ((r"www\.example\.com", www), (r"www\..*", www_too),
                              (r"api\.example\.com", api)):  # fmt: skip
        app.add_handlers(pattern, handlers)
        router.add_handlers(pattern, handlers)
    return app, router


@pytest.mark.parametrize("default_host", [None, "www.example.com"])
@pytest.mark.parametrize(("path", "host", "headers"), HOST_REQUESTS)
def test_host_routing_agrees_with_tornado(
    default_host: str | None, path: str, host: str, headers: dict[str, str]
) -> None:
    app, router = build_host_apps(default_host)
    ours = router.find(path, host, x_real_ip="X-Real-Ip" in headers)
    assert our_lookup(ours) == tornado_lookup(app, path, host, headers)


def test_host_routing_expectations() -> None:
    _, router = build_host_apps("www.example.com")
    www = router.find("/www", "WWW.EXAMPLE.COM:443")
    assert www is not None and www.handler is WwwOnly
    # a matching host table that lacks the path falls through to later tables
    later = router.find("/fallthrough", "www.example.com")
    assert later is not None and later.handler is Article
    # default_host answers for unknown hosts, but not behind a proxy
    fallback = router.find("/www", "unknown.test")
    assert fallback is not None and fallback.handler is WwwOnly
    assert router.find("/www", "unknown.test", x_real_ip=True) is None
    assert router.reverse_url("shared") == "/shared"
    with pytest.raises(KeyError):
        router.reverse_url("missing")


def test_a_remembered_match_stays_the_first_match_after_handlers_are_added() -> None:
    first, second = object(), object()
    table = HandlerTable([(r"/a/([0-9]+)", first)])
    found = table.find("/a/1")
    assert found is not None and found.handler is first and found.raw_path_args == (b"1",)
    assert table.find("/a/1") is found  # remembered
    assert table.find("/b") is None
    # Specs added later come after: /a/1 stays with the first, /b is found now.
    table.add([(r"/b", second), (r"/a/1", second)])
    assert table.find("/b").handler is second  # type: ignore[union-attr]
    assert table.find("/a/1").handler is first  # type: ignore[union-attr]
    assert table.find("/a/2").raw_path_args == (b"2",)  # type: ignore[union-attr]


def test_matches_with_named_groups_are_not_shared() -> None:
    table = HandlerTable([(r"/u/(?P<uid>[0-9]+)", object())])
    one, two = table.find("/u/7"), table.find("/u/7")
    assert one is not None and two is not None and one is not two
    assert dict(one.raw_path_kwargs) == {"uid": b"7"} == dict(two.raw_path_kwargs)


def test_remembered_matches_are_bounded() -> None:
    import crosswind.routing.tables as routing

    table = HandlerTable([(r"/n/([0-9]+)", object())])
    for number in range(routing._FOUND_LIMIT + 10):
        assert table.find(f"/n/{number}").raw_path_args == (str(number).encode(),)  # type: ignore[union-attr]
    assert len(table._found) <= routing._FOUND_LIMIT
