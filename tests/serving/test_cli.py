"""``python -m crosswind serve``: starting, logging, errors, workers and signals."""

from __future__ import annotations

import inspect
import logging
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from crosswind.serving import cli
from crosswind.serving.backends import Serve

from tests.support.cli_process import CLIProcess
from tests.support.servers import self_signed_certificate

pytestmark = [pytest.mark.network, pytest.mark.timeout(90)]

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 10.0
SERVING = re.compile(r"^Serving on (https?)://127\.0\.0\.1:(\d+) \((\w+)\)$")
ACCESS = re.compile(
    r'^127\.0\.0\.1 - - \[[^]]+\] "GET /\?q=1 HTTP/1\.1" 200 11 "-" "python-httpx/[^"]+" \d+\.\d{6}$'
)


class Server(CLIProcess):
    """``python -m crosswind ARGS`` from the project root."""

    def port(self) -> int:
        return int(self.wait_for(SERVING).group(2))


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crosswind", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def cli_servers():
    started: list[Server] = []

    def start(*args: str, cwd: Path = ROOT) -> Server:
        server = Server(*args, cwd=cwd)
        started.append(server)
        return server

    yield start
    for server in started:
        server.kill()


# -- serving -------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["asyncio", "trio", "threads"])
def test_serves_logs_each_request_and_exits_cleanly_on_sigterm(cli_servers, backend: str) -> None:
    server = cli_servers("serve", "tests.support.apps:app", "--port", "0", "--backend", backend)
    match = server.wait_for(SERVING)
    assert match.group(1, 3) == ("http", backend)
    port = int(match.group(2))
    response = httpx.get(f"http://127.0.0.1:{port}/?q=1", timeout=TIMEOUT)
    assert response.text == "hello world"
    server.wait_for(ACCESS)
    assert server.stop(signal.SIGTERM) == 0
    assert not any("Traceback" in line for line in server.lines)


def test_sigint_also_exits_cleanly(cli_servers) -> None:
    server = cli_servers("serve", "tests.support.apps:app", "--port", "0")
    port = server.port()
    assert httpx.get(f"http://127.0.0.1:{port}/", timeout=TIMEOUT).status_code == 200
    assert server.stop(signal.SIGINT) == 0


def test_no_access_log(cli_servers) -> None:
    server = cli_servers("serve", "tests.support.apps:app", "--port", "0", "--no-access-log")
    port = server.port()
    assert httpx.get(f"http://127.0.0.1:{port}/?q=1", timeout=TIMEOUT).status_code == 200
    assert server.stop() == 0
    assert server.lines[0].startswith("Serving on ")
    assert not any('"GET' in line for line in server.lines)


TORNADO_STYLE_APP = """
from crosswind.web import Application, RequestHandler

class Hello(RequestHandler):
    def get(self):
        self.write("hello")

app = Application([(r"/", Hello)])
"""


@pytest.mark.parametrize(("flags", "lines_per_request"), [((), 1), (("--no-access-log",), 0)])
def test_a_tornado_style_app_logs_each_request_once_or_not_at_all(
    cli_servers, tmp_path, flags: tuple[str, ...], lines_per_request: int
) -> None:
    # Such an application writes its own access line (crosswind.web.access) besides
    # the server's (crosswind.access); the command line keeps at most one of them.
    (tmp_path / "tornado_style.py").write_text(TORNADO_STYLE_APP)
    server = cli_servers("serve", "tornado_style:app", "--port", "0", *flags, cwd=tmp_path)
    port = server.port()
    for _ in range(3):
        assert httpx.get(f"http://127.0.0.1:{port}/?q=1", timeout=TIMEOUT).text == "hello"
    assert server.stop() == 0
    logged = [line for line in server.lines if "GET /?q=1" in line]
    assert len(logged) == 3 * lines_per_request, server.lines


def test_https_with_certificate_files(cli_servers, tmp_path) -> None:
    pytest.importorskip("cryptography")
    cert, key = self_signed_certificate(tmp_path)
    server = cli_servers(
        "serve", "tests.support.apps:app", "--port", "0", "--certfile", str(cert), "--keyfile", str(key)
    )
    match = server.wait_for(SERVING)
    assert match.group(1) == "https"
    context = ssl.create_default_context(cafile=str(cert))
    response = httpx.get(f"https://127.0.0.1:{match.group(2)}/info", verify=context, timeout=TIMEOUT)
    assert response.json()["scheme"] == "https"
    assert server.stop() == 0


def test_unix_socket(cli_servers, tmp_path) -> None:
    path = str(tmp_path / "cli.sock")
    server = cli_servers("serve", "tests.support.apps:app", "--unix-socket", path, "--backend", "threads")
    server.wait_for(re.compile(rf"^Serving on unix:{re.escape(path)} \(threads\)$"))
    with httpx.Client(transport=httpx.HTTPTransport(uds=path), timeout=TIMEOUT) as client:
        assert client.get("http://localhost/").text == "hello world"
    assert server.stop() == 0


# -- workers -------------------------------------------------------------------


def collect_pids(port: int, wanted: int, tries: int = 200) -> set[int]:
    """Ask ``/pid`` on fresh connections until *wanted* distinct answers (or give up)."""
    pids: set[int] = set()
    for _ in range(tries):
        # A new client each time: a new connection, which the kernel may
        # hand to any of the listening workers.
        with httpx.Client(timeout=TIMEOUT) as client:
            pids.add(int(client.get(f"http://127.0.0.1:{port}/pid").text))
        if len(pids) >= wanted:
            break
    return pids


