"""Logging flags of ``crosswind serve`` through a real subprocess, and the access
line against gunicorn's for the same request."""

from __future__ import annotations

import json
import queue
import re
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from tests.support.cli_process import ROOT, run_cli

pytestmark = [pytest.mark.network, pytest.mark.timeout(90)]

TIMEOUT = 10.0
SERVING = re.compile(r"Serving on http://127\.0\.0\.1:(\d+) ")
SHOP = """\
import logging
{setup}
log = logging.getLogger("shop")


def app(environ, start_response):
    log.info("view ran")
    start_response(
        "200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5"), ("X-Served", "yes")]
    )
    return [b"hello"]
"""


class Process:
    """A child whose stdout and stderr are read line by line; killed by its PID."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        self.proc = subprocess.Popen(
            args, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )
        self.lines: dict[str, list[str]] = {"stdout": [], "stderr": []}
        self._queues: dict[str, queue.Queue[str | None]] = {}
        for name in self.lines:
            self._queues[name] = queue.Queue()
            threading.Thread(target=self._read, args=(name,), daemon=True).start()

    def _read(self, name: str) -> None:
        for line in getattr(self.proc, name):
            self._queues[name].put(line.rstrip("\n"))
        self._queues[name].put(None)

    def wait_for(self, pattern: str, stream: str = "stderr") -> re.Match[str]:
        end = time.monotonic() + TIMEOUT
        while True:
            try:
                line = self._queues[stream].get(timeout=max(0.0, end - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no {pattern!r} on {stream}: {self.lines}") from None
            if line is None:
                raise AssertionError(f"exited without {pattern!r} on {stream}: {self.lines}")
            self.lines[stream].append(line)
            if match := re.search(pattern, line):
                return match

    def stop(self) -> None:
        """Stop the child and collect what is left of its output."""
        if self.proc.stdout.closed:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(TIMEOUT)
        for name, lines in self.lines.items():
            while (line := self._queues[name].get(timeout=TIMEOUT)) is not None:
                lines.append(line)
            getattr(self.proc, name).close()


@pytest.fixture
def processes():
    started: list[Process] = []

    def start(*args: str, cwd: Path = ROOT) -> Process:
        process = Process(list(args), cwd)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


def get(port: int, target: str, *headers: str) -> bytes:
    """One request, read to the close: the bytes the client received."""
    head = "".join(f"{header}\r\n" for header in headers)
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(
            f"GET {target} HTTP/1.1\r\nHost: shop.test\r\n{head}Connection: close\r\n\r\n".encode()
        )
        received = b""
        while data := sock.recv(65536):
            received += data
    return received


def shop(tmp_path: Path, setup: str = "") -> Path:
    (tmp_path / "shop.py").write_text(SHOP.format(setup=setup))
    return tmp_path


def serve(processes, directory: Path, *flags: str) -> Process:
    return processes(
        sys.executable, "-m", "crosswind", "serve", "shop:app", "--port", "0",
        "--app-dir", str(directory), *flags,
    )


# -- --access-log-format and --access-logfile ------------------------------------------


def test_access_log_format_to_stdout(processes, tmp_path: Path) -> None:
    server = serve(
        processes, shop(tmp_path), "--access-logfile", "-",
        "--access-log-format", "%(m)s %(U)s %(q)s %(s)s %({x-served}o)s %({x-id}i)s",
    )
    port = int(server.wait_for(SERVING.pattern).group(1))
    get(port, "/items?page=2", "X-Id: abc-1")
    assert server.wait_for("^GET", "stdout").string == "GET /items page=2 200 yes abc-1"
    server.stop()
    assert not any("GET" in line for line in server.lines["stderr"])


def test_access_logfile_is_appended_to_in_the_default_format(processes, tmp_path: Path) -> None:
    logfile = tmp_path / "access.log"
    logfile.write_text("earlier line\n")
    server = serve(processes, shop(tmp_path), "--access-logfile", str(logfile))
    port = int(server.wait_for(SERVING.pattern).group(1))
    get(port, "/", "User-Agent: probe/1", "Referer: http://from.test/")
    lines = wait_for_lines(logfile, 2)
    server.stop()
    assert lines[0] == "earlier line"
    assert re.fullmatch(
        r'127\.0\.0\.1 - - \[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "GET / HTTP/1\.1" '
        r'200 5 "http://from\.test/" "probe/1" \d+\.\d{6}',
        lines[1],
    ), lines[1]
    assert not any("GET /" in line for line in server.lines["stderr"])


def test_the_default_access_line_goes_to_stderr(processes, tmp_path: Path) -> None:
    server = serve(processes, shop(tmp_path))
    port = int(server.wait_for(SERVING.pattern).group(1))
    get(port, "/x")
    server.wait_for(r'^127\.0\.0\.1 - - \[.*\] "GET /x HTTP/1\.1" 200 5 "-" "-" \d+\.\d{6}$')


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--access-log-format", "%(h)s %(zz)s"], "unknown atom %(zz)s"),
        (["--access-log-format", "%(b)d"], "bad access-log format"),
        (["--access-logfile", "/nonexistent/dir/access.log"], "cannot open --access-logfile"),
        (["--log-config", "/nonexistent.json"], "--log-config: no readable file"),
    ],
)
def test_bad_logging_values_are_one_line_and_status_2(
    tmp_path: Path, flags: list[str], message: str
) -> None:
    result = run_cli("serve", "shop:app", "--app-dir", str(shop(tmp_path)), "--port", "0", *flags)
    assert result.returncode == 2
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


# -- --log-config ---------------------------------------------------------------------

DICT_CONFIG = {
    "version": 1,
    "formatters": {"plain": {"format": "CFG %(name)s %(message)s"}},
    "handlers": {"file": {"class": "logging.FileHandler", "filename": "{log}",
                          "formatter": "plain"}},
    "loggers": {"crosswind": {"handlers": ["file"], "level": "INFO", "propagate": False}},
}
INI_CONFIG = """\
[loggers]
keys=root,crosswind

