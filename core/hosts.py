"""Whether a ``Host`` value names one of the hosts an application serves.

An application that builds absolute URLs from the request's ``Host`` (password
reset links, redirects, cache keys) trusts whatever the client sent unless it
checks the name against a list.  :func:`host_is_trusted` is that check, with
werkzeug's rules, so Flask's ``TRUSTED_HOSTS`` means the same here:

- the port is ignored, and names compare case-insensitively after IDNA
  encoding (``bücher.example`` matches ``xn--bcher-kva.example``);
- an entry starting with a dot (``.example.com``) matches that domain and
  every name under it;
- a value that is not a host name, an IPv4 address or a bracketed IPv6
  address, optionally followed by a port from 1 to 65535, is never trusted.

Pure functions: no I/O and no state.
"""

from __future__ import annotations

import re
from collections.abc import Collection

__all__ = ["host_is_trusted"]

_HOST = re.compile(
    r"([a-z0-9.-]+|\[[a-f0-9]*:[a-f0-9.:]+\])(?::([1-9][0-9]{0,4}))?",
    re.ASCII | re.IGNORECASE,
)


def _idna(name: str) -> str | None:
    try:
        return name.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None


def host_is_trusted(host: str | None, trusted: Collection[str] | str | None) -> bool:
    """Whether *host* (``name[:port]``) is well formed and, given a list, in it.

    :param host: the ``Host`` value, port and all.
    :param trusted: the names to accept (``.example.com`` for a domain and its
        subdomains); empty or ``None`` accepts any well-formed host.
    """
    if not host:
        return False
    found = _HOST.fullmatch(host)
    if found is None:
        return False
    name, port = found.groups()
    if port and not 1 <= int(port) <= 65535:
        return False
    if not trusted:
        return True
    name = name.lower()
    for entry in [trusted] if isinstance(trusted, str) else trusted:
        subdomains = entry.startswith(".")
        wanted = _idna(entry[1:] if subdomains else entry)
        if wanted is None:
            return False
        wanted = wanted.partition(":")[0]
        if name == wanted or (subdomains and name.endswith("." + wanted)):
            return True
    return False
