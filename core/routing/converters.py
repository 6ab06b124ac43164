"""URL converters: turn one placeholder of a rule such as ``<int:id>`` into a
regex for matching, a Python value for the view, and back into URL text.

The built-in set and its behaviour follow werkzeug's, so rules written for a
Flask application keep their meaning:

=========  =====================================================  ======
name       matches                                                weight
=========  =====================================================  ======
string     one path segment (no ``/``); ``minlength``,            100
           ``maxlength``, ``length``
int        ASCII or Unicode decimal digits; ``fixed_digits``,     50
           ``min``, ``max``, ``signed``
float      ``digits.digits``; ``min``, ``max``, ``signed``        50
path       one or more segments, slashes included                 200
uuid       the canonical 8-4-4-4-12 hex form                      100
any        exactly one of the listed words                        100
=========  =====================================================  ======

A lower *weight* is tried first when several converters could match the same
segment.  A converter whose :attr:`BaseConverter.part_isolating` is false (its
regex can match ``/``) swallows the rest of the path.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

from ..errors import CrosswindError

if TYPE_CHECKING:
    from .map import Map

__all__ = [
    "DEFAULT_CONVERTERS",
    "AnyConverter",
    "BaseConverter",
    "FloatConverter",
    "IntegerConverter",
    "NumberConverter",
    "PathConverter",
    "UUIDConverter",
    "UnicodeConverter",
    "ValidationError",
    "parse_converter_args",
    "quote_path_part",
]

# The WHATWG "path segment" safe set, plus "/": what a browser leaves alone in a
# path, so built URLs look like the ones people type.
_PATH_SAFE = "!$&'()*+,/:;=@"


def quote_path_part(text: str) -> str:
    """Percent-encode *text* for use inside a URL path (UTF-8, ``/`` kept).

    :param text: the decoded text of one or more path segments.
    """
    return quote(text, safe=_PATH_SAFE)


class ValidationError(CrosswindError, ValueError):
    """Raised by :meth:`BaseConverter.to_python` (or ``to_url``) to say "this
    value does not fit": the rule does not match and the next rule is tried
    (or, when building, the next rule for the endpoint is tried).
    """


class BaseConverter:
    """Base class of every converter; subclass it to register your own.

    Subclasses set :attr:`regex` (matched against the decoded path) and may
    override :meth:`to_python` and :meth:`to_url`.  If a subclass defines a
    ``regex`` that contains ``/`` and does not say otherwise,
    :attr:`part_isolating` becomes false so the converter may span segments.

    :param map: the :class:`~crosswind.routing.map.Map` the rule belongs to.
    :param args: positional arguments from the rule, as in ``<conv(1, "a"):x>``.
    :param kwargs: keyword arguments from the rule, as in ``<conv(n=2):x>``.
    """

    regex: str = "[^/]+"
    weight: ClassVar[int] = 100
    part_isolating: bool = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "regex" in cls.__dict__ and "part_isolating" not in cls.__dict__:
            cls.part_isolating = "/" not in cls.regex

    def __init__(self, map: Map | None, *args: Any, **kwargs: Any) -> None:
        # Subclasses may pass their own arguments up (werkzeug tolerates that);
        # only a converter with no constructor of its own rejects them.
        if (args or kwargs) and type(self).__init__ is BaseConverter.__init__:
            raise TypeError(f"{type(self).__name__} takes no arguments")
        self.map = map

    def to_python(self, value: str) -> Any:
        """Turn the matched (decoded) text into the value the view receives.

        :param value: the text the converter's regex matched.
        :raises ValidationError: the text does not fit; the rule does not match.
        """
        return value

    def to_url(self, value: Any) -> str:
        """Turn a view value back into percent-encoded URL text.

        :param value: the value given to :meth:`Map.build <crosswind.routing.map.Map.build>`.
        """
        return quote_path_part(str(value))


class UnicodeConverter(BaseConverter):
    """The default converter: any text within one path segment.

    :param map: the owning map.
    :param minlength: the shortest accepted text (at least 1 by default).
    :param maxlength: the longest accepted text, or ``None`` for no limit.
    :param length: the exact length; overrides the other two.
    """

    def __init__(
        self,
        map: Map | None,
        minlength: int = 1,
        maxlength: int | None = None,
        length: int | None = None,
    ) -> None:
        super().__init__(map)
        if length is not None:
            self.regex = f"[^/]{{{int(length)}}}"
        else:
            upper = "" if maxlength is None else str(int(maxlength))
            self.regex = f"[^/]{{{int(minlength)},{upper}}}"


class AnyConverter(BaseConverter):
    """Matches exactly one of the given words, e.g. ``<any(about, help):page>``.

    :param map: the owning map.
    :param items: the accepted words.
    """

    def __init__(self, map: Map | None, *items: str) -> None:
        super().__init__(map)
        if not items:
            raise TypeError("AnyConverter needs at least one item")
        self.items = frozenset(str(item) for item in items)
        self.regex = "(?:" + "|".join(re.escape(str(item)) for item in items) + ")"

    def to_url(self, value: Any) -> str:
        """Return *value* unchanged if it is one of the items.

        :param value: the word to put into the URL.
        :raises ValueError: *value* is not one of the items.
        """
        if value in self.items:
            return str(value)
        choices = ", ".join(repr(item) for item in sorted(self.items))
        raise ValueError(f"{value!r} is not one of {choices}")


class PathConverter(BaseConverter):
    """Like the default converter but also matches slashes (never a leading
    one), for wiki pages and file paths: ``/<path:page>/edit``.
    """

    regex = "[^/].*?"
    weight = 200
    part_isolating = False


class NumberConverter(BaseConverter):
    """Shared behaviour of :class:`IntegerConverter` and :class:`FloatConverter`.

    :param map: the owning map.
    :param fixed_digits: the exact number of digits the URL must carry
        (``4`` accepts ``/0042`` but not ``/42``); ``0`` for any.
    :param min: the smallest accepted value.
    :param max: the largest accepted value.
    :param signed: also accept a leading ``-``.
    """

    weight = 50
    unsigned_regex: ClassVar[str] = r"\d+"

    def __init__(
        self,
        map: Map | None,
        fixed_digits: int = 0,
        min: float | None = None,
        max: float | None = None,
        signed: bool = False,
    ) -> None:
        super().__init__(map)
        # A bad bound is the rule author's mistake: refuse it when the rule is
        # made, not with a TypeError on every request that reaches it.
        for name, bound in (("min", min), ("max", max)):
            if bound is not None and (
                isinstance(bound, bool) or not isinstance(bound, int | float)
            ):
                raise ValueError(f"{type(self).__name__} {name} must be a number, not {bound!r}")
        if isinstance(fixed_digits, bool) or not isinstance(fixed_digits, int) or fixed_digits < 0:
            raise ValueError(f"fixed_digits must be a non-negative integer, not {fixed_digits!r}")
        self.fixed_digits = fixed_digits
        self.min = min
        self.max = max
        self.signed = signed
        self.regex = ("-?" if signed else "") + self.unsigned_regex

    def _convert(self, value: Any) -> int | float:
        return int(value)

    def to_python(self, value: str) -> Any:
        """Parse the digits and check ``fixed_digits``/``min``/``max``.

        :param value: the matched digits.
        :raises ValidationError: the number is out of range or mis-sized.
        """
        if self.fixed_digits and len(value) != self.fixed_digits:
            raise ValidationError(f"expected {self.fixed_digits} digits")
        try:
            number = self._convert(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
        if self.min is not None and number < self.min:
            raise ValidationError(f"below {self.min}")
        if self.max is not None and number > self.max:
            raise ValidationError(f"above {self.max}")
        return number

    def to_url(self, value: Any) -> str:
        """Format *value*, zero-padded to ``fixed_digits``.

        :param value: a number (or something the number type accepts).
        """
        text = str(self._convert(value))
        if self.fixed_digits:
            text = text.zfill(self.fixed_digits)
        return text


class IntegerConverter(NumberConverter):
    """Accepts whole numbers: ``/page/<int:page>``, ``<int(signed=True):n>``."""


class FloatConverter(NumberConverter):
    """Accepts decimals written with a point: ``/p/<float:p>`` matches ``0.5``.

    :param map: the owning map.
    :param min: the smallest accepted value.
    :param max: the largest accepted value.
    :param signed: also accept a leading ``-``.
    """

    unsigned_regex = r"\d+\.\d+"

    def __init__(
        self,
        map: Map | None,
        min: float | None = None,
        max: float | None = None,
        signed: bool = False,
    ) -> None:
        super().__init__(map, min=min, max=max, signed=signed)

    def _convert(self, value: Any) -> float:
        return float(value)


class UUIDConverter(BaseConverter):
    """Accepts a UUID in its canonical hyphenated hex form; yields :class:`uuid.UUID`."""

    regex = r"[A-Fa-f0-9]{8}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{12}"

    def to_python(self, value: str) -> uuid.UUID:
        """Parse the matched text.

        :param value: the matched hex text.
        """
        return uuid.UUID(value)

    def to_url(self, value: Any) -> str:
        """Format a UUID (or its string) in the canonical lowercase form.

        :param value: a :class:`uuid.UUID` or UUID string.
        """
        return str(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))


#: The converters every :class:`~crosswind.routing.map.Map` knows by name.
DEFAULT_CONVERTERS: Mapping[str, type[BaseConverter]] = {
    "default": UnicodeConverter,
    "string": UnicodeConverter,
    "any": AnyConverter,
    "path": PathConverter,
    "int": IntegerConverter,
    "float": FloatConverter,
    "uuid": UUIDConverter,
}

# One argument: an optional ``name=`` then a quoted string or a bare word.
_ARG_RE = re.compile(
    r"""\s*
    (?:(?P<name>[A-Za-z_]\w*)\s*=\s*)?
    (?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<bare>[^,"'\s=][^,"'=]*?))
    \s*(?:,|$)""",
    re.VERBOSE,
)
_CONSTANTS: dict[str, Any] = {"True": True, "False": False, "None": None}


def _bare_value(text: str) -> Any:
    if text in _CONSTANTS:
        return _CONSTANTS[text]
    for number_type in (int, float):
        try:
            return number_type(text)
        except ValueError:
            pass
    return text


def parse_converter_args(text: str) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Parse the text between the parentheses of ``<conv(...):name>``.

    Bare words become ``True``/``False``/``None``, ints, floats or strings;
    quoted text is always a string (so it may hold commas).

    :param text: e.g. ``'about, "a,b", min=2'``.
    :returns: positional and keyword arguments for the converter.
    :raises ValueError: the text is not a comma-separated argument list.
    """
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    pos = 0
    text = text.strip()
    while pos < len(text):
        found = _ARG_RE.match(text, pos)
        if found is None or found.end() == pos:
            raise ValueError(f"cannot parse converter arguments {text!r} at {text[pos:]!r}")
        if found.group("dq") is not None:
            value: Any = found.group("dq")
        elif found.group("sq") is not None:
            value = found.group("sq")
        else:
            value = _bare_value(found.group("bare").strip())
        name = found.group("name")
        if name is None:
            if kwargs:
                raise ValueError(f"positional converter argument after keyword in {text!r}")
            args.append(value)
        else:
            kwargs[name] = value
        pos = found.end()
    return tuple(args), kwargs