def test_workers_share_one_port_and_are_restarted(cli_servers) -> None:
    server = cli_servers("serve", "tests.support.apps:app", "--port", "0", "--workers", "2")
    port = server.port()
    assert int(server.wait_for(SERVING).group(2)) == port  # the second worker, same port
    workers = collect_pids(port, 2)
    assert len(workers) == 2
    assert server.proc.pid not in workers

    victim = min(workers)
    os.kill(victim, signal.SIGKILL)
    server.wait_for(re.compile(rf"^WARNING: worker {victim} exited with SIGKILL; restarting"))
    server.wait_for(SERVING)
    survivors = workers - {victim}
    current = collect_pids(port, 2)
    assert len(current) == 2
    assert victim not in current and survivors < current

    assert server.stop(signal.SIGTERM) == 0
    for pid in current:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


# -- errors --------------------------------------------------------------------


def test_module_that_cannot_be_imported() -> None:
    result = run_cli("serve", "tests.no_such_module:app")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "crosswind: error: cannot import module 'tests.no_such_module': "
        "no module named 'tests.no_such_module'"
    ]


def test_missing_attribute_and_non_application() -> None:
    missing = run_cli("serve", "tests.support.apps:nothing.here")
    assert missing.returncode == 2
    assert "module 'tests.support.apps' has no attribute 'nothing.here'" in missing.stderr
    wrong = run_cli("serve", "tests.support.apps:not_an_app")
    assert wrong.returncode == 2
    assert "tests.support.apps:not_an_app is not a crosswind application" in wrong.stderr
    assert "Traceback" not in missing.stderr + wrong.stderr


def test_unknown_backend_lists_the_available_ones() -> None:
    result = run_cli("serve", "tests.support.apps:app", "--backend", "gevent")
    assert result.returncode == 2
    assert "unknown backend 'gevent'; available: asyncio, threads, trio" in result.stderr


@pytest.mark.parametrize("workers", ["1", "2"])
def test_port_in_use(workers: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("serve", "tests.support.apps:app", "--port", str(port), "--workers", workers)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"crosswind: error: cannot listen on 127.0.0.1:{port}: Address already in use"
    ]


def test_unreadable_certificate(tmp_path) -> None:
    result = run_cli("serve", "tests.support.apps:app", "--certfile", str(tmp_path / "missing.pem"))
    assert result.returncode == 2
    assert "cannot load TLS certificate" in result.stderr
    assert "missing.pem" in result.stderr


# -- limits --------------------------------------------------------------------


def test_every_limit_is_a_flag_and_reaches_the_server(cli_servers) -> None:
    server = cli_servers(
        "serve", "tests.support.apps:app", "--port", "0",
        "--header-timeout", "0.5", "--max-body-size", "10",
    )
    port = server.port()
    big = httpx.post(f"http://127.0.0.1:{port}/echo", content=b"x" * 11, timeout=TIMEOUT)
    assert big.status_code == 413
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as slow:
        slow.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        slow.settimeout(5.0)  # the default header timeout is 10 s
        assert slow.recv(100).startswith(b"HTTP/1.1 408 ")
    assert server.stop() == 0
    help_text = run_cli("serve", "--help").stdout
    from dataclasses import fields

    from crosswind.protocol.limits import Limits

    for limit in fields(Limits):
        assert "--" + limit.name.replace("_", "-") in help_text


def test_a_bad_limit_is_refused_before_serving() -> None:
    result = run_cli("serve", "tests.support.apps:app", "--max-connections", "0")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "crosswind: error: bad limit (--max-connections): "
        "limit max_connections must be a positive number, not 0"
    ]
    typo = run_cli("serve", "tests.support.apps:app", "--body-deadline", "soon")
    assert typo.returncode == 2
    assert "--body-deadline: invalid float value: 'soon'" in typo.stderr


@pytest.mark.parametrize(("flags", "server"), [((), ["crosswind"]), (("--no-server-header",), [])])
def test_the_server_header_is_sent_unless_turned_off(
    cli_servers, tmp_path, flags: tuple[str, ...], server: list[str]
) -> None:
    (tmp_path / "tornado_style.py").write_text(TORNADO_STYLE_APP)
    for target, cwd in (("tests.support.apps:app", ROOT), ("tornado_style:app", tmp_path)):
        process = cli_servers("serve", target, "--port", "0", *flags, cwd=cwd)
        response = httpx.get(f"http://127.0.0.1:{process.port()}/", timeout=TIMEOUT)
        assert response.headers.get_list("server") == server
        assert len(response.headers.get_list("date")) == 1
        assert process.stop() == 0


@pytest.mark.parametrize(("flags", "passed"), [((), None), (("--no-server-header",), False)])
def test_server_header_is_passed_only_when_turned_off(
    monkeypatch, flags: tuple[str, ...], passed: bool | None
) -> None:
    # Only when asked, so an installed backend that predates the option still serves.
    calls: list[dict[str, object]] = []
    monkeypatch.setattr(cli, "load_backend", lambda name: lambda *a, **kw: calls.append(kw))
    monkeypatch.setattr(cli, "configure_logging", lambda level: None)
    web_access = logging.getLogger("crosswind.web.access")
    monkeypatch.setattr(web_access, "disabled", web_access.disabled)
    assert cli.main(["serve", "tests.support.apps:app", *flags]) == 0
    [kwargs] = calls
    assert kwargs.get("server_header") is passed
    assert inspect.signature(Serve.__call__).parameters["server_header"].default is True
