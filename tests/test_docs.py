"""The documentation builds without a single warning, and every Python example in it runs.

``make docs`` runs Sphinx with warnings as errors; this test runs the same build into a
temporary directory, so a broken link, a page missing from the table of contents or a
malformed docstring fails ``make test`` too.

Then every code block of every page (``docs/**/*.md`` and ``docs/**/*.rst``) is checked:

* ``python`` blocks run, in page order, in one namespace per page (a page reads like one
  session), in a fresh interpreter whose working directory is an empty temporary
  directory (an example may write files there and import modules it wrote) and whose
  import path starts with the repository root (for ``examples``).
* An example that serves (``app.listen(...)``, ``app.run(...)``, or any backend's
  ``serve`` reached through :func:`crosswind.serving.backends.load_backend`) really serves: it is
  bound to a free port instead of the one written, the runner makes one real HTTP (or
  HTTPS) request to it, then shuts it down, and the page fails unless it answered.
* Shell blocks (``sh``, ``bash``, ``shell``, ``console``) are not run, and each must
  follow a ``<!-- not-run: reason -->`` comment that says why (usually: it serves until
  interrupted, and which test runs the same command).
* Every other fenced block must name a language (``text``, ``json``, ``nginx``...); it is
  data, not code.  Indented code blocks are refused, since nothing would say what they are.

A Python block that cannot run means the page is wrong: fix the page, never this test.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PYTHON_LANGUAGES = {"python", "py", "python3"}
SHELL_LANGUAGES = {"sh", "bash", "shell", "console"}
NOT_RUN = re.compile(r"<!--\s*not-run:\s*(?P<reason>\S.*?)\s*-->", re.S)
RST_CODE = re.compile(r"^(?P<indent>[ \t]*)\.\. (?:code-block|code|sourcecode)::[ \t]*(?P<lang>\S*)")


@dataclass
class Block:
    page: str
    line: int  # of the first line of code, 1-based
    language: str
    source: str
    not_run: str | None = None


def _pages() -> list[Path]:
    return sorted(
        path for path in DOCS.rglob("*")
        if path.suffix in (".md", ".rst") and "_build" not in path.relative_to(DOCS).parts
    )


def _markdown_blocks(path: Path) -> list[Block]:
    page = str(path.relative_to(ROOT))
    blocks = []
    tokens = MarkdownIt("commonmark").parse(path.read_text(encoding="utf-8"))
    for index, token in enumerate(tokens):
        if token.type == "code_block":
            raise AssertionError(
                f"{page}:{token.map[0] + 1}: indented code block; fence it and name its language"
            )
        if token.type != "fence":
            continue
        words: list[str] | None = token.info.split()
        if words and words[0].startswith("{"):
            # MyST directives: only code-block and code hold code; the rest are structure.
            words = words[1:] if words[0].strip("{}") in ("code-block", "code") else None
        if words is None:
            continue
        previous = tokens[index - 1] if index else None
        marker = None
        if previous is not None and previous.type == "html_block":
            marker = NOT_RUN.search(previous.content)
        blocks.append(Block(page, token.map[0] + 2, words[0].lower() if words else "",
                            token.content, marker.group("reason") if marker else None))
    return blocks


def _rst_blocks(path: Path) -> list[Block]:
    page = str(path.relative_to(ROOT))
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks = []
    for index, line in enumerate(lines):
        match = RST_CODE.match(line)
        if not match:
            continue
        indent = len(match.group("indent"))
        body: list[str] = []
        start = None
        for number in range(index + 1, len(lines)):
            text = lines[number]
            if text.strip() and len(text) - len(text.lstrip()) <= indent:
                break
            if start is None and text.strip() and not text.strip().startswith(":"):
                start = number
            if start is not None:
                body.append(text)
        if start is None:
            continue
        blocks.append(Block(page, start + 1, (match.group("lang") or "").lower(),
                            textwrap.dedent("\n".join(body)) + "\n"))
    return blocks


def _all_blocks() -> list[Block]:
    blocks = []
    for path in _pages():
        blocks += _markdown_blocks(path) if path.suffix == ".md" else _rst_blocks(path)
    return blocks


BLOCKS = _all_blocks()
PAGES_WITH_PYTHON = sorted({block.page for block in BLOCKS if block.language in PYTHON_LANGUAGES})


def test_sphinx_build_has_no_warnings(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         "-d", str(tmp_path / "doctrees"), str(DOCS), str(tmp_path / "html")],
        capture_output=True, text=True, timeout=180, cwd=ROOT,
    )
    assert result.returncode == 0, f"sphinx-build failed:\n{result.stderr}{result.stdout}"
    index = (tmp_path / "html" / "index.html").read_text(encoding="utf-8")
    for page in ("quickstart", "architecture", "backends", "embedding", "porting-from-tornado",
                 "porting-from-flask", "security", "property-testing", "deployment",
                 "protocol", "rpc", "api/index"):
        assert f'href="{page}.html' in index, f"{page} is not in the table of contents"
    api = (tmp_path / "html" / "api" / "protocol.html").read_text(encoding="utf-8")
    assert 'id="crosswind.protocol.http1.connection.ServerConnection.receive_data"' in api


def test_every_block_is_classified() -> None:
    assert BLOCKS, "no code block found under docs/"
    problems = []
    for block in BLOCKS:
        where = f"{block.page}:{block.line}"
        if block.language in SHELL_LANGUAGES and not block.not_run:
            problems.append(f"{where}: shell block without <!-- not-run: reason --> before it")
        if block.language in PYTHON_LANGUAGES and block.not_run:
            problems.append(f"{where}: a Python block cannot be marked not-run; make it run")
        if block.language == "":
            problems.append(f"{where}: code block without a language")
    assert not problems, "\n".join(problems)


# The runner executes one page's Python blocks in the interpreter's __main__ namespace.
RUNNER = r'''
import json, socket, ssl, sys, threading

def _install_serve_probe(report):
    import crosswind.serving.backends

    real_load_backend = crosswind.serving.backends.load_backend

    def probe(handle, tls, backend):
        outcome = {"backend": backend}
        try:
            raw = socket.create_connection(("127.0.0.1", handle.port), timeout=10)
            if tls:
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
                raw = context.wrap_socket(raw)
            with raw:
                raw.sendall(b"GET / HTTP/1.1\r\nHost: docs.test\r\nConnection: close\r\n\r\n")
                data = b""
                while chunk := raw.recv(65536):
                    data += chunk
            outcome["status_line"] = data.split(b"\r\n", 1)[0].decode("latin-1")
        except Exception as exc:
            outcome["error"] = repr(exc)
        finally:
            report.append(outcome)
            handle.shutdown()

    def load_backend(name):
        serve = real_load_backend(name)

        def serve_on_a_free_port(app, host="127.0.0.1", port=8888, **options):
            user_started = options.pop("started", None)
            tls = options.get("ssl_context") is not None

            def started(handle):
                if user_started is not None:
                    user_started(handle)
                threading.Thread(target=probe, args=(handle, tls, name), daemon=True).start()

            return serve(app, host, 0, started=started, **options)

        return serve_on_a_free_port

    crosswind.serving.backends.load_backend = load_backend


def _main():
    blocks = json.load(open(sys.argv[1], encoding="utf-8"))
    report = []
    _install_serve_probe(report)
    try:
        from hypothesis import settings
    except ImportError:
        pass
    else:  # the suite's bounded budget, as tests/conftest.py sets for the tests
        settings.register_profile("docs", max_examples=10, deadline=None)
        settings.load_profile("docs")
    namespace = vars(sys.modules["__main__"])
    for block in blocks:
        padded = "\n" * (block["line"] - 1) + block["source"]
        exec(compile(padded, block["page"], "exec"), namespace)
        report.append({"block_done": block["line"]})
    with open(sys.argv[2], "w", encoding="utf-8") as out:
        json.dump(report, out)


_main()
'''


@pytest.mark.parametrize("page", PAGES_WITH_PYTHON)
def test_python_examples_run(page: str, tmp_path: Path) -> None:
    blocks = [
        {"page": block.page, "line": block.line, "source": block.source}
        for block in BLOCKS
        if block.page == page and block.language in PYTHON_LANGUAGES
    ]
    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / "blocks.json").write_text(json.dumps(blocks), encoding="utf-8")
    (tmp_path / "runner.py").write_text(RUNNER, encoding="utf-8")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(work), env.get("PYTHONPATH", "")])
    result = subprocess.run(
        [sys.executable, str(tmp_path / "runner.py"), str(tmp_path / "blocks.json"),
         str(tmp_path / "report.json")],
        capture_output=True, text=True, timeout=120, cwd=work, env=env,
    )
    assert result.returncode == 0, f"an example of {page} failed:\n{result.stderr[-6000:]}"
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert [entry["block_done"] for entry in report if "block_done" in entry] == [
        block["line"] for block in blocks
    ]
    for served in (entry for entry in report if "backend" in entry):
        assert "error" not in served, f"a server of {page} did not answer: {served}"
        assert re.fullmatch(r"HTTP/1\.[01] [1-5]\d\d .*", served["status_line"]), served
