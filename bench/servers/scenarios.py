"""What every benchmark server answers, defined once so the servers cannot drift apart.

Each server script builds its responses from these functions, and ``bench/run.py``
checks each server's answers against them before it measures anything: a server
that answers the wrong thing quickly must not top the table.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "FORM_FIELD_COUNT",
    "FORM_PATH",
    "HELLO_BODY",
    "PARAMS_PATH",
    "PARAMS_TARGET",
    "form_body",
    "user_payload",
]

HELLO_BODY = b"Hello, world!"
PARAMS_PATH = "/users/{user_id}"
PARAMS_TARGET = "/users/42?fields=a,b"
FORM_PATH = "/form"
FORM_FIELD_COUNT = 40

# A fixed list keeps the payload's size independent of the query.
_HISTORY_EVENTS = ("login", "view", "edit", "logout")


def user_payload(user_id: int, fields: list[str]) -> dict[str, Any]:
    """The ``params`` scenario's JSON document (about 1 KB for ``/users/42?fields=a,b``).

    :param user_id: the integer taken from the path.
    :param fields: the comma-separated ``fields`` query argument, split.
    """
    return {
        "id": user_id,
        "name": f"user-{user_id}",
        "email": f"user{user_id}@example.com",
        "fields": fields,
        "selected": {name: f"value of {name} for user {user_id}" for name in fields},
        "history": [
            {
                "seq": seq,
                "event": _HISTORY_EVENTS[seq % len(_HISTORY_EVENTS)],
                "at": 1_700_000_000 + seq * user_id,
            }
            for seq in range(18)
        ],
    }


def form_body() -> bytes:
    """The ``form`` scenario's urlencoded body: 40 distinct fields, about 1 KB.

    ``bench/wrk/form.lua`` carries the same bytes as a literal (a test keeps them
    equal); values include ``+`` and a percent escape so decoding is exercised.
    """
    return "&".join(
        f"f{index:02d}=hello+world%21+abc-{index:02d}" for index in range(1, FORM_FIELD_COUNT + 1)
    ).encode("ascii")
