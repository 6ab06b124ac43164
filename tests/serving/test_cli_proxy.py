"""``crosswind serve`` behind a proxy: the proxy flags, through a real subprocess."""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli_process import CLIProcess, run_cli

SERVING = re.compile(r"^Serving on http://127\.0\.0\.1:(\d+) \((\w+)\)$")

APP = """
from crosswind.app import App, request, url_for

app = App(__name__)

@app.route("/where")
def where():
    return {
        "client": request.remote_addr,
        "scheme": request.scheme,
        "host": request.host,
        "root": request.url_root,
        "built": url_for("where"),
    }
"""

FORWARDING = {
    "X-Forwarded-For": "198.51.100.20",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "www.example",
}


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    (tmp_path / "proxied.py").write_text(APP)
    started: list[CLIProcess] = []

    def start(*flags: str) -> tuple[CLIProcess, int]:
        process = CLIProcess("serve", "proxied:app", "--port", "0", *flags, cwd=tmp_path)
        started.append(process)
        return process, int(process.wait_for(SERVING).group(1))

    yield start
    for process in started:
        process.kill()


def where(port: int, headers: dict[str, str], source: str = "127.0.0.1") -> dict[str, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    try:
        conn.request("GET", "/where", headers={"Host": "app.internal", **headers})
        response = conn.getresponse()
        assert response.status == 200
        return json.loads(response.read())
    finally:
        conn.close()


def test_proxy_headers_from_the_default_trusted_peer(serve: Any) -> None:
    process, port = serve("--proxy-headers")
    seen = where(port, FORWARDING)
    stranger = where(port, FORWARDING, source="127.0.0.2")
    assert seen == {
        "client": "198.51.100.20", "scheme": "https", "host": "www.example",
        "root": "https://www.example/", "built": "/where",
    }
    assert (stranger["client"], stranger["scheme"], stranger["host"]) == (
        "127.0.0.2", "http", "app.internal"
    )
    assert process.stop() == 0
    clients = [line.split()[0] for line in process.lines if '"GET /where' in line]
    assert clients == ["198.51.100.20", "127.0.0.2"]  # the access log names the real client


def test_off_by_default(serve: Any) -> None:
    _, port = serve()
    assert where(port, FORWARDING)["client"] == "127.0.0.1"


def test_forwarded_allow_ips_turns_them_on(serve: Any) -> None:
    _, port = serve("--forwarded-allow-ips", "10.0.0.0/8, 127.0.0.2")
    assert where(port, FORWARDING, source="127.0.0.2")["client"] == "198.51.100.20"
    assert where(port, FORWARDING, source="127.0.0.1")["client"] == "127.0.0.1"


def test_no_proxy_headers_wins_over_the_trusted_peers(serve: Any) -> None:
    _, port = serve("--forwarded-allow-ips", "*", "--no-proxy-headers")
    assert where(port, FORWARDING)["client"] == "127.0.0.1"


def test_star_and_the_environment(serve: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "*")
    _, port = serve()
    seen = where(port, {"Forwarded": 'for="[2001:db8::7]";proto=https'}, source="127.0.0.3")
    assert (seen["client"], seen["scheme"]) == ("2001:db8::7", "https")


def test_root_path(serve: Any) -> None:
    _, port = serve("--root-path", "/shop/")
    seen = where(port, {})
    assert (seen["root"], seen["built"]) == ("http://app.internal/shop/", "/shop/where")


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (("--forwarded-allow-ips", "10.0.0.0/33"), "'10.0.0.0/33' is not an IP address or network"),
        (("--forwarded-allow-ips", "127.0.0.1,,::1"), "empty entry"),
        (("--forwarded-allow-ips", "300.1.2.3"), "'300.1.2.3' is not an IP address"),
        (("--root-path", "shop"), "--root-path: must start with '/'"),
    ],
)
def test_bad_values_are_refused_before_serving(flags: tuple[str, ...], message: str) -> None:
    result = run_cli("serve", "tests.support.apps:app", *flags)
    assert result.returncode == 2
    assert message in result.stderr
