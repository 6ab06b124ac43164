"""Replay every fuzz seed and every saved finding through its fuzz target.

``fuzz/run.py`` saves each (minimized) failing input as ``fuzz/crashes/<target>-<sha1>``;
once the bug is fixed the input must keep passing, so it is replayed here on every
test run, together with the seed corpus in ``fuzz/corpus/<target>/``.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

import h11
import pytest
from crosswind.errors import RequestError
from crosswind.multipart import MultipartParser
from crosswind.protocol.websocket import Closed
from crosswind.routing import Map, Rule
from crosswind.testing import serve_bytes

FUZZ = Path(__file__).resolve().parent.parent / "fuzz"
TARGET_DIR = FUZZ / "targets"
TARGETS = sorted(p.stem for p in TARGET_DIR.glob("*.py") if not p.stem.startswith("_"))


def load(name: str) -> ModuleType:
    if str(TARGET_DIR) not in sys.path:
        sys.path.insert(0, str(TARGET_DIR))
    return importlib.import_module(name)


def inputs() -> list[tuple[str, Path]]:
    found = []
    for name in TARGETS:
        found += [(name, p) for p in sorted((FUZZ / "corpus" / name).glob("*")) if p.is_file()]
    for path in sorted((FUZZ / "crashes").glob("*")):
        target = path.name.split("-", 1)[0]
        if path.is_file() and not path.name.startswith("."):
            found.append((target, path))
    return found


def test_every_target_has_seeds() -> None:
    assert TARGETS == [
        "cookies", "engines", "forms", "h2_connection", "multipart", "protocol", "routing",
        "signing", "template", "ws_connection",
    ]
    for name in TARGETS:
        seeds = list((FUZZ / "corpus" / name).glob("*"))
        assert 5 <= len(seeds) <= 20, name


def test_findings_name_their_target() -> None:
    for path in (FUZZ / "crashes").glob("*"):
        if not path.name.startswith("."):
            assert path.name.split("-", 1)[0] in TARGETS, path.name


@pytest.mark.parametrize(
    ("target", "path"), inputs(), ids=lambda v: v.name if isinstance(v, Path) else v
)
def test_replay(target: str, path: Path) -> None:
    load(target).test_one_input(path.read_bytes())


class _Seen:
    seen = [("GET", "/", b"", True)]


def test_targets_report_broken_properties() -> None:
    # A target must fail when its property breaks, or replaying proves nothing.
    protocol = load("protocol")
    _common = load("_common")
    with pytest.raises(_common.FuzzFinding):
        _common.check_responses(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nno", _Seen())
    with pytest.raises((_common.FuzzFinding, h11.RemoteProtocolError)):
        _common.check_responses(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nno", _Seen())
    protocol.test_one_input(b"\x00GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    ws_connection = load("ws_connection")
    with pytest.raises(_common.FuzzFinding):
        ws_connection._check(Closed(1011, "not a code for the peer's fault"))
    with pytest.raises(_common.FuzzFinding):
        ws_connection._check_answers([], Closed(1002, "protocol error"), close_first=False)


@pytest.mark.parametrize("engine", ["native", "h11"])
def test_nothing_is_read_as_http_after_a_2xx_to_connect(engine: str) -> None:
    # Found by the protocol target (fuzz/crashes/protocol-43a5a7fb...): the client takes
    # a 2xx to CONNECT as an open tunnel, so bytes behind it are not requests.
    app = load("_common").EchoApp()
    stream = (b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"
              b"GET /smuggled HTTP/1.1\r\nHost: example.com\r\n\r\n")
    out = serve_bytes(app, [stream], engine=engine)
    assert [target for _, target, _, _ in app.seen] == ["example.com:443"]
    client = h11.Connection(h11.CLIENT)
    client.send(h11.Request(method="CONNECT", target="example.com:443",
                            headers=[("Host", "example.com:443")]))
    client.send(h11.EndOfMessage())
    client.receive_data(out)
    response = client.next_event()
    assert isinstance(response, h11.Response) and response.status_code == 200
    assert (b"connection", b"close") in list(response.headers)
    assert client.next_event() is h11.PAUSED
    assert b"smuggled" not in client.trailing_data[0]


def test_number_converter_bounds_are_checked_when_the_rule_is_added() -> None:
    # Finding fuzz/crashes/routing-16ccac39...: a non-numeric bound used to be
    # accepted and then raise TypeError on every match (werkzeug 3.1 does too).
    url_map = Map()
    with pytest.raises(ValueError, match="min must be a number"):
        url_map.add(Rule("/<int(min=a):n>", endpoint="n"))
        url_map.match("/2")


def test_multipart_verdict_does_not_depend_on_the_split() -> None:
    # Finding fuzz/crashes/multipart-fea8037e...: python-multipart skipped a CR
    # and the byte after it at the start of a body fed whole, refusing them split.
    body = b"\r\x00--t--\r\n"

    def verdict(pieces: list[bytes]) -> object:
        parser = MultipartParser("t")
        try:
            for piece in pieces:
                parser.feed(piece)
            parser.close()
        except RequestError as error:
            return error.status_code
        return parser.fields.items(multi=True)

    assert verdict([body]) == verdict([body[:1], body[1:]]) == 400
