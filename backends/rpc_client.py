"""Call :mod:`crosswind.rpc` services: a blocking client and an asyncio one.

Both speak the protocol of :mod:`crosswind.rpc.protocol` over HTTPS (or
plain HTTP), keep one connection open between calls, and answer every call
with the service's result dict::

    with Client("https://grid.example.org:8443/Calculator",
                cert=("usercert.pem", "userkey.pem"), ca_file="ca.pem") as calc:
        result = calc.add(1, 2)         # {"OK": True, "Value": 3}

Refusals by the service (401, 403, 400, ...) are results too, with
``OK`` false; :attr:`RPCResult.status_code` tells them apart.  A failure to
obtain a result at all raises: :class:`RPCTransportError` when the network
or TLS failed (the call may or may not have run), :class:`RPCResponseError`
when something answered that is not the service (a proxy's error page).
Calls are never retried, since a call may not be safe to run twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import http.client
import select
import ssl
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import h11
from crosswind import __version__
from crosswind.rpc.protocol import CONTENT_TYPE, decode_result, encode_call

__all__ = [
    "AsyncClient",
    "Client",
    "RPCError",
    "RPCResponseError",
    "RPCResult",
    "RPCTransportError",
    "make_client_context",
]

DEFAULT_TIMEOUT = 30.0
_READ_SIZE = 65536

#: ``cert=`` takes a PEM file holding certificate and key, or a pair of files.
CertSpec = str | tuple[str, str] | None
#: ``token=`` takes a JWT, or a function returning a fresh one for each call.
TokenSpec = str | Callable[[], str] | None


class RPCError(Exception):
    """No result could be obtained for a call."""


class RPCTransportError(RPCError):
    """The connection or TLS failed, or timed out; the call may or may not have run."""


class RPCResponseError(RPCError):
    """The server answered with something that is not an RPC result.

    :param status_code: the HTTP status of the answer.
    :param excerpt: the start of its body, for diagnosis.
    """

    def __init__(self, message: str, status_code: int, excerpt: bytes = b"") -> None:
        super().__init__(message)
        self.status_code = status_code
        self.excerpt = excerpt


class RPCResult(dict[str, Any]):
    """A result dict (``OK`` and ``Value`` or ``Message``) with the HTTP status it came with.

    :param status_code: 200 for an executed call; 400, 401, 403, 415 for a
        call the service refused.
    """

    def __init__(self, result: dict[str, Any], status_code: int) -> None:
        super().__init__(result)
        self.status_code = status_code


def make_client_context(*, ca_file: str | None = None, cert: CertSpec = None) -> ssl.SSLContext:
    """A TLS context that verifies the server and may present a client certificate.

    :param ca_file: PEM file of the CAs to trust (default: the system's).
    :param cert: the client certificate, as for :class:`Client`.
    :raises OSError: a file cannot be read.
    :raises ssl.SSLError: the certificate and key do not match.
    """
    context = ssl.create_default_context(cafile=ca_file)
    if cert is not None:
        certfile, keyfile = (cert, None) if isinstance(cert, str) else cert
        context.load_cert_chain(certfile, keyfile)
    return context


class _Endpoint:
    """The parts of a service URL a connection needs."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"an RPC URL must be http:// or https:// with a host, not {url!r}")
        if parts.query or parts.fragment:
            raise ValueError(f"an RPC URL has no query or fragment: {url!r}")
        self.url = url
        self.tls = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.tls else 80)
        self.path = parts.path or "/"
        host = f"[{self.host}]" if ":" in self.host else self.host
        default_port = 443 if self.tls else 80
        self.host_header = host if self.port == default_port else f"{host}:{self.port}"


