"""The Autobahn|Testsuite cases, run by kosoku's fuzzing client against a crosswind echo server.

kosoku plays the Autobahn fuzzing client from the suite's own case files: one
connection per case, each sending frames (some broken on purpose) to an echo
server and judging what comes back, the close code included.  The echo
servers here are the two a user writes: a Tornado-style ``WebSocketHandler``
(:func:`handler_app`) and a Flask-style ``@app.websocket`` view
(:func:`view_app`), each with or without permessage-deflate.

The limits are raised above the defaults because the performance cases (9.*)
send messages and frames of 16 MiB, which a default server rightly refuses
with 1009.

kosoku runs in a child process: it puts its own ``pkg_resources`` stand-in
and the case files on ``sys.path`` for good, which must not leak into the
process that runs the rest of the suite (and the two then have a CPU each).

Verdicts, as Autobahn gives them: ``OK``, ``NON-STRICT`` (a SHOULD not
followed, still conformant), ``INFORMATIONAL`` (behaviour the RFC leaves
open), ``UNIMPLEMENTED`` (the compression cases against a server that
declines permessage-deflate), and ``FAILED`` or ``ERROR``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from crosswind.app import App, websocket
from crosswind.protocol.exchange import Application
from crosswind.protocol.limits import Limits
from crosswind.web import Application as WebApplication
from crosswind.websocket import WebSocketHandler

from tests.support.servers import running_server

__all__ = [
    "ACCEPTABLE",
    "APPS",
    "CaseVerdict",
    "CORE_EXCLUDE",
    "LIMITS",
    "Outcome",
    "describe",
    "handler_app",
    "run_cases",
    "serving",
    "verdict",
    "view_app",
]

MiB = 1 << 20
#: The largest message of the performance cases is 16 MiB; room above it.
MAX_MESSAGE = 20 * MiB
LIMITS = Limits(ws_max_message_size=MAX_MESSAGE, ws_max_frame_size=MAX_MESSAGE)
#: Everything but the performance (9.*) and compression (12.*, 13.*) cases.
CORE_EXCLUDE = ("9.*", "12.*", "13.*")
#: Verdicts that are not failures (Autobahn's own reading of its labels).
ACCEPTABLE = frozenset({"OK", "NON-STRICT", "INFORMATIONAL"})
ROOT = Path(__file__).resolve().parent.parent.parent
#: Seconds one run of cases may take: the compression cases take minutes.
RUN_TIMEOUT = 3600.0


def handler_app(deflate: bool) -> WebApplication:
    """An echo written as a Tornado-style ``WebSocketHandler``.

    :param deflate: accept permessage-deflate.
    """

    class Echo(WebSocketHandler):
        def on_message(self, message: str | bytes) -> None:
            self.write_message(message, binary=isinstance(message, bytes))

        def get_compression_options(self) -> dict[str, Any] | None:
            return {} if deflate else None

    return WebApplication([("/", Echo)], websocket_max_message_size=MAX_MESSAGE)


def view_app(deflate: bool) -> App:
    """An echo written as a Flask-style ``@app.websocket`` view.

    :param deflate: accept permessage-deflate.
    """
    app = App(__name__)
    app.config.update(
        WEBSOCKET_MAX_MESSAGE_SIZE=MAX_MESSAGE, WEBSOCKET_COMPRESSION={} if deflate else None
    )

    @app.websocket("/")
    async def echo() -> None:
        while True:
            await websocket.send(await websocket.receive())

    return app


#: The echo applications by name, as reports show them.
APPS: dict[str, Callable[[bool], Any]] = {"handler": handler_app, "view": view_app}


@dataclass(frozen=True)
class CaseVerdict:
    """What kosoku said of one case."""

    case_id: str
    index: int
    behavior: str
    behavior_close: str
    close_code: int | None
    result: str
    result_close: str


@dataclass
class Outcome:
    """The verdicts of one run of cases against one echo."""

    results: list[CaseVerdict] = field(default_factory=list)

    @property
    def counts(self) -> Counter[str]:
        """How many cases got each verdict, the worse of message and close verdicts."""
        return Counter(verdict(result) for result in self.results)

    def failures(self) -> list[str]:
        """One line per case whose verdict is not acceptable."""
        return [describe(r) for r in self.results if verdict(r) not in ACCEPTABLE]

    def notes(self) -> list[str]:
        """One line per case whose verdict is acceptable but not ``OK``."""
        return [describe(r) for r in self.results if verdict(r) not in ("OK", "FAILED", "ERROR")]


def verdict(result: CaseVerdict) -> str:
    """The case's verdict: its message verdict, unless the close went worse."""
    if result.behavior in ACCEPTABLE and result.behavior_close not in ("OK", "INFORMATIONAL"):
        return "FAILED"
    return result.behavior


def describe(result: CaseVerdict) -> str:
    """One line on a case: its verdicts, the close code the server sent, kosoku's reasons."""
    return (
        f"{result.case_id}: {result.behavior} / close {result.behavior_close}"
        f" (code {result.close_code}): {result.result} {result.result_close}"
    )


@contextlib.contextmanager
def serving(backend: str, app_name: str, *, deflate: bool) -> Iterator[int]:
    """Serve the echo *app_name* on *backend*; the port while the block runs.

    :param backend: a backend name, as for :func:`~tests.support.servers.running_server`.
    :param app_name: a key of :data:`APPS`.
    :param deflate: accept permessage-deflate.
    """
    app: Application = APPS[app_name](deflate)
    with running_server(backend, app, limits=LIMITS) as handle:
        yield handle.port


def run_cases(
    port: int,
    *,
    include: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    concurrency: int = 1,
) -> Outcome:
    """Run the cases against the echo on *port*; their verdicts, failed or not.

    :param port: where an echo from :data:`APPS` is served.
    :param include: case ids or globs (``"5.*"``); all cases when ``None``.
    :param exclude: case ids or globs left out.
    :param concurrency: cases run at once.
    """
    request = {
        "url": f"ws://127.0.0.1:{port}/",
        "include": None if include is None else list(include),
        "exclude": None if exclude is None else list(exclude),
        "concurrency": concurrency,
    }
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.autobahn", json.dumps(request)],
        cwd=ROOT, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"kosoku exited with {done.returncode}: {done.stderr.strip()[-2000:]}")
    results = [CaseVerdict(**item) for item in json.loads(done.stdout)]
    return Outcome(sorted(results, key=lambda r: r.index))


def _run_in_child(request: dict[str, Any]) -> list[dict[str, Any]]:
    import kosoku

    try:
        results = asyncio.run(
            kosoku.run_fuzzingclient(
                request["url"], request["include"], request["exclude"],
                concurrency=request["concurrency"],
            )
        )
    except kosoku.FailureError as failure:
        # Raised for any verdict short of passing, UNIMPLEMENTED included;
        # the verdicts are judged by the caller.
        results = failure.results
    return [
        asdict(
            CaseVerdict(
                case_id=r.case_id,
                index=r.case_index,
                behavior=r.behavior.value,
                behavior_close=r.behavior_close.value,
                close_code=r.remote_close_code,
                result=r.result,
                result_close=r.result_close,
            )
        )
        for r in results
    ]


if __name__ == "__main__":
    sys.stdout.write(json.dumps(_run_in_child(json.loads(sys.argv[1]))))
    sys.stdout.flush()
    # Straight out: kosoku's runtime need not outlive the verdicts, nor be torn down.
    os._exit(0)
