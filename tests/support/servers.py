"""Run a real server on a loopback port for the duration of a test.

Usage::

    with running_server("trio", app) as handle:
        httpx.get(f"http://127.0.0.1:{handle.port}/")

``serve()`` runs in a daemon thread with signal handling off; leaving the
block requests a graceful shutdown and waits for it, and an exception the
server raised (a port already taken, say) is re-raised in the test.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from crosswind.backends._common import ServerHandle
from crosswind.protocol.exchange import Application
from crosswind.serving.backends import load_backend

__all__ = ["BACKENDS", "running_server", "self_signed_certificate"]

#: The built-in backends, for ``pytest.mark.parametrize``.
BACKENDS = ["asyncio", "trio", "threads"]

START_TIMEOUT = 10.0


@contextlib.contextmanager
def running_server(
    backend_name: str,
    app: Application,
    *,
    stop_timeout: float = 15.0,
    **options: Any,
) -> Iterator[ServerHandle]:
    """Serve *app* with backend *backend_name* while the block runs.

    :param backend_name: ``"asyncio"``, ``"trio"``, ``"threads"`` or any
        installed ``crosswind.backends`` entry point.
    :param app: the application.
    :param stop_timeout: seconds to wait for the server to stop on exit.
    :param options: passed to the backend's ``serve``; ``host`` defaults to
        ``127.0.0.1`` and ``port`` to ``0`` (any free port: read
        ``handle.port``).
    :raises RuntimeError: the server did not start or stop in time.
    """
    serve = load_backend(backend_name)
    options.setdefault("host", "127.0.0.1")
    options.setdefault("port", 0)
    handles: list[ServerHandle] = []
    errors: list[BaseException] = []
    ready = threading.Event()

    def started(handle: ServerHandle) -> None:
        handles.append(handle)
        ready.set()

    def run() -> None:
        try:
            serve(app, started=started, handle_signals=False, **options)
        except BaseException as exc:
            errors.append(exc)
        finally:
            ready.set()

    thread = threading.Thread(target=run, name=f"crosswind-{backend_name}-server", daemon=True)
    thread.start()
    if not ready.wait(START_TIMEOUT):
        raise RuntimeError(f"the {backend_name} server did not start in {START_TIMEOUT} s")
    if errors:
        thread.join(START_TIMEOUT)
        raise errors[0]
    handle = handles[0]
    try:
        yield handle
    finally:
        handle.shutdown()
        thread.join(stop_timeout)
        if thread.is_alive():
            raise RuntimeError(f"the {backend_name} server did not stop in {stop_timeout} s")
        if errors:
            raise errors[0]


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """Write a fresh self-signed certificate for ``localhost`` and ``127.0.0.1``.

    :param directory: where to write ``cert.pem`` and ``key.pem``.
    :returns: the certificate and key paths; the certificate doubles as the
        client's CA file.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / "cert.pem"
    key_path = directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path
