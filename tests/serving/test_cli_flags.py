"""``crosswind serve`` with uvicorn's and gunicorn's flags, each through a real subprocess.

Loading (``--factory``, ``--app-dir``, ``--env-file``), reloading, capacity
(``--limit-concurrency``, ``--limit-max-requests``, ``--backlog``), TLS,
``--no-date-header``, ``--version`` and the aliases of the limit flags.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from crosswind import __version__
from crosswind.serving import cli

from tests.support.cli_process import ROOT, CLIProcess, run_cli

pytestmark = [pytest.mark.network, pytest.mark.timeout(90)]

TIMEOUT = 10.0
SERVING = re.compile(r"^Serving on (https?)://127\.0\.0\.1:(\d+) \((\w+)\)$")

#: A crosswind application in a module of its own: a factory, a version that
#: the reload tests change, and routes that say which process answered.
APP_MODULE = """
import asyncio
import os

VERSION = "one"
TEXT = [(b"Content-Type", b"text/plain")]


class App:
    def __init__(self, name="plain"):
        self.name = name

    async def handle(self, exchange):
        if exchange.path == "/hold":
            # Tells the test it is inside, then waits for the test's word.
            open(os.environ["HOLD_DIR"] + "/inside", "w").close()
            for _ in range(400):
                if os.path.exists(os.environ["HOLD_DIR"] + "/release"):
                    break
                await asyncio.sleep(0.025)
        if exchange.path == "/env":
            body = f"{os.environ.get('GREETING')}|{os.environ.get('KEPT')}"
        elif exchange.path == "/pid":
            body = str(os.getpid())
        else:
            body = f"{self.name} {VERSION}"
        await exchange.respond(200, TEXT, body.encode())


app = App()


