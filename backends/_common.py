"""What every backend shares that is not HTTP: sockets, TLS facts, the handle."""

from __future__ import annotations

import logging
import os
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from crosswind.protocol.transport import TLSInfo

__all__ = [
    "ServerHandle",
    "bind_socket",
    "format_address",
    "make_ssl_context",
    "reserve_port",
    "tls_info",
]

server_log = logging.getLogger("crosswind.error")


@dataclass
class ServerHandle:
    """Given to ``serve(..., started=...)`` once the server listens.

    :param addresses: the bound addresses (``(host, port)`` or a socket path).
    :param shutdown: callable from any thread; starts a graceful shutdown.
    """

    addresses: list[Any]
    backend: str
    shutdown: Callable[[], None] = field(repr=False)

    @property
    def port(self) -> int:
        return int(self.addresses[0][1])


def bind_socket(
    host: str = "127.0.0.1",
    port: int = 8888,
    *,
    unix_socket: str | None = None,
    reuse_port: bool = False,
    backlog: int = 1024,
) -> socket.socket:
    """Create a listening, non-blocking socket.

    :raises OSError: with a message naming the address when it cannot bind.
    """
    if unix_socket is not None:
        if os.path.exists(unix_socket) and not os.path.isfile(unix_socket):
            os.unlink(unix_socket)  # a stale socket from a previous run
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(unix_socket)
        except OSError as exc:
            sock.close()
            raise OSError(exc.errno, f"cannot listen on unix socket {unix_socket}: {exc.strerror}") from None
    else:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            sock.close()
            raise OSError(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(backlog)
    sock.setblocking(False)
    return sock


def reserve_port(host: str = "127.0.0.1", port: int = 8888) -> socket.socket:
    """Bind, without listening, a socket that later ``reuse_port`` listeners can share.

    A supervisor holds it so that port ``0`` resolves to one real port for
    all its workers, and so that a port another program already uses is
    reported before any worker starts.  Not listening, it never receives
    connections itself.

    :param host: the address the workers will listen on.
    :param port: the port, ``0`` for one the kernel picks.
    :raises OSError: with a message naming the address when it cannot bind.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock


def make_ssl_context(
    certfile: str,
    keyfile: str | None = None,
    *,
    password: str | None = None,
    ca_certs: str | None = None,
    cert_reqs: int = ssl.CERT_NONE,
) -> ssl.SSLContext:
    """A server-side TLS context with modern defaults, offering ``h2`` then ``http/1.1`` over ALPN.

    The asyncio and trio backends serve HTTP/2 to clients that choose
    ``h2``; the threaded backend, which speaks HTTP/1.1 only, offers
    ``http/1.1`` alone on the contexts it is given.

    :param certfile: PEM file with the certificate (and its chain).
    :param keyfile: PEM file with the private key; ``None`` if *certfile* has it.
    :param password: decrypts the private key, if it is encrypted.
    :param ca_certs: PEM file of the authorities that client certificates
        are checked against.
    :param cert_reqs: whether clients must present a certificate:
        :data:`ssl.CERT_NONE` (never asked), :data:`ssl.CERT_OPTIONAL` or
        :data:`ssl.CERT_REQUIRED`.
    :raises OSError: a file cannot be read.
    :raises ssl.SSLError: the files do not hold a matching certificate and
        key, or the password is wrong.
    """
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certfile, keyfile, password)
    if ca_certs is not None:
        context.load_verify_locations(ca_certs)
    context.verify_mode = ssl.VerifyMode(cert_reqs)
    context.set_alpn_protocols(["h2", "http/1.1"])
    return context


def format_address(address: Any, tls: bool) -> str:
    if isinstance(address, str):
        return f"unix:{address}"
    host, port = address[0], address[1]
    if ":" in host:
        host = f"[{host}]"
    return f"{'https' if tls else 'http'}://{host}:{port}"


def announce(sock: socket.socket, backend: str, tls: bool) -> None:
    server_log.info("Serving on %s (%s)", format_address(sock.getsockname(), tls), backend)


def tls_info(ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> TLSInfo | None:
    if ssl_object is None:
        return None
    cipher = ssl_object.cipher()
    return TLSInfo(
        version=ssl_object.version(),
        cipher=cipher[0] if cipher else None,
        alpn_protocol=ssl_object.selected_alpn_protocol(),
        peer_certificate=ssl_object.getpeercert() or None,
    )


def peer_name(sock_or_name: Any) -> Any:
    if isinstance(sock_or_name, tuple):
        return (sock_or_name[0], sock_or_name[1])
    return sock_or_name or None
