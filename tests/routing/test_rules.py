"""crosswind.routing Map/Rule (Flask style), checked against werkzeug's own
Map on tables of requests where the two should agree."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import werkzeug.exceptions as wz_exc
import werkzeug.routing as wz
from crosswind.errors import RequestError
from crosswind.routing import (
    BuildError,
    Map,
    MethodNotAllowed,
    NotFound,
    RequestRedirect,
    Rule,
)
from crosswind.routing.converters import BaseConverter, ValidationError

# Each spec: (rule string, endpoint, extra keyword arguments for Rule).
RuleSpec = tuple[str, str, dict[str, Any]]


def make_maps(specs: list[RuleSpec], **map_kwargs: Any) -> tuple[Map, wz.Map]:
    ours = Map([Rule(s, endpoint=e, **kw) for s, e, kw in specs], **map_kwargs)
    wz_kwargs = {k: v for k, v in map_kwargs.items() if k != "server_name"}
    theirs = wz.Map([wz.Rule(s, endpoint=e, **kw) for s, e, kw in specs], **wz_kwargs)
    return ours, theirs


def outcome_ours(m: Map, path: str, method: str = "GET", **kw: Any) -> tuple:
    try:
        endpoint, values = m.match(path, method, **kw)
    except RequestRedirect as e:
        return ("redirect", e.new_url)
    except MethodNotAllowed as e:
        return ("405", tuple(e.allowed_methods))
    except NotFound:
        return ("404",)
    return ("match", endpoint, values)


def outcome_wz(adapter: wz.MapAdapter, path: str, method: str = "GET", **kw: Any) -> tuple:
    try:
        endpoint, values = adapter.match(path, method, **kw)
    except wz.RequestRedirect as e:
        return ("redirect", e.new_url)
    except wz_exc.MethodNotAllowed as e:
        return ("405", tuple(sorted(e.valid_methods or ())))
    except wz_exc.NotFound:
        return ("404",)
    return ("match", endpoint, dict(values))


SITE: list[RuleSpec] = [
    ("/", "index", {}),
    ("/about", "about", {}),
    ("/downloads/", "downloads", {}),
    ("/downloads/<int:id>", "download", {}),
    ("/downloads/<int:id>/", "download_dir", {"methods": ["POST"]}),
    ("/users/<username>", "user", {"methods": ["GET"]}),
    ("/users/<username>", "user_update", {"methods": ["PUT", "PATCH"]}),
    ("/users/me", "me", {}),
    ("/lang/<string(length=2):code>/", "lang", {}),
    ("/n/<int(signed=True):n>", "signed", {}),
    ("/f/<float:x>", "float", {}),
    ("/u/<uuid:id>", "uuid", {}),
    ("/page/<any(about, help, 'a,b'):page>", "any", {}),
    ("/files/<path:name>", "file", {}),
    ("/files/<path:name>/edit", "file_edit", {}),
    ("/wiki/<path:page>/", "wiki", {}),
    ("/img/<name>.<ext>", "img", {}),
    ("/img/<name>", "img_plain", {}),
    ("/img/<int:n>", "img_int", {}),
    ("/loose/", "loose", {"strict_slashes": False}),
    ("/loose_leaf", "loose_leaf", {"strict_slashes": False}),
    ("/only-post", "only_post", {"methods": ["POST"]}),
    ("/archive/<int:year>/<int(fixed_digits=2):month>", "archive", {}),
]

REQUESTS: list[tuple[str, str]] = [
    ("/", "GET"),
    ("", "GET"),
    ("/about", "GET"),
    ("/about/", "GET"),
    ("/about", "DELETE"),
    ("/downloads", "GET"),
    ("/downloads/", "GET"),
    ("/downloads/42", "GET"),
    ("/downloads/42/", "POST"),
    ("/downloads/42/", "GET"),
    ("/downloads/x", "GET"),
    ("/users/alice", "GET"),
    ("/users/alice", "HEAD"),
    ("/users/alice", "PATCH"),
    ("/users/alice", "DELETE"),
    ("/users/me", "GET"),
    ("/users/me", "DELETE"),
    ("/users/", "GET"),
    ("/lang/de/", "GET"),
    ("/lang/de", "GET"),
    ("/lang/deu/", "GET"),
    ("/n/-12", "GET"),
    ("/n/12", "GET"),
    ("/f/1.5", "GET"),
    ("/f/1", "GET"),
    ("/u/12345678-1234-5678-1234-56781234abcd", "GET"),
    ("/u/nope", "GET"),
    ("/page/about", "GET"),
    ("/page/a,b", "GET"),
    ("/page/other", "GET"),
    ("/files/a/b/c.txt", "GET"),
    ("/files/a/b/edit", "GET"),
    ("/files/edit", "GET"),
    ("/files/", "GET"),
    ("/files/a/", "GET"),
    ("/wiki/Main/Page/", "GET"),
    ("/wiki/Main/Page", "GET"),
    ("/wiki/Main", "GET"),
    ("/img/cat.png", "GET"),
    ("/img/cat", "GET"),
    ("/img/12", "GET"),
    ("/img/a.b.c", "GET"),
    ("/loose/", "GET"),
    ("/loose", "GET"),
    ("/loose_leaf", "GET"),
    ("/loose_leaf/", "GET"),
    ("/only-post", "GET"),
    ("/only-post", "POST"),
    ("/archive/2024/05", "GET"),
    ("//about", "GET"),
    ("/downloads//42", "GET"),
    ("/users//alice", "GET"),
    ("/files//a//b", "GET"),
    ("/nothing/here", "GET"),
    ("/h%C3%A9", "GET"),
    ("/users/h\u00e9", "GET"),
]


@pytest.fixture(scope="module")
def site() -> tuple[Map, wz.MapAdapter]:
    ours, theirs = make_maps(SITE)
    return ours, theirs.bind("example.com", query_args="q=1&r=%20")


@pytest.mark.parametrize(("path", "method"), REQUESTS)
def test_match_agrees_with_werkzeug(site: tuple[Map, wz.MapAdapter], path: str, method: str):
    ours, adapter = site
    expected = outcome_wz(adapter, path, method)
    assert outcome_ours(ours, path, method, host="example.com", query_string="q=1&r=%20") == (
        expected
    )


def test_some_expectations_spelled_out(site: tuple[Map, wz.MapAdapter]) -> None:
    ours, _ = site
    assert ours.match("/downloads/42") == ("download", {"id": 42})
    # static segments beat converters; a more specific segment beats a looser one
    assert ours.match("/users/me") == ("me", {})
    assert ours.match("/img/cat.png") == ("img", {"name": "cat", "ext": "png"})
    assert ours.match("/img/12") == ("img_int", {"n": 12})
    with pytest.raises(RequestRedirect) as redirect:
        ours.match("/downloads", host="example.com", query_string="a=1")
    assert redirect.value.new_url == "http://example.com/downloads/?a=1"
    assert redirect.value.status_code == 308
    with pytest.raises(RequestRedirect) as relative:
        ours.match("/downloads", query_string="a=1")
    assert relative.value.new_url == "/downloads/?a=1"
    with pytest.raises(NotFound) as nf:
        ours.match("/about/")
    assert nf.value.status_code == 404
    with pytest.raises(MethodNotAllowed) as mna:
        ours.match("/users/alice", "DELETE")
    assert mna.value.status_code == 405
    assert mna.value.allowed_methods == ("GET", "HEAD", "PATCH", "PUT")
    assert mna.value.allow_header == "GET, HEAD, PATCH, PUT"
    assert isinstance(mna.value, RequestError) and isinstance(redirect.value, RequestError)


def test_method_is_case_insensitive_and_rule_methods_uppercased() -> None:
    m = Map([Rule("/x", "x", methods=["get", "post"])])
    assert m.match("/x", "post") == ("x", {})
    assert m.match("/x", "head") == ("x", {})


def test_allowed_methods(site: tuple[Map, wz.MapAdapter]) -> None:
    ours, adapter = site
    assert ours.allowed_methods("/users/alice") == {"GET", "HEAD", "PUT", "PATCH"}
    assert set(adapter.allowed_methods("/users/alice")) == {"GET", "HEAD", "PUT", "PATCH"}
    assert ours.allowed_methods("/only-post") == {"POST"}
    assert ours.allowed_methods("/nothing") == frozenset()
    assert ours.allowed_methods("/about") is None  # a rule that takes any method
    assert ours.allowed_methods("/downloads") == frozenset()  # it redirects


def test_script_name_is_kept_on_redirects() -> None:
    m = Map([Rule("/a/", "a")])
    with pytest.raises(RequestRedirect) as r:
        m.match("/a", host="example.com", script_name="/app", url_scheme="https")
    assert r.value.new_url == "https://example.com/app/a/"
    adapter = wz.Map([wz.Rule("/a/", endpoint="a")]).bind(
        "example.com", script_name="/app", url_scheme="https"
    )
    with pytest.raises(wz.RequestRedirect) as w:
        adapter.match("/a")
    assert w.value.new_url == r.value.new_url


def test_redirect_path_is_percent_encoded() -> None:
    m = Map([Rule("/<name>/", "n")])
    with pytest.raises(RequestRedirect) as r:
        m.match("/a b\u00e9", host="example.com")
    assert r.value.new_url == "http://example.com/a%20b%C3%A9/"


@pytest.mark.parametrize("strict", [True, False])
@pytest.mark.parametrize("path", ["/a", "/a/", "/b", "/b/", "/c/x", "/c/x/"])
def test_map_level_strict_slashes(strict: bool, path: str) -> None:
    specs: list[RuleSpec] = [("/a/", "a", {}), ("/b", "b", {}), ("/c/<path:p>/", "c", {})]
    ours, theirs = make_maps(specs, strict_slashes=strict)
    adapter = theirs.bind("example.com")
    assert outcome_ours(ours, path, host="example.com") == outcome_wz(adapter, path)


def test_merge_slashes_can_be_disabled() -> None:
    specs: list[RuleSpec] = [("/a/b", "ab", {}), ("/x/<path:p>", "p", {})]
    for merge in (True, False):
        ours, theirs = make_maps(specs, merge_slashes=merge)
        adapter = theirs.bind("example.com")
        for path in ("/a//b", "//a/b", "/x/1//2"):
            assert outcome_ours(ours, path, host="example.com") == outcome_wz(adapter, path)
    rule_level = Map([Rule("/a/b", "ab", merge_slashes=False)])
    with pytest.raises(NotFound):
        rule_level.match("/a//b")


def test_defaults_redirect_to_the_canonical_rule() -> None:
    specs: list[RuleSpec] = [
        ("/all/", "all", {"defaults": {"page": 1}}),
        ("/all/page/<int:page>", "all", {}),
    ]
    ours, theirs = make_maps(specs)
    adapter = theirs.bind("example.com")
    for path in ("/all/", "/all/page/1", "/all/page/2"):
        assert outcome_ours(ours, path, host="example.com") == outcome_wz(adapter, path)
    assert ours.match("/all/") == ("all", {"page": 1})
    with pytest.raises(RequestRedirect) as r:
        ours.match("/all/page/1", query_string="x=y")
    assert r.value.new_url == "/all/?x=y"
    no_redirect = Map([Rule(s, endpoint=e, **kw) for s, e, kw in specs], redirect_defaults=False)
    assert no_redirect.match("/all/page/1") == ("all", {"page": 1})


def test_redirect_to() -> None:
    specs: list[RuleSpec] = [
        ("/foo/<slug>", "foo", {}),
        ("/old/<slug>", "old", {"redirect_to": "foo/<slug>"}),
        ("/abs", "abs", {"redirect_to": "/elsewhere"}),
    ]
    ours, theirs = make_maps(specs)
    adapter = theirs.bind("example.com")
    for path in ("/old/a b", "/abs"):
        assert outcome_ours(ours, path, host="example.com") == outcome_wz(adapter, path)

    def by_id(map_: Map, id: int) -> str:
        assert isinstance(map_, Map)
        return f"/items/{id * 2}"

    m = Map([Rule("/legacy/<int:id>", "legacy", redirect_to=by_id)])
    with pytest.raises(RequestRedirect) as r:
        m.match("/legacy/21")
    assert r.value.new_url == "/items/42"


def test_build_only_rules_build_but_never_match() -> None:
    m = Map([Rule("/static/<path:f>", "static", build_only=True)])
    assert m.build("static", {"f": "css/site.css"}) == "/static/css/site.css"
    with pytest.raises(NotFound):
        m.match("/static/css/site.css")


def test_converter_validation_error_tries_the_next_rule() -> None:
    class Even(BaseConverter):
        regex = r"\d+"
        weight = 10

        def to_python(self, value: str) -> int:
            if int(value) % 2:
                raise ValidationError("odd")
            return int(value)

    m = Map(
        [Rule("/<even:x>", "even"), Rule("/<int(max=5):y>", "small"), Rule("/<z>", "any")],
        converters={"even": Even},
    )
    assert m.match("/4") == ("even", {"x": 4})
    assert m.match("/3") == ("small", {"y": 3})
    assert m.match("/7") == ("any", {"z": "7"})
    # a refused value does not count towards a 405 either
    m2 = Map([Rule("/<int(max=5):y>", "small", methods=["POST"]), Rule("/<z>", "z")])
    assert m2.match("/9", "GET") == ("z", {"z": "9"})
    m3 = Map([Rule("/<int(max=5):y>", "small", methods=["POST"])])
    with pytest.raises(NotFound):
        m3.match("/9", "GET")
    with pytest.raises(MethodNotAllowed):
        m3.match("/3", "GET")


def test_custom_converter_registered_on_the_map() -> None:
    class ListConverter(BaseConverter):
        def to_python(self, value: str) -> list[str]:
            return value.split("+")

        def to_url(self, value: list[str]) -> str:
            return "+".join(super(ListConverter, self).to_url(v) for v in value)

    class RegexConverter(BaseConverter):
        def __init__(self, map: Any, *items: str) -> None:
            super().__init__(map)
            self.regex = items[0]

    m = Map()
    m.converters["list"] = ListConverter
    m.converters["re"] = RegexConverter
    m.add(Rule("/tags/<list:tags>", "tags"))
    m.add(Rule("/code/<re('[a-z]{3}'):code>", "code"))
    assert m.match("/tags/a+b+c") == ("tags", {"tags": ["a", "b", "c"]})
    assert m.build("tags", {"tags": ["x y", "z"]}) == "/tags/x%20y+z"
    assert m.match("/code/abc") == ("code", {"code": "abc"})
    with pytest.raises(NotFound):
        m.match("/code/abcd")


def test_subdomains() -> None:
    specs: list[RuleSpec] = [
        ("/", "root", {}),
        ("/", "user_home", {"subdomain": "<user>"}),
        ("/stats", "user_stats", {"subdomain": "<user>"}),
        ("/", "api_home", {"subdomain": "api"}),
    ]
    ours, theirs = make_maps(specs, server_name="example.com")
    for host, sub in [
        ("example.com", ""),
        ("api.example.com", "api"),
        ("alice.example.com", "alice"),
        ("ALICE.example.com:80", "alice"),
    ]:
        adapter = theirs.bind("example.com", subdomain=sub)
        for path in ("/", "/stats"):
            assert outcome_ours(ours, path, host=host) == outcome_wz(adapter, path), (host, path)
    assert ours.match("/", host="alice.example.com") == ("user_home", {"user": "alice"})
    with pytest.raises(NotFound):
        ours.match("/", host="other.org")
    assert ours.match("/", subdomain="api") == ("api_home", {})
    # without a server name the subdomain feature is off: only default rules match
    assert Map([Rule(s, endpoint=e, **kw) for s, e, kw in specs]).match(
        "/", host="alice.example.com"
    ) == ("root", {})


def test_subdomain_build() -> None:
    m = Map(
        [Rule("/", "root"), Rule("/stats", "stats", subdomain="<user>")],
        server_name="example.com",
    )
    theirs = wz.Map(
        [wz.Rule("/", endpoint="root"), wz.Rule("/stats", endpoint="stats", subdomain="<user>")]
    )
    adapter = theirs.bind("example.com")
    assert m.build("stats", {"user": "bob"}) == adapter.build("stats", {"user": "bob"})
    assert m.build("stats", {"user": "bob"}) == "http://bob.example.com/stats"
    assert m.build("stats", {"user": "bob"}, host="bob.example.com") == "/stats"
    assert m.build("root", {}, force_external=True, url_scheme="https") == "https://example.com/"
    assert m.build("root", {}, host="bob.example.com") == "http://example.com/"


def test_host_matching() -> None:
    specs: list[RuleSpec] = [
        ("/", "main", {"host": "example.com"}),
        ("/", "shop", {"host": "shop.example.com"}),
        ("/<item>", "tenant", {"host": "<tenant>.shop.example.com"}),
    ]
    ours, theirs = make_maps(specs, host_matching=True)
    for host in ("example.com", "shop.example.com", "acme.shop.example.com", "other.org"):
        adapter = theirs.bind(host)
        for path in ("/", "/x"):
            assert outcome_ours(ours, path, host=host) == outcome_wz(adapter, path), (host, path)
    assert ours.match("/x", host="ACME.shop.example.com:80") == (
        "tenant",
        {"tenant": "acme", "item": "x"},
    )
    assert ours.build("shop", host="shop.example.com") == "/"
    assert ours.build("shop", host="example.com") == "http://shop.example.com/"
    assert ours.build("tenant", {"tenant": "a", "item": "b"}, host="example.com") == (
        theirs.bind("example.com").build("tenant", {"tenant": "a", "item": "b"})
    )


BUILD_RULES: list[RuleSpec] = [
    ("/", "index", {}),
    ("/users/<int:id>", "user", {}),
    ("/users/<int:id>/posts/<slug>", "post", {}),
    ("/files/<path:name>", "file", {}),
    ("/lang/<any(de, en):lang>/", "lang", {}),
    ("/all/", "all", {"defaults": {"page": 1}}),
    ("/all/page/<int:page>", "all", {}),
    ("/n/<int(fixed_digits=3):n>", "padded", {}),
    ("/m", "methods", {"methods": ["POST"]}),
    ("/m/get", "methods", {"methods": ["GET"]}),
    ("/u/<uuid:u>", "uuid", {}),
    ("/f/<float:f>", "float", {}),
]

BUILD_CASES: list[tuple[str, dict[str, Any], str | None]] = [
    ("index", {}, None),
    ("index", {"q": "a b", "x": [1, 2], "none": None}, None),
    ("user", {"id": 7}, None),
    ("user", {"id": 7, "tab": "ü&="}, None),
    ("post", {"id": 1, "slug": "hello world/ä"}, None),
    ("file", {"name": "a b/c%d.txt"}, None),
    ("lang", {"lang": "de"}, None),
    ("all", {}, None),
    ("all", {"page": 1}, None),
    ("all", {"page": 5}, None),
    ("padded", {"n": 7}, None),
    ("methods", {}, None),
    ("methods", {}, "POST"),
    ("methods", {}, "GET"),
    ("uuid", {"u": uuid.UUID(int=5)}, None),
    ("float", {"f": 2.5}, None),
]


@pytest.mark.parametrize(("endpoint", "values", "method"), BUILD_CASES)
def test_build_agrees_with_werkzeug(endpoint: str, values: dict, method: str | None) -> None:
    ours, theirs = make_maps(BUILD_RULES)
    adapter = theirs.bind("example.com")
    assert ours.build(endpoint, values, method=method) == adapter.build(
        endpoint, values, method=method
    )
    external = ours.build(
        endpoint, values, method=method, force_external=True, server_name="example.com"
    )
    assert external == adapter.build(endpoint, values, method=method, force_external=True)


def test_build_options() -> None:
    m = Map([Rule("/a/<x>", "a")])
    assert m.build("a", {"x": "1"}, anchor="sec 2") == "/a/1#sec%202"
    assert m.build("a", {"x": "1"}, script_name="/app/") == "/app/a/1"
    assert m.build("a", {"x": "1"}, force_external=True, host="h.test:8080") == (
        "http://h.test:8080/a/1"
    )
    assert m.build("a", {"x": "1"}, force_external=True, server_name="h.test") == (
        "http://h.test/a/1"
    )
    assert m.build("a", {"x": 1, "y": "z"}, append_unknown=False) == "/a/1"
    with pytest.raises(ValueError, match="server_name or host"):
        m.build("a", {"x": "1"}, force_external=True)


def test_build_error_messages() -> None:
    m = Map([Rule("/users/<int:id>", "user_detail"), Rule("/p", "post", methods=["POST"])])
    with pytest.raises(BuildError) as unknown:
        m.build("user_detial", {"id": 1})
    assert "'user_detial'" in str(unknown.value)
    assert "Did you mean 'user_detail' instead?" in str(unknown.value)
    assert isinstance(unknown.value, LookupError)
    with pytest.raises(BuildError) as missing:
        m.build("user_detail", {})
    assert "Did you forget to specify values ['id']?" in str(missing.value)
    with pytest.raises(BuildError) as wrong_method:
        m.build("post", {}, method="GET")
    assert "Did you mean to use methods ['POST']?" in str(wrong_method.value)
    with pytest.raises(BuildError) as nothing_close:
        m.build("zzzzzz")
    assert "Did you mean" not in str(nothing_close.value)
    with pytest.raises(ValueError, match="is not one of"):
        Map([Rule("/<any(a, b):x>", "x")]).build("x", {"x": "c"})


@pytest.mark.parametrize(
    "bad",
    ["no-slash", "/<int:x", "/<x>/<x>", "/<nope:x>", "/<int(foo=1):x>"],
)
def test_malformed_rules_are_refused(bad: str) -> None:
    with pytest.raises((ValueError, TypeError)):
        Map([Rule(bad, "e")])


def test_methods_must_not_be_a_string_and_rules_bind_once() -> None:
    with pytest.raises(TypeError):
        Rule("/x", "x", methods="GET")  # type: ignore[arg-type]
    rule = Rule("/x", "x")
    Map([rule])
    with pytest.raises(ValueError, match="already bound"):
        Map([rule])


def test_adding_after_a_match_recompiles() -> None:
    m = Map([Rule("/a", "a")])
    assert m.match("/a") == ("a", {})
    with pytest.raises(NotFound):
        m.match("/b")
    m.add(Rule("/b", "b"))
    assert m.match("/b") == ("b", {})
    assert [r.endpoint for r in m.iter_rules()] == ["a", "b"]
    assert [r.rule for r in m.iter_rules("b")] == ["/b"]


def test_return_rule() -> None:
    m = Map([Rule("/a/<int:x>", "a")])
    rule, values = m.match("/a/3", return_rule=True)
    assert isinstance(rule, Rule) and rule.rule == "/a/<int:x>" and values == {"x": 3}


# Ambiguous tables where the ordering rule decides; werkzeug is the reference.
AMBIGUOUS: list[tuple[list[RuleSpec], list[str]]] = [
    (
        [("/<a>", "a", {}), ("/<int:b>", "b", {}), ("/<path:c>", "c", {}), ("/x", "x", {})],
        ["/x", "/1", "/y", "/y/z"],
    ),
    (
        [("/<a>.<b>", "two", {}), ("/<a>", "one", {}), ("/<a>-<b>.<c>", "three", {})],
        ["/f.txt", "/f", "/f-g.h", "/f.g.h"],
    ),
    (
        [("/<path:p>/edit", "edit", {}), ("/<a>/<b>", "ab", {}), ("/<a>/edit", "a_edit", {})],
        ["/x/edit", "/x/y/edit", "/x/y"],
    ),
    (
        [("/<a>/", "branch", {}), ("/<path:p>", "path", {})],
        ["/x", "/x/", "/x/y"],
    ),
    (
        [("/static/<path:f>", "s", {}), ("/<a>/<b>", "ab", {}), ("/<a>/<b>", "dup", {})],
        ["/static/x", "/static/x/y", "/other/y"],
    ),
    (
        [("/v<int:n>/x", "vn", {}), ("/<a>/x", "a", {}), ("/v1/<b>", "v1", {})],
        ["/v1/x", "/v2/x", "/w/x", "/v1/y"],
    ),
]


@pytest.mark.parametrize(("specs", "paths"), AMBIGUOUS)
def test_ordering_on_ambiguous_tables_matches_werkzeug(
    specs: list[RuleSpec], paths: list[str]
) -> None:
    for ordered in (specs, list(reversed(specs))):
        ours, theirs = make_maps(ordered)
        adapter = theirs.bind("example.com")
        for path in paths:
            assert outcome_ours(ours, path, host="example.com") == outcome_wz(adapter, path), (
                ordered,
                path,
            )
