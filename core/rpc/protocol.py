"""The RPC wire format: the call a client POSTs and the result it gets back.

A call is a JSON object ``{"method": "name", "args": [...], "kwargs": {...}}``
sent as the body of ``POST {BASE_URL}/{ServiceName}`` with the content type
``application/json``.  A result is ``{"OK": true, "Value": ...}`` or
``{"OK": false, "Message": "..."}``, the convention of the grid services this
module follows.  Both the service and the client use these functions, so the
two ends cannot drift apart.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import RequestError

__all__ = [
    "CONTENT_TYPE",
    "Call",
    "S_ERROR",
    "S_OK",
    "decode_call",
    "decode_result",
    "encode_call",
    "encode_result",
    "is_method_name",
    "normalize_result",
]

CONTENT_TYPE = "application/json"

# A leading underscore is refused so a call can never reach a private helper.
_METHOD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,127}")


def S_OK(value: Any = None) -> dict[str, Any]:
    """A successful result.

    :param value: anything JSON can carry.
    """
    return {"OK": True, "Value": value}


def S_ERROR(message: str) -> dict[str, Any]:
    """A failed result.

    :param message: what went wrong, as the caller should read it.
    """
    return {"OK": False, "Message": message if isinstance(message, str) else str(message)}


def is_method_name(name: object) -> bool:
    """Tell whether *name* may name a remote method.

    :param name: the candidate.
    """
    return isinstance(name, str) and _METHOD_NAME.fullmatch(name) is not None


@dataclass(frozen=True, slots=True)
class Call:
    """One decoded call.

    :param method: the method name, without the export prefix.
    :param args: the positional arguments.
    :param kwargs: the keyword arguments.
    """

    method: str
    args: list[Any] = field(default_factory=list)
    kwargs: dict[str, Any] = field(default_factory=dict)


def _refuse_constant(name: str) -> Any:
    # NaN and Infinity are not JSON (RFC 8259 section 6) although Python accepts them.
    raise ValueError(f"{name} is not valid JSON")


def _loads(body: bytes | str) -> Any:
    return json.loads(body, parse_constant=_refuse_constant)


def _dumps(value: Any) -> bytes:
    return json.dumps(value, allow_nan=False, separators=(",", ":")).encode("utf-8")


def encode_call(
    method: str, args: Sequence[Any] = (), kwargs: Mapping[str, Any] | None = None
) -> bytes:
    """Serialize a call for the request body.

    :param method: the method name.
    :param args: positional arguments (JSON values).
    :param kwargs: keyword arguments (JSON values).
    :raises ValueError: *method* is not a valid method name, or an argument
        is a float JSON cannot carry (NaN, infinity).
    :raises TypeError: an argument is not a JSON value.
    """
    if not is_method_name(method):
        raise ValueError(f"{method!r} is not a valid RPC method name")
    return _dumps({"method": method, "args": list(args), "kwargs": dict(kwargs or {})})


def decode_call(body: bytes) -> Call:
    """Parse a request body into a :class:`Call`.

    :param body: the raw request body.
    :raises RequestError: (400) the body is not a well-formed call.
    """
    try:
        data = _loads(body)
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        raise RequestError("request body is not valid JSON", 400) from None
    if not isinstance(data, dict):
        raise RequestError("request body must be a JSON object", 400)
    method = data.get("method")
    if not isinstance(method, str):
        raise RequestError('the call needs a "method" string', 400)
    if not is_method_name(method):
        raise RequestError("invalid method name", 400)
    args = data.get("args", [])
    kwargs = data.get("kwargs", {})
    if not isinstance(args, list):
        raise RequestError('"args" must be a JSON array', 400)
    if not isinstance(kwargs, dict):
        raise RequestError('"kwargs" must be a JSON object', 400)
    return Call(method, args, kwargs)


def normalize_result(result: object) -> dict[str, Any]:
    """Reduce a result to its wire form, checking its shape.

    Keys other than ``OK``, ``Value`` and ``Message`` are dropped: they are
    not part of the protocol and might carry things never meant to leave the
    server.

    :param result: what an exported method returned.
    :raises TypeError: *result* is not an ``S_OK``/``S_ERROR`` dict.
    """
    if not isinstance(result, Mapping) or not isinstance(result.get("OK"), bool):
        raise TypeError(f"expected an S_OK/S_ERROR dict, got {type(result).__name__}")
    if result["OK"]:
        return {"OK": True, "Value": result.get("Value")}
    message = result.get("Message")
    if not isinstance(message, str):
        raise TypeError("an S_ERROR result needs a string Message")
    return {"OK": False, "Message": message}


def encode_result(result: Mapping[str, Any]) -> bytes:
    """Serialize a result for the response body.

    :param result: an ``S_OK``/``S_ERROR`` dict.
    :raises TypeError: not a result, or its value is not JSON.
    :raises ValueError: its value holds a float JSON cannot carry.
    """
    return _dumps(normalize_result(result))


def decode_result(body: bytes) -> dict[str, Any]:
    """Parse a response body into a result dict.

    :param body: the raw response body.
    :raises ValueError: the body is not an ``S_OK``/``S_ERROR`` JSON object.
    """
    try:
        data = _loads(body)
    except (ValueError, RecursionError):
        raise ValueError("the response is not JSON") from None
    try:
        return normalize_result(data)
    except TypeError as error:
        raise ValueError(f"the response is not an RPC result: {error}") from None
