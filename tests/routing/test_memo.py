"""Map.match remembers successful matches: each test here asks a map the same
questions several times, between changes that must be seen, and compares the
answers with those of a map that remembers nothing."""

from __future__ import annotations

from typing import Any

import pytest
from crosswind.routing import Map, MethodNotAllowed, NotFound, RequestRedirect, Rule
from crosswind.routing.converters import BaseConverter, ValidationError


def outcome(m: Map, path: str, method: str = "GET", **kw: Any) -> tuple[Any, ...]:
    try:
        rule, values = m.match(path, method, return_rule=True, **kw)
    except RequestRedirect as e:
        return ("redirect", e.new_url)
    except MethodNotAllowed as e:
        return ("405", tuple(sorted(e.allowed_methods)))
    except NotFound:
        return ("404",)
    return ("match", rule.rule, rule.endpoint, tuple(sorted(values.items())))


def twin_maps(specs: list[Rule | tuple[str, str, dict[str, Any]]], **map_kwargs: Any) -> tuple[Map, Map]:
    """The same rules in a map that remembers and in one that does not."""

    def rules() -> list[Rule]:
        return [Rule(s, endpoint=e, **kw) for s, e, kw in specs]  # type: ignore[misc]

    remembering = Map(rules(), **map_kwargs)
    forgetful = Map(rules(), **map_kwargs)
    forgetful.remembered_matches = 0
    return remembering, forgetful


def remembered(m: Map) -> dict[Any, Any]:
    compiled = m._compiled
    return {} if compiled is None else compiled.found


def ask_both(ours: Map, plain: Map, path: str, method: str = "GET", times: int = 3, **kw: Any) -> Any:
    answers = {outcome(ours, path, method, **kw) for _ in range(times)}
    assert answers == {outcome(plain, path, method, **kw)}, path
    return answers.pop()


SITE: list[Any] = [
    ("/", "index", {}),
    ("/dir/", "directory", {}),
    ("/n/<int:n>", "number", {}),
    ("/f/<float:x>", "float", {}),
    ("/u/<uuid:id>", "uuid", {}),
    ("/files/<path:name>", "file", {}),
    ("/m", "get_m", {"methods": ["GET"]}),
    ("/m", "post_m", {"methods": ["POST"]}),
    ("/page/", "page", {"defaults": {"page": 1}}),
    ("/page/<int:page>", "page", {}),
    ("/old/<int:n>", "old", {"redirect_to": "/n/<n>"}),
    ("/loose/", "loose", {"strict_slashes": False}),
]

PATHS = [
    ("/", "GET"),
    ("/dir", "GET"),
    ("/dir/", "GET"),
    ("/n/7", "GET"),
    ("/n/x", "GET"),
    ("/f/1.5", "GET"),
    ("/u/12345678-1234-5678-1234-567812345678", "GET"),
    ("/files/a/b.txt", "GET"),
    ("/m", "GET"),
    ("/m", "POST"),
    ("/m", "DELETE"),
    ("/page/1", "GET"),
    ("/page/2", "GET"),
    ("/page/", "GET"),
    ("/old/3", "GET"),
    ("/loose", "GET"),
    ("//n//7", "GET"),
    ("/nope", "GET"),
]


@pytest.mark.parametrize(("path", "method"), PATHS)
def test_every_answer_repeats(path: str, method: str) -> None:
    ours, plain = twin_maps(SITE)
    ask_both(ours, plain, path, method)


def test_only_plain_successes_are_kept() -> None:
    ours, plain = twin_maps(SITE)
    for path, method in PATHS:
        ask_both(ours, plain, path, method)
    kept = sorted((key[0], key[1]) for key in remembered(ours))
    assert kept == sorted(
        [
            ("/", "GET"),
            ("/dir/", "GET"),
            ("/n/7", "GET"),
            ("/f/1.5", "GET"),
            ("/u/12345678-1234-5678-1234-567812345678", "GET"),
            ("/files/a/b.txt", "GET"),
            ("/m", "GET"),
            ("/m", "POST"),
            ("/page/2", "GET"),
            ("/page/", "GET"),
            ("/loose", "GET"),
        ]
    )


def test_each_caller_gets_its_own_values() -> None:
    m = Map([Rule("/n/<int:n>", endpoint="n", defaults={"lang": "en"})])
    first = m.match("/n/5")[1]
    first.pop("n")
    first["extra"] = True
    second = m.match("/n/5")[1]
    assert second == {"n": 5, "lang": "en"}
    second.clear()
    assert m.match("/n/5") == ("n", {"n": 5, "lang": "en"})


def test_endpoint_or_rule_from_the_same_memory() -> None:
    rule = Rule("/a", endpoint="a")
    m = Map([rule])
    assert m.match("/a") == ("a", {})
    assert m.match("/a", return_rule=True) == (rule, {})
    assert m.match("/a") == ("a", {})