class _Caller:
    """What both clients share: configuration, requests and result decoding."""

    def __init__(
        self,
        url: str,
        *,
        cert: CertSpec = None,
        token: TokenSpec = None,
        ca_file: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.endpoint = _Endpoint(url)
        if ssl_context is not None and (cert is not None or ca_file is not None):
            raise ValueError("pass either ssl_context or cert/ca_file, not both")
        self.ssl_context: ssl.SSLContext | None
        if self.endpoint.tls:
            self.ssl_context = ssl_context or make_client_context(ca_file=ca_file, cert=cert)
        elif cert is not None or ssl_context is not None:
            raise ValueError("a client certificate needs an https:// URL")
        else:
            self.ssl_context = None
        self.token = token
        self.timeout = timeout

    def _request(
        self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[bytes, list[tuple[str, str]]]:
        body = encode_call(method, args, kwargs)
        headers = [
            ("Host", self.endpoint.host_header),
            ("Content-Type", CONTENT_TYPE),
            ("Accept", CONTENT_TYPE),
            ("Content-Length", str(len(body))),
            ("User-Agent", f"crosswind-rpc/{__version__}"),
        ]
        token = self.token() if callable(self.token) else self.token
        if token:
            headers.append(("Authorization", f"Bearer {token}"))
        return body, headers

    def _result(self, status: int, content_type: str, body: bytes) -> RPCResult:
        if content_type.split(";", 1)[0].strip().lower() != CONTENT_TYPE:
            raise RPCResponseError(
                f"{self.endpoint.url} answered {status} with {content_type or 'no content type'}, "
                "not an RPC result",
                status,
                body[:200],
            )
        try:
            return RPCResult(decode_result(body), status)
        except ValueError as error:
            raise RPCResponseError(
                f"{self.endpoint.url} answered {status}: {error}", status, body[:200]
            ) from None

    def _method(self, name: str) -> str:
        if name.startswith("_"):
            raise AttributeError(name)
        return name


class Client(_Caller):
    """A blocking client for one service (not safe to share between threads).

    ``client.someMethod(*args, **kwargs)`` calls ``someMethod`` remotely;
    :meth:`call` does the same for names that clash with this class's own.

    :param url: the service URL, e.g. ``https://host:8443/Framework/Calculator``.
    :param cert: the client certificate: a PEM file with certificate and
        key, or ``(certfile, keyfile)``.
    :param token: a JWT sent as ``Authorization: Bearer``, or a function
        returning one (called for every call, so it may refresh it).
    :param ca_file: PEM file of the CAs that may sign the server's certificate.
    :param ssl_context: a ready TLS context instead of *cert* and *ca_file*.
    :param timeout: seconds allowed for connecting and for each read.
    :raises ValueError: the URL or the combination of options is invalid.
    """

    def __init__(
        self,
        url: str,
        *,
        cert: CertSpec = None,
        token: TokenSpec = None,
        ca_file: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__(
            url, cert=cert, token=token, ca_file=ca_file, ssl_context=ssl_context, timeout=timeout
        )
        self._connection: http.client.HTTPConnection | None = None

    def call(self, method: str, /, *args: Any, **kwargs: Any) -> RPCResult:
        """Call *method* with the given arguments and return its result.

        :param method: the remote method's name.
        :raises RPCTransportError: the network or TLS failed, or timed out.
        :raises RPCResponseError: the answer is not an RPC result.
        :raises TypeError, ValueError: an argument is not a JSON value.
        """
        body, headers = self._request(method, args, kwargs)
        connection = self._connect()
        try:
            connection.putrequest(
                "POST", self.endpoint.path, skip_host=True, skip_accept_encoding=True
            )
            for name, value in headers:
                connection.putheader(name, value)
            connection.endheaders(body)
            response = connection.getresponse()
            content = response.read()
        except (OSError, http.client.HTTPException) as error:
            self.close()
            raise RPCTransportError(
                f"calling {method!r} at {self.endpoint.url}: {error!r}"
            ) from error
        if response.will_close:
            self.close()
        return self._result(response.status, response.getheader("Content-Type", ""), content)

    def _connect(self) -> http.client.HTTPConnection:
        connection = self._connection
        if connection is not None and _dropped(connection):
            self.close()
            connection = None
        if connection is None:
            if self.ssl_context is not None:
                connection = http.client.HTTPSConnection(
                    self.endpoint.host,
                    self.endpoint.port,
                    timeout=self.timeout,
                    context=self.ssl_context,
                )
            else:
                connection = http.client.HTTPConnection(
                    self.endpoint.host, self.endpoint.port, timeout=self.timeout
                )
            self._connection = connection
        return connection

    def close(self) -> None:
        """Close the connection; the next call opens a new one."""
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def __getattr__(self, name: str) -> Callable[..., RPCResult]:
        return functools.partial(self.call, self._method(name))

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _dropped(connection: http.client.HTTPConnection) -> bool:
    """Whether the server closed an idle kept-alive connection.

    Checked before reuse, because a call sent into a closed connection fails
    in a way that cannot tell whether it ran, so it could not be retried.
    """
    sock = connection.sock
    if sock is None:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    # Between calls the server has nothing to say: readable means EOF (or TLS close).
    return bool(readable)


class AsyncClient(_Caller):
    """An asyncio client for one service; concurrent calls take turns on one connection.

    ``await client.someMethod(*args, **kwargs)`` calls ``someMethod``
    remotely; :meth:`call` does the same for names that clash.  The
    parameters are those of :class:`Client`.
    """

    def __init__(
        self,
        url: str,
        *,
        cert: CertSpec = None,
        token: TokenSpec = None,
        ca_file: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__(
            url, cert=cert, token=token, ca_file=ca_file, ssl_context=ssl_context, timeout=timeout
        )
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._h11: h11.Connection | None = None
        self._lock: asyncio.Lock | None = None

    async def call(self, method: str, /, *args: Any, **kwargs: Any) -> RPCResult:
        """Call *method* with the given arguments and return its result.

        :param method: the remote method's name.
        :raises RPCTransportError: the network or TLS failed, or timed out.
        :raises RPCResponseError: the answer is not an RPC result.
        :raises TypeError, ValueError: an argument is not a JSON value.
        """
        body, headers = self._request(method, args, kwargs)
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            try:
                async with asyncio.timeout(self.timeout):
                    status, content_type, content = await self._exchange(body, headers)
            except (OSError, h11.ProtocolError, TimeoutError, EOFError) as error:
                await self.aclose()
                raise RPCTransportError(
                    f"calling {method!r} at {self.endpoint.url}: {error!r}"
                ) from error
        return self._result(status, content_type, content)

    async def _exchange(
        self, body: bytes, headers: list[tuple[str, str]]
    ) -> tuple[int, str, bytes]:
        reader, writer, connection = await self._open()
        request = h11.Request(method="POST", target=self.endpoint.path, headers=headers)
        writer.write(connection.send(request) + connection.send(h11.Data(data=body)))
        writer.write(connection.send(h11.EndOfMessage()))
        await writer.drain()
        status, content_type, content = 0, "", bytearray()
        while True:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                connection.receive_data(await reader.read(_READ_SIZE))
            elif isinstance(event, h11.Response):
                status = event.status_code
                for name, value in event.headers:
                    if name == b"content-type":
                        content_type = value.decode("latin-1")
            elif isinstance(event, h11.Data):
                content += event.data
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.ConnectionClosed):
                raise EOFError("the server closed the connection without answering")
        if connection.our_state is h11.DONE and connection.their_state is h11.DONE:
            connection.start_next_cycle()
        else:
            await self.aclose()
        return status, content_type, bytes(content)

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, h11.Connection]:
        if self._streams is not None and self._h11 is not None:
            reader, writer = self._streams
            if not reader.at_eof() and not writer.is_closing():
                return reader, writer, self._h11
            await self.aclose()
        reader, writer = await asyncio.open_connection(
            self.endpoint.host,
            self.endpoint.port,
            ssl=self.ssl_context,
            server_hostname=self.endpoint.host if self.ssl_context is not None else None,
        )
        self._streams = (reader, writer)
        self._h11 = h11.Connection(h11.CLIENT)
        return reader, writer, self._h11

    async def aclose(self) -> None:
        """Close the connection; the next call opens a new one."""
        streams, self._streams, self._h11 = self._streams, None, None
        if streams is not None:
            writer = streams[1]
            writer.close()
            # The peer may already have gone; closing is all that was asked.
            with contextlib.suppress(OSError, ssl.SSLError):
                await writer.wait_closed()

    def __getattr__(self, name: str) -> Callable[..., Awaitable[RPCResult]]:
        return functools.partial(self.call, self._method(name))

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
