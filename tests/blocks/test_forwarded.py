"""crosswind.forwarded: who the client is behind trusted proxies, as properties."""

from __future__ import annotations

import ipaddress

import pytest
from crosswind.forwarded import (
    ForwardedHop,
    ProxiedClient,
    TrustedProxies,
    parse_forwarded,
    parse_node,
    resolve_forwarded,
)
from hypothesis import assume, given
from hypothesis import strategies as st
from uvicorn.middleware.proxy_headers import _TrustedHosts

ipv4 = st.ip_addresses(v=4).map(str)
ipv6 = st.ip_addresses(v=6).map(str)
address = ipv4 | ipv6
#: A small pool, so that hops and the trusted set meet often.
pool = st.sampled_from([
    "10.0.0.1", "10.0.0.2", "192.0.2.1", "198.51.100.7", "203.0.113.9", "::1",
    "2001:db8::1", "fd00::5", "127.0.0.1",
])
hops = st.lists(pool | address, min_size=1, max_size=6)
#: Trusted proxies, the connecting peer (127.0.0.1) always among them.
trusted_sets = st.lists(pool, max_size=5).map(lambda hosts: TrustedProxies([*hosts, "127.0.0.1"]))


def xff(chain: list[str]) -> list[tuple[bytes, bytes]]:
    return [(b"x-forwarded-for", ", ".join(chain).encode())]


def forwarded_field(chain: list[str]) -> list[tuple[bytes, bytes]]:
    return [(b"forwarded", ", ".join(
        f'for="[{hop}]"' if ":" in hop else f"for={hop}" for hop in chain
    ).encode())]


def expected_client(chain: list[str], trusted: TrustedProxies) -> str:
    """The rule, written the plain way: the right-most untrusted hop, else the left-most."""
    for hop in reversed(chain):
        if hop not in trusted:
            return hop
    return chain[0]


@given(hops, trusted_sets)
def test_the_client_is_the_right_most_untrusted_hop(chain: list[str], trusted: TrustedProxies) -> None:
    for headers in (xff(chain), forwarded_field(chain)):
        said = resolve_forwarded("127.0.0.1", headers, trusted)
        assert said is not None and said.client is not None
        assert said.client[0] == expected_client(chain, trusted)


@given(hops, hops, trusted_sets)
def test_hops_the_client_writes_change_nothing(
    written_by_client: list[str], written_by_proxies: list[str], trusted: TrustedProxies
) -> None:
    assume(any(hop not in trusted for hop in written_by_proxies))
    for field in (xff, forwarded_field):
        spoofed = resolve_forwarded("127.0.0.1", field(written_by_client + written_by_proxies), trusted)
        honest = resolve_forwarded("127.0.0.1", field(written_by_proxies), trusted)
        assert spoofed == honest


@given(hops, st.lists(pool, max_size=5).map(TrustedProxies),
       st.sampled_from(["192.0.2.200", "::2", None, "/run/app.sock"]))
def test_an_untrusted_peer_is_never_believed(
    chain: list[str], trusted: TrustedProxies, peer: str | None
) -> None:
    headers = [*xff(chain), (b"x-forwarded-proto", b"https"), *forwarded_field(chain)]
    assert resolve_forwarded(peer, headers, trusted) is None


@given(st.lists(address, min_size=1, max_size=6), st.lists(pool, max_size=4), st.booleans())
def test_same_client_as_uvicorn(chain: list[str], allowed: list[str], star: bool) -> None:
    spec: str | list[str] = "*" if star else [*allowed, "127.0.0.1"]
    said = resolve_forwarded("127.0.0.1", xff(chain), TrustedProxies(spec))
    assert said is not None
    assert said.client == _TrustedHosts(spec).get_trusted_client_address(", ".join(chain))


@given(st.lists(pool, min_size=1, max_size=4))
def test_star_trusts_everyone_and_takes_the_left_most(chain: list[str]) -> None:
    said = resolve_forwarded("198.18.0.1", xff(chain), TrustedProxies("*"))
    assert said == ProxiedClient(client=(chain[0], 0))