def test_a_rule_added_later_is_seen() -> None:
    m = Map([Rule("/thing", endpoint="read", methods=["GET"]), Rule("/n/<name>", endpoint="name")])
    assert m.match("/thing") == ("read", {})
    assert m.match("/n/other") == ("name", {"name": "other"})
    with pytest.raises(MethodNotAllowed):
        m.match("/thing", "POST")
    m.add(Rule("/thing", endpoint="write", methods=["POST"]))
    m.add(Rule("/n/other", endpoint="other"))
    assert m.match("/thing", "POST") == ("write", {})
    assert m.match("/n/other") == ("other", {})
    assert m.match("/thing") == ("read", {})


def test_redirect_defaults_is_read_each_time() -> None:
    ours, plain = twin_maps([("/page/", "page", {"defaults": {"page": 1}}), ("/page/<int:page>", "page", {})])
    for flag in (False, True, False):
        ours.redirect_defaults = plain.redirect_defaults = flag
        ask_both(ours, plain, "/page/1")
    assert outcome(ours, "/page/1")[0] == "match"
    ours.redirect_defaults = True
    assert outcome(ours, "/page/1") == ("redirect", "/page/")


def test_subdomains_and_hosts_are_told_apart() -> None:
    specs: list[Any] = [("/", "root", {}), ("/", "api", {"subdomain": "api"})]
    ours, plain = twin_maps(specs, server_name="example.com")
    for host in ["example.com", "api.example.com", "example.com", "other.org", "api.example.com"]:
        ask_both(ours, plain, "/", host=host)
    for subdomain in ["", "api", "", "nope"]:
        ask_both(ours, plain, "/", subdomain=subdomain)

    specs = [("/", "a", {"host": "a.example.com"}), ("/", "user", {"host": "<user>.example.org"})]
    ours, plain = twin_maps(specs, host_matching=True)
    for host in ["a.example.com", "b.example.org", "A.example.com:80", "c.example.com", "b.example.org"]:
        ask_both(ours, plain, "/", host=host)


def test_the_memory_is_bounded() -> None:
    m = Map([Rule("/n/<int:n>", endpoint="n")])
    for number in range(Map.remembered_matches * 2 + 10):
        assert m.match(f"/n/{number}") == ("n", {"n": number})
        assert 0 < len(remembered(m)) <= Map.remembered_matches
    m.remembered_matches = 0
    m.add(Rule("/", endpoint="index"))
    m.match("/")
    assert remembered(m) == {}


class Member(BaseConverter):
    """A converter whose answer depends on more than the text: who is allowed now."""

    regex = "[^/]*"
    allowed: set[str] = set()

    def to_python(self, value: str) -> str:
        if value not in self.allowed:
            raise ValidationError()
        return value

    def to_url(self, value: Any) -> str:
        if value not in self.allowed:
            raise ValidationError()
        return str(value)


@pytest.fixture
def members() -> set[str]:
    Member.allowed = {"ann"}
    return Member.allowed


def member_map(rules: list[Rule]) -> Map:
    return Map(rules, converters={"member": Member})


def test_a_foreign_converter_runs_each_time(members: set[str]) -> None:
    m = member_map([Rule("/m/<member:name>", endpoint="member"), Rule("/n/<int:n>", endpoint="n")])
    assert [outcome(m, "/m/ann")[0] for _ in range(2)] == ["match", "match"]
    assert m.match("/n/7") == ("n", {"n": 7})
    members.discard("ann")
    members.add("bob")
    assert outcome(m, "/m/ann") == ("404",)
    assert outcome(m, "/m/bob")[0] == "match"
    assert [key[0] for key in remembered(m)] == ["/n/7"]


def test_a_static_rule_found_after_a_foreign_converter_refused_is_not_kept(members: set[str]) -> None:
    # "/a/" tries <member:name> with "" before falling back to the loose "/a".
    m = member_map([Rule("/a", endpoint="plain", strict_slashes=False), Rule("/a/<member:name>", endpoint="member")])
    assert m.match("/a/") == ("plain", {})
    members.add("")
    assert m.match("/a/") == ("member", {"name": ""})
    assert m.match("/a") == ("plain", {})
    assert [key[0] for key in remembered(m)] == ["/a"]


def test_a_canonical_rule_built_with_a_foreign_converter_is_asked_each_time(members: set[str]) -> None:
    # "/p/bob/2" matches the second rule without running Member; whether the
    # first spells it canonically (and so redirects) depends on Member.to_url.
    m = member_map(
        [
            Rule("/<member:who>/", endpoint="page", defaults={"page": 2}),
            Rule("/p/<string:who>/<int:page>", endpoint="page"),
        ]
    )
    found = ("match", "/p/<string:who>/<int:page>", "page", (("page", 2), ("who", "bob")))
    assert outcome(m, "/p/bob/2") == found
    members.add("bob")
    assert outcome(m, "/p/bob/2") == ("redirect", "/bob/")
    assert outcome(m, "/p/bob/3")[0] == "match"  # not the defaults: Member not asked
    assert [key[0] for key in remembered(m)] == ["/p/bob/3"]
