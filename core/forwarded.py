"""Who the client is when the server sits behind proxies it trusts.

A reverse proxy connects on the client's behalf and says who the client was
in ``X-Forwarded-For``, ``X-Forwarded-Proto`` and ``X-Forwarded-Host``, or in
RFC 7239's ``Forwarded``.  Anyone can send those fields, so what they say is
believed only under these rules:

* Only a trusted peer speaks for a client (:class:`TrustedProxies`: uvicorn's
  ``--forwarded-allow-ips`` syntax).  The fields of any other peer are ignored
  whole, as if they were not there.
* Each proxy appends the address it received the request from, so the list
  reads left to right from the client towards the server, and only its right
  end was written by proxies we trust.  The client is the right-most hop that
  is not itself a trusted proxy; hops to its left may have been written by
  the client and are never read.  When every hop is trusted, the left-most
  one is the client (uvicorn's rule: the client was a trusted machine).
* The scheme and the host are taken from the same hop as the client: in
  ``Forwarded``, from the element that names the client; in
  ``X-Forwarded-Proto``/``-Host``, from the entry as far from the right as
  the client's is in ``X-Forwarded-For`` (the last entry when the list is
  shorter, which is the usual single value an edge proxy sets).
* ``X-Forwarded-*`` win over ``Forwarded``: when a trusted peer sends any
  ``X-Forwarded-For``, ``-Proto`` or ``-Host``, ``Forwarded`` is not read.
  Most proxies write the ``X-Forwarded-*`` fields and pass a ``Forwarded``
  from the client through untouched, and uvicorn, which reads only
  ``X-Forwarded-For``/``-Proto``, rewrites such a request the same way.
* A malformed value decides nothing: the connection's own address, scheme
  or host stays.  A client hop that is malformed ends the walk rather than
  being skipped, since the hops to its left are no more trustworthy.

This is a building block: it imports only :mod:`crosswind.grammar`, does
no I/O and reads no environment; the protocol driver applies it to each
request (:class:`crosswind.protocol.driver.ConnectionDriver`'s ``proxy``).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

from .grammar import TCHAR

__all__ = [
    "ForwardedHop",
    "ProxiedClient",
    "TrustedProxies",
    "parse_forwarded",
    "parse_node",
    "resolve_forwarded",
]

_Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: The schemes a proxy may report; ``ws``/``wss`` are read as ``http``/``https``,
#: since a WebSocket scope derives its own scheme from those.
_SCHEMES = {"http": "http", "https": "https", "ws": "http", "wss": "https"}

# RFC 7239 section 6: obfnode and obfport.
_OBFUSCATED = re.compile(r"_[A-Za-z0-9._-]+")
_PORT = re.compile(r"[0-9]{1,5}")
# uri-host [":" port] (RFC 3986 section 3.2.2): a reg-name (IPv4 addresses are
# among them) or a bracketed IP literal, checked again with ipaddress.
_HOST = re.compile(
    r"(?:(?P<name>(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})+)|\[(?P<literal>[0-9A-Fa-f:.]+)\])"
    r"(?::[0-9]{0,5})?"
)


class TrustedProxies:
    """The peers allowed to speak for a client: ``--forwarded-allow-ips``.

    :param spec: a comma-separated string or a list of entries, each an IP
        address (``127.0.0.1``, ``::1``), a network (``10.0.0.0/8``,
        ``fd00::/8``), ``*`` for every peer, or any other text, matched
        literally (a Unix socket's path, an obfuscated ``Forwarded``
        identifier such as ``_proxy1``).  Entries are compared as addresses,
        so ``::1`` and ``0:0::1`` are the same.
    """

    __slots__ = ("_addresses", "_literals", "_networks", "trust_all")

    def __init__(self, spec: str | Iterable[str] = "127.0.0.1") -> None:
        entries = spec.split(",") if isinstance(spec, str) else list(spec)
        entries = [entry.strip() for entry in entries if entry.strip()]
        #: Whether every peer is trusted (``*``).
        self.trust_all = "*" in entries
        self._addresses: set[_Address] = set()
        self._networks: list[_Network] = []
        self._literals: set[str] = set()
        for entry in entries:
            try:
                if "/" in entry:
                    self._networks.append(ipaddress.ip_network(entry, strict=False))
                else:
                    self._addresses.add(ipaddress.ip_address(entry))
            except ValueError:
                self._literals.add(entry)

    def __repr__(self) -> str:
        if self.trust_all:
            return "TrustedProxies('*')"
        parts = [*map(str, self._addresses), *map(str, self._networks), *sorted(self._literals)]
        return f"TrustedProxies({','.join(parts)!r})"

    def __contains__(self, host: object) -> bool:
        """Whether *host* (an address as text, or a literal) is trusted."""
        if self.trust_all:
            return True
        if not isinstance(host, str) or not host:
            return False
        if host in self._literals:
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return address in self._addresses or any(address in net for net in self._networks)


@dataclass(frozen=True, slots=True)
class ProxiedClient:
    """What trusted proxies said about the request; ``None`` where they said nothing usable.

    :param client: ``(host, port)`` of the client; the port is ``0`` when
        not given.  The host is an address in its canonical text form, or a
        ``Forwarded`` identifier (``unknown``, ``_hidden``) when the proxy
        chose not to reveal the address.
    :param scheme: ``http`` or ``https``.
    :param host: the ``Host`` the client asked for, ``name[:port]``.
    """

    client: tuple[str, int] | None = None
    scheme: str | None = None
    host: str | None = None


@dataclass(frozen=True, slots=True)
class ForwardedHop:
    """One element of a ``Forwarded`` field (RFC 7239 section 4).

    :param node: the ``for=`` node as ``(host, port)`` (see :func:`parse_node`),
        or ``None`` when the element has no ``for=``.
    :param proto: the ``proto=`` value, lowercased.
    :param host: the ``host=`` value.
    :param by: the ``by=`` node, as written.
    """

    node: tuple[str, int] | None = None
    proto: str | None = None
    host: str | None = None
    by: str | None = None


def parse_node(text: str) -> tuple[str, int] | None:
    """A ``for=`` node or an ``X-Forwarded-For`` hop as ``(host, port)``; ``None`` if malformed.

    Accepts ``192.0.2.1``, ``192.0.2.1:80``, ``2001:db8::1`` (bare, as
    ``X-Forwarded-For`` writes it), ``[2001:db8::1]`` and
    ``[2001:db8::1]:80``, ``unknown`` and obfuscated ``_name`` identifiers,
    with an optional obfuscated ``:_port`` (read as port ``0``).

    :param text: the node, unquoted, without surrounding whitespace.
    """
    host, port_text = text, ""
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            return None
        host, rest = text[1:end], text[end + 1 :]
        if rest:
            if rest[0] != ":" or len(rest) == 1:
                return None
            port_text = rest[1:]
        try:
            address = ipaddress.IPv6Address(host)
        except ValueError:
            return None
        host = str(address)
    elif text.count(":") == 1:
        host, port_text = text.split(":")
        if not port_text:
            return None
        host = _plain_node(host) or ""
    else:
        host = _plain_node(text) or ""
    if not host:
        return None
    if _PORT.fullmatch(port_text):
        port = int(port_text)
        if port > 65535:
            return None
        return host, port
    if port_text and _OBFUSCATED.fullmatch(port_text) is None:
        return None
    return host, 0


def _plain_node(text: str) -> str | None:
    if text == "unknown" or _OBFUSCATED.fullmatch(text):
        return text
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def _valid_host(text: str) -> bool:
    match = _HOST.fullmatch(text)
    if match is None:
        return False
    literal = match.group("literal")
    if literal is not None:
        try:
            ipaddress.IPv6Address(literal)
        except ValueError:
            return False
    return True


def parse_forwarded(value: str) -> list[ForwardedHop | None]:
    """The elements of a ``Forwarded`` field, left to right; ``None`` for a malformed one.

    Parameter names are case-insensitive; a value is a token or a
    quoted-string (with ``\\`` escapes), and a comma inside a quoted string
    does not end the element.  An element that repeats a parameter, breaks
    the syntax, or whose ``for=``, ``proto=`` or ``host=`` cannot be read, is
    malformed; the elements around it are still read.

    :param value: the field value (several fields joined with ``,``).
    """
    hops: list[ForwardedHop | None] = []
    pos, end = 0, len(value)
    while pos <= end:
        found: dict[str, str] | None = {}
        while True:
            match = _PAIR.match(value, pos)
            if match is None:
                break
            pos = match.end()
            name, token, quoted = match.group("name", "token", "quoted")
            name = name.lower()
            if found is not None:
                if name in found:
                    found = None
                else:
                    found[name] = token if quoted is None else _UNESCAPE.sub(r"\1", quoted)
            if pos >= end or value[pos] != ";":
                break
            pos += 1
        # What follows must end the element; otherwise skip to the next comma
        # outside a quoted string, and the element is malformed.
        rest = _ELEMENT_END.match(value, pos)
        if rest is None:
            found = None
            rest = _SKIP.match(value, pos)
            assert rest is not None  # _SKIP matches anything, the empty string too
        pos = rest.end()
        if found is None:
            hops.append(None)
        elif found:
            hops.append(_hop(found))
        if pos >= end:
            break
        pos += 1  # the comma
    return hops


# forwarded-pair = token "=" value; value = token / quoted-string (RFC 7239 section 4).
_PAIR = re.compile(
    rf'[ \t]*(?P<name>{TCHAR}+)=(?:(?P<token>{TCHAR}+)|"(?P<quoted>(?:[^"\\]|\\.)*)")[ \t]*'
)
_UNESCAPE = re.compile(r"\\(.)")
_ELEMENT_END = re.compile(r"[ \t]*(?=,|\Z)")
_SKIP = re.compile(r'(?:[^,"]|"(?:[^"\\]|\\.)*"?)*')


def _hop(found: dict[str, str]) -> ForwardedHop | None:
    node = None
    if "for" in found:
        node = parse_node(found["for"])
        if node is None:
            return None
    proto = found.get("proto")
    if proto is not None:
        proto = proto.lower()
        if proto not in _SCHEMES:
            return None
    host = found.get("host")
    if host is not None and not _valid_host(host):
        return None
    return ForwardedHop(node=node, proto=proto, host=host, by=found.get("by"))


def resolve_forwarded(
    peer: str | None, headers: Iterable[tuple[bytes, bytes]], trusted: TrustedProxies
) -> ProxiedClient | None:
    """What the proxies in front of *peer* say about the request, under the module's rules.

    :param peer: the host of the connection's peer (a Unix socket's path, or
        ``None`` when it has none).
    :param headers: the request's fields, lowercase ``bytes`` names.
    :param trusted: the trusted proxies.
    :returns: ``None`` when *peer* is not trusted or sent no forwarding field.
    """
    if peer not in trusted:
        return None
    xff: list[bytes] = []
    xfp: list[bytes] = []
    xfh: list[bytes] = []
    forwarded: list[bytes] = []
    for name, value in headers:
        if name[:2] == b"x-":
            if name == b"x-forwarded-for":
                xff.append(value)
            elif name == b"x-forwarded-proto":
                xfp.append(value)
            elif name == b"x-forwarded-host":
                xfh.append(value)
        elif name == b"forwarded":
            forwarded.append(value)
    if xff or xfp or xfh:
        return _from_x_forwarded(xff, xfp, xfh, trusted)
    if forwarded:
        return _from_forwarded(b",".join(forwarded).decode("latin-1"), trusted)
    return None


def _list(values: list[bytes]) -> list[str]:
    return [item.strip(" \t") for item in b",".join(values).decode("latin-1").split(",")]


def _from_x_forwarded(
    xff: list[bytes], xfp: list[bytes], xfh: list[bytes], trusted: TrustedProxies
) -> ProxiedClient:
    client = None
    skipped = 0  # trusted hops right of the client
    # An empty hop is a malformed one (it ends the walk), as uvicorn has it.
    hops = _list(xff) if xff else []
    if hops:
        index = 0
        if not trusted.trust_all:
            index = len(hops) - 1
            while index > 0 and _hop_trusted(hops[index], trusted):
                index -= 1
        skipped = len(hops) - 1 - index
        client = parse_node(hops[index])
    scheme = None
    if xfp:
        protos = _list(xfp)
        proto = protos[max(0, len(protos) - 1 - skipped)].lower()
        scheme = _SCHEMES.get(proto)
    host = None
    if xfh:
        hosts = _list(xfh)
        candidate = hosts[max(0, len(hosts) - 1 - skipped)]
        if candidate and _valid_host(candidate):
            host = candidate
    return ProxiedClient(client=client, scheme=scheme, host=host)


def _hop_trusted(hop: str, trusted: TrustedProxies) -> bool:
    if hop in trusted:  # a literal, or an address written as the peer's would be
        return True
    node = parse_node(hop)
    return node is not None and node[0] in trusted


def _from_forwarded(value: str, trusted: TrustedProxies) -> ProxiedClient | None:
    hops = parse_forwarded(value)
    if not hops:
        return None
    index = len(hops) - 1
    if trusted.trust_all:
        index = 0
    else:
        while index > 0:
            hop = hops[index]
            if hop is None or hop.node is None or hop.node[0] not in trusted:
                break
            index -= 1
    chosen = hops[index]
    if chosen is None:
        return None
    scheme = _SCHEMES[chosen.proto] if chosen.proto is not None else None
    return ProxiedClient(client=chosen.node, scheme=scheme, host=chosen.host)
