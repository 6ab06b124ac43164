"""Run the conformance cases against a server: one line per case, then a summary.

::

    python -m tests.support.h2spec --port 8000            # h2c by prior knowledge
    python -m tests.support.h2spec --port 8443 --tls      # h2 by ALPN
    python -m tests.support.h2spec --crosswind asyncio    # crosswind, served here
    python -m tests.support.h2spec --hypercorn [--tls]    # the reference server
    python -m tests.support.h2spec --port 8000 --case http2/6.5 -v

The exit status is 1 when a case failed.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.support.h2spec import CASES, Result, Target, run_cases


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, run the cases, print the verdicts.

    :param argv: the arguments, ``sys.argv[1:]`` by default.
    :returns: the exit status.
    """
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.h2spec", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, help="the server's port, if it runs already")
    parser.add_argument("--tls", action="store_true", help="TLS with ALPN h2 instead of h2c")
    parser.add_argument(
        "--timeout", type=float, default=2.0, help="seconds to wait for each answer"
    )
    parser.add_argument("--path", default="/", help="a resource that answers GET with 5+ octets")
    parser.add_argument("--echo-path", default="/echo", help="a resource that reads a POST body")
    parser.add_argument("--case", action="append", default=[], help="run only ids starting so")
    parser.add_argument(
        "--crosswind", metavar="BACKEND", help="serve the basic app with crosswind on BACKEND"
    )
    parser.add_argument(
        "--hypercorn", action="store_true", help="serve the reference app with hypercorn"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="print why each case failed")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only cases that failed")
    args = parser.parse_args(argv)
    if [args.port is not None, args.crosswind is not None, args.hypercorn].count(True) != 1:
        parser.error("give one of --port, --crosswind and --hypercorn")
    cases = [c for c in CASES if not args.case or any(c.id.startswith(p) for p in args.case)]

    def report(result: Result) -> None:
        if args.quiet and result.outcome == "pass":
            return
        mark = {"pass": "  ok", "fail": "FAIL", "skip": "skip"}[result.outcome]
        print(f"{mark}  {result.case.id:<16} {result.case.title} -> {result.case.expected}")
        if result.outcome != "pass" and (args.verbose or result.outcome == "skip"):
            print(f"      {result.detail}")

    with contextlib.ExitStack() as stack:
        port = args.port
        if args.hypercorn:
            port = stack.enter_context(_hypercorn(args.host, args.tls))
        elif args.crosswind:
            port = stack.enter_context(_crosswind(args.crosswind, args.host, args.tls))
        target = Target(args.host, port, args.tls, args.timeout, args.path, args.echo_path)
        start = time.monotonic()
        results = run_cases(target, cases, report)
    print()
    for group in dict.fromkeys(c.group for c in CASES):
        counts = Counter(r.outcome for r in results if r.case.group == group)
        if counts:
            print(
                f"{group:<8} {counts['pass']} passed, {counts['fail']} failed, {counts['skip']} skipped"
            )
    total = Counter(r.outcome for r in results)
    print(
        f"{len(results)} cases: {total['pass']} passed, {total['fail']} failed, "
        f"{total['skip']} skipped in {time.monotonic() - start:.1f} s"
    )
    return 1 if total["fail"] else 0


@contextlib.contextmanager
def _crosswind(backend: str, host: str, tls: bool) -> Iterator[int]:
    """Serve :class:`~tests.support.apps.BasicApp` with crosswind; yield its port."""
    from crosswind.backends._common import make_ssl_context

    from tests.support.apps import BasicApp
    from tests.support.servers import running_server, self_signed_certificate

    with tempfile.TemporaryDirectory() as directory:
        options: dict[str, Any] = {"host": host, "http2": True}
        if tls:
            cert, key = self_signed_certificate(Path(directory))
            options = {"host": host, "ssl_context": make_ssl_context(str(cert), str(key))}
        with running_server(backend, BasicApp(), **options) as handle:
            yield handle.port


@contextlib.contextmanager
def _hypercorn(host: str, tls: bool) -> Iterator[int]:
    """Serve :mod:`tests.support.h2spec.reference` with hypercorn; yield its port."""
    from tests.support.servers import self_signed_certificate

    with socket.socket() as probe:
        probe.bind((host, 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory() as directory:
        command = [sys.executable, "-m", "hypercorn", "--bind", f"{host}:{port}"]
        if tls:
            cert, key = self_signed_certificate(Path(directory))
            command += ["--certfile", str(cert), "--keyfile", str(key)]
        command.append("tests.support.h2spec.reference:app")
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 15
            while True:
                try:
                    socket.create_connection((host, port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline or process.poll() is not None:
                        raise RuntimeError("hypercorn did not start") from None
                    time.sleep(0.1)
            yield port
        finally:
            process.terminate()
            process.wait(10)


if __name__ == "__main__":
    sys.exit(main())