[handlers]
keys=file

[formatters]
keys=plain

[logger_root]
level=WARNING
handlers=

[logger_crosswind]
level=INFO
handlers=file
propagate=0
qualname=crosswind

[handler_file]
class=FileHandler
formatter=plain
args=({log!r},)

[formatter_plain]
format=CFG %(name)s %(message)s
"""


def write_config(directory: Path, kind: str, log: Path) -> Path:
    if kind == "ini":
        path = directory / "logging.ini"
        path.write_text(INI_CONFIG.format(log=str(log)))
        return path
    config = json.loads(json.dumps(DICT_CONFIG).replace("{log}", str(log)))
    if kind == "json":
        path = directory / "logging.json"
        path.write_text(json.dumps(config))
    else:
        yaml = pytest.importorskip("yaml", reason="PyYAML (crosswind[yaml]) is not installed")
        path = directory / "logging.yaml"
        path.write_text(yaml.safe_dump(config))
    return path


def wait_for_lines(path: Path, count: int) -> list[str]:
    end = time.monotonic() + TIMEOUT
    while time.monotonic() < end:
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= count:
            return lines
        time.sleep(0.02)
    raise AssertionError(f"fewer than {count} lines in {path}: {lines}")


@pytest.mark.parametrize("kind", ["json", "yaml", "ini"])
def test_log_config_routes_the_crosswind_loggers(processes, tmp_path: Path, kind: str) -> None:
    log = tmp_path / "server.log"
    config = write_config(tmp_path, kind, log)
    server = serve(processes, shop(tmp_path), "--log-config", str(config))
    end = time.monotonic() + TIMEOUT
    port = None
    while port is None and time.monotonic() < end:
        found = SERVING.search(log.read_text()) if log.exists() else None
        port = int(found.group(1)) if found else time.sleep(0.02)
    assert port is not None, f"no Serving on line in {log}"
    get(port, "/logged")
    lines = wait_for_lines(log, 3)
    server.stop()
    assert lines[0] == "CFG crosswind.error shop:app is a WSGI application; serving it through WSGIContainer"
    assert lines[1].startswith("CFG crosswind.error Serving on http://127.0.0.1:")
    assert lines[2].startswith('CFG crosswind.access 127.0.0.1 - - [')
    assert '"GET /logged HTTP/1.1" 200 5' in lines[2]
    # The configuration decides: crosswind adds no stderr handler of its own.
    assert not any("Serving on" in line or "GET /" in line for line in server.lines["stderr"])


def test_a_broken_log_config_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "logging.json"
    config.write_text('{"version": 1, "handlers": {"h": {"class": "no.such.Handler"}}}')
    result = run_cli(
        "serve", "shop:app", "--app-dir", str(shop(tmp_path)), "--log-config", str(config)
    )
    assert result.returncode == 2
    assert f"crosswind: error: bad log configuration {str(config)!r}" in result.stderr


# -- the root logger belongs to the application ---------------------------------------------


def test_an_app_that_configures_logging_keeps_its_root_logger(processes, tmp_path: Path) -> None:
    setup = 'logging.basicConfig(format="APP %(name)s: %(message)s", level=logging.INFO)'
    server = serve(processes, shop(tmp_path, setup))
    port = int(server.wait_for(SERVING.pattern).group(1))
    get(port, "/twice?")
    server.wait_for("^APP shop: view ran$")
    server.wait_for(r'"GET /twice\? HTTP/1\.1" 200')
    server.stop()
    stderr = server.lines["stderr"]
    # Each server line once, in crosswind's format, never again through the
    # application's root handler.
    assert sum("Serving on" in line for line in stderr) == 1
    assert sum("GET /twice?" in line for line in stderr) == 1
    assert not any(line.startswith("APP crosswind") for line in stderr)


def test_an_app_without_logging_has_its_info_lines_shown(processes, tmp_path: Path) -> None:
    server = serve(processes, shop(tmp_path))
    port = int(server.wait_for(SERVING.pattern).group(1))
    get(port, "/")
    server.wait_for("^view ran$")


# -- start-up line of App.run() and Application.listen() ---------------------------------

RUNNERS = {
    "App.run": """
        from crosswind.app import App
        app = App(__name__)
        app.run(port=0)
    """,
    "Application.listen": """
        from crosswind.web import Application
        Application([]).listen(0)
    """,
}


@pytest.mark.parametrize("runner", sorted(RUNNERS))
def test_run_and_listen_print_the_serving_line(processes, tmp_path: Path, runner: str) -> None:
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(RUNNERS[runner]))
    server = processes(sys.executable, str(script), cwd=tmp_path)
    server.wait_for(r"^Serving on http://127\.0\.0\.1:\d+ \(asyncio\)$")


# -- the same request logged by gunicorn and by crosswind ---------------------------------

# The atoms both servers define the same way; U and b differ on purpose
# (docs/deployment.md, Logging), t, T, D, M, L and p by their nature.
SHARED_FORMAT = (
    '%(h)s %(l)s %(u)s "%(r)s" %(m)s %(U)s %(q)s %(H)s %(s)s %(B)s %(b)s "%(f)s" "%(a)s" '
    "%({x-request-id}i)s %({x-missing}i)s %({x-served}o)s %({content-type}o)s"
)
SHAPES = "%(t)s %(T)s %(D)s %(M)s %(L)s %(p)s"
SHAPE = re.compile(
    r"\[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] \d+ \d+ \d+ \d+\.\d{6} <\d+>"
)
HEADERS = (
    "User-Agent: differential/1.0 (\"quoted\")",
    "Referer: http://from.test/page?a=1",
    "Authorization: Basic YW5uOnNlY3JldA==",
    "X-Request-Id: req-42",
)


def test_the_access_line_matches_gunicorns(processes, tmp_path: Path) -> None:
    directory = shop(tmp_path)
    fmt = f"{SHARED_FORMAT} | {SHAPES}"
    gunicorn = processes(
        sys.executable, "-m", "gunicorn", "--bind", "127.0.0.1:0", "--workers", "1",
        "--access-logfile", "-", "--access-logformat", fmt, "shop:app", cwd=directory,
    )
    gunicorn_port = int(gunicorn.wait_for(r"Listening at: http://127\.0\.0\.1:(\d+)").group(1))
    ours = serve(processes, directory, "--access-logfile", "-", "--access-log-format", fmt)
    our_port = int(ours.wait_for(SERVING.pattern).group(1))
    target = "/items/7?colour=blue&q=%22x"
    lines = []
    for server, port in ((gunicorn, gunicorn_port), (ours, our_port)):
        assert get(port, target, *HEADERS).endswith(b"\r\n\r\nhello")
        lines.append(server.wait_for("^127", "stdout").string)
    (theirs, their_shapes), (mine, my_shapes) = (line.split(" | ") for line in lines)
    assert mine == theirs
    assert SHAPE.fullmatch(their_shapes), their_shapes
    assert SHAPE.fullmatch(my_shapes), my_shapes
    assert ' "GET /items/7?colour=blue&q=%22x HTTP/1.1" GET /items/7 colour=blue&q=%22x ' in mine
    assert mine.endswith(' "differential/1.0 (\\"quoted\\")" req-42 - yes text/plain')
    assert mine.startswith('127.0.0.1 - ann "GET')
