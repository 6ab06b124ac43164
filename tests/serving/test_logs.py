"""The access-log line, its atoms, and where the command line sends records."""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Iterator

import pytest
from crosswind._sync import run_sync
from crosswind.protocol.driver import ConnectionDriver
from crosswind.serving import logs
from crosswind.serving.logs import (
    ACCESS_ATOMS,
    AccessFormatError,
    compile_access_format,
    format_access_line,
    make_access_log,
)
from crosswind.testing.client import MemoryTransport

# 2026-12-07 09:15:02 UTC
NOON_ISH = 1796634902.25


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def serve_one(request: bytes, line, *, status: int = 201, body: bytes = b"created!",
              headers=((b"Content-Type", b"text/plain"), (b"X-Trace", b'a "b"'))) -> list[str]:
    """Serve *request* through the driver; the access lines *line* made of it."""
    now = [100.0]

    class App:
        async def handle(self, exchange) -> None:
            now[0] += 0.00042  # the handler takes 0.42 ms
            await exchange.respond(status, list(headers), body)

    lines: list[str] = []
    driver = ConnectionDriver(
        MemoryTransport([request]), App(), clock=lambda: now[0],
        access_log=lambda exchange, seconds: lines.append(line(exchange, seconds)),
    )
    run_sync(driver.run())
    return lines


REQUEST = (
    b"POST /items?id=7 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
    b"User-Agent: curl/8.5.0\r\nReferer: http://shop.test/cart\r\n\r\n"
)


def test_the_default_line_is_the_combined_format_and_the_request_time(utc) -> None:
    line = compile_access_format(wall_clock=lambda: NOON_ISH)
    assert serve_one(REQUEST, line) == [
        '127.0.0.1 - - [07/Dec/2026:09:15:02 +0000] "POST /items?id=7 HTTP/1.1" 201 8 '
        '"http://shop.test/cart" "curl/8.5.0" 0.000420'
    ]


def test_format_access_line_is_the_default_format() -> None:
    line = serve_one(REQUEST, format_access_line)[0]
    assert line.startswith("127.0.0.1 - - [")
    assert line.endswith('] "POST /items?id=7 HTTP/1.1" 201 8 "http://shop.test/cart" "curl/8.5.0" 0.000420')


@pytest.mark.parametrize(
    ("atom", "expected"),
    [
        ("h", "127.0.0.1"),
        ("l", "-"),
        ("u", "-"),
        ("t", "[07/Dec/2026:09:15:02 +0000]"),
        ("r", "POST /items?id=7 HTTP/1.1"),
        ("m", "POST"),
        ("U", "/items"),
        ("q", "id=7"),
        ("H", "HTTP/1.1"),
        ("s", "201"),
        ("B", "8"),
        ("b", "8"),
        ("f", "http://shop.test/cart"),
        ("a", "curl/8.5.0"),
        ("T", "0"),
        ("M", "0"),
        ("D", "420"),
        ("L", "0.000420"),
        ("p", "<4242>"),
        ("{user-agent}i", "curl/8.5.0"),
        ("{USER-AGENT}i", "curl/8.5.0"),
        ("{x-missing}i", "-"),
        ("{content-type}o", "text/plain"),
        ("{x-trace}o", 'a \\"b\\"'),
        ("{x-missing}o", "-"),
    ],
)
def test_each_atom(utc, atom: str, expected: str) -> None:
    line = compile_access_format(f"%({atom})s", wall_clock=lambda: NOON_ISH, getpid=lambda: 4242)
    assert serve_one(REQUEST, line) == [expected]


def test_every_documented_atom_compiles() -> None:
    for atom in ACCESS_ATOMS:
        compile_access_format(f"%({atom.replace('name', 'x-a')})s")


def test_conversions_and_literal_percent() -> None:
    line = compile_access_format("%(s)d %(B)05d 100%% %(m)s")
    assert serve_one(REQUEST, line) == ["201 00008 100% POST"]


def test_b_is_a_dash_for_an_empty_body_and_str_headers_are_read() -> None:
    line = compile_access_format("%(b)s %(B)s %({location}o)s")
    assert serve_one(REQUEST, line, status=204, body=b"", headers=[("Location", "/x")]) == ["- 0 /x"]


