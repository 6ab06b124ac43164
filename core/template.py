"""Tornado's template language: the same files, the same bytes, no Tornado needed.

A template is text with three kinds of markup, all compiled into one Python
function per template:

* ``{{ expression }}`` writes the value of a Python expression, escaped by the
  template's *autoescape* function (``xhtml_escape`` unless told otherwise);
* ``{% directive %}`` controls the output: ``if``/``elif``/``else``, ``for``,
  ``while``, ``try``/``except``/``finally`` and ``apply``, ``block`` (each closed
  by ``{% end %}``), and ``set``, ``import``, ``from``, ``raw``, ``module``,
  ``include``, ``extends``, ``autoescape``, ``whitespace``, ``comment``,
  ``break`` and ``continue``;
* ``{# comment #}`` writes nothing.

``{{!``, ``{%!`` and ``{#!`` write the two braces literally.

The rules this module keeps:

* **The output is Tornado's, byte for byte.**  Whitespace filtering, the order in
  which blocks override each other, what the autoescape function receives
  (UTF-8 bytes), the scoping of ``{% set %}``: where Tornado 6 gives one answer,
  this module gives the same (``tests/blocks/test_template_differential.py``
  renders a corpus with both).
* **A malformed template raises** :class:`ParseError` **with its name and line.**
  Tornado's messages are kept word for word.  Where Tornado lets another
  exception escape at compile time (Python syntax errors in the template, an
  unknown whitespace mode, ``{% extends %}`` without a loader) this module raises
  a :class:`ParseError` that still names the place, and for syntax errors one
  that is also a :class:`SyntaxError`, so code catching either keeps working.
* **The generated code is meant to be read.**  Every line ends with a
  ``# template:line`` comment (``(via parent:line)`` when it comes from an
  include or a block); :attr:`Template.code` holds it and
  :meth:`Template.numbered_code` lists it with line numbers.  A runtime error
  raised by the template's Python gets a note naming the template line.
* **No I/O but reading template files.**  Only :class:`Loader` touches the file
  system, and only to read the file a template names.  The loaders' caches take
  no lock: two threads loading the same name at once may both compile it, and the
  last one is kept, which costs time but never correctness.
"""

from __future__ import annotations

import datetime
import linecache
import os
import posixpath
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import CodeType, TracebackType
from typing import Any

from . import escape

__all__ = [
    "BaseLoader",
    "DictLoader",
    "Loader",
    "ParseError",
    "Template",
    "TemplateSyntaxError",
    "filter_whitespace",
]

_DEFAULT_AUTOESCAPE = "xhtml_escape"

# A nesting depth no real template reaches; the parser recurses once per level,
# and Python refuses far fewer statically nested loops anyway.
_MAX_DEPTH = 100


class _Unset:
    """The marker for "argument not given" (``None`` is a meaningful autoescape)."""

    def __repr__(self) -> str:
        return "<unset>"


_UNSET: Any = _Unset()


def filter_whitespace(mode: str, text: str) -> str:
    """Apply a whitespace mode to a run of template text.

    :param mode: ``"all"`` keeps the text as it is; ``"single"`` turns each run of
        spaces and tabs into one space and each run of whitespace holding a newline
        into one newline; ``"oneline"`` turns every run of whitespace, newlines
        included, into one space.
    :param text: the text between two tags.
    :raises ValueError: for any other mode.
    """
    if mode == "all":
        return text
    if mode == "single":
        return re.sub(r"\s*\n\s*", "\n", re.sub(r"[\t ]+", " ", text))
    if mode == "oneline":
        return re.sub(r"\s+", " ", text)
    raise ValueError(f"invalid whitespace mode {mode}")


