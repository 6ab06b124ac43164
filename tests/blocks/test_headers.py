import pytest
from crosswind.headers import Headers
from hypothesis import given
from hypothesis import strategies as st


def test_lookup_is_case_insensitive_and_first_value_wins():
    headers = Headers([("Set-Cookie", "a=1"), ("Content-Type", "text/plain"), ("set-cookie", "b=2")])
    assert headers["SET-COOKIE"] == "a=1"
    assert headers.get("set-cookie") == "a=1"
    assert headers.get_list("Set-Cookie") == ["a=1", "b=2"]
    assert "content-TYPE" in headers
    assert "Content-Length" not in headers
    assert headers.get("Content-Length") is None
    assert headers.get("Content-Length", "0") == "0"
    assert headers.get_list("Content-Length") == []
    with pytest.raises(KeyError):
        headers["Content-Length"]


def test_iteration_deduplicates_names_but_items_keep_every_field_in_order():
    headers = Headers()
    headers.add("Vary", "Accept")
    headers.add("X-A", "1")
    headers.add("vary", "Cookie")
    assert list(headers) == ["Vary", "X-A"]
    assert headers.keys() == ["Vary", "X-A"]
    assert len(headers) == 2
    assert headers.items() == [("Vary", "Accept"), ("X-A", "1"), ("vary", "Cookie")]
    assert headers.values() == ["Accept", "1", "Cookie"]


def test_constructors_accept_dicts_pairs_bytes_and_headers():
    from_dict = Headers({"Host": "example.com", "Content-Length": 5})
    assert from_dict.items() == [("Host", "example.com"), ("Content-Length", "5")]
    from_bytes = Headers([(b"Host", b"example.com"), (b"X-Latin", b"caf\xe9")])
    assert from_bytes["x-latin"] == "caf\u00e9"
    assert from_bytes.raw() == [(b"Host", b"example.com"), (b"X-Latin", b"caf\xe9")]
    copied = Headers(from_dict)
    copied.add("Host", "other")
    assert from_dict.get_list("host") == ["example.com"]
    assert Headers(None) == Headers()
    with pytest.raises(TypeError):
        Headers("Host: x")  # type: ignore[arg-type]


def test_set_replaces_every_value_at_the_first_position():
    headers = Headers([("A", "1"), ("B", "2"), ("a", "3")])
    headers["a"] = "new"
    assert headers.items() == [("a", "new"), ("B", "2")]
    headers.set("C", 3)
    assert headers.items() == [("a", "new"), ("B", "2"), ("C", "3")]


def test_delete_pop_setdefault_clear():
    headers = Headers([("A", "1"), ("B", "2"), ("a", "3")])
    del headers["A"]
    assert headers.items() == [("B", "2")]
    with pytest.raises(KeyError):
        del headers["A"]
    assert headers.setdefault("B", "x") == "2"
    assert headers.setdefault("C", b"y") == "y"
    assert headers.pop("c") == "y"
    assert headers.pop("c", None) is None
    with pytest.raises(KeyError):
        headers.pop("c")
    headers.clear()
    assert headers.items() == [] and len(headers) == 0


def test_update_replaces_named_fields_and_keeps_the_rest():
    headers = Headers([("A", "1"), ("B", "2"), ("A", "3")])
    headers.update([("a", "x"), ("a", "y")], C="z")
    assert headers.get_list("A") == ["x", "y"]
    assert headers["B"] == "2"
    assert headers["C"] == "z"


def test_equality_ignores_name_case_and_order_across_names_not_within():
    assert Headers([("A", "1"), ("B", "2")]) == Headers([("b", "2"), ("a", "1")])
    assert Headers([("A", "1"), ("A", "2")]) != Headers([("A", "2"), ("A", "1")])
    assert Headers({"A": "1"}) == {"a": "1"}
    assert Headers({"A": "1"}) != 42
    assert "A" in repr(Headers({"A": "1"}))


@pytest.mark.parametrize("bad", ["a\r\nInjected: 1", "a\nb", "a\rb", "a\0b"])
def test_crlf_and_nul_are_refused_in_values_and_names(bad):
    headers = Headers()
    with pytest.raises(ValueError, match="X-Test"):
        headers.add("X-Test", bad)
    with pytest.raises(ValueError, match="X-Test"):
        headers["X-Test"] = bad
    with pytest.raises(ValueError):
        headers.add(bad, "v")
    with pytest.raises(ValueError):
        Headers([("X-Test", bad)])
    assert headers.items() == []


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("X Bad", "v", "header name 'X Bad' is not a token"),
        ("X-Bad:", "v", "header name 'X-Bad:' is not a token"),
        ("", "v", "header name '' is not a token"),
        ("X-Bad", "a\x01b", "header 'X-Bad' has a control character in its value"),
        ("X-Bad", "\x7f", "header 'X-Bad' has a control character in its value"),
    ],
)
def test_the_grammar_rule_holds_for_every_way_in(name, value, problem):
    # The rule the response writer keeps: a name must be a token, a value may hold no
    # control character but HTAB (crosswind.grammar.field_problem words the refusal).
    raw = [(name.encode("latin-1"), value.encode("latin-1"))]
    ways = [
        lambda: Headers().add(name, value),
        lambda: Headers().set(name, value),
        lambda: Headers({name: value}),
        lambda: Headers(raw),
        lambda: Headers.from_wire(raw),
        lambda: Headers().setdefault(name, value),
    ]
    for way in ways:
        with pytest.raises(ValueError) as refused:
            way()
        assert str(refused.value) == problem
    with pytest.raises(ValueError, match="is not a token"):
        Headers().set_checked("X Bad", "v")


