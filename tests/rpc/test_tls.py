"""crosswind.rpc over real TLS on every backend, called by the rpc clients.

A test CA (trustme) signs the server certificate and the users'
certificates; the server asks for a client certificate but does not require
one (``CERT_OPTIONAL``), so certificate holders, token bearers and anonymous
callers all reach the same service, :class:`test_rpc_service.GridHandler`.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from crosswind.rpc import (
    S_ERROR,
    S_OK,
    AsyncClient,
    Client,
    RPCResponseError,
    RPCResult,
    RPCTransportError,
)

from tests.rpc.test_service import (
    ADMIN_DN,
    ALICE_DN,
    NOW,
    OTHER_SECRET,
    make_app,
    make_token,
    rsa_key,
)
from tests.support.servers import BACKENDS, running_server

pytestmark = [pytest.mark.network, pytest.mark.timeout(60)]

TIMEOUT = 5.0
ORG = "Crosswind Test"


class Pki:
    """The test CA and the PEM files the clients and the server read."""

    def __init__(self, directory: Path) -> None:
        self.ca = trustme.CA(organization_name=ORG, organization_unit_name="Test CA")
        self.ca_file = str(directory / "ca.pem")
        self.ca.cert_pem.write_to_path(self.ca_file)
        self.server = self.ca.issue_cert("127.0.0.1", "localhost", common_name="localhost")
        self.alice = self._user(directory, "Alice")
        self.admin = self._user(directory, "Root Admin")
        self.stranger = self._user(directory, "Mallory")
        rogue_ca = trustme.CA(organization_name=ORG, organization_unit_name="Test CA")
        self.rogue = self._user(directory, "Alice", ca=rogue_ca, name="rogue")

    def _user(
        self, directory: Path, common_name: str, *, ca: trustme.CA | None = None, name: str = ""
    ) -> str:
        leaf = (ca or self.ca).issue_cert(
            f"{common_name.split()[0].lower()}@example.org",
            common_name=common_name,
            organization_name=ORG,
            organization_unit_name="Users",
        )
        path = directory / f"{name or common_name.replace(' ', '_')}.pem"
        leaf.private_key_and_cert_chain_pem.write_to_path(str(path))
        return str(path)

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.server.configure_cert(context)
        self.ca.configure_trust(context)
        context.verify_mode = ssl.CERT_OPTIONAL
        return context


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module", params=BACKENDS)
def url(request: pytest.FixtureRequest, pki: Pki) -> Iterator[str]:
    app = make_app()
    with running_server(request.param, app, ssl_context=pki.server_context()) as handle:
        yield f"https://127.0.0.1:{handle.port}/Framework/Grid"


def test_certificate_holder_calls_over_one_connection(url: str, pki: Pki) -> None:
    with Client(url, cert=pki.alice, ca_file=pki.ca_file, timeout=TIMEOUT) as grid:
        whoami = grid.whoami()
        assert whoami == S_OK(
            {
                "authenticated": True,
                "method": "SSL",
                "username": "alice",
                "DN": ALICE_DN,
                "issuer": f"/O={ORG}/OU=Test CA",
                "group": "users",
                "properties": ["NormalUser"],
            }
        )
        assert whoami.status_code == 200
        assert grid.greet() == S_OK("hello alice")
        assert grid.square(9) == S_OK(81)  # an async export
        assert grid.search("*.root", limit=2) == S_OK(
            {"pattern": "*.root", "limit": 2, "exact": False}
        )
        refused = grid.resetCounters()
        assert (refused.status_code, refused) == (
            403,
            S_ERROR("not authorized to call 'resetCounters'"),
        )
        wrong = grid.add(1, "2")
        assert (wrong.status_code, wrong["Message"]) == (
            400,
            "argument 2 ('b') of 'add' must be int, not str",
        )
        failed = grid.fail()
        assert failed.status_code == 200
        assert failed["OK"] is False and "hunter2" not in failed["Message"]
        assert grid.call("echo", [1, {"two": None}]) == S_OK([1, {"two": None}])


def test_property_from_the_group_authorizes_the_admin(url: str, pki: Pki) -> None:
    with Client(url, cert=pki.admin, ca_file=pki.ca_file, timeout=TIMEOUT) as grid:
        assert grid.resetCounters() == S_OK("reset")
        assert grid.shiftReport() == S_OK("report for root")
        assert grid.whoami()["Value"]["DN"] == ADMIN_DN


def test_anonymous_caller_reaches_only_open_methods(url: str, pki: Pki) -> None:
    with Client(url, ca_file=pki.ca_file, timeout=TIMEOUT) as grid:
        ping = grid.ping()
        assert ping["OK"] is True
        assert ping["Value"]["name"] == "Grid"
        assert grid.add(20, 22) == S_OK(42)
        refused = grid.greet()
        assert (refused.status_code, refused) == (
            401,
            S_ERROR("authentication required to call 'greet'"),
        )
        assert grid.undeclared().status_code == 401
        assert grid.whoami()["Value"]["authenticated"] is False


def test_valid_certificate_of_an_unregistered_user_is_403(url: str, pki: Pki) -> None:
    with Client(url, cert=pki.stranger, ca_file=pki.ca_file, timeout=TIMEOUT) as grid:
        me = grid.whoami()["Value"]
        assert (me["authenticated"], me["DN"], me["username"]) == (
            False,
            f"/O={ORG}/OU=Users/CN=Mallory",
            None,
        )
        assert grid.greet().status_code == 403


def test_certificate_from_an_untrusted_ca_is_refused_by_tls(url: str, pki: Pki) -> None:
    # Same subject as Alice, but signed by another CA: the handshake fails.
    with (
        Client(url, cert=pki.rogue, ca_file=pki.ca_file, timeout=TIMEOUT) as grid,
        pytest.raises(RPCTransportError),
    ):
        grid.greet()


def test_server_not_trusted_by_the_client_is_a_transport_error(url: str) -> None:
    with Client(url, timeout=TIMEOUT) as grid, pytest.raises(RPCTransportError) as caught:
        grid.ping()
    assert isinstance(caught.value.__cause__, ssl.SSLCertVerificationError)


def test_tokens_over_tls(url: str, pki: Pki) -> None:
    with Client(url, ca_file=pki.ca_file, token=make_token(), timeout=TIMEOUT) as grid:
        assert grid.greet() == S_OK("hello bob")
    rs256 = make_token(rsa_key(), "RS256", sub="carol")
    with Client(url, ca_file=pki.ca_file, token=lambda: rs256, timeout=TIMEOUT) as grid:
        assert grid.greet() == S_OK("hello carol")
    for bad, message in [
        (make_token(exp=NOW - 5), "token has expired"),
        (make_token(OTHER_SECRET), "invalid token"),
    ]:
        with Client(url, ca_file=pki.ca_file, token=bad, timeout=TIMEOUT) as grid:
            refused = grid.greet()
            assert (refused.status_code, refused) == (401, S_ERROR(message))
            assert grid.add(1, 2).status_code == 401  # a bad token is never ignored


def test_async_client_runs_concurrent_calls(url: str, pki: Pki) -> None:
    async def main() -> list[RPCResult]:
        async with AsyncClient(url, cert=pki.alice, ca_file=pki.ca_file, timeout=TIMEOUT) as grid:
            calls = [grid.square(n) for n in range(5)]
            return [*await asyncio.gather(*calls), await grid.greet(), await grid.resetCounters()]

    *squares, greeting, refused = asyncio.run(main())
    assert squares == [S_OK(n * n) for n in range(5)]
    assert greeting == S_OK("hello alice")
    assert refused.status_code == 403


def test_async_client_with_a_token_and_failures(url: str, pki: Pki) -> None:
    async def main() -> tuple[RPCResult, RPCResult]:
        async with AsyncClient(
            url, ca_file=pki.ca_file, token=make_token(), timeout=TIMEOUT
        ) as grid:
            greeting = await grid.greet()
        async with AsyncClient(
            url, ca_file=pki.ca_file, token=make_token(exp=NOW), timeout=TIMEOUT
        ) as grid:
            expired = await grid.greet()
        async with AsyncClient(url, timeout=TIMEOUT) as grid:
            with pytest.raises(RPCTransportError):
                await grid.ping()
        return greeting, expired

    greeting, expired = asyncio.run(main())
    assert greeting == S_OK("hello bob")
    assert (expired.status_code, expired) == (401, S_ERROR("token has expired"))


def test_an_answer_that_is_not_the_service_is_a_response_error(url: str, pki: Pki) -> None:
    missing = url.rsplit("/", 1)[0] + "/NoSuchService"
    with (
        Client(missing, ca_file=pki.ca_file, timeout=TIMEOUT) as grid,
        pytest.raises(RPCResponseError) as caught,
    ):
        grid.ping()
    assert caught.value.status_code == 404

    async def main() -> None:
        async with AsyncClient(missing, ca_file=pki.ca_file, timeout=TIMEOUT) as grid:
            await grid.ping()

    with pytest.raises(RPCResponseError):
        asyncio.run(main())


# -- client behaviour without a server -------------------------------------


def test_connection_refused_is_a_transport_error(pki: Pki) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    grid = Client(f"https://127.0.0.1:{port}/Grid", ca_file=pki.ca_file, timeout=TIMEOUT)
    with grid, pytest.raises(RPCTransportError, match="'ping'"):
        grid.ping()


@pytest.mark.parametrize(
    ("url", "options"),
    [
        ("ftp://host/Grid", {}),
        ("https:///Grid", {}),
        ("https://host/Grid?x=1", {}),
        ("http://host/Grid", {"cert": "user.pem"}),
        ("https://host/Grid", {"ssl_context": ssl.create_default_context(), "ca_file": "ca.pem"}),
    ],
)
def test_invalid_client_configuration(url: str, options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Client(url, **options)


def test_client_attributes() -> None:
    grid = Client("http://127.0.0.1:1/Grid")
    assert grid.endpoint.host_header == "127.0.0.1:1"
    with pytest.raises(AttributeError):
        grid._private  # noqa: B018 -- private names are never remote calls
    with pytest.raises(ValueError):
        grid.call("not a name")


@pytest.mark.parametrize("backend", BACKENDS)
def test_clients_reconnect_after_the_server_closed_an_idle_connection(
    backend: str, pki: Pki
) -> None:
    from crosswind.protocol.limits import Limits

    limits = Limits(idle_timeout=0.2)
    with running_server(backend, make_app(), ssl_context=pki.server_context(), limits=limits) as h:
        url = f"https://127.0.0.1:{h.port}/Framework/Grid"
        with Client(url, cert=pki.alice, ca_file=pki.ca_file, timeout=TIMEOUT) as grid:
            assert grid.greet() == S_OK("hello alice")
            first = grid._connection
            time.sleep(0.6)
            assert grid.greet() == S_OK("hello alice")
            assert grid._connection is not first  # a fresh connection, not a failed call

        async def main() -> list[RPCResult]:
            async with AsyncClient(url, ca_file=pki.ca_file, timeout=TIMEOUT) as grid:
                before = await grid.add(1, 2)
                await asyncio.sleep(0.6)
                return [before, await grid.add(3, 4)]

        assert asyncio.run(main()) == [S_OK(3), S_OK(7)]
