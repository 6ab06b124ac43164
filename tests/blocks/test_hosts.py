"""``host_is_trusted`` decides as werkzeug's does (Flask's ``TRUSTED_HOSTS``)."""

from __future__ import annotations

import itertools

import pytest
from crosswind.hosts import host_is_trusted
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.sansio.utils import host_is_trusted as wz_host_is_trusted

HOSTS = [
    "example.com", "example.com:8080", "a.example.com", "a.b.example.com:443", "evil.com",
    "example.com.evil.com", "xexample.com", "[::1]", "[::1]:80", "127.0.0.1", "127.0.0.1:0",
    "a.example.com:99999", "bad host", "", "xn--bcher-kva.example", "example.com:", "localhost",
    "exa_mple.com", "[fe80::1%eth0]",
]
LISTS: list[list[str] | str | None] = [
    None, [], ["example.com"], [".example.com"], "example.com", ["bücher.example"],
    [".example.com:443"], ["localhost", "127.0.0.1"], ["[::1]"],
]


@pytest.mark.parametrize(("host", "trusted"), list(itertools.product(HOSTS, LISTS)))
def test_same_verdict_as_werkzeug(host: str, trusted: list[str] | str | None) -> None:
    assert host_is_trusted(host, trusted) == wz_host_is_trusted(host, trusted)


def test_names_compare_without_case() -> None:
    # DNS names are case-insensitive; werkzeug compares them as written.
    assert host_is_trusted("WWW.Example.COM", [".example.com"])
    assert host_is_trusted("www.example.com", ["WWW.EXAMPLE.COM"])
    assert not wz_host_is_trusted("www.example.com", ["WWW.EXAMPLE.COM"])


labels = st.from_regex(r"[a-z0-9-]{1,4}", fullmatch=True)
names = st.lists(labels, min_size=1, max_size=4).map(".".join)


@given(names, st.none() | st.integers(0, 70000), st.lists(st.tuples(st.booleans(), names), max_size=3))
def test_any_lowercase_host_same_verdict_as_werkzeug(
    name: str, port: int | None, entries: list[tuple[bool, str]]
) -> None:
    host = name if port is None else f"{name}:{port}"
    trusted = [("." if dotted else "") + entry for dotted, entry in entries]
    assert host_is_trusted(host, trusted) == wz_host_is_trusted(host, trusted)