def test_basic_user_and_quotes_a_client_sent_are_escaped() -> None:
    token = base64.b64encode(b"ann:secret").decode()
    request = (
        f'GET /a"b?x="y" HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {token}\r\n'
        'User-Agent: evil" "injected\r\n\r\n'
    ).encode()
    line = compile_access_format('%(u)s "%(r)s" "%(a)s" %(U)s %(q)s')
    assert serve_one(request, line) == [
        'ann "GET /a\\"b?x=\\"y\\" HTTP/1.1" "evil\\" \\"injected" /a\\"b x=\\"y\\"'
    ]


@pytest.mark.parametrize("authorization", ["Bearer abc", "Basic !!!", "Basic " + "gA==" * 2])
def test_no_user_without_readable_basic_credentials(authorization: str) -> None:
    request = f"GET / HTTP/1.1\r\nHost: x\r\nAuthorization: {authorization}\r\n\r\n".encode()
    assert serve_one(request, compile_access_format("%(u)s")) == ["-"]


def test_the_time_is_made_once_a_second() -> None:
    calls = []
    now = [NOON_ISH]

    def clock() -> float:
        calls.append(now[0])
        return now[0]

    stamp = compile_access_format("%(t)s", wall_clock=clock)
    first = serve_one(REQUEST, stamp)
    now[0] += 0.5
    assert serve_one(REQUEST, stamp) == first
    now[0] += 1
    assert serve_one(REQUEST, stamp) != first


@pytest.mark.parametrize(
    ("fmt", "message"),
    [
        ("%(x)s", "unknown atom %(x)s"),
        ("%(b)d", "bad access-log format"),
        ("%(h)s %s", "bad access-log format"),
        ("%({bad header}i)s", "unknown atom"),
        ("%({x}e)s", "unknown atom"),
    ],
)
def test_bad_formats_are_refused_before_any_request(fmt: str, message: str) -> None:
    with pytest.raises(AccessFormatError, match=message.replace("(", r"\(").replace(")", r"\)")):
        compile_access_format(fmt)


def test_the_format_text_is_never_code() -> None:
    # The format is compiled into a function; its literal text must stay data.
    text = "'), __import__('os').getpid(), ('\" %(m)s"
    assert serve_one(REQUEST, compile_access_format(text)) == [text.replace("%(m)s", "POST")]
    with pytest.raises(AccessFormatError):
        compile_access_format("%({x'),__import__('os'),('}i)s")


def test_make_access_log_logs_only_when_info_is_on(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("tests.access")
    hook = make_access_log(logger, "%(m)s %(s)s")
    with caplog.at_level(logging.WARNING, logger=logger.name):
        serve_one(REQUEST, lambda exchange, seconds: hook(exchange, seconds) or "")
    assert caplog.records == []
    with caplog.at_level(logging.INFO, logger=logger.name):
        serve_one(REQUEST, lambda exchange, seconds: hook(exchange, seconds) or "")
    assert [record.getMessage() for record in caplog.records] == ["POST 201"]


# -- where records go --------------------------------------------------------------


@pytest.fixture
def clean_loggers() -> Iterator[None]:
    """The state of the loggers this module touches, restored afterwards."""
    touched = [logging.getLogger(), logs.server_root_logger, logs.access_logger]
    saved = [(lg, list(lg.handlers), lg.level, lg.propagate) for lg in touched]
    yield
    for logger, handlers, level, propagate in saved:
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate


def test_the_server_logger_gets_one_handler_and_leaves_the_root_alone(clean_loggers) -> None:
    root = logging.getLogger()
    app_handler = logging.NullHandler()
    root.handlers[:] = [app_handler]
    root.setLevel(logging.WARNING)
    logs.configure_logging("debug")
    logs.configure_logging("debug")
    assert logs.configure_root_logging("debug") is False
    assert root.handlers == [app_handler]
    assert root.level == logging.WARNING
    own = logs.server_root_logger
    assert len(own.handlers) == 1 and own.level == logging.DEBUG and not own.propagate


def test_an_unconfigured_root_gets_a_handler(clean_loggers) -> None:
    root = logging.getLogger()
    root.handlers[:] = []
    assert logs.configure_root_logging("warning") is True
    assert len(root.handlers) == 1 and root.level == logging.WARNING


def test_ensure_server_logging_adds_a_handler_only_when_none_would_print(clean_loggers) -> None:
    root = logging.getLogger()
    own = logs.server_root_logger
    own.handlers[:] = []
    own.setLevel(logging.NOTSET)
    own.propagate = True
    root.handlers[:] = [logging.NullHandler()]
    logs.ensure_server_logging()
    assert own.handlers == [] and own.level == logging.INFO
    root.handlers[:] = []
    logs.ensure_server_logging()
    assert len(own.handlers) == 1
