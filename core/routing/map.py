"""The werkzeug-style :class:`Map`: the rules of an application with the
settings they share, which matches a request to a rule and builds the URL of an
endpoint, and the errors it answers with.

A rule is bound to the map when added; the index (the matcher's trie, the
rules of each endpoint in build order, and the remembered matches) is built on
the first match or build after an :meth:`Map.add`, so adding a thousand rules
costs a thousand cheap inserts and one compile, and any later add throws the
index away.

:meth:`Map.match` answers with an endpoint and its values, or raises
:class:`NotFound` (404), :class:`MethodNotAllowed` (405, with the ``Allow``
header's value) or :class:`RequestRedirect` (308) to the canonical URL.
Trailing slashes follow werkzeug: a rule ending in ``/`` requested without it
redirects to the slashed URL, a rule without it requested with it is not
found, and ``strict_slashes=False`` accepts both.  Repeated slashes redirect to
the merged path unless ``merge_slashes=False``; a URL that spells out the
defaults of another rule of the same endpoint redirects to that rule
(``redirect_defaults``).  :meth:`Map.build` raises :class:`BuildError` when no
rule of the endpoint fits the values.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urljoin

from ..errors import CrosswindError, RequestError
from .converters import DEFAULT_CONVERTERS, BaseConverter, quote_path_part
from .matcher import _build_trie, _Search, _SlashRequired, _State
from .rules import _PLACEHOLDER_RE, _SLASH_RUN_RE, Rule

__all__ = ["BuildError", "Map", "MethodNotAllowed", "NotFound", "RequestRedirect"]

_DEFAULT_PORTS = {"http": ":80", "ws": ":80", "https": ":443", "wss": ":443"}


class NotFound(RequestError):
    """No rule matches the requested URL (404).

    :param reason: the text safe to show the client.
    """

    def __init__(self, reason: str = "Not Found") -> None:
        super().__init__(reason, 404)


class MethodNotAllowed(RequestError):
    """A rule matches the URL but not the method (405).

    :param allowed_methods: the methods some rule for this URL accepts; they
        belong in the response's ``Allow`` header.
    """

    def __init__(self, allowed_methods: Iterable[str]) -> None:
        super().__init__("Method Not Allowed", 405)
        self.allowed_methods: tuple[str, ...] = tuple(sorted(set(allowed_methods)))

    @property
    def allow_header(self) -> str:
        """The value for the ``Allow`` response header, e.g. ``"GET, HEAD"``."""
        return ", ".join(self.allowed_methods)


class RequestRedirect(RequestError):
    """The resource lives at :attr:`new_url`; answer 308 with a ``Location``.

    A 308 (not 301) keeps the method and body of a POST across the redirect.

    :param new_url: where the client should go (absolute when the request's
        host was known, otherwise a path with its query).
    """

    def __init__(self, new_url: str) -> None:
        super().__init__("Permanent Redirect", 308)
        self.new_url = new_url


class BuildError(CrosswindError, LookupError):
    """No rule can build a URL for the endpoint with the values given.

    This is the application's mistake (a bad ``url_for`` call), so it is not a
    :class:`~crosswind.errors.RequestError`.

    :param endpoint: the endpoint that was asked for.
    :param values: the values that were supplied.
    :param method: the method that was asked for, if any.
    :param hint: a sentence that suggests the likely fix.
    """

    def __init__(
        self, endpoint: Any, values: Mapping[str, Any], method: str | None, hint: str = ""
    ) -> None:
        self.endpoint = endpoint
        self.values = dict(values)
        self.method = method
        self.hint = hint
        message = f"Could not build url for endpoint {endpoint!r}"
        if method:
            message += f" ({method!r})"
        if self.values:
            message += f" with values {sorted(self.values)!r}"
        message += "."
        if hint:
            message += " " + hint
        super().__init__(message)


def _canonical_host(host: str, url_scheme: str) -> str:
    host = host.strip().lower()
    default_port = _DEFAULT_PORTS.get(url_scheme)
    if default_port and host.endswith(default_port):
        host = host[: -len(default_port)]
    return host


@dataclass(slots=True)
class _Compiled:
    root: _State
    by_endpoint: dict[Any, list[Rule]]
    # What matching found, by (path, method, domain, redirect_defaults); see
    # Map.match.  It lives and dies with the index, so adding a rule forgets it.
    found: dict[tuple[str, str, str, bool], tuple[Rule, dict[str, Any]]] = field(
        default_factory=dict
    )


class Map:
    """A set of :class:`~crosswind.routing.rules.Rule` objects with the settings they share.

    :param rules: rules to :meth:`add` right away.
    :param strict_slashes: redirect ``/a`` to ``/a/`` for branch rules and
        refuse ``/b/`` for leaf rules (per-rule override possible).
    :param merge_slashes: redirect paths with repeated slashes to the merged path.
    :param redirect_defaults: redirect a URL that spells out a rule's defaults
        to the rule that carries those defaults implicitly.
    :param host_matching: match rules' ``host`` against the request host
        instead of matching ``subdomain`` against a subdomain.
    :param default_subdomain: the subdomain of rules that do not name one.
    :param server_name: the application's host name (``example.com``); with
        it the subdomain is computed from the request host.
    :param converters: extra or replacement converter classes by name.

    A successful :meth:`match` is remembered, so that the next request for the
    same path, method and domain skips the walk of the trie and the
    converters; see :attr:`remembered_matches`.
    """

    #: How many successful matches the map remembers (``0``: none).  A match is
    #: remembered only when nothing but the path, the method, the domain (the
    #: subdomain, or the host with :attr:`host_matching`), the rules and
    #: :attr:`redirect_defaults` decided it: every converter that ran is one of
    #: crosswind's own, and it neither redirected nor failed (redirects, 404
    #: and 405 are worked out again each time).  Each caller gets its own copy
    #: of the values.  Adding a rule forgets everything, and so does reaching
    #: the limit; the bound keeps a client that requests endless distinct paths
    #: from growing the memory, at the price of a walk per request for it.
    remembered_matches: int = 256

    def __init__(
        self,
        rules: Iterable[Rule] | None = None,
        *,
        strict_slashes: bool = True,
        merge_slashes: bool = True,
        redirect_defaults: bool = True,
        host_matching: bool = False,
        default_subdomain: str = "",
        server_name: str | None = None,
        converters: Mapping[str, type[BaseConverter]] | None = None,
    ) -> None:
        self.strict_slashes = strict_slashes
        self.merge_slashes = merge_slashes
        self.redirect_defaults = redirect_defaults
        self.host_matching = host_matching
        self.default_subdomain = default_subdomain
        self.server_name = server_name.lower() if server_name else None
        self.converters: dict[str, type[BaseConverter]] = dict(DEFAULT_CONVERTERS)
        if converters:
            self.converters.update(converters)
        self._rules: list[Rule] = []
        self._compiled: _Compiled | None = None
        for rule in rules or ():
            self.add(rule)

    def add(self, rule: Rule) -> None:
        """Bind *rule* to this map; it is indexed on the next match or build.

        :param rule: an unbound rule.
        :raises ValueError: the rule is malformed, names an unknown converter,
            or belongs to another map.
        """
        rule.bind(self)
        self._rules.append(rule)
        self._compiled = None

    def iter_rules(self, endpoint: Any = None) -> Iterator[Rule]:
        """Iterate over all rules, or those of *endpoint*, in the order added.

        :param endpoint: only rules with this endpoint, if given.
        """
        return (r for r in self._rules if endpoint is None or r.endpoint == endpoint)

    def _index(self) -> _Compiled:
        compiled = self._compiled
        if compiled is None:
            # Built aside and swapped in with one assignment, so a concurrent
            # lookup sees either the old index or the complete new one.
            rules = list(self._rules)
            by_endpoint: dict[Any, list[Rule]] = {}
            for rule in rules:
                by_endpoint.setdefault(rule.endpoint, []).append(rule)
            for group in by_endpoint.values():
                group.sort(key=Rule._build_order_key)
            compiled = _Compiled(_build_trie(r for r in rules if not r.build_only), by_endpoint)
            self._compiled = compiled
        return compiled

    # -- matching ----------------------------------------------------------

    def _domain(self, host: str | None, subdomain: str | None, url_scheme: str) -> str | None:
        if self.host_matching:
            if host is None:
                if self.server_name is None:
                    raise ValueError("host_matching needs the request host or a server_name")
                return self.server_name
            return _canonical_host(host, url_scheme)
        if subdomain is not None:
            return subdomain
        if host is None or self.server_name is None:
            return self.default_subdomain
        current = _canonical_host(host, url_scheme).split(".")
        configured = _canonical_host(self.server_name, url_scheme).split(".")
        if current[-len(configured) :] != configured:
            return None  # a host outside server_name matches no rule
        return ".".join(filter(None, current[: -len(configured)]))

    def _host_for(
        self, domain: str, host: str | None, url_scheme: str, server_name: str | None = None
    ) -> str | None:
        if self.host_matching:
            return domain
        server = server_name or self.server_name
        if server is None:
            return host if domain == self._domain(host, None, url_scheme) else None
        return f"{domain}.{server}" if domain else server

    def _walk(
        self, path: str, method: str, domain: str, root: _State | None = None
    ) -> tuple[tuple[Rule, dict[str, Any]] | None, str | None, _Search]:
        """Return (match, path to redirect to, the search: methods seen, purity)."""
        if root is None:
            root = self._index().root
        path = "/" + path.lstrip("/") if path else ""
        search = _Search(method)
        try:
            parts = [domain, *path.split("/")]
            found = search.run(root, parts, 0, [])
        except _SlashRequired:
            return None, path + "/", search
        if found is None and self.merge_slashes and "//" in path:
            merged = _SLASH_RUN_RE.sub("/", path)
            try:
                found = search.run(root, [domain, *merged.split("/")], 0, [])
            except _SlashRequired:
                return None, merged + "/", search
            if found is not None and found[0].merge_slashes is not False:
                return None, merged, search
            found = None
        return found, None, search

    def remembered(
        self, path: str, method: str, domain: str
    ) -> tuple[Rule, dict[str, Any]] | None:
        """The match :meth:`match` remembered for *path*, *method* and *domain*
        (see :attr:`remembered_matches`), as ``(rule, values)`` with values of
        the caller's own; ``None`` if there is none.

        What is remembered is what :meth:`match` returns for that domain whatever
        the host, scheme, query or script name (it neither redirects nor fails),
        so a caller may look here before working out those arguments.

        :param path: the decoded path, as for :meth:`match`.
        :param method: the request method, as for :meth:`match`.
        :param domain: the subdomain (``""`` for none), or the host without a
            default port with :attr:`host_matching`.
        """
        compiled = self._compiled
        if compiled is None:
            return None
        found = compiled.found.get((path, method, domain, self.redirect_defaults))
        if found is None:
            return None
        return found[0], dict(found[1])

    def _url(
        self,
        path: str,
        query_string: str,
        host: str | None,
        url_scheme: str,
        script_name: str,
    ) -> str:
        root = script_name.strip("/")
        path = "/" + (root + "/" if root else "") + path.lstrip("/")
        url = f"{url_scheme}://{host}{path}" if host else path
        return f"{url}?{query_string}" if query_string else url

    def match(
        self,
        path: str,
        method: str = "GET",
        host: str | None = None,
        *,
        subdomain: str | None = None,
        query_string: str = "",
        url_scheme: str = "http",
        script_name: str = "",
        return_rule: bool = False,
    ) -> tuple[Any, dict[str, Any]]:
        """Find the rule for a request.

        :param path: the percent-*decoded* path, as WSGI's ``PATH_INFO``.
        :param method: the request method.
        :param host: the request's ``Host`` (port allowed); decides the
            subdomain (with :attr:`server_name`) or the host rule, and makes
            redirect URLs absolute.
        :param subdomain: the current subdomain, overriding what *host* implies.
        :param query_string: the raw query, kept on redirects.
        :param url_scheme: ``http`` or ``https``, for redirect URLs.
        :param script_name: the mount point of the application, for redirects.
        :param return_rule: return the :class:`~crosswind.routing.rules.Rule` instead
            of its endpoint.
        :returns: ``(endpoint, view_args)`` (or ``(rule, view_args)``).
        :raises NotFound: no rule matches.
        :raises MethodNotAllowed: rules match the URL but not *method*.
        :raises RequestRedirect: the canonical URL differs (slashes, defaults,
            ``redirect_to``).
        """
        domain: str | None
        if subdomain is not None and not self.host_matching:
            domain = subdomain  # what _domain answers, without the call
        else:
            domain = self._domain(host, subdomain, url_scheme)
            if domain is None:
                raise NotFound()
        compiled = self._compiled or self._index()
        # A remembered match (see remembered_matches) skips the walk, the
        # converters and the method and defaults checks (see bench/NOTES.md).
        key = (path, method, domain, self.redirect_defaults)
        remembered = compiled.found.get(key)
        if remembered is not None:
            rule, values = remembered
            return (rule if return_rule else rule.endpoint), dict(values)
        method = method.upper()
        found, redirect_path, search = self._walk(path, method, domain, compiled.root)
        if redirect_path is not None:
            raise RequestRedirect(
                self._url(
                    quote_path_part(redirect_path), query_string, host, url_scheme, script_name
                )
            )
        if found is None:
            if search.allowed:
                raise MethodNotAllowed(search.allowed)
            raise NotFound()
        rule, values = found
        pure = not search.impure
        if self.redirect_defaults and not self._redirect_to_defaults(
            rule, method, values, host, query_string, url_scheme, script_name
        ):
            pure = False
        if rule.redirect_to is not None:
            if isinstance(rule.redirect_to, str):

                def fill(placeholder: re.Match[str]) -> str:
                    name = placeholder.group(1)
                    return rule.converters[name].to_url(values[name])

                target = _PLACEHOLDER_RE.sub(fill, rule.redirect_to)
            else:
                target = rule.redirect_to(self, **values)
            base = self._url("", "", host, url_scheme, script_name)
            raise RequestRedirect(urljoin(base if base.endswith("/") else base + "/", target))
        limit = self.remembered_matches
        if pure and limit > 0:
            found_before = compiled.found
            if len(found_before) >= limit:
                # Forgotten wholesale: cheaper than keeping an order of use.
                compiled.found = found_before = {}
            found_before[key] = (rule, dict(values))
        return (rule if return_rule else rule.endpoint), values

    def _redirect_to_defaults(
        self,
        rule: Rule,
        method: str,
        values: dict[str, Any],
        host: str | None,
        query_string: str,
        url_scheme: str,
        script_name: str,
    ) -> bool:
        """Raise the redirect to the rule that carries *values* as defaults, if
        any; else return whether only crosswind's own converters were asked."""
        pure = True
        for other in self._index().by_endpoint[rule.endpoint]:
            # Rules earlier in build order are the canonical spelling.
            if other is rule:
                return pure
            if other._provides_defaults_for(rule) and other.suitable_for(values, method):
                pure = pure and other._pure
                built = other.build({**values, **other.defaults})
                if built is None:
                    continue
                domain, path = built
                target = self._host_for(domain, host, url_scheme) if host else None
                raise RequestRedirect(
                    self._url(path, query_string, target, url_scheme, script_name)
                )
        return pure

    def allowed_methods(
        self,
        path: str,
        host: str | None = None,
        *,
        subdomain: str | None = None,
        url_scheme: str = "http",
    ) -> frozenset[str] | None:
        """The methods some rule accepts for *path*, e.g. for ``OPTIONS`` and
        the ``Allow`` header.

        :param path: the decoded path.
        :param host: the request's ``Host``, as for :meth:`match`.
        :param subdomain: the current subdomain, overriding *host*.
        :param url_scheme: the request's scheme (a default port in *host* is ignored).
        :returns: the set (empty if nothing matches), or ``None`` when a rule
            without a method restriction matches.
        """
        domain = self._domain(host, subdomain, url_scheme)
        if domain is None:
            return frozenset()
        # No rule lists this method, so the walk visits every matching rule.
        found, redirect_path, search = self._walk(path, "\x00", domain)
        if found is not None:
            return None
        if redirect_path is not None:
            return frozenset()  # the resource lives elsewhere; that URL has its own set
        return frozenset(search.allowed)

    # -- building ----------------------------------------------------------

    def _pick(
        self,
        rules: list[Rule],
        values: Mapping[str, Any],
        method: str | None,
        append_unknown: bool,
        current_host: str | None,
    ) -> tuple[str, str] | None:
        first: tuple[str, str] | None = None
        for rule in rules:
            if not rule.suitable_for(values, method):
                continue
            built = rule.build(values, append_unknown)
            if built is None:
                continue
            if not self.host_matching or built[0] == current_host:
                return built
            if first is None:
                first = built
        return first

    def build(
        self,
        endpoint: Any,
        values: Mapping[str, Any] | None = None,
        *,
        method: str | None = None,
        force_external: bool = False,
        url_scheme: str | None = None,
        anchor: str | None = None,
        host: str | None = None,
        subdomain: str | None = None,
        server_name: str | None = None,
        script_name: str = "",
        append_unknown: bool = True,
    ) -> str:
        """Build the URL of *endpoint*, like Flask's ``url_for``.

        The first rule of the endpoint (rules using more values first) whose
        arguments are all given and whose defaults agree with *values* is used.
        Values the rule does not use become the query string, in the order
        given; lists repeat their key; ``None`` values are dropped.

        :param endpoint: the endpoint of the rule to build.
        :param values: the rule's variables plus extra query arguments.
        :param method: only consider rules that accept this method.
        :param force_external: return ``scheme://host/path`` even for the
            current host.
        :param url_scheme: the scheme of an external URL (default ``http``).
        :param anchor: appended, quoted, after ``#``.
        :param host: the current request's host (the reference for host
            matching and for deciding whether the URL is external).
        :param subdomain: the current subdomain (default: implied by *host*).
        :param server_name: overrides :attr:`Map.server_name` for this call.
        :param script_name: the application's mount point, prefixed to the path.
        :param append_unknown: put unused values in the query string.
        :raises BuildError: no rule of *endpoint* fits *values*.
        :raises ValueError: an external URL is needed but no host is known.
        """
        scheme = url_scheme or "http"
        clean = {k: v for k, v in (values or {}).items() if v is not None}
        compiled = self._index()
        rules = compiled.by_endpoint.get(endpoint)
        if rules is None:
            raise BuildError(endpoint, clean, method, self._endpoint_hint(endpoint))
        current_host = None
        if self.host_matching:
            current_host = (
                _canonical_host(host, scheme) if host else (server_name or self.server_name)
            )
        built = None
        if method is None:
            built = self._pick(rules, clean, "GET", append_unknown, current_host)
        if built is None:
            built = self._pick(rules, clean, method, append_unknown, current_host)
        if built is None:
            raise BuildError(endpoint, clean, method, self._values_hint(rules, clean, method))
        domain, path = built
        if self.host_matching:
            same_place = domain == current_host
            target_host: str | None = domain
        else:
            current = self._domain(host, subdomain, scheme)
            same_place = domain == current
            target_host = self._host_for(domain, host, scheme, server_name)
        if force_external or not same_place:
            if not target_host:
                raise ValueError(
                    f"building an external URL for {endpoint!r} needs server_name or host"
                )
            url = self._url(path, "", target_host, scheme, script_name)
        else:
            url = self._url(path, "", None, scheme, script_name)
        if anchor is not None:
            url += "#" + quote(anchor, safe="%!#$&'()*+,/:;=?@")
        return url

    def _endpoint_hint(self, endpoint: Any) -> str:
        known = {str(r.endpoint): r.endpoint for r in self._rules}
        close = difflib.get_close_matches(str(endpoint), list(known), n=3)
        if not close:
            return ""
        names = " or ".join(repr(known[name]) for name in close)
        return f"Did you mean {names} instead?"

    @staticmethod
    def _values_hint(rules: list[Rule], values: Mapping[str, Any], method: str | None) -> str:
        if method is not None and all(
            r.methods is not None and method not in r.methods for r in rules
        ):
            methods = sorted({m for r in rules for m in r.methods or ()})
            return f"Did you mean to use methods {methods!r}?"
        missing = min(
            (sorted(r.arguments - set(r.defaults) - set(values)) for r in rules),
            key=len,
        )
        if missing:
            return f"Did you forget to specify values {missing!r}?"
        return "The values do not fit the rules' defaults or converters."
