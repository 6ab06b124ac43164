"""crosswind.grammar against a direct reading of the ABNF of RFC 9110 and RFC 5234.

The oracle below is the ABNF transcribed rule by rule, octet by octet, with no
character class or regex of its own: each rule is a predicate on one octet or a
matcher on a sequence, named as in the RFC.  The grammar module is then checked
against it for every octet (the sets and regex classes) and, with Hypothesis, for
sequences made of the octets where the rules change their mind.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import crosswind.grammar as grammar
import pytest
from crosswind.grammar import (
    CTL,
    FIELD_CHAR,
    FIELD_OCTETS,
    OBS_TEXT,
    TCHAR,
    TCHARS,
    TOKEN,
    TOKEN_BYTES,
    VCHAR,
    VCHARS,
    field_problem,
    is_field_value,
    is_token,
)
from hypothesis import example, given
from hypothesis import strategies as st

# -- the oracle: RFC 5234 appendix B.1 ------------------------------------------------------


def ALPHA(o: int) -> bool:  # noqa: N802 - the names of the RFC
    return 0x41 <= o <= 0x5A or 0x61 <= o <= 0x7A  # A-Z / a-z


def DIGIT(o: int) -> bool:  # noqa: N802
    return 0x30 <= o <= 0x39  # 0-9


def VCHAR_(o: int) -> bool:  # noqa: N802
    return 0x21 <= o <= 0x7E  # visible (printing) characters


def CTL_(o: int) -> bool:  # noqa: N802
    return 0x00 <= o <= 0x1F or o == 0x7F  # controls


SP, HTAB = 0x20, 0x09


# -- RFC 9110 section 5.6.2: tokens ---------------------------------------------------------
#   token = 1*tchar
#   tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`"
#         / "|" / "~" / DIGIT / ALPHA


def tchar(o: int) -> bool:
    return o in (0x21, 0x23, 0x24, 0x25, 0x26, 0x27, 0x2A, 0x2B, 0x2D, 0x2E, 0x5E, 0x5F,
                 0x60, 0x7C, 0x7E) or DIGIT(o) or ALPHA(o)


def token(octets: bytes) -> bool:
    return len(octets) >= 1 and all(tchar(o) for o in octets)


# -- RFC 9110 section 5.5 (and 5.6.3 for OWS): field values ---------------------------------
#   field-value   = *field-content
#   field-content = field-vchar [ 1*( SP / HTAB / field-vchar ) field-vchar ]
#   field-vchar   = VCHAR / obs-text
#   obs-text      = %x80-FF
#   OWS           = *( SP / HTAB )


def obs_text(o: int) -> bool:
    return 0x80 <= o <= 0xFF


def field_vchar(o: int) -> bool:
    return VCHAR_(o) or obs_text(o)


def field_content_ends(s: bytes, i: int) -> set[int]:
    """Every j for which s[i:j] is one field-content."""
    if i >= len(s) or not field_vchar(s[i]):
        return set()
    ends = {i + 1}  # field-vchar alone
    # field-vchar 1*( SP / HTAB / field-vchar ) field-vchar
    k = i + 1
    while k < len(s) and (s[k] in (SP, HTAB) or field_vchar(s[k])):
        k += 1  # s[i+1:k] is 1*( SP / HTAB / field-vchar )
        if k < len(s) and field_vchar(s[k]):
            ends.add(k + 1)
    return ends


def field_value_ends(s: bytes, i: int) -> set[int]:
    """Every j for which s[i:j] is a field-value (*field-content)."""
    reached, todo = {i}, [i]
    while todo:
        for j in field_content_ends(s, todo.pop()):
            if j not in reached:
                reached.add(j)
                todo.append(j)
    return reached


def ows_ends(s: bytes, i: int) -> set[int]:
    ends = {i}
    while i < len(s) and s[i] in (SP, HTAB):
        i += 1
        ends.add(i)
    return ends


def ows_field_value_ows(s: bytes) -> bool:
    """What may follow ``field-name ":"`` on a field line: OWS field-value OWS."""
    return any(
        len(s) in ows_ends(s, k)
        for j in ows_ends(s, 0)
        for k in field_value_ends(s, j)
    )


# -- the sets, octet by octet ---------------------------------------------------------------

ALL_OCTETS = range(256)


def test_the_character_sets_are_the_rfcs() -> None:
    assert set(TCHARS) == {chr(o) for o in ALL_OCTETS if tchar(o)}
    assert len(TCHARS) == len(set(TCHARS))
    assert set(VCHARS) == {chr(o) for o in ALL_OCTETS if VCHAR_(o)}
    assert set(OBS_TEXT) == {chr(o) for o in ALL_OCTETS if obs_text(o)}
    assert set(CTL) == {chr(o) for o in ALL_OCTETS if CTL_(o)}
    # What a field line may hold after the colon, one octet at a time.
    assert set(FIELD_OCTETS) == {o for o in ALL_OCTETS if ows_field_value_ows(bytes([o]))}


@pytest.mark.parametrize(
    ("fragment", "rule"),
    [(TCHAR, tchar), (VCHAR, VCHAR_), (FIELD_CHAR, lambda o: o in (SP, HTAB) or field_vchar(o))],
)
def test_each_regex_class_matches_exactly_its_octets(fragment, rule) -> None:
    text, binary = re.compile(fragment), re.compile(fragment.encode("ascii"))
    for o in ALL_OCTETS:
        assert bool(binary.fullmatch(bytes([o]))) == rule(o), hex(o)
        assert bool(text.fullmatch(chr(o))) == rule(o), hex(o)
    for char in "\u0100\u2028\U0001f600":  # text beyond latin-1 matches no class
        assert text.fullmatch(char) is None


def test_the_compiled_tokens_are_the_class_repeated() -> None:
    assert TOKEN.pattern == TCHAR + "+"
    assert TOKEN_BYTES.pattern == TOKEN.pattern.encode("ascii")


# -- the checks, on sequences ----------------------------------------------------------------

# The octets where the rules change their verdict: separators, whitespace, the controls
# around HTAB, CR and LF, DEL, the ends of obs-text, and some ordinary tchars.
_BOUNDARY = [0x00, 0x01, 0x08, 0x09, 0x0A, 0x0B, 0x0D, 0x1F, 0x20, 0x21, 0x22, 0x28, 0x2C,
             0x2F, 0x3A, 0x3B, 0x40, 0x5B, 0x7B, 0x7D, 0x7E, 0x7F, 0x80, 0xA0, 0xFF]
octets = st.lists(
    st.one_of(st.sampled_from(_BOUNDARY), st.sampled_from(b"aZ09-~!"), st.integers(0, 255)),
    max_size=12,
).map(bytes)
texts = st.lists(
    st.one_of(
        octets.map(lambda b: b.decode("latin-1")),
        st.sampled_from(["\u0100", "\u2028", "\u00e9", "\U0001f600", "\u0085"]),
    ),
    max_size=3,
).map("".join)


@given(octets)
@example(b"")
@example(b"Content-Type")
@example(b"a b")
def test_is_token_is_the_abnf(data: bytes) -> None:
    assert is_token(data) == token(data)
    assert is_token(data.decode("latin-1")) == token(data)


@given(texts)
def test_text_beyond_latin1_is_never_a_token(text: str) -> None:
    latin1 = all(char <= "\xff" for char in text)
    assert is_token(text) == (latin1 and token(text.encode("latin-1")))


@given(octets)
@example(b"")
@example(b" \t ")
@example(b"a\tb \xe9")
@example(b"a\r\nInjected: 1")
@example(b"\x7f")
def test_is_field_value_is_the_abnf(data: bytes) -> None:
    assert is_field_value(data) == ows_field_value_ows(data)
    assert is_field_value(data.decode("latin-1")) == ows_field_value_ows(data)


@given(texts)
@example("caf\u00e9")
@example("snow \u2603")
def test_a_text_value_is_held_to_its_latin1_octets(text: str) -> None:
    latin1 = all(char <= "\xff" for char in text)
    assert is_field_value(text) == (latin1 and ows_field_value_ows(text.encode("latin-1")))


# -- field_problem: the verdict, and words that name the header but not the value ----------


@given(octets, octets)
def test_field_problem_is_none_exactly_for_a_sendable_field(name: bytes, value: bytes) -> None:
    can_be_sent = token(name) and ows_field_value_ows(value)
    for pair in ((name, value), (name.decode("latin-1"), value.decode("latin-1"))):
        problem = field_problem(*pair)
        assert (problem is None) == can_be_sent
        if problem is not None:
            assert repr(name.decode("latin-1")) in problem
    assert (field_problem(name) is None) == token(name)


@given(texts)
def test_field_problem_never_repeats_the_value(value: str) -> None:
    secret = "SECRET" + value
    problem = field_problem("X-Token", secret + "\x01")
    assert problem is not None
    assert "SECRET" not in problem
    assert "'X-Token'" in problem


def test_field_problem_says_what_is_wrong() -> None:
    control = "header 'X-Bad' has a control character in its value"
    assert field_problem("X Bad", "v") == "header name 'X Bad' is not a token"
    assert field_problem(b"X-Bad", b"a\x01b") == control
    assert field_problem("X-Bad", "caf\xe9\x01") == control
    assert field_problem("X-Bad", "\u2603") == "header 'X-Bad' has a value that is not latin-1 text"
    assert field_problem("X-Good", "a\tb \xe9") is None


# -- where it sits ---------------------------------------------------------------------------


def test_grammar_imports_nothing_from_crosswind() -> None:
    tree = ast.parse(Path(grammar.__file__).read_text())
    imported = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            imported.append("." * node.level + (node.module or ""))
    assert all(name in ("__future__", "re") for name in imported), imported
