"""URL routing in two dialects, each compiled into an index so that a lookup
does not try every route's regex in turn.

* **werkzeug's rules**, which ``crosswind.app`` routes with:
  :class:`~crosswind.routing.rules.Rule` strings such as ``/user/<int:id>/``
  gathered in a :class:`~crosswind.routing.map.Map`, which matches a request to
  an endpoint and builds URLs back.  Rules are parsed in
  :mod:`crosswind.routing.rules`, matched by the segment trie of
  :mod:`crosswind.routing.matcher`, and held with their settings and
  remembered matches in :mod:`crosswind.routing.map`; the converters are in
  :mod:`crosswind.routing.converters`.
* **Tornado's handler lists**, which ``crosswind.web`` routes with:
  :class:`~crosswind.routing.tables.URLSpec` (alias ``url``) regexes in a
  :class:`~crosswind.routing.tables.HandlerTable`, and
  :class:`~crosswind.routing.tables.HostRouter` for virtual hosts, all in
  :mod:`crosswind.routing.tables`.

Routing is a building block: it imports the standard library and the other
building blocks (``crosswind.errors``) only, never the protocol layer and never
a framework, so either framework, or any other, can route with it.  The two
dialects share nothing and do not import each other.  Import the public names
from here; each is documented in the module it lives in.
"""

from .converters import ValidationError
from .map import BuildError, Map, MethodNotAllowed, NotFound, RequestRedirect
from .rules import Rule
from .tables import HandlerMatch, HandlerTable, HostRouter, URLSpec, url

__all__ = [
    "BuildError",
    "HandlerMatch",
    "HandlerTable",
    "HostRouter",
    "Map",
    "MethodNotAllowed",
    "NotFound",
    "RequestRedirect",
    "Rule",
    "URLSpec",
    "ValidationError",
    "url",
]
