"""Performance figures live in ``bench/NOTES.md``, not in the comments of the code.

A comment says why the code has its form ("deliberate, see bench/NOTES.md"); what was
measured, and the command that measures it, go in the notes, where they can be checked
and re-measured.  This test keeps the figures from creeping back into the code.

**Where it looks.**  Every ``.py`` file under ``core/``, ``backends/`` and ``adapters/``:
its comments (``#`` and ``#:``, consecutive comment lines read as one text, so a figure
broken across lines is still seen) and its docstrings (a string literal that is a
statement of its own: module, class, function and attribute docstrings).  Other string
literals (messages, regexes) are data, not prose, and are not read.

**What counts as a figure.**  A text is refused when it holds any of:

1. a number with a unit finer than a millisecond (``µs``, ``us``, ``usec``, ``ns``,
   ``nsec``, ``microseconds``, ``nanoseconds``): nothing in the code is configured in
   those units, so such a number is always a measurement;
2. a count of instructions (``197k instructions``, ``1.24M instructions``);
3. a before/after pair of numbers (``0.87 -> 0.10``, ``57 -> 41``);
4. a speed-up or a rate (``2x faster``, ``30 % slower``, ``9,900 req/s``);
5. milliseconds or seconds that are approximate (``~0.15 ms``, ``about 2 s``) or a
   measured range (``20-27 ms``).

**What is allowed.**  An exact duration in milliseconds or seconds is how a setting, a
default, a limit or a timeout is described (``between 10 ms and 1 s``, "a 30 s idle
timeout"), and how an example is written (an access-log line ending ``0.42ms``): those
pass, and so do counts that are not costs (``64 KiB``, ``256 names``).
"""

from __future__ import annotations

import ast
import io
import re
import shutil
import subprocess
import tokenize
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ("core", "backends", "adapters")
NOTES = ROOT / "bench" / "NOTES.md"

_NUMBER = r"(?<![\w.])\d[\d.,]*"
FIGURE = re.compile(
    "|".join(
        (
            # 1. sub-millisecond time
            _NUMBER + r"\s*(?:µs|us|usec|ns|nsec|microseconds?|nanoseconds?)\b",
            # 2. instruction counts
            _NUMBER + r"\s*[kKM]?\s+instructions\b",
            # 3. before/after
            _NUMBER + r"\s*[kKM%]?\s*(?:->|→)\s*~?\d",
            # 4. speed-ups and rates
            _NUMBER + r"\s*(?:x|×|%|times)\s+(?:faster|slower|cheaper|quicker)\b",
            _NUMBER + r"\s*req(?:uests)?/s\b",
            # 5. approximate or ranged milliseconds and seconds
            r"(?:~|≈|\babout |\baround |\broughly )\s*\d[\d.,]*\s*"
            r"(?:ms|msec|milliseconds?|s|sec|seconds?)\b",
            _NUMBER + r"\s*[-–]\s*\d[\d.,]*\s*(?:ms|msec|milliseconds?)\b",
        )
    ),
    re.IGNORECASE,
)


def _prose(path: Path) -> Iterator[tuple[int, str]]:
    """``(first line, text)`` of each comment block and docstring of *path*."""
    source = path.read_text(encoding="utf-8")
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    block: list[str] = []
    block_start = block_end = 0
    statement_start = True
    for index, token in enumerate(tokens):
        if token.type == tokenize.COMMENT:
            line = token.start[0]
            text = token.string.lstrip("#:").strip()
            if token.line[: token.start[1]].strip():
                yield line, text  # after code on its line: a block of its own
                continue
            if block and line != block_end + 1:
                yield block_start, " ".join(block)
                block = []
            if not block:
                block_start = line
            block.append(text)
            block_end = line
            continue
        if block and token.type != tokenize.NL:
            yield block_start, " ".join(block)
            block = []
        if token.type == tokenize.STRING and statement_start:
            following = next(
                (t for t in tokens[index + 1 :] if t.type not in (tokenize.NL, tokenize.COMMENT)),
                None,
            )
            if following is None or following.type in (tokenize.NEWLINE, tokenize.ENDMARKER):
                try:
                    value = ast.literal_eval(token.string)
                except ValueError:  # an f-string standing alone: not a docstring
                    value = None
                if isinstance(value, str):
                    yield token.start[0], value
        if token.type not in (tokenize.NL, tokenize.COMMENT):
            statement_start = token.type in (
                tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING,
            )
    if block:
        yield block_start, " ".join(block)