def test_tab_space_and_obs_text_are_kept():
    headers = Headers.from_wire([(b"X-A", b"a\tb c\xe9")])
    headers.add("X-B", " padded\t")
    assert headers.items() == [("X-A", "a\tb c\xe9"), ("X-B", " padded\t")]


def test_from_wire_remembers_names_without_mixing_their_spelling():
    first = Headers.from_wire([(b"Content-Type", b"a"), (b"x-y", b"1"), (b"X-Y", b"2")])
    again = Headers.from_wire([(b"Content-Type", b"b")])
    assert first.items() == [("Content-Type", "a"), ("x-y", "1"), ("X-Y", "2")]
    assert first.get_list("X-y") == ["1", "2"]
    assert again.items() == [("Content-Type", "b")] and again["content-type"] == "b"
    # What is not a list of bytes pairs goes through the constructor, errors included.
    assert Headers.from_wire([("A", "1")]).items() == [("A", "1")]
    with pytest.raises(TypeError):
        Headers.from_wire([(bytearray(b"A"), b"1")])


def test_from_checked_and_set_checked_take_fields_as_given():
    headers = Headers.from_checked([("Server", "x"), ("Date", "d")])
    assert headers["server"] == "x" and headers.keys() == ["Server", "Date"]
    headers.set_checked("X-New", "1")
    headers.set_checked("server", "y")
    headers.add("Date", "e")
    headers.set_checked("DATE", "f")
    assert headers.items() == [("server", "y"), ("DATE", "f"), ("X-New", "1")]
    assert headers.get_list("date") == ["f"]


def test_value_types():
    headers = Headers()
    headers.add("Content-Length", 42)
    headers.add("X-Bytes", b"\xff")
    assert headers.items() == [("Content-Length", "42"), ("X-Bytes", "\xff")]
    with pytest.raises(TypeError):
        headers.add("X-None", None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="latin-1"):
        headers.add("X-Emoji", "\N{SNOWMAN}")


# -- model-based property ----------------------------------------------------------------

_names = st.sampled_from(["a", "A", "b", "B", "Content-Type", "content-type", "X-Y"])
_values = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
    max_size=5,
)
_ops = st.lists(
    st.one_of(
        st.tuples(st.just("add"), _names, _values),
        st.tuples(st.just("set"), _names, _values),
        st.tuples(st.just("del"), _names, st.just("")),
    ),
    max_size=30,
)


def _model_apply(model: list[tuple[str, str]], op: str, name: str, value: str) -> bool:
    key = name.lower()
    hits = [i for i, (n, _) in enumerate(model) if n.lower() == key]
    if op == "add":
        model.append((name, value))
    elif op == "set":
        if hits:
            model[hits[0]] = (name, value)
            for i in reversed(hits[1:]):
                del model[i]
        else:
            model.append((name, value))
    else:
        if not hits:
            return False
        for i in reversed(hits):
            del model[i]
    return True


@given(_ops)
def test_headers_behave_like_a_list_of_pairs(ops):
    headers = Headers()
    model: list[tuple[str, str]] = []
    for op, name, value in ops:
        present = _model_apply(model, op, name, value)
        if op == "add":
            headers.add(name, value)
        elif op == "set":
            headers[name] = value
        elif present:
            del headers[name]
        else:
            with pytest.raises(KeyError):
                del headers[name]
        assert headers.items() == model
    distinct: list[str] = []
    for n, _ in model:
        if n.lower() not in [d.lower() for d in distinct]:
            distinct.append(n)
    assert list(headers) == distinct
    assert len(headers) == len(distinct)
    for probe in ["a", "B", "CONTENT-TYPE", "x-y", "missing"]:
        expected = [v for n, v in model if n.lower() == probe.lower()]
        assert headers.get_list(probe) == expected
        assert headers.get(probe) == (expected[0] if expected else None)
        assert (probe in headers) == bool(expected)
    assert Headers(headers.raw()).items() == model
    assert headers.copy() == headers