class ParseError(Exception):
    """A template that cannot be compiled.

    ``str(error)`` reads ``"<message> at <filename>:<lineno>"``, as in Tornado.

    :param message: what is wrong.
    :param filename: the template's name.
    :param lineno: the template line (1-based; 0 when unknown).
    """

    def __init__(self, message: str, filename: str | None = None, lineno: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.filename = filename
        self.lineno = lineno

    def __str__(self) -> str:
        return "%s at %s:%d" % (self.message, self.filename, self.lineno)


# SyntaxError allows lineno to be None; a template error always knows its line.
class TemplateSyntaxError(ParseError, SyntaxError):  # type: ignore[misc]
    """Python in a template that does not compile.

    Tornado lets the :class:`SyntaxError` of the generated module escape; this is
    still one, but its ``filename`` and ``lineno`` are the template's, and
    ``text`` is the generated line that failed.
    """

    def __init__(
        self, message: str, filename: str | None = None, lineno: int = 0, text: str | None = None
    ) -> None:
        ParseError.__init__(self, message, filename, lineno)
        self.msg = message
        self.text = text


# -- the tree a template parses into ---------------------------------------------

Body = list["_Node"]


class _Node:
    """One piece of a parsed template; ``emit`` writes its Python."""

    line = 0

    def children(self) -> tuple[Body, ...]:
        return ()

    def emit(self, out: _Emitter) -> None:
        raise NotImplementedError

    def collect_blocks(self, loader: BaseLoader | None, blocks: dict[str, _Block]) -> None:
        for body in self.children():
            for node in body:
                node.collect_blocks(loader, blocks)


class _Text(_Node):
    def __init__(self, text: str, line: int, whitespace: str) -> None:
        self.text, self.line, self.whitespace = text, line, whitespace

    def emit(self, out: _Emitter) -> None:
        text = self.text
        # Preformatted text is the one place where whitespace is content.
        if "<pre>" not in text:
            text = filter_whitespace(self.whitespace, text)
        if text:
            out.line(f"_tt_append({text.encode('utf-8')!r})", self.line)


class _Output(_Node):
    """``{{ expr }}``, ``{% raw expr %}`` and ``{% module expr %}``."""

    def __init__(self, expression: str, line: int, raw: bool = False) -> None:
        self.expression, self.line, self.raw = expression, line, raw

    def emit(self, out: _Emitter) -> None:
        # The expression stays alone on the right of an assignment, so that a
        # tuple or a trailing ``# comment`` means what it would in Python.
        out.line(f"_tt_tmp = {self.expression}", self.line)
        value = "_tt_as_bytes(_tt_tmp)"
        autoescape = out.template.autoescape
        if not self.raw and autoescape is not None:
            value = f"_tt_utf8({autoescape}({value}))"
        out.line(f"_tt_append({value})", self.line)


class _Statement(_Node):
    """``{% set %}``, ``{% import %}``, ``{% from %}``, ``{% break %}``, ``{% continue %}``."""

    def __init__(self, code: str, line: int) -> None:
        self.code, self.line = code, line

    def emit(self, out: _Emitter) -> None:
        out.line(self.code, self.line)


class _Compound(_Node):
    """A Python compound statement: its clauses, each a header and a body.

    ``{% if a %}x{% elif b %}y{% end %}`` has two clauses.  Every body ends with
    ``pass`` so that an empty one is still valid Python.
    """

    def __init__(self, header: str, line: int) -> None:
        self.line = line
        self.clauses: list[tuple[str, int, Body]] = [(header, line, [])]

    def children(self) -> tuple[Body, ...]:
        return tuple(body for _, _, body in self.clauses)

    def emit(self, out: _Emitter) -> None:
        for header, line, body in self.clauses:
            out.line(f"{header}:", line)
            with out.indented():
                for node in body:
                    node.emit(out)
                out.line("pass", line)


class _Apply(_Node):
    """``{% apply f %}``: the body renders into a nested function whose bytes go to ``f``."""

    def __init__(self, function: str, line: int, body: Body) -> None:
        self.function, self.line, self.body = function, line, body

    def children(self) -> tuple[Body, ...]:
        return (self.body,)

    def emit(self, out: _Emitter) -> None:
        name = out.fresh_name("_tt_apply")
        out.line(f"def {name}():", self.line)
        with out.indented():
            out.open_buffer(self.line)
            for node in self.body:
                node.emit(out)
            out.line("return _tt_utf8('').join(_tt_buffer)", self.line)
        out.line(f"_tt_append(_tt_utf8({self.function}({name}())))", self.line)


class _Block(_Node):
    """``{% block name %}``: replaced by the most derived template's block of that name."""

    def __init__(self, name: str, line: int, body: Body, template: Template) -> None:
        self.name, self.line, self.body, self.template = name, line, body, template

    def children(self) -> tuple[Body, ...]:
        return (self.body,)

    def collect_blocks(self, loader: BaseLoader | None, blocks: dict[str, _Block]) -> None:
        blocks[self.name] = self
        super().collect_blocks(loader, blocks)

    def emit(self, out: _Emitter) -> None:
        chosen = out.blocks[self.name]
        with out.inside(chosen.template, self.line):
            for node in chosen.body:
                node.emit(out)


class _Include(_Node):
    def __init__(self, name: str, parent: str, line: int) -> None:
        self.name, self.parent, self.line = name, parent, line

    def collect_blocks(self, loader: BaseLoader | None, blocks: dict[str, _Block]) -> None:
        assert loader is not None  # the parser refuses include without a loader
        for node in _load(loader, self.name, self.parent, self.line).body:
            node.collect_blocks(loader, blocks)

    def emit(self, out: _Emitter) -> None:
        assert out.loader is not None
        included = _load(out.loader, self.name, self.parent, self.line)
        with out.inside(included, self.line):
            for node in included.body:
                node.emit(out)


class _Extends(_Node):
    def __init__(self, name: str, line: int) -> None:
        self.name, self.line = name, line

    def emit(self, out: _Emitter) -> None:
        pass


# -- parsing -----------------------------------------------------------------------

# Which open block each clause may continue.
_CLAUSE_PARENTS = {
    "else": ("if", "for", "while", "try"),
    "elif": ("if",),
    "except": ("try",),
    "finally": ("try",),
}
_LOOPS = ("for", "while")


def _as_set(names: tuple[str, ...]) -> str:
    """*names* written as a Python set, as Tornado's messages show them.

    Tornado prints a real set, whose order changes with the hash seed from one
    process to the next; this fixed order is one of the orders it prints.
    """
    return "{" + ", ".join(repr(name) for name in names) + "}"


_SIMPLE = frozenset(
    {"extends", "include", "set", "import", "from", "comment", "autoescape", "whitespace",
     "raw", "module"}
)  # fmt: skip
_OPENERS = frozenset({"apply", "block", "try", "if", "for", "while"})
_TAG_STARTS = ("{", "%", "#")


class _Source:
    """The template text with a cursor and the line the cursor is on."""

    def __init__(self, name: str, text: str, whitespace: str) -> None:
        self.name, self.text, self.whitespace = name, text, whitespace
        self.pos = 0
        self.lineno = 1

    def take(self, count: int | None = None) -> str:
        end = len(self.text) if count is None else self.pos + count
        piece = self.text[self.pos : end]
        self.lineno += piece.count("\n")
        self.pos = end
        return piece

    def take_until(self, marker: str) -> str | None:
        """The text up to *marker*, stripped, with the cursor moved past the marker."""
        at = self.text.find(marker, self.pos)
        if at == -1:
            return None
        contents = self.take(at - self.pos).strip()
        self.take(len(marker))
        return contents

    def next_tag(self) -> int:
        """Where the next tag opens, relative to the cursor, or -1 at the end.

        A ``{`` followed by anything but ``{ % #`` is text.  In a run of three or
        more braces the last two open the tag, so ``{{{x}}}`` writes ``{`` and
        then ``x``'s value (LaTeX-friendly, as in Tornado).
        """
        text, pos, size = self.text, self.pos, len(self.text) - self.pos
        at = 0
        while True:
            found = text.find("{", pos + at)
            if found == -1:
                return -1
            at = found - pos
            if at + 1 == size:
                return -1
            after = text[pos + at + 1]
            if after not in _TAG_STARTS or (
                after == "{" and at + 2 < size and text[pos + at + 2] == "{"
            ):
                at += 1
                continue
            return at

    def fail(self, message: str) -> ParseError:
        return ParseError(message, self.name, self.lineno)


class _Parser:
    def __init__(self, source: _Source, template: Template) -> None:
        self.source = source
        self.template = template
        self.depth = 0

    def body(self, opener: str | None = None, loop: str | None = None) -> Body:
        """Parse until the ``{% end %}`` of *opener* (or the end of the text)."""
        src = self.source
        nodes: Body = []
        # A clause (``else`` ...) starts a new body in the compound being parsed.
        current = nodes
        compound: _Compound | None = None
        while True:
            at = src.next_tag()
            if at == -1:
                if opener:
                    raise src.fail(f"Missing {{% end %}} block for {opener}")
                text = src.take()
                current.append(_Text(text, src.lineno, src.whitespace))
                return nodes
            if at > 0:
                text = src.take(at)
                current.append(_Text(text, src.lineno, src.whitespace))
            brace = src.take(2)
            line = src.lineno
            if src.pos < len(src.text) and src.text[src.pos] == "!":
                src.take(1)
                current.append(_Text(brace, line, src.whitespace))
                continue
            if brace == "{#":
                if src.take_until("#}") is None:
                    raise src.fail("Missing end comment #}")
                continue
            if brace == "{{":
                contents = src.take_until("}}")
                if contents is None:
                    raise src.fail("Missing end expression }}")
                if not contents:
                    raise src.fail("Empty expression")
                current.append(_Output(contents, line))
                continue
            contents = src.take_until("%}")
            if contents is None:
                raise src.fail("Missing end block %}")
            if not contents:
                raise src.fail("Empty block tag ({% %})")
            operator, _, argument = contents.partition(" ")
            argument = argument.strip()

            parents = _CLAUSE_PARENTS.get(operator)
            if parents is not None:
                if not opener:
                    raise src.fail(f"{operator} outside {_as_set(parents)} block")
                if opener not in parents:
                    raise src.fail(f"{operator} block cannot be attached to {opener} block")
                if compound is None:
                    # The caller wraps this body; clauses after the first are
                    # kept aside and handed over through ``self.clauses``.
                    compound = _Compound("", 0)
                    compound.clauses = []
                current = []
                compound.clauses.append((contents, line, current))
                continue
            if operator == "end":
                if not opener:
                    raise src.fail("Extra {% end %} block")
                self.clauses = compound.clauses if compound else []
                return nodes
            if operator in _SIMPLE:
                node = self.simple(operator, argument, contents, line)
                if node is not None:
                    current.append(node)
                continue
            if operator in _OPENERS:
                current.append(self.opened(operator, argument, contents, line, loop))
                continue
            if operator in ("break", "continue"):
                if not loop:
                    raise src.fail(f"{operator} outside {_as_set(_LOOPS)} block")
                current.append(_Statement(contents, line))
                continue
            raise src.fail(f"unknown operator: {operator!r}")

    def simple(self, operator: str, argument: str, contents: str, line: int) -> _Node | None:
        src = self.source
        if operator == "comment":
            return None
        if operator in ("extends", "include"):
            path = argument.strip('"').strip("'")
            if not path:
                raise src.fail(f"{operator} missing file path")
            if operator == "extends":
                return _Extends(path, line)
            return _Include(path, src.name, line)
        if operator in ("import", "from"):
            if not argument:
                raise src.fail("import missing statement")
            return _Statement(contents, line)
        if operator == "set":
            if not argument:
                raise src.fail("set missing statement")
            return _Statement(argument, line)
        if operator == "autoescape":
            # The last directive wins for the whole file, expressions above it too.
            self.template.autoescape = None if argument == "None" else argument
            return None
        if operator == "whitespace":
            if argument not in ("all", "single", "oneline"):
                raise src.fail(f"invalid whitespace mode {argument}")
            src.whitespace = argument
            return None
        if operator == "raw":
            return _Output(argument, line, raw=True)
        return _Output("_tt_modules." + argument, line, raw=True)

    def opened(
        self, operator: str, argument: str, contents: str, line: int, loop: str | None
    ) -> _Node:
        src = self.source
        if self.depth >= _MAX_DEPTH:
            raise src.fail(f"blocks nested more than {_MAX_DEPTH} deep")
        self.depth += 1
        if operator in _LOOPS:
            inner_loop: str | None = operator
        elif operator == "apply":
            inner_loop = None  # the body is a nested function: break cannot leave it
        else:
            inner_loop = loop
        body = self.body(operator, inner_loop)
        clauses = self.clauses
        self.depth -= 1
        if operator == "apply":
            if not argument:
                raise src.fail("apply missing method name")
            if clauses:  # unreachable: apply accepts no clause
                raise AssertionError(clauses)
            return _Apply(argument, line, body)
        if operator == "block":
            if not argument:
                raise src.fail("block missing name")
            return _Block(argument, line, body, self.template)
        compound = _Compound(contents, line)
        compound.clauses[0][2].extend(body)
        compound.clauses.extend(clauses)
        return compound


# -- code generation ---------------------------------------------------------------


class _Emitter:
    """Writes the generated module, remembering which template line each line came from."""

    def __init__(self, template: Template, loader: BaseLoader | None, blocks: dict[str, _Block]):
        self.template = template
        self.loader = loader
        self.blocks = blocks
        self.lines: list[str] = []
        #: For each generated line: (template name, template line).
        self.origins: list[tuple[str, int]] = []
        self.depth = 0
        self.via: list[tuple[Template, int]] = []
        self.counter = 0

    def line(self, code: str, lineno: int) -> None:
        note = f"  # {_printable(self.template.name)}:{lineno}"
        if self.via:
            path = ", ".join(f"{_printable(t.name)}:{n}" for t, n in reversed(self.via))
            note += f" (via {path})"
        self.lines.append("    " * self.depth + code + note)
        # An expression may span lines: each of them comes from this template line.
        breaks = len(_LINE_BREAK.findall(code))
        self.origins.extend([(self.template.name, lineno)] * (breaks + 1))

    def open_buffer(self, lineno: int) -> None:
        self.line("_tt_buffer = []", lineno)
        self.line("_tt_append = _tt_buffer.append", lineno)

    def fresh_name(self, prefix: str) -> str:
        name = f"{prefix}{self.counter}"
        self.counter += 1
        return name

    @contextmanager
    def indented(self) -> Iterator[None]:
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1

    @contextmanager
    def inside(self, template: Template, lineno: int) -> Iterator[None]:
        self.via.append((self.template, lineno))
        self.template = template
        try:
            yield
        finally:
            self.template = self.via.pop()[0]


# What ends a line of Python source.
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _printable(name: str) -> str:
    """*name* fit for a comment: a line break in it would end the comment."""
    return name if name.isprintable() else repr(name)[1:-1]


def _as_bytes(value: Any) -> bytes:
    """An expression's value as UTF-8 bytes, before any escaping."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    return str(value).encode("utf-8")


class _SourceLoader:
    """Lets :mod:`traceback` and :mod:`linecache` show the generated line."""

    def __init__(self, code: str) -> None:
        self._code = code

    def get_source(self, name: str) -> str:
        return self._code


class Template:
    """A compiled template.

    :param template_string: the template's text (bytes are decoded as UTF-8).
    :param name: the template's name, used in errors and to pick the default
        whitespace mode.
    :param loader: resolves ``{% extends %}`` and ``{% include %}``; it also
        supplies the defaults for *autoescape*, *whitespace* and the namespace.
    :param compress_whitespace: deprecated in Tornado 4.3: ``True`` means
        ``whitespace="single"``, ``False`` means ``"all"``.
    :param autoescape: the name of a function in the template namespace that
        escapes every ``{{ }}``, or ``None`` for no escaping.  The function
        receives UTF-8 bytes.
    :param whitespace: a mode of :func:`filter_whitespace`.  Without it, the
        loader's mode, else ``"single"`` for names ending in ``.html`` or ``.js``
        and ``"all"`` for the rest.
    :raises ParseError: the template is malformed.
    """

    def __init__(
        self,
        template_string: str | bytes,
        name: str = "<string>",
        loader: BaseLoader | None = None,
        compress_whitespace: bool = _UNSET,
        autoescape: str | None = _UNSET,
        whitespace: str | None = None,
    ) -> None:
        self.name: str = escape.to_unicode(name)
        if compress_whitespace is not _UNSET:
            if whitespace is not None:
                raise ValueError("cannot set both whitespace and compress_whitespace")
            whitespace = "single" if compress_whitespace else "all"
        if whitespace is None:
            if loader is not None and loader.whitespace:
                whitespace = loader.whitespace
            elif self.name.endswith((".html", ".js")):
                whitespace = "single"
            else:
                whitespace = "all"
        filter_whitespace(whitespace, "")
        if autoescape is not _UNSET:
            self.autoescape: str | None = autoescape
        elif loader is not None:
            self.autoescape = loader.autoescape
        else:
            self.autoescape = _DEFAULT_AUTOESCAPE
        self.namespace: dict[str, Any] = loader.namespace if loader is not None else {}
        self.loader = loader
        source = _Source(self.name, escape.to_unicode(template_string), whitespace)
        self.body: Body = _Parser(source, self).body()
        self.code, self._origins = self._generate(loader)
        self.filename = "%s.generated.py" % self.name.replace(".", "_")
        self.compiled: CodeType = self._compile()

    # -- compiling

    def _ancestors(self, loader: BaseLoader | None) -> list[Template]:
        """This template, then the one it extends, and so on up to the root."""
        chain = [self]
        for node in self.body:
            if isinstance(node, _Extends):
                if loader is None:
                    raise ParseError(
                        "{% extends %} block found, but no template loader", self.name, node.line
                    )
                parent = _load(loader, node.name, self.name, node.line)
                chain.extend(parent._ancestors(loader))
        return chain

    def _generate(self, loader: BaseLoader | None) -> tuple[str, list[tuple[str, int]]]:
        chain = self._ancestors(loader)
        blocks: dict[str, _Block] = {}
        # From the root down, so the most derived definition of a block wins.
        for template in reversed(chain):
            for node in template.body:
                node.collect_blocks(loader, blocks)
        root = chain[-1]
        out = _Emitter(root, loader, blocks)
        out.line("def _tt_execute():", 0)
        with out.indented():
            out.open_buffer(0)
            for node in root.body:
                node.emit(out)
            out.line("return _tt_utf8('').join(_tt_buffer)", 0)
        return "\n".join(out.lines) + "\n", out.origins

    def _origin(self, generated_line: int | None) -> tuple[str, int]:
        """The template place of a generated line; the preamble and the final
        ``return`` belong to the nearest template line above them."""
        at = min(generated_line or 1, len(self._origins))
        while at > 0:
            name, line = self._origins[at - 1]
            if line:
                return name, line
            at -= 1
        return self.name, 1

    def _compile(self) -> CodeType:
        try:
            return compile(self.code, self.filename, "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as error:
            # ValueError: a NUL character in an expression, on Python before 3.12.
            lineno = getattr(error, "lineno", None)
            lines = _LINE_BREAK.split(self.code)
            if lineno is None:
                lineno = next((n for n, text in enumerate(lines, 1) if "\0" in text), None)
            name, line = self._origin(lineno)
            text = lines[lineno - 1] if lineno and lineno <= len(lines) else None
            message = getattr(error, "msg", None) or str(error)
            if text is not None:
                message += f" in `{text.split('  # ')[0].strip()}`"
            raise TemplateSyntaxError(message, name, line, text) from error

    def numbered_code(self) -> str:
        """The generated Python with line numbers, for reading alongside a traceback."""
        lines = _LINE_BREAK.split(self.code.rstrip("\n"))
        width = len(str(len(lines)))
        return "".join(f"{n:>{width}}  {text}\n" for n, text in enumerate(lines, 1))

    # -- rendering

    def generate(self, **kwargs: Any) -> bytes:
        """Render the template.

        The namespace holds Tornado's names (``escape``, ``xhtml_escape``,
        ``url_escape``, ``json_encode``, ``squeeze``, ``linkify``, ``datetime``),
        then the loader's namespace, then *kwargs*.

        :param kwargs: the template's variables.
        :returns: the output, UTF-8 encoded.
        """
        namespace: dict[str, Any] = {
            "escape": escape.xhtml_escape,
            "xhtml_escape": escape.xhtml_escape,
            "url_escape": escape.url_escape,
            "json_encode": escape.json_encode,
            "squeeze": escape.squeeze,
            "linkify": escape.linkify,
            "datetime": datetime,
            "_tt_utf8": escape.utf8,
            "_tt_string_types": (str, bytes),
            "_tt_as_bytes": _as_bytes,
            "__name__": self.name.replace(".", "_"),
            "__loader__": _SourceLoader(self.code),
        }
        namespace.update(self.namespace)
        namespace.update(kwargs)
        exec(self.compiled, namespace)
        # Another template of the same name may have left its lines in the cache.
        linecache.cache.pop(self.filename, None)
        execute: Callable[[], bytes] = namespace["_tt_execute"]
        try:
            return execute()
        except Exception as error:
            self._annotate(error, error.__traceback__)
            raise

    def _annotate(self, error: Exception, tb: TracebackType | None) -> None:
        """Add a note naming the template line of the innermost generated frame."""
        lineno = None
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == self.filename:
                lineno = tb.tb_lineno
            tb = tb.tb_next
        if lineno is not None:
            name, line = self._origin(lineno)
            error.add_note(f"in template {name}, line {line}")


# -- loaders -----------------------------------------------------------------------


# The templates being compiled in this thread or task, as (loader id, name):
# a template that includes or extends itself, directly or not, would otherwise
# be compiled again and again until the interpreter's recursion limit.
_COMPILING: ContextVar[tuple[tuple[int, str], ...]] = ContextVar(
    "crosswind_template_compiling", default=()
)


class _Cycle(ParseError):
    """A template reached again while it is being compiled."""


def _load(loader: BaseLoader, name: str, parent: str, line: int) -> Template:
    """``loader.load`` for a directive, whose place a cycle error is given."""
    try:
        return loader.load(name, parent)
    except _Cycle as error:
        if error.filename is None:
            error.filename, error.lineno = parent, line
        raise


class BaseLoader:
    """Loads templates by name and keeps them compiled.

    Subclasses say how a name is found (:meth:`resolve_path`) and read
    (:meth:`_create_template`).

    :param autoescape: the default autoescape function name for the templates,
        or ``None``.
    :param namespace: names added to every template's namespace.
    :param whitespace: the default whitespace mode; without it, ``"single"``
        for ``.html`` and ``.js`` names and ``"all"`` for the rest.
    """

    def __init__(
        self,
        autoescape: str | None = _DEFAULT_AUTOESCAPE,
        namespace: dict[str, Any] | None = None,
        whitespace: str | None = None,
    ) -> None:
        self.autoescape = autoescape
        # The caller's dict itself: names added to it later reach the templates.
        self.namespace: dict[str, Any] = namespace or {}
        self.whitespace = whitespace
        self.templates: dict[str, Template] = {}

    def reset(self) -> None:
        """Forget every compiled template, so the next load reads and compiles again."""
        self.templates = {}

    def resolve_path(self, name: str, parent_path: str | None = None) -> str:
        """The cache key of *name* when named from the template *parent_path*.

        :param name: the name as written.
        :param parent_path: the name of the template that mentions it.
        """
        raise NotImplementedError

    def load(self, name: str, parent_path: str | None = None) -> Template:
        """The compiled template called *name*, from the cache when it is there.

        :param name: the template's name.
        :param parent_path: the template that includes or extends it; relative
            names are resolved against its folder.
        """
        key = self.resolve_path(name, parent_path=parent_path)
        template = self.templates.get(key)
        if template is None:
            compiling = _COMPILING.get()
            if (id(self), key) in compiling:
                raise _Cycle(f"{key} includes or extends itself")
            token = _COMPILING.set((*compiling, (id(self), key)))
            try:
                template = self.templates[key] = self._create_template(key)
            finally:
                _COMPILING.reset(token)
        return template

    def _create_template(self, name: str) -> Template:
        raise NotImplementedError


def _relative(parent_path: str | None, name: str) -> bool:
    """Whether *name* is relative to its parent (not absolute, parent not ``<string>``)."""
    if not parent_path or parent_path.startswith(("<", "/")):
        return False
    return not name.startswith("/")


class Loader(BaseLoader):
    """Loads templates from files under a root folder.

    :param root_directory: the folder; names are relative to it, and names inside
        a template (``{% include "x.html" %}``) are relative to that template's
        folder.
    :param kwargs: as for :class:`BaseLoader`.
    """

    def __init__(self, root_directory: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.root = os.path.abspath(root_directory)

    def resolve_path(self, name: str, parent_path: str | None = None) -> str:
        if _relative(parent_path, name):
            folder = os.path.dirname(os.path.abspath(os.path.join(self.root, parent_path or "")))
            target = os.path.abspath(os.path.join(folder, name))
            # A name that climbs out of the root stays as written.
            if target.startswith(self.root + os.sep):
                name = target[len(self.root) + 1 :]
        return name

    def _create_template(self, name: str) -> Template:
        with open(os.path.join(self.root, name), "rb") as file:
            return Template(file.read(), name=name, loader=self)


class DictLoader(BaseLoader):
    """Loads templates from a dictionary of name to source.

    :param dict: the templates' sources by name.
    :param kwargs: as for :class:`BaseLoader`.
    """

    def __init__(self, dict: Mapping[str, str | bytes], **kwargs: Any) -> None:  # noqa: A002
        super().__init__(**kwargs)
        self.dict = dict

    def resolve_path(self, name: str, parent_path: str | None = None) -> str:
        if _relative(parent_path, name):
            folder = posixpath.dirname(parent_path or "")
            name = posixpath.normpath(posixpath.join(folder, name))
        return name

    def _create_template(self, name: str) -> Template:
        return Template(self.dict[name], name=name, loader=self)
