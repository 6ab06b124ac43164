"""Fuzz target: compiling Tornado-style templates.

Input: the source of ``page.html`` (UTF-8, undecodable bytes replaced), compiled
through a ``DictLoader`` in which every other name is a small template with
blocks, so ``{% include %}`` and ``{% extends %}`` reach real templates whatever
name the input gives them.

Findings: any exception other than :class:`crosswind.template.ParseError` (which
includes Python syntax errors in the template), a ``ParseError`` without a
template line, and generated lines that name no template line, beyond one per line
break of the source.  The templates
are compiled, never rendered: the input is Python and must not run.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from _common import FuzzFinding
from crosswind.template import DictLoader, ParseError

OTHER = "<{% block a %}A{% end %}|{% block b %}{{ x }}{% end %}>{% include leaf.html %}"
LEAF = "leaf {{ y }}"


class _Files(Mapping[str, str]):
    """``page.html`` is the input; ``leaf.html`` and every other name are fixed."""

    def __init__(self, page: str) -> None:
        self.page = page

    def __getitem__(self, name: str) -> str:
        if name == "page.html":
            return self.page
        return LEAF if name == "leaf.html" else OTHER

    def __iter__(self) -> Iterator[str]:
        return iter(["page.html"])

    def __len__(self) -> int:
        return 1


def test_one_input(data: bytes) -> None:
    source = data.decode("utf-8", "replace")
    loader = DictLoader(_Files(source))
    try:
        template = loader.load("page.html")
    except ParseError as error:
        if error.lineno < 1 or not error.filename:
            raise FuzzFinding(f"ParseError without a place: {error!r}") from error
        return
    # Split at newlines only: str.splitlines() also splits at characters such as
    # \x1c, which a string literal in the template may hold and Python does not
    # take for line ends.
    # A line break the author wrote inside a tag ({{ f(a,\n b) }}) is copied into
    # the code, as Tornado copies it, and the code line it ends carries no marker;
    # any other unmarked line is the generator's own.
    unmarked = [line for line in template.code.rstrip("\n").split("\n") if "  # " not in line]
    if len(unmarked) > source.count("\n"):
        raise FuzzFinding(f"generated line without its template line: {unmarked[0]!r}")