def _figures(text: str) -> list[str]:
    return [found.group(0) for found in FIGURE.finditer(" ".join(text.split()))]


@pytest.mark.parametrize(
    "text",
    [
        "Nothing escaped (an id, a slug): ~0.5 us less than unquote_to_bytes.",
        "saves ~0.7 µs per request",
        "takes 8 us instead of 27 us",
        "The loop costs about 40 microseconds a request",
        "Request is a NamedTuple (0.48 -> 0.22 us)",
        "hello 197k -> 192k, params 482k -> 462k instructions per request",
        "A value set before needs none of the checks again: ~4.4k\ninstructions per hello",
        "a 40-field form: 1.24M -> 0.71M instructions per request",
        "wrk's voluntary context switches per request 0.87 -> 0.10",
        "8,500 -> 9,900 req/s",
        "the threaded worker was 1.5x faster",
        "A fresh loop per connection (~0.15 ms) leaves nothing behind",
        "full collections of 20-27 ms set the p99",
    ],
)
def test_the_rule_sees_figures(text: str) -> None:
    assert _figures(text), text


@pytest.mark.parametrize(
    "text",
    [
        "How often deadlines are checked: an eighth of the shortest timeout, between 10 ms and 1 s.",
        'One access-log line: ``127.0.0.1 "GET /path HTTP/1.1" 200 13 0.42ms``.',
        "The idle timeout defaults to 5 s; a port not ready in 10 s fails the row.",
        "Deliberately inlined: hot path, see bench/NOTES.md.",
        "Stop reading past 64 KiB; at most 256 names are remembered.",
        "If-Match false -> 412; absent, If-Unmodified-Since false -> 412.",
        "Wait for us to finish; ``HTTP/1.1`` only, RFC 9112 section 3.2.",
    ],
)
def test_the_rule_lets_settings_and_prose_through(text: str) -> None:
    assert not _figures(text), _figures(text)


def test_prose_is_read_from_comments_and_docstrings_only(tmp_path: Path) -> None:
    module = tmp_path / "sample.py"
    module.write_text(
        '"""Module docstring: 1 us."""\n'
        "X = 1  # trailing comment: 2 us\n"
        "# a block that breaks\n"
        "# across lines: 3\n"
        "# us\n"
        "MESSAGE = 'not prose: 4 us'\n"
        "call('an argument, 5 us')\n"
        "def f():\n"
        "    '''Function docstring: 6 us.'''\n"
        "    return 'a return value: 7 us'\n"
        "Y = 2\n"
        "'''Attribute docstring: 8 us.'''\n",
        encoding="utf-8",
    )
    seen = [(line, _figures(text)) for line, text in _prose(module)]
    assert seen == [
        (1, ["1 us"]),
        (2, ["2 us"]),
        (3, ["3 us"]),
        (9, ["6 us"]),
        (12, ["8 us"]),
    ]


def test_no_figures_in_code_comments() -> None:
    found = []
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for line, text in _prose(path):
                for figure in _figures(text):
                    found.append(f"{path.relative_to(ROOT)}:{line}: {figure!r}")
    assert not found, (
        "performance figures belong in bench/NOTES.md with the command that measures them; "
        "in the code, say in one line that the form is deliberate:\n" + "\n".join(found)
    )


def test_notes_are_linked_and_cite_real_commits() -> None:
    assert "NOTES.md" in (ROOT / "bench" / "README.md").read_text(encoding="utf-8")
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("no git repository to look the commits up in")
    text = NOTES.read_text(encoding="utf-8")
    commits = set(re.findall(r"\b(?:[Cc]ommits?|on) ([0-9a-f]{7})\b", text))
    commits |= set(re.findall(r"\band ([0-9a-f]{7})\b", text))
    assert len(commits) > 20
    for commit in sorted(commits):
        result = subprocess.run(
            ["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=ROOT, capture_output=True
        )
        assert result.returncode == 0, f"bench/NOTES.md cites {commit}, which is not a commit"