networks = st.one_of(
    st.tuples(st.ip_addresses(v=4), st.integers(0, 32)),
    st.tuples(st.ip_addresses(v=6), st.integers(0, 128)),
).map(lambda base: ipaddress.ip_network(f"{base[0]}/{base[1]}", strict=False))


@given(st.ip_addresses(), networks)
def test_networks_contain_what_ipaddress_says(address: object, network: object) -> None:
    trusted = TrustedProxies(f" {network} ,")
    assert (str(address) in trusted) == (address in network)  # type: ignore[operator]


@given(networks)
def test_addresses_in_a_trusted_network_are_trusted(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> None:
    trusted = TrustedProxies(str(network))
    assert str(network.network_address) in trusted
    assert str(network.broadcast_address) in trusted


@given(st.text(max_size=60))
def test_any_text_parses_or_is_marked_malformed(value: str) -> None:
    for hop in parse_forwarded(value):
        assert hop is None or isinstance(hop, ForwardedHop)


hop_parts = st.fixed_dictionaries(
    {"node": pool},
    optional={
        "port": st.integers(0, 65535),
        "proto": st.sampled_from(["http", "https", "HTTPS", "ws", "wss"]),
        "host": st.sampled_from(["example.com", "a.example:8443", "[2001:db8::2]:80", "x"]),
        "quote": st.booleans(),
    },
)


def render(part: dict[str, object]) -> str:
    node = str(part["node"])
    if ":" in node:
        node = f"[{node}]"
    if "port" in part:
        node += f":{part['port']}"
    quote = part.get("quote") or ":" in node
    pairs = [f'for="{node}"' if quote else f"for={node}"]
    if "proto" in part:
        pairs.append(f"proto={part['proto']}")
    if "host" in part:
        host = str(part["host"])
        pairs.append(f'host="{host}"' if not host.isalnum() else f"host={host}")
    return ";".join(pairs)


@given(st.lists(hop_parts, min_size=1, max_size=4), st.sampled_from([",", ", ", " ,\t"]))
def test_forwarded_elements_read_back(parts: list[dict[str, object]], comma: str) -> None:
    parsed = parse_forwarded(comma.join(render(part) for part in parts))
    assert parsed == [
        ForwardedHop(
            node=(str(part["node"]), int(part.get("port", 0))),  # type: ignore[call-overload]
            proto=str(part["proto"]).lower() if "proto" in part else None,
            host=str(part["host"]) if "host" in part else None,
        )
        for part in parts
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # RFC 7239 section 4's examples.
        ('for="_gazonk"', [ForwardedHop(node=("_gazonk", 0))]),
        ('For="[2001:db8:cafe::17]:4711"', [ForwardedHop(node=("2001:db8:cafe::17", 4711))]),
        ("for=192.0.2.60;proto=http;by=203.0.113.43",
         [ForwardedHop(node=("192.0.2.60", 0), proto="http", by="203.0.113.43")]),
        ("for=192.0.2.43, for=198.51.100.17",
         [ForwardedHop(node=("192.0.2.43", 0)), ForwardedHop(node=("198.51.100.17", 0))]),
        ("for=unknown;host=a.example", [ForwardedHop(node=("unknown", 0), host="a.example")]),
        ('for="192.0.2.1:_port"', [ForwardedHop(node=("192.0.2.1", 0))]),
        # A comma inside quotes does not split; escapes are undone.
        ('for=1.2.3.4;host="a\\.b", for=5.6.7.8',
         [ForwardedHop(node=("1.2.3.4", 0), host="a.b"), ForwardedHop(node=("5.6.7.8", 0))]),
        # Malformed elements, each on its own: the others still read.
        ("for=[2001:db8::1], for=1.2.3.4", [None, ForwardedHop(node=("1.2.3.4", 0))]),
        ("for=1.2.3.4;for=5.6.7.8, proto=https", [None, ForwardedHop(proto="https")]),
        ('for="1.2.3.4"x, for=300.1.1.1, for=a b', [None, None, None]),
        ("proto=gopher, host=bad/host, for=1.2.3.4:99999", [None, None, None]),
        ('for="unclosed, for=1.2.3.4', [None]),
        (" , ,", []),
    ],
)
def test_forwarded_examples(value: str, expected: list[ForwardedHop | None]) -> None:
    assert parse_forwarded(value) == expected


