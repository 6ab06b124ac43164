"""``crosswind serve --loop``: the asyncio backend on uvloop, through a real subprocess."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.cli_process import CLIProcess, run_cli

pytestmark = [pytest.mark.network, pytest.mark.timeout(60)]

SERVING = re.compile(r"^Serving on http://127\.0\.0\.1:(\d+) \((\w+)\)$")

#: Answers with the module of the running event loop's class, so the test sees
#: which loop served it, not only that something did.
LOOP_APP = """
import asyncio


class App:
    async def handle(self, exchange):
        loop = type(asyncio.get_running_loop())
        await exchange.respond(200, [(b"Content-Type", b"text/plain")], loop.__module__.encode())


app = App()
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "loopapp.py").write_text(LOOP_APP)
    return tmp_path


@pytest.fixture
def servers() -> Iterator[list[CLIProcess]]:
    started: list[CLIProcess] = []
    yield started
    for process in started:
        process.kill()


def _serve(servers: list[CLIProcess], project: Path, *flags: str) -> str:
    """Start the app with *flags*, and return the body of one GET."""
    process = CLIProcess("serve", "loopapp:app", "--port", "0", *flags, cwd=project)
    servers.append(process)
    port = int(process.wait_for(SERVING).group(1))
    response = httpx.get(f"http://127.0.0.1:{port}/", timeout=10)
    assert response.status_code == 200
    assert process.stop() == 0
    return response.text


def test_uvloop_serves_a_request(servers: list[CLIProcess], project: Path) -> None:
    pytest.importorskip("uvloop")
    assert _serve(servers, project, "--loop", "uvloop").startswith("uvloop")


def test_the_default_loop_is_asyncio_s_own(servers: list[CLIProcess], project: Path) -> None:
    assert _serve(servers, project).startswith("asyncio.")
    assert _serve(servers, project, "--loop", "asyncio").startswith("asyncio.")


def test_uvloop_on_another_backend_is_refused(project: Path) -> None:
    result = run_cli("serve", "loopapp:app", "--backend", "trio", "--loop", "uvloop", cwd=project)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        "crosswind: error: --loop uvloop needs --backend asyncio"
    )


def test_uvloop_missing_is_said_plainly(project: Path, tmp_path_factory) -> None:
    hidden = tmp_path_factory.mktemp("hidden")
    (hidden / "uvloop").mkdir()
    (hidden / "uvloop" / "__init__.py").write_text("raise ImportError('hidden by the test')\n")
    result = run_cli(
        "serve", "loopapp:app", "--loop", "uvloop", cwd=project, env={**os.environ, "PYTHONPATH": str(hidden)}
    )
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        "crosswind: error: --loop uvloop needs the uvloop package: "
        "pip install 'crosswind[uvloop]'"
    )


def test_serve_refuses_an_unknown_loop_before_binding() -> None:
    from crosswind.backends.asyncio import serve

    with pytest.raises(ValueError, match="unknown event loop 'tokio'"):
        serve(object(), port=0, loop="tokio")  # type: ignore[arg-type]
