"""Who may call which exported method: pure policy evaluation.

A service states a policy per method in an ``auth_<name>`` attribute, a
list whose entries are alternatives (any one grants the call):

* ``"all"`` -- anyone, with or without credentials;
* ``"authenticated"`` -- anyone whose credentials map to a user name;
* ``"group:NAME"`` -- members of group ``NAME``;
* any other string -- holders of that property.

A method without its own policy falls back to the service's default; with
neither it is refused, as is everyone under an empty policy.  A refusal is
a 401 when the caller presented no credentials (authenticating might help)
and a 403 otherwise.  Its reason names the method and never the policy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ALL",
    "AUTHENTICATED",
    "GROUP_PREFIX",
    "POLICY_PREFIX",
    "Decision",
    "authorize",
    "resolve_policy",
    "validate_policy",
]

ALL = "all"
AUTHENTICATED = "authenticated"
GROUP_PREFIX = "group:"
POLICY_PREFIX = "auth_"

Policy = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of an authorization check.

    :param allowed: whether the call may proceed.
    :param status_code: 200 when allowed, else 401 or 403.
    :param reason: for a refusal, a message safe to send to the caller.
    """

    allowed: bool
    status_code: int = 200
    reason: str = ""


def validate_policy(policy: object, name: str) -> Policy:
    """Check and normalize a policy declaration.

    :param policy: a list or tuple of non-empty strings.
    :param name: the attribute's name, for error messages.
    :raises TypeError: *policy* is a bare string (a classic slip that would
        otherwise be read letter by letter) or holds something else.
    """
    if isinstance(policy, str) or not isinstance(policy, list | tuple):
        raise TypeError(f"{name} must be a list of strings, e.g. [{policy!r}]")
    for entry in policy:
        if not isinstance(entry, str) or not entry.strip():
            raise TypeError(f"{name} holds {entry!r}; entries must be non-empty strings")
        if entry.startswith(GROUP_PREFIX) and not entry[len(GROUP_PREFIX) :]:
            raise TypeError(f"{name} holds {entry!r} without a group name")
    return tuple(policy)


def resolve_policy(owner: object, method: str, default: Sequence[str] | None) -> Policy | None:
    """The policy of *method*: its ``auth_<method>`` attribute, else *default*.

    :param owner: the service class or instance.
    :param method: the method name without prefix.
    :param default: the service's default policy (``None`` for none).
    """
    policy = getattr(owner, POLICY_PREFIX + method, None)
    if policy is None:
        policy = default
    return None if policy is None else tuple(policy)


def _grants(entry: str, credentials: Mapping[str, Any]) -> bool:
    if entry.lower() == AUTHENTICATED:
        return bool(credentials.get("username"))
    if entry.startswith(GROUP_PREFIX):
        group = credentials.get("group")
        return group is not None and group == entry[len(GROUP_PREFIX) :]
    return entry in (credentials.get("properties") or ())


def authorize(
    method: str, policy: Sequence[str] | None, credentials: Mapping[str, Any] | None
) -> Decision:
    """Decide whether *credentials* may call *method* under *policy*.

    :param method: the method name, for the refusal message.
    :param policy: the method's policy (from :func:`resolve_policy`).
    :param credentials: ``None`` when the caller presented none, else a
        mapping with ``username``, ``group`` and ``properties``.
    """
    policy = policy or ()
    if any(entry.lower() == ALL for entry in policy):
        return Decision(True)
    if credentials is not None and any(_grants(entry, credentials) for entry in policy):
        return Decision(True)
    if credentials is None:
        return Decision(False, 401, f"authentication required to call {method!r}")
    return Decision(False, 403, f"not authorized to call {method!r}")