@pytest.mark.parametrize(
    ("text", "node"),
    [
        ("192.0.2.1", ("192.0.2.1", 0)),
        ("192.0.2.1:8080", ("192.0.2.1", 8080)),
        ("2001:db8::1", ("2001:db8::1", 0)),
        ("2001:DB8:0::1", ("2001:db8::1", 0)),
        ("[2001:db8::1]:443", ("2001:db8::1", 443)),
        ("_hidden:_port", ("_hidden", 0)),
        ("unknown", ("unknown", 0)),
        ("192.0.2.1:", None),
        ("[2001:db8::1", None),
        ("[192.0.2.1]", None),
        ("01.2.3.4", None),
        ("example.com", None),
        ("", None),
    ],
)
def test_nodes(text: str, node: tuple[str, int] | None) -> None:
    assert parse_node(text) == node


def test_scheme_and_host_come_from_the_clients_hop() -> None:
    trusted = TrustedProxies("127.0.0.1, 10.0.0.0/8")
    headers = [
        (b"x-forwarded-for", b"203.0.113.1, 10.0.0.9"),
        (b"x-forwarded-proto", b"https, http"),
        (b"x-forwarded-host", b"shop.example, internal"),
    ]
    assert resolve_forwarded("127.0.0.1", headers, trusted) == ProxiedClient(
        client=("203.0.113.1", 0), scheme="https", host="shop.example"
    )
    # One value, set by the edge proxy and passed on: it is the client's.
    single = [headers[0], (b"x-forwarded-proto", b"wss")]
    assert resolve_forwarded("127.0.0.1", single, trusted) == ProxiedClient(
        client=("203.0.113.1", 0), scheme="https"
    )


def test_x_forwarded_fields_win_and_forwarded_is_the_fallback() -> None:
    trusted = TrustedProxies()
    both = [(b"forwarded", b"for=192.0.2.1;proto=https"), (b"x-forwarded-proto", b"http")]
    assert resolve_forwarded("127.0.0.1", both, trusted) == ProxiedClient(scheme="http")
    assert resolve_forwarded("127.0.0.1", both[:1], trusted) == ProxiedClient(
        client=("192.0.2.1", 0), scheme="https"
    )
    assert resolve_forwarded("127.0.0.1", [(b"x-other", b"1")], trusted) is None


def test_malformed_client_hops_end_the_walk() -> None:
    trusted = TrustedProxies("127.0.0.1, 10.0.0.1")
    said = resolve_forwarded("127.0.0.1", xff(["203.0.113.5", "garbage", "10.0.0.1"]), trusted)
    assert said == ProxiedClient(client=None)
    said = resolve_forwarded("127.0.0.1", [(b"forwarded", b"for=203.0.113.5, for=[bad], for=10.0.0.1")], trusted)
    assert said is None
    for empty in (b"203.0.113.5, , 10.0.0.1", b"", b" , "):
        said = resolve_forwarded("127.0.0.1", [(b"x-forwarded-for", empty)], trusted)
        assert said == ProxiedClient(client=None), empty


def test_literals_and_unix_sockets() -> None:
    trusted = TrustedProxies("/run/nginx.sock, _edge")
    assert "/run/nginx.sock" in trusted and None not in trusted and "" not in trusted
    headers = [(b"forwarded", b"for=198.51.100.1, for=_edge")]
    assert resolve_forwarded("/run/nginx.sock", headers, trusted) == ProxiedClient(
        client=("198.51.100.1", 0)
    )
    assert "::1" in TrustedProxies("0:0::1") and "::2" not in TrustedProxies("::1")
    assert repr(TrustedProxies("*")) == "TrustedProxies('*')"