def create_app(name="factory"):
    return App(name)
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A directory holding ``flagapp.py``."""
    (tmp_path / "flagapp.py").write_text(APP_MODULE)
    return tmp_path


@pytest.fixture
def cli_servers() -> Iterator[Callable[..., CLIProcess]]:
    started: list[CLIProcess] = []

    def start(*args: str, cwd: Path = ROOT) -> CLIProcess:
        process = CLIProcess(*args, cwd=cwd)
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill()


def port_of(process: CLIProcess) -> int:
    return int(process.wait_for(SERVING).group(2))


def get(port: int, path: str = "/", **kwargs: object) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=TIMEOUT, **kwargs)  # type: ignore[arg-type]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(condition: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError("timed out")
        time.sleep(0.02)


# -- --version -------------------------------------------------------------------------


def test_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.startswith(f"crosswind {__version__} (")


# -- loading ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "flags", "body"),
    [
        ("flagapp:app", (), "plain one"),
        ("flagapp:create_app", ("--factory",), "factory one"),
        ("flagapp:create_app()", (), "factory one"),
        ("flagapp:create_app('given')", (), "given one"),
        ("flagapp:create_app(name='named')", (), "named one"),
    ],
)
def test_factory_and_call_syntax(
    cli_servers, project: Path, target: str, flags: tuple[str, ...], body: str
) -> None:
    # --app-dir from the project root: the module is found there, not in the cwd.
    server = cli_servers("serve", target, "--port", "0", "--app-dir", str(project), *flags)
    assert get(port_of(server)).text == body
    assert server.stop() == 0


@pytest.mark.parametrize(
    ("target", "flags", "message"),
    [
        ("flagapp:create_app(os.sep)", (), "must be Python literals"),
        ("flagapp:create_app(", (), "cannot read the call"),
        ("flagapp:create_app()", ("--factory",), "already a call"),
        ("flagapp:VERSION", ("--factory",), "is not callable"),
        ("flagapp:create_app(1, 2, 3)", (), "the application factory"),
        # Without --factory, the factory itself is taken for a WSGI callable
        # only if it takes two arguments; this one does not.
        ("flagapp:create_app", (), "not a crosswind application"),
    ],
)
def test_bad_factories_are_refused(
    project: Path, target: str, flags: tuple[str, ...], message: str
) -> None:
    result = run_cli("serve", target, *flags, cwd=project)
    assert result.returncode == 2
    assert message in result.stderr.splitlines()[-1]


def test_env_file_sets_variables_but_not_over_the_environment(
    cli_servers, project: Path, monkeypatch
) -> None:
    (project / "settings.env").write_text(
        '# the deployment\nGREETING="hello there"\nexport KEPT=from-file\n'
    )
    monkeypatch.setenv("KEPT", "from-environment")
    monkeypatch.delenv("GREETING", raising=False)
    server = cli_servers(
        "serve", "flagapp:app", "--port", "0", "--env-file", "settings.env", cwd=project
    )
    assert get(port_of(server), "/env").text == "hello there|from-environment"
    assert server.stop() == 0


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (("--app-dir", "no/such/dir"), "argument --app-dir: no such directory: 'no/such/dir'"),
        (("--env-file", "missing.env"), "argument --env-file: no readable file at 'missing.env'"),
        (("--reload-dir", "nowhere"), "argument --reload-dir: no such directory: 'nowhere'"),
    ],
)
def test_missing_paths_are_refused(project: Path, flags: tuple[str, ...], message: str) -> None:
    result = run_cli("serve", "flagapp:app", *flags, cwd=project)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == f"crosswind serve: error: {message}"


# -- reloading -------------------------------------------------------------------------


def _hide_watchfiles(directory: Path) -> str:
    """A PYTHONPATH entry under which ``import watchfiles`` fails."""
    blocker = directory / "watchfiles"
    blocker.mkdir()
    (blocker / "__init__.py").write_text("raise ImportError('hidden by the test')\n")
    return str(directory)


@pytest.mark.parametrize("watcher", ["watchfiles", "polling"])
def test_reload_restarts_the_server_on_a_change(
    cli_servers, project: Path, tmp_path_factory, monkeypatch, watcher: str
) -> None:
    if watcher == "watchfiles":
        pytest.importorskip("watchfiles", reason="watchfiles (crosswind[reload]) is not installed")
    else:
        monkeypatch.setenv("PYTHONPATH", _hide_watchfiles(tmp_path_factory.mktemp("hide")))
    (project / "notes.txt").write_text("one")
    (project / "skip_me.py").write_text("")
    (project / "data.cfg").write_text("")
    port = free_port()
    server = cli_servers(
        "serve", "flagapp:app", "--port", str(port), "--reload",
        "--reload-include", "*.cfg", "--reload-exclude", "skip_*.py", cwd=project,
    )
    server.wait_for(re.compile(rf"^Watching for changes in {re.escape(str(project.resolve()))} \({watcher}\)$"))
    server.wait_for(SERVING)
    first_pid = get(port, "/pid").text
    assert get(port).text == "plain one"

    # Neither a file outside the patterns nor an excluded one restarts; an
    # included one does, and the line names it alone.
    (project / "notes.txt").write_text("two")
    (project / "skip_me.py").write_text("x = 1\n")
    time.sleep(0.6)
    (project / "data.cfg").write_text("changed")
    line = server.wait_for(re.compile(r"^Reloading: .* changed$"))
    assert line.group(0) == "Reloading: data.cfg changed"
    server.wait_for(SERVING)

    (project / "flagapp.py").write_text(APP_MODULE.replace('"one"', '"two"'))
    server.wait_for(re.compile(r"^Reloading: flagapp\.py changed$"))
    server.wait_for(SERVING)
    assert get(port).text == "plain two"
    last_pid = get(port, "/pid").text
    assert last_pid != first_pid

    assert server.stop() == 0
    assert not any("notes.txt" in line or "skip_me" in line for line in server.lines)
    with pytest.raises(ProcessLookupError):
        os.kill(int(last_pid), 0)  # the watcher stopped its server


def test_reload_waits_out_a_broken_module(cli_servers, project: Path) -> None:
    port = free_port()
    server = cli_servers("serve", "flagapp:app", "--port", str(port), "--reload", cwd=project)
    server.wait_for(SERVING)
    (project / "flagapp.py").write_text("this is not python\n")
    server.wait_for(re.compile(r".*the server exited with status 2; waiting for a change"))
    (project / "flagapp.py").write_text(APP_MODULE.replace('"one"', '"fixed"'))
    server.wait_for(SERVING)
    assert get(port).text == "plain fixed"
    assert server.stop() == 0


def test_reload_and_workers_exclude_each_other(project: Path) -> None:
    result = run_cli("serve", "flagapp:app", "--reload", "--workers", "2", cwd=project)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        "crosswind: error: --reload and --workers cannot be used together"
    )


# -- capacity --------------------------------------------------------------------------


def test_limit_concurrency_answers_503_above_it(
    cli_servers, project: Path, monkeypatch
) -> None:
    monkeypatch.setenv("HOLD_DIR", str(project))
    server = cli_servers(
        "serve", "flagapp:app", "--port", "0", "--limit-concurrency", "1", cwd=project
    )
    port = port_of(server)
    held: list[httpx.Response] = []
    holder = threading.Thread(target=lambda: held.append(get(port, "/hold")), daemon=True)
    holder.start()
    wait_until((project / "inside").exists)
    refused = get(port)
    assert refused.status_code == 503
    assert refused.text == "Service Unavailable"
    assert refused.headers["connection"] == "close"
    (project / "release").touch()
    holder.join(TIMEOUT)
    assert [response.status_code for response in held] == [200]
    assert get(port).status_code == 200  # the place is free again
    assert server.stop() == 0


def test_limit_max_requests_stops_the_server_after_that_many(cli_servers, project: Path) -> None:
    server = cli_servers(
        "serve", "flagapp:app", "--port", "0", "--limit-max-requests", "3", cwd=project
    )
    port = port_of(server)
    with httpx.Client(timeout=TIMEOUT) as client:
        # Over one keep-alive connection: the third response still arrives whole.
        assert [client.get(f"http://127.0.0.1:{port}/").status_code for _ in range(3)] == [200] * 3
    server.wait_for(re.compile(r"^Handled 3 requests \(--limit-max-requests\); shutting down$"))
    assert server.finish() == 0


def test_workers_are_recycled_after_their_jittered_budget(cli_servers, project: Path) -> None:
    server = cli_servers(
        "serve", "flagapp:app", "--port", "0", "--workers", "2",
        "--max-requests", "2", "--max-requests-jitter", "2", cwd=project,
    )
    budget = re.compile(r"^worker (\d+) will be replaced after (\d+) requests$")
    budgets = [int(server.wait_for(budget).group(2)) for _ in range(2)]
    assert all(2 <= value <= 4 for value in budgets)
    port = int(next(m for line in server.lines if (m := SERVING.match(line))).group(2))
    pids: set[str] = set()
    end = time.monotonic() + 30
    # Enough requests for both first workers to spend their budgets: each
    # retired worker is replaced, so more than two processes answer.
    while len(pids) < 3 and time.monotonic() < end:
        try:
            pids.add(get(port, "/pid", headers={"Connection": "close"}).text)
        except httpx.TransportError:
            time.sleep(0.05)  # a worker closed its socket as it left
    assert len(pids) >= 3
    server.wait_for(re.compile(r"^worker \d+ finished; starting a new one$"))
    assert server.stop() == 0


def _listen_backlog(port: int) -> int:
    output = subprocess.run(
        ["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True, timeout=TIMEOUT,
        check=True,
    ).stdout
    # LISTEN Recv-Q Send-Q ...: for a listening socket, Send-Q is the backlog.
    return int(output.split()[2])


@pytest.mark.skipif(shutil.which("ss") is None, reason="ss (iproute2) is not installed")
@pytest.mark.parametrize("workers", ["1", "2"])
def test_backlog_is_the_listen_queue(cli_servers, project: Path, workers: str) -> None:
    port = free_port()
    server = cli_servers(
        "serve", "flagapp:app", "--port", str(port), "--backlog", "17", "--workers", workers,
        cwd=project,
    )
    server.wait_for(SERVING)
    assert get(port).status_code == 200
    assert _listen_backlog(port) == 17
    assert server.stop() == 0


# -- headers ---------------------------------------------------------------------------


def test_no_date_header(cli_servers, project: Path) -> None:
    plain = cli_servers("serve", "flagapp:app", "--port", "0", cwd=project)
    assert "date" in get(port_of(plain)).headers
    assert plain.stop() == 0
    bare = cli_servers("serve", "flagapp:app", "--port", "0", "--no-date-header", cwd=project)
    response = get(port_of(bare))
    assert response.status_code == 200
    assert "date" not in response.headers
    assert response.headers["server"] == "crosswind"
    assert bare.stop() == 0


# -- limits under uvicorn's and gunicorn's names ---------------------------------------


def test_timeout_keep_alive_closes_an_idle_connection(cli_servers, project: Path) -> None:
    server = cli_servers(
        "serve", "flagapp:app", "--port", "0", "--timeout-keep-alive", "0.3", cwd=project
    )
    port = port_of(server)
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as conn:
        conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        received = b""
        while not received.endswith(b"plain one"):
            received += conn.recv(4096)
        started = time.monotonic()
        conn.settimeout(5.0)  # the default idle timeout is 60 s
        assert conn.recv(100) == b""
        assert time.monotonic() - started < 3.0
    assert server.stop() == 0


def test_gunicorn_request_limits(cli_servers, project: Path) -> None:
    server = cli_servers(
        "serve", "flagapp:app", "--port", "0", "--limit-request-fields", "8",
        "--limit-request-line", "40", cwd=project,
    )
    port = port_of(server)
    assert get(port).status_code == 200
    many = {f"X-{n}": "1" for n in range(5)}  # and httpx's own five
    assert get(port, headers=many).status_code == 431
    assert get(port, "/" + "x" * 50).status_code == 414
    assert server.stop() == 0


# -- TLS -------------------------------------------------------------------------------


@pytest.fixture
def authority(tmp_path: Path):
    trustme = pytest.importorskip("trustme")
    from cryptography.hazmat.primitives import serialization

    ca = trustme.CA()
    server_cert = ca.issue_cert("127.0.0.1")
    server_cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    key = serialization.load_pem_private_key(server_cert.private_key_pem.bytes(), None)
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"s3cret"),
        )
    )
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    return ca, tmp_path


def test_tls_with_encrypted_key_and_required_client_certificates(cli_servers, authority) -> None:
    ca, files = authority
    server = cli_servers(
        "serve", "tests.support.apps:app", "--port", "0",
        "--ssl-certfile", str(files / "cert.pem"), "--ssl-keyfile", str(files / "key.pem"),
        "--ssl-keyfile-password", "s3cret", "--ssl-ca-certs", str(files / "ca.pem"),
        "--ssl-cert-reqs", "2",
    )
    match = server.wait_for(SERVING)
    assert match.group(1) == "https"
    url = f"https://127.0.0.1:{match.group(2)}/"

    with_cert = ssl.create_default_context()
    ca.configure_trust(with_cert)
    ca.issue_cert("client@example").configure_cert(with_cert)
    assert httpx.get(url, verify=with_cert, timeout=TIMEOUT).text == "hello world"

    without_cert = ssl.create_default_context()
    ca.configure_trust(without_cert)
    with pytest.raises(httpx.TransportError):
        httpx.get(url, verify=without_cert, timeout=TIMEOUT)
    assert server.stop() == 0


def test_tls_with_a_wrong_password_is_refused(authority) -> None:
    _ca, files = authority
    result = run_cli(
        "serve", "tests.support.apps:app", "--port", "0",
        "--ssl-certfile", str(files / "cert.pem"), "--ssl-keyfile", str(files / "key.pem"),
        "--ssl-keyfile-password", "wrong",
    )
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].startswith(
        f"crosswind: error: cannot load TLS certificate {str(files / 'cert.pem')!r}"
    )


# -- bad values ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (("--backlog", "0"), "crosswind serve: error: argument --backlog: must be at least 1, not 0"),
        (("--limit-concurrency", "many"),
         "crosswind serve: error: argument --limit-concurrency: invalid int value: 'many'"),
        (("--limit-max-requests", "-5"),
         "crosswind serve: error: argument --limit-max-requests/--max-requests: "
         "must be at least 1, not -5"),
        (("--max-requests-jitter", "-1", "--max-requests", "5"),
         "crosswind serve: error: argument --max-requests-jitter: cannot be negative, not -1"),
        (("--max-requests-jitter", "3"),
         "crosswind: error: --max-requests-jitter needs --limit-max-requests"),
        (("--timeout-graceful-shutdown", "-1"),
         "crosswind serve: error: argument --shutdown-timeout/--timeout-graceful-shutdown/"
         "--graceful-timeout: cannot be negative, not -1.0"),
        (("--ssl-cert-reqs", "3"),
         "crosswind serve: error: argument --ssl-cert-reqs: invalid choice: 3 (choose from 0, 1, 2)"),
        (("--ssl-keyfile", "key.pem"), "crosswind: error: --ssl-keyfile needs --ssl-certfile"),
        (("--ssl-ca-certs", "ca.pem"), "crosswind: error: --ssl-ca-certs needs --ssl-certfile"),
        (("--timeout-keep-alive", "0"),
         "crosswind: error: bad limit (--timeout-keep-alive): "
         "limit idle_timeout must be a positive number, not 0.0"),
        (("--ws-max-size", "-1"),
         "crosswind: error: bad limit (--ws-max-size): "
         "limit ws_max_message_size must be a positive number, not -1"),
    ],
)
def test_bad_values_are_refused_naming_the_flag(
    monkeypatch, capsys, flags: tuple[str, ...], message: str
) -> None:
    # In this process, to keep the suite quick: the subprocess would only add
    # an interpreter around the same main() (the tests above run it so).
    monkeypatch.setattr(cli, "configure_logging", lambda level: None)
    monkeypatch.setattr(cli, "load_backend", lambda name: pytest.fail("got as far as serving"))
    try:
        code = cli.main(["serve", "tests.support.apps:app", *flags])
    except SystemExit as stopped:  # argparse's own refusals
        code = stopped.code
    assert code == 2
    assert capsys.readouterr().err.splitlines()[-1] == message


def test_help_lists_the_uvicorn_names() -> None:
    help_text = run_cli("serve", "--help").stdout
    for flag in (
        "--factory", "--app-dir", "--env-file", "--reload", "--reload-dir", "--reload-include",
        "--reload-exclude", "--timeout-keep-alive", "--timeout-graceful-shutdown",
        "--limit-concurrency", "--limit-max-requests", "--max-requests-jitter", "--backlog",
        "--ssl-certfile", "--ssl-keyfile", "--ssl-keyfile-password", "--ssl-ca-certs",
        "--ssl-cert-reqs", "--certfile", "--keyfile", "--no-date-header",
    ):
        assert flag in help_text
