"""Real HTTP/2 clients for the interop tests: curl, h2load, and a CA they trust.

``make test`` installs curl and Debian's ``nghttp2-client`` (for ``h2load``);
where one is missing, or curl was built without nghttp2, the tests marked
:data:`needs_curl_http2` or :data:`needs_h2load` skip and say so.  Every
client runs with a deadline, so a server that never answers fails the test
instead of hanging it.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.support.bench_scripts import BENCH, load_bench_script

__all__ = [
    "CURL",
    "H2LOAD",
    "Authority",
    "CurlResponse",
    "curl",
    "h2load",
    "make_authority",
    "needs_curl_http2",
    "needs_h2load",
]

CURL = shutil.which("curl")
H2LOAD = shutil.which("h2load")

#: Seconds any one client run may take.
CLIENT_TIMEOUT = 20.0


def _curl_has_http2() -> bool:
    if CURL is None:
        return False
    completed = subprocess.run([CURL, "--version"], capture_output=True, text=True, timeout=10)
    return "HTTP2" in completed.stdout.split()


needs_curl_http2 = pytest.mark.skipif(
    not _curl_has_http2(), reason="curl with HTTP/2 (nghttp2) is not installed"
)
needs_h2load = pytest.mark.skipif(
    H2LOAD is None, reason="h2load (Debian's nghttp2-client) is not installed"
)


@dataclass(frozen=True)
class Authority:
    """A test CA and the certificate it issued for ``localhost`` and ``127.0.0.1``.

    :param ca_path: the CA certificate, for ``curl --cacert``.
    :param cert_path: the server's certificate chain.
    :param key_path: the server's private key.
    :param ca: the ``trustme.CA`` itself.
    """

    ca_path: Path
    cert_path: Path
    key_path: Path
    ca: Any

    def client_context(self) -> ssl.SSLContext:
        """A client context trusting this CA, for httpx's ``verify``."""
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context


def make_authority(directory: Path) -> Authority:
    """A fresh ``trustme`` CA and a server certificate, written under *directory*.

    :param directory: where the PEM files go.
    """
    import trustme

    ca = trustme.CA()
    issued = ca.issue_cert("localhost", "127.0.0.1")
    paths = Authority(directory / "ca.pem", directory / "cert.pem", directory / "key.pem", ca)
    ca.cert_pem.write_to_path(str(paths.ca_path))
    issued.cert_chain_pems[0].write_to_path(str(paths.cert_path))
    for extra in issued.cert_chain_pems[1:]:
        extra.write_to_path(str(paths.cert_path), append=True)
    issued.private_key_pem.write_to_path(str(paths.key_path))
    return paths


@dataclass(frozen=True)
class CurlResponse:
    """What curl received.

    :param version: the negotiated HTTP version as curl writes it (``2``, ``1.1``).
    :param status: the status code.
    :param headers: the response's fields, names lowercased, in order.
    :param body: the body, decoded of nothing.
    """

    version: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        """The first field called *name* (any case), or ``None``."""
        name = name.lower()
        return next((value for key, value in self.headers if key == name), None)


def curl(
    url: str,
    *options: str,
    cacert: Path | None = None,
    data: bytes | None = None,
    directory: Path,
) -> CurlResponse:
    """Fetch *url* with curl and return what came back.

    :param url: the URL.
    :param options: further curl options (``--http2``, ``--http2-prior-knowledge``).
    :param cacert: the CA to verify the server against, for ``https`` URLs.
    :param data: a request body, sent as a POST of ``application/octet-stream``.
    :param directory: where curl's header and body files go.
    :raises AssertionError: curl failed (its message is in the error).
    """
    assert CURL is not None
    head_path, body_path = directory / "curl-head.txt", directory / "curl-body.bin"
    command = [
        CURL, "--silent", "--show-error", "--max-time", str(CLIENT_TIMEOUT),
        "--dump-header", str(head_path), "--output", str(body_path),
        "--write-out", "%{http_version} %{http_code}", *options,
    ]
    if cacert is not None:
        command += ["--cacert", str(cacert)]
    if data is not None:
        data_path = directory / "curl-upload.bin"
        data_path.write_bytes(data)
        command += [
            "--data-binary", f"@{data_path}", "--header", "Content-Type: application/octet-stream",
        ]
    completed = subprocess.run(
        [*command, url], capture_output=True, text=True, timeout=CLIENT_TIMEOUT + 10
    )
    assert completed.returncode == 0, f"curl exited with {completed.returncode}: {completed.stderr}"
    version, status = completed.stdout.split()
    lines = head_path.read_text("latin-1").splitlines()
    headers = [
        (name.strip().lower(), value.strip())
        for name, sep, value in (line.partition(":") for line in lines[1:])
        if sep
    ]
    return CurlResponse(version, int(status), headers, body_path.read_bytes())


def _bench_module() -> ModuleType:
    """``bench/http2.py``, where the one parser of h2load's summary lives."""
    return load_bench_script("crosswind_bench_http2", BENCH / "http2.py")


def h2load(url: str, *, requests: int, clients: int, streams: int) -> Any:
    """Run h2load against *url* and return its parsed summary.

    :param url: ``http://`` (prior knowledge) or ``https://`` (ALPN ``h2``).
    :param requests: ``-n``, requests in all.
    :param clients: ``-c``, connections.
    :param streams: ``-m``, concurrent streams per connection.
    :returns: a ``bench/http2.py`` ``H2LoadSummary``.
    :raises AssertionError: h2load failed or printed no summary.
    """
    assert H2LOAD is not None
    bench = _bench_module()
    command = bench.h2load_command(
        url, requests=requests, clients=clients, streams=streams, timeout=CLIENT_TIMEOUT
    )
    completed = subprocess.run(command, capture_output=True, text=True, timeout=CLIENT_TIMEOUT + 10)
    assert completed.returncode == 0, f"h2load exited with {completed.returncode}: {completed.stderr}"
    return bench.parse_h2load(completed.stdout)
