"""Argument type checks for exported methods (``types_<name>`` attributes).

A service declares, for each positional parameter of an export, the type or
tuple of types it accepts::

    types_getFile = [str, (int, None)]

Arguments arrive as JSON, so only JSON's types can ever match: ``str``,
``int``, ``float``, ``bool``, ``list``, ``dict`` and ``None``, plus
``object`` for "anything".  Two rules follow JSON rather than Python: a
boolean is not an ``int`` (``true`` is not ``1``), and an integer is an
acceptable ``float`` (``2`` and ``2.0`` are the same JSON number).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from ..errors import RequestError

__all__ = ["JSON_TYPES", "TypeSpec", "check_arguments", "matches", "validate_type_spec"]

#: The types a declaration may name.
JSON_TYPES: tuple[type, ...] = (str, int, float, bool, list, dict, type(None), object)

#: A normalized declaration: for each positional parameter, the accepted types.
TypeSpec = tuple[tuple[type, ...], ...]


def _normalize_entry(entry: object, where: str) -> tuple[type, ...]:
    options = entry if isinstance(entry, tuple) else (entry,)
    if not options:
        raise TypeError(f"{where} is an empty tuple; it would accept nothing")
    accepted: list[type] = []
    for option in options:
        kind = type(None) if option is None else option
        if kind not in JSON_TYPES:
            names = ", ".join(_type_name(t) for t in JSON_TYPES)
            raise TypeError(f"{where} names {option!r}; a JSON argument can only be {names}")
        accepted.append(kind)
    return tuple(accepted)


def validate_type_spec(spec: object, name: str) -> TypeSpec:
    """Check and normalize a ``types_<name>`` declaration.

    :param spec: a list or tuple with one type, ``None``, or tuple of those
        per positional parameter.
    :param name: the attribute's name, for error messages.
    :raises TypeError: the declaration is malformed or names a type no JSON
        value can have.
    """
    if not isinstance(spec, list | tuple):
        raise TypeError(f"{name} must be a list of types, not {type(spec).__name__}")
    return tuple(_normalize_entry(entry, f"{name}[{index}]") for index, entry in enumerate(spec))


def matches(value: Any, accepted: tuple[type, ...]) -> bool:
    """Tell whether a JSON *value* is one of the *accepted* types.

    :param value: a value decoded from JSON.
    :param accepted: normalized types (see :func:`validate_type_spec`).
    """
    kind = type(value)
    for option in accepted:
        if option is object:
            return True
        if kind is bool:
            if option is bool:
                return True
        elif option is float:
            if kind in (int, float):
                return True
        elif isinstance(value, option):
            return True
    return False


def _type_name(kind: type) -> str:
    return "None" if kind is type(None) else kind.__name__


def _describe(accepted: tuple[type, ...]) -> str:
    return " or ".join(_type_name(kind) for kind in accepted)


def _label(index: int, parameters: Sequence[str]) -> str:
    if index < len(parameters):
        return f"argument {index + 1} ({parameters[index]!r})"
    return f"argument {index + 1}"


def check_arguments(
    method: str,
    spec: TypeSpec,
    args: Sequence[Any],
    kwargs: Mapping[str, Any] | None = None,
    parameters: Sequence[str] = (),
    optional: Collection[str] = (),
) -> None:
    """Refuse a call whose typed arguments are missing or of the wrong type.

    A declared argument is required unless its parameter has a default.
    One passed by keyword is checked as if it had been passed by position.

    :param method: the method name, for the message.
    :param spec: the normalized declaration.
    :param args: the positional arguments of the call.
    :param kwargs: its keyword arguments.
    :param parameters: the names of the method's positional parameters, in
        order (to find keyword-passed arguments and name them in messages).
    :param optional: the names of those parameters that have a default.
    :raises RequestError: (400) naming the first offending argument.
    """
    kwargs = kwargs or {}
    for index, accepted in enumerate(spec):
        if index < len(args):
            value = args[index]
        elif index < len(parameters) and parameters[index] in kwargs:
            value = kwargs[parameters[index]]
        elif index < len(parameters) and parameters[index] in optional:
            continue
        else:
            raise RequestError(f"{method!r} is missing {_label(index, parameters)}", 400)
        if not matches(value, accepted):
            raise RequestError(
                f"{_label(index, parameters)} of {method!r} must be {_describe(accepted)}, "
                f"not {_type_name(type(value))}",
                400,
            )
