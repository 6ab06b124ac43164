"""crosswind.routing.converters: each converter's match, to_python and to_url, and the
argument syntax of ``<conv(args):name>``."""

from __future__ import annotations

import re
import uuid

import pytest
from crosswind.routing.converters import (
    AnyConverter,
    BaseConverter,
    FloatConverter,
    IntegerConverter,
    PathConverter,
    UnicodeConverter,
    UUIDConverter,
    ValidationError,
    parse_converter_args,
    quote_path_part,
)


def matches(converter: BaseConverter, text: str) -> bool:
    return re.fullmatch(converter.regex, text) is not None


@pytest.mark.parametrize(
    ("kwargs", "text", "expected"),
    [
        ({}, "abc", True),
        ({}, "", False),
        ({}, "a/b", False),
        ({}, "héllo wörld", True),
        ({"length": 2}, "de", True),
        ({"length": 2}, "deu", False),
        ({"minlength": 3}, "ab", False),
        ({"minlength": 3}, "abc", True),
        ({"maxlength": 3}, "abcd", False),
        ({"minlength": 2, "maxlength": 3}, "abc", True),
    ],
)
def test_string_converter_regex(kwargs: dict, text: str, expected: bool) -> None:
    assert matches(UnicodeConverter(None, **kwargs), text) is expected


def test_string_converter_to_url_percent_encodes_but_keeps_path_safe_characters() -> None:
    conv = UnicodeConverter(None)
    assert conv.to_url("a b?c#d") == "a%20b%3Fc%23d"
    assert conv.to_url("ä") == "%C3%A4"
    assert conv.to_url("a:b@c!$&'()*+,;=") == "a:b@c!$&'()*+,;="
    assert conv.to_python("x") == "x"


@pytest.mark.parametrize(
    ("kwargs", "text", "value"),
    [
        ({}, "42", 42),
        ({}, "0042", 42),
        ({"fixed_digits": 4}, "0042", 42),
        ({"min": 1}, "1", 1),
        ({"max": 10}, "10", 10),
        ({"signed": True}, "-5", -5),
    ],
)
def test_int_converter_accepts(kwargs: dict, text: str, value: int) -> None:
    conv = IntegerConverter(None, **kwargs)
    assert matches(conv, text)
    assert conv.to_python(text) == value


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [({"fixed_digits": 4}, "42"), ({"min": 1}, "0"), ({"max": 10}, "11")],
)
def test_int_converter_validation_errors(kwargs: dict, text: str) -> None:
    conv = IntegerConverter(None, **kwargs)
    assert matches(conv, text)
    with pytest.raises(ValidationError):
        conv.to_python(text)


def test_int_converter_regex_refuses_signs_unless_signed_and_non_digits() -> None:
    assert not matches(IntegerConverter(None), "-5")
    assert not matches(IntegerConverter(None), "+5")
    assert not matches(IntegerConverter(None), "5.0")
    assert not matches(IntegerConverter(None), "")


def test_int_converter_to_url_pads_fixed_digits() -> None:
    assert IntegerConverter(None, fixed_digits=4).to_url(42) == "0042"
    assert IntegerConverter(None).to_url(7) == "7"
    assert IntegerConverter(None, signed=True).to_url(-7) == "-7"


def test_float_converter() -> None:
    conv = FloatConverter(None)
    assert matches(conv, "1.5") and conv.to_python("1.5") == 1.5
    assert not matches(conv, "1")
    assert not matches(conv, "-1.5")
    assert not matches(conv, ".5")
    signed = FloatConverter(None, signed=True, min=-2.0, max=2.0)
    assert signed.to_python("-1.5") == -1.5
    with pytest.raises(ValidationError):
        signed.to_python("2.5")
    assert conv.to_url(0.25) == "0.25"


def test_path_converter_spans_segments_but_not_a_leading_slash() -> None:
    conv = PathConverter(None)
    assert conv.part_isolating is False
    assert matches(conv, "a/b/c")
    assert not matches(conv, "/a")
    assert conv.to_url("a b/c") == "a%20b/c"
    assert PathConverter.weight > UnicodeConverter.weight > IntegerConverter.weight


def test_uuid_converter() -> None:
    conv = UUIDConverter(None)
    text = "12345678-1234-5678-1234-56781234abcd"
    assert matches(conv, text) and matches(conv, text.upper())
    assert not matches(conv, text.replace("-", ""))
    assert conv.to_python(text) == uuid.UUID(text)
    assert conv.to_url(uuid.UUID(text)) == text
    assert conv.to_url(text.upper()) == text


def test_any_converter() -> None:
    conv = AnyConverter(None, "about", "help", "a.b")
    assert matches(conv, "about") and matches(conv, "a.b")
    assert not matches(conv, "axb")  # the dot is literal
    assert not matches(conv, "abouts")
    assert conv.to_url("help") == "help"
    with pytest.raises(ValueError, match="'nope' is not one of 'a.b', 'about', 'help'"):
        conv.to_url("nope")
    with pytest.raises(TypeError):
        AnyConverter(None)


def test_subclass_with_slash_regex_is_not_part_isolating() -> None:
    class Everything(BaseConverter):
        regex = ".*/.*"

    class Word(BaseConverter):
        regex = "[a-z]+"

    class Forced(BaseConverter):
        regex = "a/b"
        part_isolating = True

    assert Everything.part_isolating is False
    assert Word.part_isolating is True
    assert Forced.part_isolating is True


def test_base_converter_rejects_arguments_it_cannot_use() -> None:
    with pytest.raises(TypeError):
        UUIDConverter(None, 3)


@pytest.mark.parametrize(
    ("text", "args", "kwargs"),
    [
        ("", (), {}),
        ("about, help, imprint, class", ("about", "help", "imprint", "class"), {}),
        ('"foo,bar", baz', ("foo,bar", "baz"), {}),
        ("'x y'", ("x y",), {}),
        ("length=2", (), {"length": 2}),
        ("min=1, max=10, signed=True", (), {"min": 1, "max": 10, "signed": True}),
        ("1.5, None, False", (1.5, None, False), {}),
        ("4, fixed = 3", (4,), {"fixed": 3}),
    ],
)
def test_parse_converter_args(text: str, args: tuple, kwargs: dict) -> None:
    assert parse_converter_args(text) == (args, kwargs)


@pytest.mark.parametrize("text", ["a=1, b", '"unterminated', "a=,"])
def test_parse_converter_args_rejects_garbage(text: str) -> None:
    with pytest.raises(ValueError):
        parse_converter_args(text)


def test_quote_path_part() -> None:
    assert quote_path_part("/a b/ü") == "/a%20b/%C3%BC"
    assert quote_path_part("%") == "%25"
