"""Benchmark crosswind against a bare-asyncio ceiling and peer servers, with wrk.

Every server runs as a subprocess pinned to one CPU while wrk runs pinned to
another; each (server, scenario) pair is warmed up, then measured once per
round, and the server order alternates between rounds so drift (thermal,
page cache, other tenants) does not always favour the same server.  The
median over rounds is reported as requests/s, its ratio to the ceiling, and
the p99 latency.  With ``--baseline REF`` each row running crosswind code is
followed by the same row served from that commit's export, and the report
gives the working tree's ratio to it.

Run ``python bench/run.py --help``; ``bench/README.md`` explains the table.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import http.client
import importlib.metadata
import importlib.util
import json
import os
import platform
import re
import resource
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SERVERS_DIR = BENCH / "servers"
RESULTS_DIR = BENCH / "results"
sys.path.insert(0, str(SERVERS_DIR))

from scenarios import (  # noqa: E402  (lives beside the server scripts)
    FORM_FIELD_COUNT,
    FORM_PATH,
    HELLO_BODY,
    PARAMS_TARGET,
    form_body,
    user_payload,
)

__all__ = [
    "SCENARIOS",
    "SERVERS",
    "Baseline",
    "BaselineMismatch",
    "Scenario",
    "Server",
    "WrkResult",
    "baseline_server",
    "compare_to_baseline",
    "count_instructions",
    "crowd_lines",
    "crowd_rows",
    "crowd_scenarios",
    "crowd_server",
    "goal_line",
    "instruction_lines",
    "instruction_rows",
    "main",
    "parse_latency",
    "parse_wrk",
    "prepare_baseline",
    "raise_file_limit",
    "render_targets_text",
    "target_lines",
    "target_rows",
    "verdict",
]

READY_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0


# -- what is measured --------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """One kind of load: what wrk sends and what a correct server answers.

    :param name: the column name.
    :param target: the request target wrk and the smoke check use.
    :param wrk_args: extra wrk arguments (a Lua script, headers).
    :param check: given status, headers and body of the smoke request, a
        problem description or ``None`` when the answer is right.
    :param method: the smoke request's method.
    :param body: the smoke request's body.
    :param headers: the smoke request's extra headers.
    :param connections: wrk's connections for this scenario; ``None`` for
        the run's ``--connections``.
    """

    name: str
    target: str
    wrk_args: tuple[str, ...]
    check: Callable[[int, http.client.HTTPMessage, bytes], str | None]
    method: str = "GET"
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    connections: int | None = None


def _expect_body(expected: bytes) -> Callable[[int, http.client.HTTPMessage, bytes], str | None]:
    def check(status: int, headers: http.client.HTTPMessage, body: bytes) -> str | None:
        if status != 200 or body != expected:
            return f"answered {status} {body[:60]!r}, expected 200 {expected[:60]!r}"
        return None

    return check


def _check_params(status: int, headers: http.client.HTTPMessage, body: bytes) -> str | None:
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    if status != 200 or document != user_payload(42, ["a", "b"]):
        return f"answered {status} {body[:60]!r}, not the expected JSON document"
    return None


def _check_close(status: int, headers: http.client.HTTPMessage, body: bytes) -> str | None:
    problem = _expect_body(HELLO_BODY)(status, headers, body)
    if problem:
        return problem
    # wrk reconnects only when the response says so; without the header it
    # would count the server's close as a read error.
    if "close" not in (headers.get("Connection") or "").lower():
        return "answered Connection: close without a Connection: close header"
    return None


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("hello", "/", (), _expect_body(HELLO_BODY)),
    Scenario("params", PARAMS_TARGET, (), _check_params),
    Scenario(
        "form", FORM_PATH, ("-s", str(BENCH / "wrk" / "form.lua")),
        _expect_body(str(FORM_FIELD_COUNT).encode()), method="POST", body=form_body(),
        headers=(("Content-Type", "application/x-www-form-urlencoded"),),
    ),
    Scenario(
        "close", "/", ("-H", "Connection: close"), _check_close,
        headers=(("Connection", "close"),),
    ),
)


# -- who is measured ---------------------------------------------------------


#: Given a tree's ``bench/servers`` folder, the command of a row served from it.
Launch = Callable[[Path], Callable[[int], list[str]]]


@dataclass(frozen=True)
class Server:
    """One row of the table.

    :param name: the row name.
    :param argv: given the port, the command that serves on ``127.0.0.1:port``.
    :param needs: modules that must be importable, else the row is skipped
        with a message instead of failing obscurely.
    :param smoke_check: whether its answers must match the scenarios (the
        ceiling answers every request with the same canned bytes).
    :param served_from: for rows that run crosswind code, the same command
        taken from another tree's ``bench/servers`` (how a baseline row is made).
    :param baseline: set on a baseline row: the commit whose crosswind it must import.
    :param scenarios: the only scenarios this row runs; empty for all of them.
    :param crowd_args: arguments added to its command for the concurrency runs
        (a connection limit above :data:`CROWD`, where the server has one).
    """

    name: str
    argv: Callable[[int], list[str]]
    needs: tuple[str, ...] = ()
    smoke_check: bool = True
    served_from: Launch | None = None
    baseline: Baseline | None = None
    scenarios: tuple[str, ...] = ()
    crowd_args: tuple[str, ...] = ()

    def runs(self, scenario: Scenario) -> bool:
        """Whether this row measures *scenario*."""
        return not self.scenarios or scenario.name in self.scenarios


def _script(name: str, *args: str, servers: Path = SERVERS_DIR) -> Callable[[int], list[str]]:
    return lambda port: [sys.executable, str(servers / name), *args, "--port", str(port)]


def _crosswind(
    backend: str, app: str = "web", name: str | None = None, engine: str | None = None,
    loop: str | None = None,
) -> Server:
    needs = {"web": "crosswind.web", "flask": "crosswind.app"}.get(app, "crosswind.adapters")
    args = (
        "--backend", backend, "--app", app, *(("--engine", engine) if engine else ()),
        *(("--loop", loop) if loop else ()),
    )
    return _crosswind_row(
        name or f"crosswind-{backend}",
        lambda servers: _script("crosswind_server.py", *args, servers=servers),
        needs=(needs, f"crosswind.backends.{backend}", *((loop,) if loop else ())),
        scenarios=UVLOOP_SCENARIOS if loop else (),
        # Only here: a baseline's server script may predate the flag.
        crowd_args=("--max-connections", str(2 * CROWD)),
    )


def _crosswind_row(
    name: str, launch: Launch, needs: tuple[str, ...], scenarios: tuple[str, ...] = (),
    crowd_args: tuple[str, ...] = (),
) -> Server:
    """A row running crosswind code, so one that a baseline commit can serve too."""
    return Server(
        name, launch(SERVERS_DIR), needs=needs, served_from=launch, scenarios=scenarios,
        crowd_args=crowd_args,
    )


def _uvicorn(app: str, *options: str, servers: Path = SERVERS_DIR) -> Callable[[int], list[str]]:
    return lambda port: [
        sys.executable, "-m", "uvicorn", app, "--app-dir", str(servers),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        "--no-access-log", "--log-level", "warning", *options,
    ]


def _hypercorn(worker_class: str) -> Callable[[int], list[str]]:
    # Hypercorn puts the application path's directory on sys.path itself.
    return lambda port: [
        sys.executable, "-m", "hypercorn", str(SERVERS_DIR / "starlette_app") + ":app",
        "--bind", f"127.0.0.1:{port}", "--worker-class", worker_class, "--workers", "1",
        "--log-level", "warning",
    ]


#: The gunicorn worker of the ``crosswind-gunicorn`` row: gthread with 4
#: threads, the faster of the two on the 2-CPU bench machine (3 s x 2 rounds,
#: req/s hello/params/form/close: gthread 1,855/1,239/1,235/1,595, sync
#: 1,064/936/672/1,009).  The sync worker serves one connection at a time and
#: closes it after each response, so its CPU sat idle 60 % of the run.
GUNICORN_WORKER: tuple[str, ...] = ("--worker-class", "gthread", "--threads", "4")


def _gunicorn(
    app: str, worker: Sequence[str], servers: Path = SERVERS_DIR
) -> Callable[[int], list[str]]:
    return lambda port: [
        sys.executable, "-m", "gunicorn", "--chdir", str(servers), *worker,
        "--workers", "1", "--bind", f"127.0.0.1:{port}", "--log-level", "warning", app,
    ]


#: Connections of the concurrency runs, against :data:`FEW` (the table's default).
CROWD = 1000
FEW = 32
#: What the uvloop rows measure: the figures their target is stated for.
UVLOOP_SCENARIOS = ("hello", "params")

# A new peer is one entry; the target summary below names rows it compares.
SERVERS: tuple[Server, ...] = (
    Server("ceiling", _script("ceiling.py"), smoke_check=False),
    _crosswind("asyncio"),
    # The foundation's goal (issue 2) is stated for the h11 engine.
    _crosswind("asyncio", name="crosswind-asyncio-h11", engine="h11"),
    _crosswind("trio"),
    _crosswind("threads"),
    _crosswind("asyncio", "flask", "crosswind-flask-style-asyncio"),
    _crosswind_row(
        "crosswind-uvicorn",
        lambda servers: _uvicorn(
            "crosswind_apps:asgi", "--http", "httptools", "--loop", "asyncio", servers=servers
        ),
        needs=("crosswind.web", "uvicorn", "httptools"),
    ),
    _crosswind_row(
        "crosswind-gunicorn",
        lambda servers: _gunicorn("crosswind_apps:wsgi", GUNICORN_WORKER, servers),
        needs=("crosswind.web", "gunicorn"),
    ),
    Server("tornado", _script("tornado_server.py"), needs=("tornado",)),
    Server(
        "starlette-uvicorn-h11",
        _uvicorn("starlette_app:app", "--http", "h11", "--loop", "asyncio"),
        needs=("starlette", "uvicorn", "h11"),
    ),
    Server(
        "starlette-uvicorn-httptools",
        _uvicorn("starlette_app:app", "--http", "httptools", "--loop", "asyncio"),
        needs=("starlette", "uvicorn", "httptools"),
    ),
    _crosswind("asyncio", "starlette_app:app", "starlette-on-crosswind"),
    Server(
        "starlette-hypercorn-asyncio", _hypercorn("asyncio"), needs=("starlette", "hypercorn")
    ),
    Server(
        "starlette-hypercorn-trio", _hypercorn("trio"), needs=("starlette", "hypercorn", "trio")
    ),
    Server("flask-waitress", _script("flask_waitress.py"), needs=("flask", "waitress")),
    # uvloop is optional: the default loop's rows above are the headline.
    _crosswind("asyncio", name="crosswind-asyncio-uvloop", loop="uvloop"),
    _crosswind("asyncio", "flask", "crosswind-flask-style-asyncio-uvloop", loop="uvloop"),
    Server(
        "starlette-uvicorn-httptools-uvloop",
        _uvicorn("starlette_app:app", "--http", "httptools", "--loop", "uvloop"),
        needs=("starlette", "uvicorn", "httptools", "uvloop"),
        scenarios=UVLOOP_SCENARIOS,
    ),
)


# -- wrk ---------------------------------------------------------------------


@dataclass
class WrkResult:
    """What one wrk run reported.

    :param requests_per_second: wrk's ``Requests/sec``.
    :param latency_ms: percentile (50, 75, 90, 99) to milliseconds.
    :param requests: completed requests.
    :param socket_errors: wrk's connect/read/write/timeout counters.
    :param non_2xx: responses that were not 2xx or 3xx.
    """

    requests_per_second: float
    latency_ms: dict[int, float]
    requests: int
    socket_errors: dict[str, int] = field(default_factory=dict)
    non_2xx: int = 0

    @property
    def p99_ms(self) -> float | None:
        return self.latency_ms.get(99)


_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def parse_latency(text: str) -> float:
    """Convert one of wrk's latency figures (``850.00us``, ``1.23ms``, ``2.00s``) to ms.

    :param text: the figure as wrk printed it.
    :raises ValueError: when it is not a wrk latency.
    """
    match = re.fullmatch(r"([0-9.]+)(us|ms|s|m|h)", text.strip())
    if not match:
        raise ValueError(f"not a wrk latency: {text!r}")
    return float(match.group(1)) * _UNIT_MS[match.group(2)]


def parse_wrk(output: str) -> WrkResult:
    """Read requests/s, the latency distribution and error counts from wrk's ``--latency`` output.

    :param output: wrk's standard output.
    :raises ValueError: when the output has no ``Requests/sec`` line (wrk failed).
    """
    rps = re.search(r"^Requests/sec:\s*([0-9.]+)", output, re.MULTILINE)
    if rps is None:
        raise ValueError("wrk printed no Requests/sec line")
    latency = {
        int(percent): parse_latency(value)
        for percent, value in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)\s*$", output, re.MULTILINE)
    }
    requests = re.search(r"^\s*([0-9]+) requests in ", output, re.MULTILINE)
    errors = re.search(
        r"Socket errors: connect ([0-9]+), read ([0-9]+), write ([0-9]+), timeout ([0-9]+)", output
    )
    non_2xx = re.search(r"Non-2xx or 3xx responses: ([0-9]+)", output)
    return WrkResult(
        requests_per_second=float(rps.group(1)),
        latency_ms=latency,
        requests=int(requests.group(1)) if requests else 0,
        socket_errors=(
            dict(zip(("connect", "read", "write", "timeout"), map(int, errors.groups()), strict=True))
            if errors else {}
        ),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
    )


def wrk_command(
    url: str, scenario: Scenario, seconds: float, connections: int, cpu: int | None
) -> list[str]:
    """The wrk invocation for one run, pinned to *cpu* when given.

    :param url: ``http://host:port``.
    :param scenario: what to send.
    :param seconds: how long to run.
    :param connections: concurrent connections (one wrk thread drives them all).
    :param cpu: the CPU to pin wrk to, or ``None``.
    """
    command = [
        "wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency",
        "--timeout", "5s", *scenario.wrk_args, url + scenario.target,
    ]
    return _pinned(command, cpu)


def _pinned(command: list[str], cpu: int | None) -> list[str]:
    return command if cpu is None else ["taskset", "-c", str(cpu), *command]


# -- a baseline commit beside the working tree -------------------------------

#: Joins a row's name and the baseline ref: ``crosswind-asyncio@HEAD~5``.
BASELINE_MARK = "@"
#: What a baseline server prints, before serving, to say where crosswind came from.
IMPORTED_FROM = "crosswind-bench: imported from "
#: What it prints instead when crosswind would have come from anywhere but the baseline.
NOT_FROM_BASELINE = "crosswind-bench: not the baseline: "


class BaselineMismatch(Exception):
    """A baseline row would not run the baseline's code: the comparison would be meaningless."""


@dataclass(frozen=True)
class Baseline:
    """A commit exported beside the working tree, with its crosswind importable on its own.

    :param ref: the ref as given; row names and headings show it.
    :param commit: the full commit id it resolved to.
    :param tree: the commit's files, as ``git archive`` gives them.
    :param site: the folder put first on ``PYTHONPATH``; it holds ``crosswind``,
        assembled as that commit's ``package-dir`` maps it.
    :param packages: the packages that ``package-dir`` maps; a baseline server
        checks that each resolves inside *site* before it serves.
    """

    ref: str
    commit: str
    tree: Path
    site: Path
    packages: tuple[str, ...]

    @property
    def short(self) -> str:
        """The commit id abbreviated, for headings."""
        return self.commit[:10]

    def environ(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """The environment a baseline server runs in: *base* (default ``os.environ``)
        with *site* first on ``PYTHONPATH``.

        :param base: the environment to extend.
        """
        env = dict(os.environ if base is None else base)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(self.site), env.get("PYTHONPATH")]))
        return env


def resolve_commit(ref: str, repo: Path = ROOT) -> str:
    """The full id of the commit *ref* names.

    :param ref: any git revision (``HEAD~5``, a tag, an abbreviated id).
    :param repo: the repository.
    :raises ValueError: when *ref* names no commit.
    """
    found = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"],
        cwd=repo, capture_output=True, text=True,
    )
    if found.returncode != 0 or not found.stdout.strip():
        raise ValueError(f"{ref!r} names no commit of this repository")
    return found.stdout.strip()


def export_tree(commit: str, destination: Path, repo: Path = ROOT) -> None:
    """Write *commit*'s files into *destination* with ``git archive``.

    Git reads the commit from its object store: the working tree and the
    index, where others may be editing, are neither read nor written.

    :param commit: the commit id.
    :param destination: an existing folder.
    :raises ValueError: when git cannot archive *commit*.
    """
    archive = subprocess.Popen(
        ["git", "archive", "--format=tar", commit], cwd=repo,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert archive.stdout is not None and archive.stderr is not None
    try:
        with tarfile.open(fileobj=archive.stdout, mode="r|") as tar:
            tar.extractall(destination, filter="data")
    except tarfile.TarError as exc:
        archive.kill()
        raise ValueError(f"git archive {commit}: {exc}") from None
    finally:
        archive.stdout.close()
        error = archive.stderr.read().decode(errors="replace").strip()
        archive.stderr.close()
        code = archive.wait()
    if code != 0:
        raise ValueError(f"git archive {commit} exited with {code}: {error}")


def package_dirs(tree: Path) -> dict[str, str]:
    """The ``[tool.setuptools] package-dir`` table of the ``pyproject.toml`` in *tree*.

    :param tree: an exported commit.
    :raises ValueError: when there is none, or it maps the root package (``""``),
        which a baseline cannot be assembled from.
    """
    try:
        with open(tree / "pyproject.toml", "rb") as file:
            project = tomllib.load(file)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"cannot read the pyproject.toml of the baseline: {exc}") from None
    mapping = project.get("tool", {}).get("setuptools", {}).get("package-dir")
    if not isinstance(mapping, dict) or not mapping or "" in mapping:
        raise ValueError(f"the baseline's pyproject.toml maps no packages to folders: {mapping!r}")
    return {str(package): str(folder) for package, folder in mapping.items()}


def assemble_package(tree: Path, site: Path) -> tuple[str, ...]:
    """Lay out the packages of *tree* under *site* as an install of that commit would.

    Each folder of ``package-dir`` is copied to its package's path (``core/``
    to ``crosswind/``, ``backends/`` to ``crosswind/backends/``), parents
    first, so the subpackages live inside their parent as once installed.

    :param tree: an exported commit.
    :param site: the folder to fill (created if missing).
    :returns: the packages mapped, parents first.
    :raises ValueError: when ``package-dir`` is missing or names a folder the commit lacks.
    """
    mapping = package_dirs(tree)
    packages = tuple(sorted(mapping, key=lambda name: (name.count("."), name)))
    for package in packages:
        source = tree / mapping[package]
        if not (source / "__init__.py").is_file():
            raise ValueError(f"package-dir maps {package} to {mapping[package]}/, not a package")
        shutil.copytree(
            source, site.joinpath(*package.split(".")), dirs_exist_ok=True,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    return packages


def prepare_baseline(ref: str, folder: Path, repo: Path = ROOT) -> Baseline:
    """Export *ref* into *folder* and assemble its importable ``crosswind``.

    :param ref: the git revision to compare against.
    :param folder: an empty folder that outlives the run (a temporary one).
    :param repo: the repository.
    :raises ValueError: when *ref* is no commit, or its tree has no package
        mapping or no benchmark servers.
    """
    commit = resolve_commit(ref, repo)
    tree, site = folder / "tree", folder / "site"
    tree.mkdir()
    export_tree(commit, tree, repo)
    if not (tree / "bench" / "servers").is_dir():
        raise ValueError(f"{ref} has no bench/servers to serve its rows with")
    packages = assemble_package(tree, site)
    return Baseline(ref, commit, tree, site, packages)


# Runs in the baseline server's process (``python -c``) in place of the server
# command, then runs that command: a script as ``python SCRIPT`` would, or
# ``-m MODULE`` as ``python -m`` would.  crosswind modules resolve only through
# the baseline's folder: an editable install of the working tree adds its own
# finder for crosswind after the path finder, which would fill in any module
# the baseline lacks from the working tree without a word.
_LAUNCHER = """\
import importlib.machinery, importlib.util, json, os, runpy, sys
site, packages, *command = sys.argv[1:]
home = os.path.realpath(site) + os.sep

class BaselineOnly:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name != "crosswind" and not name.startswith("crosswind."):
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        where = spec and (spec.origin or next(iter(spec.submodule_search_locations or ()), None))
        if not where or not os.path.realpath(where).startswith(home):
            raise ModuleNotFoundError(f"{name} is not in the baseline at {site}", name=name)
        return spec

sys.meta_path.insert(0, BaselineOnly)
try:
    import crosswind
    found = {"crosswind": crosswind.__file__}
    for name in packages.split(","):
        found.setdefault(name, importlib.util.find_spec(name).origin)
except ImportError as exc:
    sys.exit(%(mismatch)r + str(exc))
print(%(imported)r + json.dumps(found), file=sys.stderr, flush=True)
if command[0] == "-m":
    sys.argv = command[1:]
    runpy.run_module(command[1], run_name="__main__", alter_sys=True)
else:
    sys.argv = command
    sys.path[0] = os.path.dirname(os.path.realpath(command[0]))
    runpy.run_path(command[0], run_name="__main__")
""" % {"mismatch": NOT_FROM_BASELINE, "imported": IMPORTED_FROM}


def baseline_server(server: Server, baseline: Baseline) -> Server:
    """*server*'s row served by *baseline*: its own ``bench/servers`` and its own crosswind.

    :param server: a row that runs crosswind code (``served_from`` set).
    :param baseline: the exported commit.
    :raises ValueError: when *server* runs no crosswind code.
    """
    if server.served_from is None:
        raise ValueError(f"{server.name} runs no crosswind code to compare")
    command = server.served_from(baseline.tree / "bench" / "servers")

    def argv(port: int) -> list[str]:
        python, *rest = command(port)
        return [python, "-c", _LAUNCHER, str(baseline.site), ",".join(baseline.packages), *rest]

    return Server(
        f"{server.name}{BASELINE_MARK}{baseline.ref}",
        argv,
        # Whether the baseline has crosswind's modules is the launcher's check.
        needs=tuple(name for name in server.needs if name.partition(".")[0] != "crosswind"),
        smoke_check=server.smoke_check,
        baseline=baseline,
        scenarios=server.scenarios,
    )


def with_baselines(servers: Sequence[Server], baseline: Baseline | None) -> list[Server]:
    """*servers*, each row running crosswind code followed by its baseline row.

    Side by side, the two are measured a few seconds apart in every round
    (the order reverses as a whole), so drift of the machine hits both alike.

    :param servers: the rows selected.
    :param baseline: the exported commit, or ``None`` for no baseline rows.
    """
    rows: list[Server] = []
    for server in servers:
        rows.append(server)
        if baseline is not None and server.served_from is not None:
            rows.append(baseline_server(server, baseline))
    return rows


def check_baseline_imports(
    log_text: str, baseline: Baseline, required: bool = True
) -> dict[str, str]:
    """Where a baseline server says each crosswind package came from, all checked to lie in the export.

    :param log_text: the server's output so far.
    :param baseline: the commit it should be running.
    :param required: whether saying nothing is a mismatch (it is once the
        server listens; a server that crashed first may not have got that far).
    :returns: package name to the file it was imported from.
    :raises BaselineMismatch: when the server said crosswind came from
        elsewhere, or any package of the baseline from outside its folder, or
        (when *required*) did not say.
    """
    lines = log_text.splitlines()
    for line in lines:
        if line.startswith(NOT_FROM_BASELINE):
            raise BaselineMismatch(line.removeprefix(NOT_FROM_BASELINE))
    reports = [line for line in lines if line.startswith(IMPORTED_FROM)]
    if not reports:
        if not required:
            return {}
        raise BaselineMismatch(
            f"the server did not say where crosswind came from: {log_text[-300:]!r}"
        )
    found: dict[str, str] = json.loads(reports[-1].removeprefix(IMPORTED_FROM))
    home = baseline.site.resolve()
    for package in baseline.packages:
        where = found.get(package)
        if where is None or not Path(where).resolve().is_relative_to(home):
            raise BaselineMismatch(
                f"{package} came from {where or 'nowhere'}, not from the baseline {baseline.ref} "
                f"at {baseline.site}"
            )
    return found


# -- the server's life -------------------------------------------------------


class ServerFailed(Exception):
    """The server could not be measured; the message goes in its row."""


class ServerUnavailable(ServerFailed):
    """The server's packages are not installed: reported, but not a failure of the run."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _log_tail(path: Path, lines: int = 6) -> str:
    try:
        text = path.read_text("utf-8", "replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group, SIGKILL it if it lingers."""
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, STOP_TIMEOUT), (signal.SIGKILL, STOP_TIMEOUT)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def process_group_cpu_seconds(pgid: int) -> float | None:
    """User plus system CPU seconds used so far by the live processes of group *pgid*.

    Read from ``/proc``, so ``None`` where there is none.  CPU time per request
    barely moves when other work shares the machine, unlike requests/s.

    :param pgid: the process group (the server's pid: it leads its own session).
    """
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    ticks = 0
    for stat in proc.glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # exited meanwhile
        # Fields after the command name, which may itself contain spaces or ")".
        fields = text[text.rindex(")") + 2:].split()
        if int(fields[2]) == pgid:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


@dataclass
class RunningServer:
    """A started server: where it listens and how to ask after it."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def check_alive(self) -> None:
        """Raise :class:`ServerFailed` if the server has exited."""
        code = self.process.poll()
        if code is not None:
            raise ServerFailed(f"server exited with status {code}: {_log_tail(self.log_path)}")

    def cpu_seconds(self) -> float | None:
        """CPU seconds the server's process group has used so far."""
        return process_group_cpu_seconds(self.process.pid)


@contextlib.contextmanager
def running(server: Server, cpu: int | None, log_dir: Path) -> Iterator[RunningServer]:
    """Start *server*, wait until it accepts connections, and always kill it afterwards.

    :param server: what to start.
    :param cpu: the CPU to pin it to, or ``None``.
    :param log_dir: where its output goes (quoted in failure messages).
    :raises ServerFailed: it is not installed, exited, or did not listen in time.
    :raises BaselineMismatch: it is a baseline row and crosswind did not come
        from the baseline's export.
    """
    missing = [name for name in server.needs if not _importable(name)]
    if missing:
        raise ServerUnavailable(f"not available: cannot import {', '.join(missing)}")
    port = _free_port()
    # A ref may hold characters a file name cannot (origin/main).
    log_path = log_dir / (re.sub(r"[^\w.@~^-]", "_", server.name) + ".log")
    command = _pinned(server.argv(port), cpu)
    baseline = server.baseline
    with open(log_path, "wb") as log:
        # A session of its own, so killing the group reaches every child
        # (uvicorn's reloader, taskset's exec) and Ctrl-C here is not theirs.
        process = subprocess.Popen(
            command, cwd=baseline.tree if baseline else ROOT,
            env=baseline.environ() if baseline else None,
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    handle = RunningServer(f"http://127.0.0.1:{port}", process, log_path)
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            try:
                handle.check_alive()
            except ServerFailed:
                if baseline:
                    # Exited for refusing a crosswind from outside the export:
                    # an error of the whole comparison, not a failed row.
                    check_baseline_imports(_log_text(log_path), baseline, required=False)
                raise
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise ServerFailed(
                        f"port {port} not ready after {READY_TIMEOUT:.0f} s: {_log_tail(log_path)}"
                    ) from None
                time.sleep(0.05)
        if baseline:
            check_baseline_imports(_log_text(log_path), baseline)
        yield handle
    finally:
        _stop(process)


def _log_text(path: Path) -> str:
    try:
        return path.read_text("utf-8", "replace")
    except OSError:
        return ""


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:
        return False


def smoke_check(url: str, scenario: Scenario) -> str | None:
    """Send the scenario's request once; a problem description, or ``None`` if answered right.

    :param url: ``http://host:port``.
    :param scenario: the request to send and the answer to expect.
    """
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        connection.request(
            scenario.method, scenario.target, body=scenario.body or None,
            headers=dict(scenario.headers),
        )
        response = connection.getresponse()
        body = response.read()
        return scenario.check(response.status, response.headers, body)
    except (OSError, http.client.HTTPException) as exc:
        return f"request failed: {exc}"
    finally:
        connection.close()


# -- the campaign ------------------------------------------------------------


@dataclass
class Run:
    """One measured (round, server, scenario), or why it could not be."""

    round: int
    server: str
    scenario: str
    result: WrkResult | None = None
    error: str | None = None
    unavailable: bool = False
    #: Server CPU time per completed request, in microseconds.
    cpu_us: float | None = None


def settle(limit: float = 120.0, runnable: int = 2, echo: Callable[[str], None] = print) -> float:
    """Wait, at most *limit* seconds, until at most *runnable* tasks are runnable; the seconds waited.

    The load average lags by minutes, so it cannot tell whether what ran
    before (a section with 10,000 threads, another process) has finished:
    the kernel's count of tasks runnable now (``/proc/loadavg``'s fourth
    field, this process included) can.  Three readings in a row at or
    under *runnable* end the wait.  Without ``/proc`` nothing is waited.
    """
    started = time.monotonic()
    quiet = 0
    while quiet < 3:
        try:
            with open("/proc/loadavg", encoding="ascii") as source:
                now = int(source.read().split()[3].split("/")[0])
        except (OSError, IndexError, ValueError):
            return 0.0
        quiet = quiet + 1 if now <= runnable else 0
        waited = time.monotonic() - started
        if waited >= limit:
            echo(f"the machine did not settle within {limit:.0f} s ({now} tasks runnable): measuring anyway")
            return waited
        time.sleep(0.5)
    return time.monotonic() - started


def _cpus() -> tuple[int | None, int | None, str]:
    """CPUs for the server and for wrk, and a sentence saying what was done."""
    try:
        available = sorted(os.sched_getaffinity(0))
    except AttributeError:
        available = list(range(os.cpu_count() or 1))
    if shutil.which("taskset") is None:
        return None, None, "not pinned (taskset not found)"
    if len(available) < 2:
        return None, None, "not pinned (only one CPU)"
    server, client = available[0], available[1]
    return server, client, f"server on CPU {server}, wrk on CPU {client} (taskset)"


def _measure(
    runs: list[Run], round_index: int, server: Server, scenarios: Sequence[Scenario],
    args: argparse.Namespace, server_cpu: int | None, wrk_cpu: int | None, log_dir: Path,
) -> None:
    def record(scenario: Scenario, **outcome: Any) -> None:
        runs.append(Run(round_index, server.name, scenario.name, **outcome))
        run = runs[-1]
        shown = (
            f"{run.result.requests_per_second:,.0f} req/s p99 {_fmt_ms(run.result.p99_ms)}"
            if run.result else f"FAILED: {run.error}"
        )
        print(f"  [{round_index + 1}] {server.name:<36} {scenario.name:<10} {shown}", flush=True)

    scenarios = [scenario for scenario in scenarios if server.runs(scenario)]
    done: set[str] = set()
    try:
        with running(server, server_cpu, log_dir) as live:
            for scenario in scenarios:
                problem = smoke_check(live.url, scenario) if server.smoke_check else None
                if problem:
                    record(scenario, error=f"wrong answer: {problem}")
                    done.add(scenario.name)
                    continue
                try:
                    for seconds, measured in ((args.warmup, False), (args.duration, True)):
                        command = wrk_command(
                            live.url, scenario, seconds, scenario.connections or args.connections,
                            wrk_cpu,
                        )
                        cpu_before = live.cpu_seconds()
                        completed = subprocess.run(
                            command, capture_output=True, text=True, timeout=seconds + 30,
                        )
                        cpu_after = live.cpu_seconds()
                        live.check_alive()
                        if completed.returncode != 0:
                            raise ServerFailed(
                                f"wrk exited with {completed.returncode}: "
                                f"{completed.stderr.strip()[-200:]}"
                            )
                        if measured:
                            result = parse_wrk(completed.stdout)
                            if result.requests == 0:
                                raise ServerFailed("no request completed")
                            cpu_us = (
                                (cpu_after - cpu_before) / result.requests * 1e6
                                if cpu_before is not None and cpu_after is not None else None
                            )
                            record(scenario, result=result, cpu_us=cpu_us)
                except (subprocess.TimeoutExpired, ValueError) as exc:
                    record(scenario, error=f"wrk failed: {exc}")
                done.add(scenario.name)
    except ServerFailed as exc:
        unavailable = isinstance(exc, ServerUnavailable)
        for scenario in scenarios:
            if scenario.name not in done:
                record(scenario, error=str(exc), unavailable=unavailable)


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def summarize(
    runs: list[Run], servers: Sequence[Server], scenarios: Sequence[Scenario]
) -> dict[str, dict[str, dict[str, Any]]]:
    """Per server and scenario: median requests/s, p99 and CPU per request, ratio to the ceiling.

    :param runs: every measured run.
    :param servers: the rows, in table order.
    :param scenarios: the columns, in table order.
    """
    table: dict[str, dict[str, dict[str, Any]]] = {}
    for server in servers:
        row = table.setdefault(server.name, {})
        for scenario in scenarios:
            mine = [r for r in runs if r.server == server.name and r.scenario == scenario.name]
            good = [r.result for r in mine if r.result is not None]
            p99s = [r.p99_ms for r in good if r.p99_ms is not None]
            row[scenario.name] = {
                "rps": _median([r.requests_per_second for r in good]),
                "p99_ms": _median(p99s),
                "cpu_us": _median([r.cpu_us for r in mine if r.cpu_us is not None]),
                "rounds": len(good),
                "errors": sorted({r.error for r in mine if r.error}),
                "socket_errors": sum(sum(r.socket_errors.values()) for r in good),
                "non_2xx": sum(r.non_2xx for r in good),
            }
    for scenario in scenarios:
        ceiling = table.get("ceiling", {}).get(scenario.name, {}).get("rps")
        for row in table.values():
            cell = row[scenario.name]
            cell["ratio"] = cell["rps"] / ceiling if ceiling and cell["rps"] else None
    return table


def _fmt_ms(value: float | None) -> str:
    if value is None:
        return "?"
    if value >= 100:
        return f"{value:.0f}ms"
    if value >= 10:
        return f"{value:.1f}ms"
    return f"{value:.2f}ms"


def _cell(cell: dict[str, Any]) -> str:
    if cell["rps"] is None:
        return "FAILED" if cell["errors"] else "-"
    ratio = f" ({cell['ratio']:.2f}x)" if cell["ratio"] is not None else ""
    flag = " !" if cell["socket_errors"] or cell["non_2xx"] or cell["errors"] else ""
    return f"{cell['rps']:,.0f}{ratio} {_fmt_ms(cell['p99_ms'])}{flag}"


def _notes(table: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    notes = []
    for server, row in table.items():
        for scenario, cell in row.items():
            for error in cell["errors"]:
                notes.append(f"{server} / {scenario}: {error}")
            if cell["socket_errors"] or cell["non_2xx"]:
                notes.append(
                    f"{server} / {scenario}: {cell['socket_errors']} socket errors, "
                    f"{cell['non_2xx']} non-2xx responses (summed over rounds)"
                )
    return notes


def _cpu_cell(cell: dict[str, Any]) -> str:
    if cell["cpu_us"] is None:
        return "-"
    if cell["rps"] is None:
        return f"{cell['cpu_us']:.0f}"
    # Well under 100 % busy means the server waited (latency-bound) or was
    # preempted by other work on its CPU; req/s then understates it.
    return f"{cell['cpu_us']:.0f} ({cell['cpu_us'] * cell['rps'] / 1e4:.0f}%)"


def render_text(
    table: dict[str, dict[str, dict[str, Any]]], scenarios: Sequence[Scenario],
    cell: Callable[[dict[str, Any]], str] = _cell,
) -> str:
    """A table for the terminal: fixed-width columns.

    :param table: from :func:`summarize`.
    :param scenarios: the columns.
    :param cell: formats one cell (default: req/s, ratio, p99).
    """
    rows = [["server", *(s.name for s in scenarios)]]
    rows += [[name, *(cell(row[s.name]) for s in scenarios)] for name, row in table.items()]
    return _fixed_width(rows)


def _fixed_width(rows: list[list[str]]) -> str:
    """*rows* (the first is the heading) as left-aligned columns, a rule under the heading."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(text.ljust(width) for text, width in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def _markdown_table(rows: list[list[str]], right_from: int = 1) -> list[str]:
    """*rows* (the first is the heading) as a Markdown table, columns from *right_from* right-aligned."""
    align = ["---" if i < right_from else "---:" for i in range(len(rows[0]))]
    return [f"| {' | '.join(row)} |" for row in rows[:1]] + [f"|{'|'.join(align)}|"] + [
        f"| {' | '.join(row)} |" for row in rows[1:]
    ]


# -- the working tree against its baseline ---------------------------------------


def baseline_pairs(servers: Sequence[Server]) -> list[tuple[str, str]]:
    """(working-tree row, baseline row) for every baseline row among *servers*.

    :param servers: the rows of the run.
    """
    return [
        (server.name.partition(BASELINE_MARK)[0], server.name)
        for server in servers if server.baseline is not None
    ]


def _ratio(mine: float | None, theirs: float | None) -> float | None:
    return mine / theirs if mine is not None and theirs else None


def compare_to_baseline(
    runs: Sequence[Run], pairs: Sequence[tuple[str, str]], scenarios: Sequence[Scenario]
) -> dict[str, dict[str, dict[str, Any]]]:
    """Per pair and scenario, the working tree's figures over its baseline row's.

    The two rows of a pair run back to back in each round, so the ratio is
    taken round by round, where both met the same conditions, and the median
    over the rounds is kept; a round where either row failed is left out.

    :param runs: every measured run.
    :param pairs: from :func:`baseline_pairs`.
    :param scenarios: the columns.
    :returns: working-tree row, then scenario, to the median ratios of
        requests/s (``rps``), p99 latency (``p99_ms``) and CPU per request
        (``cpu_us``), each ``None`` when never measured on both sides, and how
        many ``rounds`` were paired.
    """
    comparison: dict[str, dict[str, dict[str, Any]]] = {}
    for working, baseline in pairs:
        row = comparison.setdefault(working, {})
        for scenario in scenarios:
            by_round: dict[int, dict[str, Run]] = {}
            for run in runs:
                if run.scenario == scenario.name and run.server in (working, baseline) \
                        and run.result is not None:
                    by_round.setdefault(run.round, {})[run.server] = run
            paired = [
                (both[working], both[baseline]) for _, both in sorted(by_round.items())
                if working in both and baseline in both
            ]
            ratios: dict[str, list[float]] = {"rps": [], "p99_ms": [], "cpu_us": []}
            for mine, theirs in paired:
                assert mine.result is not None and theirs.result is not None
                for key, value in (
                    ("rps", _ratio(
                        mine.result.requests_per_second, theirs.result.requests_per_second
                    )),
                    ("p99_ms", _ratio(mine.result.p99_ms, theirs.result.p99_ms)),
                    ("cpu_us", _ratio(mine.cpu_us, theirs.cpu_us)),
                ):
                    if value is not None:
                        ratios[key].append(value)
            row[scenario.name] = {key: _median(values) for key, values in ratios.items()}
            row[scenario.name]["rounds"] = len(paired)
    return comparison


def _ratio_cell(cell: dict[str, Any]) -> str:
    if not cell["rounds"]:
        return "-"
    return " / ".join(
        "?" if cell[key] is None else f"{cell[key]:.2f}x" for key in ("rps", "p99_ms", "cpu_us")
    )


def baseline_heading(meta: dict[str, Any]) -> str:
    """One line naming the baseline and how to read the comparison's cells.

    :param meta: the run's facts, with ``baseline`` from :func:`baseline_facts`.
    """
    baseline = meta["baseline"]
    return (
        f"working tree / baseline {baseline['ref']} ({baseline['commit'][:10]}), median over "
        "rounds of the ratio: req/s (higher is better) / p99 / CPU per request (lower is better)"
    )


def baseline_facts(baseline: Baseline, repo: Path = ROOT) -> dict[str, str]:
    """The baseline's ref, commit and subject, for the report.

    :param baseline: the exported commit.
    :param repo: the repository.
    """
    subject = subprocess.run(
        ["git", "log", "-1", "--format=%s", baseline.commit], cwd=repo,
        capture_output=True, text=True,
    ).stdout.strip()
    return {"ref": baseline.ref, "commit": baseline.commit, "subject": subject}


# -- the round's targets ---------------------------------------------------------

#: The ratio to the ceiling each API style on the default asyncio loop should reach.
TARGET_RATIOS: dict[str, float] = {"hello": 0.30, "params": 0.18, "form": 0.15, "close": 0.65}
#: The two API styles on the asyncio backend's default loop, and what the lines call them.
STYLE_ROWS: dict[str, str] = {
    "crosswind-asyncio": "Tornado-style",
    "crosswind-flask-style-asyncio": "Flask-style",
}
#: Each style should reach this many times the requests/s of this peer, on every scenario.
LEAD_PEER = "starlette-uvicorn-httptools"
LEAD_GOAL = 1.3
#: The Tornado-style row's requests/s over the Flask-style row's, on every scenario:
#: within 10 %, and being faster is no miss.
STYLE_GOAL = 0.90
#: Backends against their closest peer: label, crosswind row, peer row, scenario, how
#: many times the peer's requests/s crosswind should reach.
PEER_TARGETS: tuple[tuple[str, str, str, str, float], ...] = (
    ("trio backend vs Starlette on hypercorn trio", "crosswind-trio",
     "starlette-hypercorn-trio", "hello", 5.0),
    ("threads backend vs Flask on waitress", "crosswind-threads", "flask-waitress", "hello", 3.0),
)
#: The uvloop rows of each style, against this peer on :data:`UVLOOP_SCENARIOS`.
UVLOOP_ROWS: dict[str, str] = {
    "crosswind-asyncio-uvloop": "Tornado-style on uvloop",
    "crosswind-flask-style-asyncio-uvloop": "Flask-style on uvloop",
}
UVLOOP_PEER = "starlette-uvicorn-httptools-uvloop"
UVLOOP_GOAL = 1.2
#: The ratio table: a label, and the row it shows (two rows share a line as ``a / b``).
TARGET_TABLE: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("crosswind asyncio, Tornado-style", ("crosswind-asyncio",)),
    ("crosswind asyncio, Flask-style", ("crosswind-flask-style-asyncio",)),
    ("Starlette on uvicorn + httptools", ("starlette-uvicorn-httptools",)),
    ("Starlette on uvicorn + h11", ("starlette-uvicorn-h11",)),
    ("Tornado 6", ("tornado",)),
    ("crosswind trio / Starlette on hypercorn-trio",
     ("crosswind-trio", "starlette-hypercorn-trio")),
    ("crosswind threads / Flask on waitress", ("crosswind-threads", "flask-waitress")),
    ("crosswind asyncio on uvloop, Tornado-style / Flask-style", tuple(UVLOOP_ROWS)),
    ("Starlette on uvicorn + httptools + uvloop", (UVLOOP_PEER,)),
)


def _value(table: dict[str, dict[str, dict[str, Any]]], server: str, scenario: str, key: str) -> Any:
    return table.get(server, {}).get(scenario, {}).get(key)


def verdict(value: float, goal: float) -> str:
    """``met by N%`` or ``missed by N%``: how far *value* is above or below *goal*.

    :param value: what was measured (higher is better).
    :param goal: the least it should be.
    """
    margin = value / goal - 1
    return f"{'met' if margin >= 0 else 'missed'} by {abs(margin):.0%}"


def goal_line(
    label: str, goal: str, parts: Sequence[tuple[str, float | None, float]], unit: str = ""
) -> str:
    """One target as a sentence: the overall verdict, then each part with its margin.

    :param label: what is compared.
    :param goal: the target in words, shown in brackets.
    :param parts: (name, value or ``None`` when not measured, least value).
    :param unit: shown after each value (``x`` for a ratio of two servers).
    """
    shown, passed = [], []
    for name, value, least in parts:
        if value is None:
            shown.append(f"{name} -")
            continue
        shown.append(f"{name} {value:.2f}{unit} {verdict(value, least)}")
        passed.append(value >= least)
    if not passed:
        overall = "not measured"
    elif not all(passed):
        overall = "missed"
    else:
        overall = "met" if len(passed) == len(parts) else "met where measured"
    return f"{label} ({goal}): {overall}" + (f"; {', '.join(shown)}" if passed else "")


def target_rows(table: dict[str, dict[str, dict[str, Any]]]) -> list[list[str]]:
    """The round's table: per peer and scenario, the ratio to the ceiling.

    The last line is the target both API styles should reach on the default
    asyncio loop.  Cells not measured are ``-``.

    :param table: from :func:`summarize`.
    :returns: rows of cells, the heading first.
    """
    rows = [["peer", *TARGET_RATIOS]]
    for label, servers in TARGET_TABLE:
        cells = []
        for scenario in TARGET_RATIOS:
            ratios = [_value(table, server, scenario, "ratio") for server in servers]
            cells.append(" / ".join("-" if r is None else f"{r:.2f}" for r in ratios))
        rows.append([label, *cells])
    rows.append(["target, both API styles", *(f"≥{goal:.2f}" for goal in TARGET_RATIOS.values())])
    return rows


def _ratio_of(
    table: dict[str, dict[str, dict[str, Any]]], ours: str, theirs: str, scenario: str
) -> float | None:
    mine, peer = _value(table, ours, scenario, "rps"), _value(table, theirs, scenario, "rps")
    return mine / peer if mine and peer else None


def target_lines(table: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """The round's targets, one sentence each, marked met or missed with the margin.

    Both styles against the ceiling and against Starlette on uvicorn + httptools,
    the Tornado-style path against the Flask-style one, the trio and threads
    backends against their peers, the uvloop rows against uvicorn on uvloop, and
    crosswind asyncio's p99 against the best peer's.

    :param table: from :func:`summarize`; baseline rows are left out.
    """
    table = {name: row for name, row in table.items() if BASELINE_MARK not in name}
    scenarios = [name for name in TARGET_RATIOS if any(name in row for row in table.values())]
    goals = " / ".join(f"≥{TARGET_RATIOS[name]:.2f}" for name in scenarios)
    lines = []
    for row, style in STYLE_ROWS.items():
        lines.append(goal_line(
            f"{style} on asyncio, ratio to the ceiling", f"target {goals}",
            [(name, _value(table, row, name, "ratio"), TARGET_RATIOS[name]) for name in scenarios],
        ))
    for row, style in STYLE_ROWS.items():
        lines.append(goal_line(
            f"{style} on asyncio vs Starlette on uvicorn + httptools",
            f"target ≥{LEAD_GOAL:g}x on each",
            [(name, _ratio_of(table, row, LEAD_PEER, name), LEAD_GOAL) for name in scenarios],
            "x",
        ))
    tornado, flask = STYLE_ROWS
    lines.append(goal_line(
        "Tornado-style vs Flask-style on asyncio", f"target ≥{STYLE_GOAL:.2f}x on each",
        [(name, _ratio_of(table, tornado, flask, name), STYLE_GOAL) for name in scenarios], "x",
    ))
    for label, ours, peer, scenario, goal in PEER_TARGETS:
        lines.append(goal_line(
            label, f"target ≥{goal:g}x on {scenario}",
            [(scenario, _ratio_of(table, ours, peer, scenario), goal)], "x",
        ))
    for row, style in UVLOOP_ROWS.items():
        lines.append(goal_line(
            f"{style} vs Starlette on uvicorn + httptools + uvloop",
            f"target ≥{UVLOOP_GOAL:g}x on {' and '.join(UVLOOP_SCENARIOS)}",
            [(name, _ratio_of(table, row, UVLOOP_PEER, name), UVLOOP_GOAL)
             for name in UVLOOP_SCENARIOS],
            "x",
        ))

    parts = []
    for scenario in scenarios:
        ours_p99 = _value(table, "crosswind-asyncio", scenario, "p99_ms")
        peers = [
            (row[scenario]["p99_ms"], name) for name, row in table.items()
            if name != "ceiling" and "crosswind" not in name
            and scenario in row and row[scenario]["p99_ms"] is not None
        ]
        if ours_p99 is None or not peers:
            continue
        best, name = min(peers)
        parts.append(
            f"{scenario} {_fmt_ms(ours_p99)} vs {_fmt_ms(best)} ({name}, {ours_p99 / best:.2f}x)"
        )
    lines.append("p99 crosswind asyncio vs best peer: " + ("; ".join(parts) or "not measured"))
    return lines


def render_targets_text(table: dict[str, dict[str, dict[str, Any]]]) -> str:
    """The round's targets for the terminal: the ratio table, then the sentences.

    :param table: from :func:`summarize`.
    """
    return _fixed_width(target_rows(table)) + "\n\n" + "\n".join(target_lines(table))


# -- many connections ----------------------------------------------------------

#: The rows measured at :data:`FEW` and :data:`CROWD` connections: both API styles on
#: asyncio and the peers on asyncio.
CROWD_ROWS: tuple[str, ...] = (
    "crosswind-asyncio", "crosswind-flask-style-asyncio", "starlette-uvicorn-httptools",
    "starlette-uvicorn-h11", "tornado",
)
#: The share of its requests/s at :data:`FEW` connections a server should keep at many.
CROWD_GOAL = 0.85


def crowd_scenarios(crowd: int, few: int = FEW) -> tuple[Scenario, Scenario]:
    """``hello`` at *few* and at *crowd* keep-alive connections.

    :param crowd: the many connections.
    :param few: the connections of the main table.
    """
    hello = next(scenario for scenario in SCENARIOS if scenario.name == "hello")
    return (
        dataclasses.replace(hello, name=f"hello-c{few}", connections=few),
        dataclasses.replace(hello, name=f"hello-c{crowd}", connections=crowd),
    )


def crowd_server(server: Server) -> Server:
    """*server* as the concurrency runs start it: with its :attr:`Server.crowd_args`.

    :param server: a row of :data:`SERVERS`.
    """
    argv, extra = server.argv, list(server.crowd_args)
    return dataclasses.replace(
        server, argv=lambda port: [*argv(port), *extra], scenarios=(), served_from=None
    )


def raise_file_limit(wanted: int) -> int:
    """Raise the soft limit of open files toward *wanted*; wrk and the servers inherit it.

    :param wanted: descriptors wanted (never above the hard limit).
    :returns: the soft limit now in force.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


def crowd_rows(
    table: dict[str, dict[str, dict[str, Any]]], scenarios: Sequence[Scenario]
) -> list[list[str]]:
    """Per row: requests/s and p99 at few and many connections, and the share kept.

    :param table: from :func:`summarize` over *scenarios*.
    :param scenarios: from :func:`crowd_scenarios`.
    """
    few, crowd = scenarios
    rows = [[
        "server", f"req/s at {few.connections}", f"p99 at {few.connections}",
        f"req/s at {crowd.connections}", f"p99 at {crowd.connections}", "kept",
    ]]
    for name, row in table.items():
        low, high = row[few.name], row[crowd.name]
        kept = high["rps"] / low["rps"] if high["rps"] and low["rps"] else None
        rows.append([
            name,
            _rate(low), _fmt_ms(low["p99_ms"]) if low["rps"] else "-",
            _rate(high), _fmt_ms(high["p99_ms"]) if high["rps"] else "-",
            "-" if kept is None else f"{kept:.2f}x",
        ])
    return rows


def _rate(cell: dict[str, Any]) -> str:
    if cell["rps"] is None:
        return "FAILED" if cell["errors"] else "-"
    flag = " !" if cell["socket_errors"] or cell["non_2xx"] or cell["errors"] else ""
    return f"{cell['rps']:,.0f}{flag}"


def crowd_lines(
    table: dict[str, dict[str, dict[str, Any]]], scenarios: Sequence[Scenario]
) -> list[str]:
    """The concurrency targets of each API style: throughput kept, and p99 against the best peer.

    :param table: from :func:`summarize` over *scenarios*.
    :param scenarios: from :func:`crowd_scenarios`.
    """
    few, crowd = scenarios
    lines = []
    for row, style in STYLE_ROWS.items():
        low, high = _value(table, row, few.name, "rps"), _value(table, row, crowd.name, "rps")
        lines.append(goal_line(
            f"{style} on asyncio, hello at {crowd.connections} connections over "
            f"{few.connections}",
            f"target ≥{CROWD_GOAL:.2f}x, within {1 - CROWD_GOAL:.0%}",
            [("kept", high / low if high and low else None, CROWD_GOAL)], "x",
        ))
    peers = [
        (row[crowd.name]["p99_ms"], name) for name, row in table.items()
        if "crosswind" not in name and row[crowd.name]["p99_ms"] is not None
    ]
    for row, style in STYLE_ROWS.items():
        label = f"{style} on asyncio, p99 at {crowd.connections} connections vs the best peer"
        ours = _value(table, row, crowd.name, "p99_ms")
        if ours is None or not peers:
            lines.append(f"{label} (target no worse): not measured")
            continue
        best, name = min(peers)
        # A p99 at most the best peer's meets the target; the margin is how far below.
        lines.append(
            f"{label} (target no worse): {verdict(best, ours)}; {_fmt_ms(ours)} vs "
            f"{_fmt_ms(best)} ({name})"
        )
    return lines


def _crowd_campaign(
    args: argparse.Namespace, servers: Sequence[Server], server_cpu: int | None,
    wrk_cpu: int | None, log_dir: Path,
) -> tuple[list[Run], tuple[Scenario, Scenario]] | None:
    """Measure *servers* on ``hello`` at few and many connections, rounds in alternating order.

    :returns: the runs and the two scenarios, or ``None`` (with a line saying why)
        when the open-file limit cannot be raised far enough.
    """
    # wrk holds every connection, and so does the server: each needs a
    # descriptor per connection, and some to spare.
    limit = raise_file_limit(4 * args.concurrency + 1024)
    if limit < args.concurrency + 256:
        print(f"concurrency runs left out: the open-file limit is {limit}, too low for "
              f"{args.concurrency} connections (raise it with ulimit -n)")
        return None
    scenarios = crowd_scenarios(args.concurrency, args.connections)
    rows = [crowd_server(server) for server in servers]
    print(f"\nhello at {args.connections} and {args.concurrency} connections: {len(rows)} servers "
          f"x {args.rounds} rounds (open-file limit {limit})")
    runs: list[Run] = []
    for round_index in range(args.rounds):
        order = rows if round_index % 2 == 0 else rows[::-1]
        levels = scenarios if round_index % 2 == 0 else scenarios[::-1]
        for server in order:
            _measure(runs, round_index, server, levels, args, server_cpu, wrk_cpu, log_dir)
    return runs, scenarios


# -- instructions per request ----------------------------------------------------

#: The cases of ``bench/instructions.py`` counted in the report.
INSTRUCTION_CASES = ("web-hello", "app-hello", "web-form", "app-form", "exchange-hello")
#: The Tornado-style path should cost at most this many times the Flask-style one.
INSTRUCTION_STYLE_GOAL = 1.10


def _instructions_module() -> Any:
    """``bench/instructions.py``, loaded by path as :func:`_websocket_module` is."""
    return _load_beside("crosswind_bench_instructions", "instructions.py")


def count_instructions(requests: int) -> dict[str, int] | None:
    """Instructions per request of :data:`INSTRUCTION_CASES`, or ``None`` without valgrind.

    :param requests: requests per count (fewer is quicker, and a little less exact).
    """
    if shutil.which("valgrind") is None:
        print("\ninstructions per request left out: valgrind is not installed "
              "(apt-get install valgrind)")
        return None
    counter = _instructions_module()
    print(f"\ninstructions per request ({requests} requests per count, callgrind):")
    counts = {}
    for case in INSTRUCTION_CASES:
        counts[case] = counter.per_request(case, requests)
        print(f"  {case:<16} {counts[case]:>10,}", flush=True)
    return counts


def instruction_rows(counts: dict[str, int]) -> list[list[str]]:
    """Per case: instructions per request, the round's start and target, and the verdict.

    :param counts: from :func:`count_instructions`.
    """
    counter = _instructions_module()
    rows = [["case", "instructions/request", "at the round's start", "cut", "target"]]
    for case, count in counts.items():
        start = counter.ROUND_START.get(case)
        if start is None:
            rows.append([case, f"{count:,}", "-", "-", "-"])
            continue
        cut, goal = 1 - count / start, counter.ROUND_CUT
        met = "met" if cut >= goal else "missed"
        rows.append([
            case, f"{count:,}", f"{start:,}", f"{cut:.0%}".replace("-0%", "0%"),
            f"≥{goal:.0%} {met} by {abs(cut - goal) * 100:.0f} points",
        ])
    return rows


def instruction_lines(counts: dict[str, int]) -> list[str]:
    """The Tornado-style path's instructions against the Flask-style path's, per scenario.

    :param counts: from :func:`count_instructions`.
    """
    parts = []
    for scenario in ("hello", "params", "form"):
        web, app = counts.get(f"web-{scenario}"), counts.get(f"app-{scenario}")
        if web and app:
            # Fewer is better, so the verdict is on the inverse ratio.
            parts.append(
                f"{scenario} {web / app:.2f}x {verdict(INSTRUCTION_STYLE_GOAL, web / app)}"
            )
    label = "Tornado-style / Flask-style instructions per request"
    goal = f"target ≤{INSTRUCTION_STYLE_GOAL:.2f}x, within 10%"
    if not parts:
        return [f"{label} ({goal}): not measured"]
    overall = "missed" if any(" missed " in part for part in parts) else "met"
    return [f"{label} ({goal}): {overall}; {', '.join(parts)}"]


def render_markdown(
    table: dict[str, dict[str, dict[str, Any]]], scenarios: Sequence[Scenario], meta: dict[str, Any],
    comparison: dict[str, dict[str, dict[str, Any]]] | None = None,
    crowd: tuple[dict[str, dict[str, dict[str, Any]]], Sequence[Scenario]] | None = None,
    counts: dict[str, int] | None = None,
) -> str:
    """The report for ``bench/results/latest.md``.

    :param table: from :func:`summarize`.
    :param scenarios: the columns.
    :param meta: machine facts and settings from :func:`machine_facts` and the
        run, with ``baseline`` from :func:`baseline_facts` when there is one.
    :param comparison: from :func:`compare_to_baseline`, when there is a baseline.
    :param crowd: the concurrency runs' summary and their two scenarios
        (:func:`crowd_scenarios`), when they ran.
    :param counts: from :func:`count_instructions`, when counted.
    """
    baseline = meta.get("baseline")
    lines = [
        "# crosswind benchmark results",
        "",
        f"- date: {meta['date']}",
        f"- command: `{meta['command']}`",
        f"- commit: {meta['commit']}",
        f"- machine: {meta['nproc']} CPUs ({meta['cpu_model']}), {meta['platform']}; "
        f"load average at start {' '.join(map(str, meta['load_average']))}",
        f"- python: {meta['python']}; wrk: {meta['wrk']}",
        f"- packages: {', '.join(f'{k} {v}' for k, v in meta['packages'].items())}",
        f"- pinning: {meta['pinning']}",
        f"- load: {meta['connections']} connections, 1 wrk thread; warm-up {meta['warmup']} s, "
        f"measured {meta['duration']} s per (server, scenario), {meta['rounds']} round(s), "
        f"order alternating; wall time {meta['wall_seconds']:.0f} s for this table, "
        f"{meta.get('total_seconds', meta['wall_seconds']):.0f} s with the concurrency runs "
        "and instruction counts",
        *(
            [f"- baseline: `{baseline['ref']}` = {baseline['commit'][:10]} "
             f"({baseline['subject']}), its rows named `NAME{BASELINE_MARK}{baseline['ref']}`"]
            if baseline else []
        ),
        "",
        "Cells: median requests/s (ratio to `ceiling`) median p99 latency; `!` marks errors "
        "listed below.",
        "",
        "| server | " + " | ".join(s.name for s in scenarios) + " |",
        "|---|" + "---:|" * len(scenarios),
    ]
    for name, row in table.items():
        lines.append(f"| {name} | " + " | ".join(_cell(row[s.name]) for s in scenarios) + " |")
    lines += [
        "",
        "Server CPU time per request in microseconds (user + system of the server's processes "
        "during the measured run, over requests completed; steadier than req/s on a busy "
        "machine), and in brackets how busy that kept the server's CPU:",
        "",
        "| server | " + " | ".join(s.name for s in scenarios) + " |",
        "|---|" + "---:|" * len(scenarios),
    ]
    for name, row in table.items():
        lines.append(f"| {name} | " + " | ".join(_cpu_cell(row[s.name]) for s in scenarios) + " |")
    if baseline and comparison is not None:
        lines += [
            "",
            f"## Against baseline `{baseline['ref']}` ({baseline['commit'][:10]})",
            "",
            "Each row of the working tree over its baseline row, the two measured back to back "
            "in every round: the median over rounds of the ratio of requests/s (above 1.00x "
            "is faster) / p99 latency / CPU per request (below 1.00x is better).",
            "",
            *_markdown_table([
                ["server", *(s.name for s in scenarios)],
                *([name, *(_ratio_cell(row[s.name]) for s in scenarios)]
                  for name, row in comparison.items()),
            ]),
        ]
    lines += [
        "",
        "## Round targets",
        "",
        "Ratio to `ceiling` in this run (median over rounds); the last line is the target "
        "of both API styles on asyncio.",
        "",
        *_markdown_table(target_rows(table)),
        "",
        *(f"- {line}" for line in target_lines(table)),
    ]
    if crowd is not None:
        crowd_table, levels = crowd
        lines += [
            "",
            f"## Concurrency: hello at {levels[0].connections} and {levels[1].connections} "
            "keep-alive connections",
            "",
            "Each server started once per round and measured at both loads; medians over "
            "rounds. `kept` is its requests/s at many connections over its own at few.",
            "",
            *_markdown_table(crowd_rows(crowd_table, levels)),
            "",
            *(f"- {line}" for line in crowd_lines(crowd_table, levels)),
        ]
    if counts is not None:
        lines += [
            "",
            "## Instructions per request",
            "",
            "User-space instructions per request in memory (`bench/instructions.py`, callgrind): "
            "steady where the figures above are noisy.",
            "",
            *_markdown_table(instruction_rows(counts)),
            "",
            *(f"- {line}" for line in instruction_lines(counts)),
        ]
    notes = _notes(table) + (_notes(crowd[0]) if crowd is not None else [])
    if notes:
        lines += ["", "## Problems", ""] + [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def machine_facts() -> dict[str, Any]:
    """The facts a reader needs to compare two reports."""
    cpu_model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    packages = {}
    for name in (
        "h11", "tornado", "starlette", "uvicorn", "httptools", "trio", "hypercorn", "gunicorn",
        "waitress", "flask",
    ):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            packages[name] = importlib.metadata.version(name)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip() or "unknown"
    wrk = "not found"
    if shutil.which("wrk"):
        version = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
        wrk = (version.stdout + version.stderr).split("Copyright")[0].strip() or "unknown"
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {
        "nproc": os.cpu_count(),
        "load_average": [round(value, 2) for value in load],
        "cpu_model": cpu_model,
        "platform": platform.platform(),
        "python": platform.python_version() + " (" + platform.python_implementation() + ")",
        "wrk": wrk,
        "packages": packages,
        "commit": commit,
    }


def _select(names: str | None, known: Sequence[Any], what: str) -> list[Any]:
    if not names:
        return list(known)
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    by_name = {item.name: item for item in known}
    unknown = [n for n in wanted if n not in by_name]
    if unknown:
        raise SystemExit(
            f"unknown {what}: {', '.join(unknown)} (choose from {', '.join(by_name)})"
        )
    return [by_name[n] for n in wanted]


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _command_line() -> str:
    python = Path(sys.executable)
    with contextlib.suppress(ValueError):
        python = python.relative_to(Path.cwd())
    return shlex.join([str(python), *sys.argv])


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; the exit status is 1 when an installed server could not be
    measured, 2 when a baseline row would not have run the baseline's code.

    :param argv: the command-line arguments (default ``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(
        description="Benchmark crosswind's backends against a ceiling and peer servers with wrk."
    )
    parser.add_argument("--duration", type=float, default=5.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds per run")
    parser.add_argument("--connections", type=int, default=32, help="concurrent connections")
    parser.add_argument("--rounds", type=int, default=2, help="rounds (order alternates)")
    parser.add_argument("--only", metavar="NAME,NAME", help="servers to run (ceiling is kept)")
    parser.add_argument("--scenarios", metavar="NAME,NAME", help="scenarios to run")
    parser.add_argument("--list", action="store_true", help="list servers and scenarios, then exit")
    parser.add_argument(
        "--baseline", metavar="REF",
        help="also serve every crosswind row from this commit (NAME@REF) and compare",
    )
    parser.add_argument(
        "--websocket", choices=("on", "off", "only"), default="on",
        help="the WebSocket section after the HTTP table (bench/websocket.py; default on)",
    )
    parser.add_argument(
        "--ws-scenarios", metavar="NAME,NAME", help="WebSocket scenarios, capacity included"
    )
    parser.add_argument(
        "--ws-capacity", type=int, default=10_000,
        help="idle WebSocket connections the capacity run holds (0: skip it)",
    )
    parser.add_argument(
        "--concurrency", type=int, default=CROWD, metavar="N",
        help=f"also measure hello at N connections against --connections (default {CROWD}; "
        "0: skip)",
    )
    parser.add_argument(
        "--instructions", choices=("on", "off"), default="on",
        help="count instructions per request with valgrind (bench/instructions.py; default on)",
    )
    parser.add_argument(
        "--instruction-requests", type=int, default=3000, metavar="N",
        help="requests per instruction count (default 3000; fewer is quicker)",
    )
    args = parser.parse_args(argv)
    if args.list:
        print("servers:  ", ", ".join(s.name for s in SERVERS))
        print("scenarios:", ", ".join(s.name for s in SCENARIOS))
        return _websocket_module().main(["--list"])
    if args.websocket == "only":
        # The options that mean the same there.
        forwarded = ["--duration", str(args.duration), "--warmup", str(args.warmup),
                     "--rounds", str(args.rounds), "--capacity", str(args.ws_capacity)]
        forwarded += ["--only", args.only] if args.only else []
        forwarded += ["--baseline", args.baseline] if args.baseline else []
        forwarded += ["--scenarios", args.ws_scenarios] if args.ws_scenarios else []
        return _websocket_module().main(forwarded)
    if args.duration <= 0 or args.warmup <= 0 or args.connections < 1 or args.rounds < 1:
        parser.error("--duration and --warmup must be positive, --connections and --rounds >= 1")
    if args.concurrency < 0 or args.instruction_requests < 1:
        parser.error("--concurrency must be >= 0, --instruction-requests >= 1")
    if shutil.which("wrk") is None:
        parser.error("wrk is not installed (apt-get install wrk, or `make bench`)")
    servers = _select(args.only, SERVERS, "server")
    if args.only and not any(s.name == "ceiling" for s in servers):
        # Ratios need the ceiling measured under the same conditions.
        servers.insert(0, SERVERS[0])
    scenarios = _select(args.scenarios, SCENARIOS, "scenario")
    if args.baseline is not None and not any(s.served_from for s in servers):
        parser.error("--baseline: none of the servers selected runs crosswind code")

    with tempfile.TemporaryDirectory(prefix="crosswind-bench-") as scratch:
        baseline = None
        if args.baseline is not None:
            (folder := Path(scratch, "baseline")).mkdir()
            try:
                baseline = prepare_baseline(args.baseline, folder)
            except ValueError as exc:
                parser.error(f"--baseline: {exc}")
        (log_dir := Path(scratch, "logs")).mkdir()
        return _campaign(args, with_baselines(servers, baseline), scenarios, baseline, log_dir)


def _campaign(
    args: argparse.Namespace, servers: Sequence[Server], scenarios: Sequence[Scenario],
    baseline: Baseline | None, log_dir: Path,
) -> int:
    """Measure every row in every round, then print and write the report."""
    # Turn SIGTERM into an exception so the finally blocks still stop the servers.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    server_cpu, wrk_cpu, pinning = _cpus()
    meta = machine_facts() | {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": _command_line(),
        "pinning": pinning,
        "connections": args.connections,
        "warmup": args.warmup,
        "duration": args.duration,
        "rounds": args.rounds,
    }
    if baseline is not None:
        meta["baseline"] = baseline_facts(baseline)
        print(f"baseline {baseline.ref} = {baseline.short}: {meta['baseline']['subject']}")
    print(f"{len(servers)} servers x {len(scenarios)} scenarios x {args.rounds} rounds; {pinning}")
    started = time.monotonic()
    runs: list[Run] = []
    try:
        for round_index in range(args.rounds):
            order = servers if round_index % 2 == 0 else servers[::-1]
            for server in order:
                _measure(runs, round_index, server, scenarios, args, server_cpu, wrk_cpu, log_dir)
    except BaselineMismatch as exc:
        print(f"error: a baseline row would not run the baseline's code: {exc}", file=sys.stderr)
        return 2
    meta["wall_seconds"] = time.monotonic() - started
    crowd = None
    wanted_crowd = [s for s in servers if s.name in CROWD_ROWS and s.baseline is None]
    if args.concurrency and wanted_crowd:
        crowd = _crowd_campaign(args, wanted_crowd, server_cpu, wrk_cpu, log_dir)
    counts = count_instructions(args.instruction_requests) if args.instructions == "on" else None
    meta["total_seconds"] = time.monotonic() - started
    websocket_section = None
    if args.websocket == "on":
        ws = _websocket_module()
        only = [name.strip() for name in args.only.split(",")] if args.only else None
        wanted = (
            [name.strip() for name in args.ws_scenarios.split(",")] if args.ws_scenarios else None
        )
        print("\nWebSocket rows:")
        try:
            websocket_section = ws.run_section(
                duration=args.duration, warmup=args.warmup, rounds=args.rounds, only=only,
                scenarios=wanted, capacity=args.ws_capacity, log_dir=log_dir, baseline=baseline,
            )
        except ws.run.BaselineMismatch as exc:  # that module's own copy of this one
            print(f"error: a baseline row would not run the baseline's code: {exc}",
                  file=sys.stderr)
            return 2

    table = summarize(runs, servers, scenarios)
    comparison = compare_to_baseline(runs, baseline_pairs(servers), scenarios) if baseline else None
    print()
    print(render_text(table, scenarios))
    print("\nserver CPU per request (us) and (CPU busy):")
    print(render_text(table, scenarios, _cpu_cell))
    if comparison is not None:
        print(f"\n{baseline_heading(meta)}:")
        print(render_text(comparison, scenarios, _ratio_cell))
    print("\nround targets (ratio to ceiling):")
    print(render_targets_text(table))
    crowd_table = None
    if crowd is not None:
        crowd_runs, levels = crowd
        crowd_table = summarize(crowd_runs, [crowd_server(s) for s in wanted_crowd], levels)
        print(f"\nhello at {levels[0].connections} and {levels[1].connections} connections:")
        print(_fixed_width(crowd_rows(crowd_table, levels)))
        print("\n".join(crowd_lines(crowd_table, levels)))
    if counts is not None:
        print("\ninstructions per request (callgrind, in memory):")
        print(_fixed_width(instruction_rows(counts)))
        print("\n".join(instruction_lines(counts)))
    notes = _notes(table) + (_notes(crowd_table) if crowd_table else [])
    if notes:
        print("\nProblems:\n" + "\n".join(f"- {note}" for note in notes))
    report = render_markdown(
        table, scenarios, meta, comparison,
        crowd=(crowd_table, crowd[1]) if crowd_table is not None and crowd else None,
        counts=counts,
    )
    if websocket_section is not None:
        print("\n" + ws.render_text(websocket_section))
        report += "\n" + "\n".join(ws.render_markdown(websocket_section)) + "\n"
        print(f"wrote {ws.write_report(websocket_section, meta['command'])}")
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / "latest.md").write_text(report, "utf-8")
    raw = {
        "meta": meta,
        "summary": table,
        "baseline_comparison": comparison,
        "targets": {"table": target_rows(table), "lines": target_lines(table)},
        "concurrency": crowd_table,
        "concurrency_runs": [_raw(r) for r in crowd[0]] if crowd else None,
        "instructions": counts,
        "runs": [_raw(r) for r in runs],
        "websocket": websocket_section,
    }
    (RESULTS_DIR / "latest.json").write_text(json.dumps(raw, indent=2) + "\n", "utf-8")
    print(f"\nwrote {RESULTS_DIR / 'latest.md'} and latest.json")
    ws_failed = websocket_section is not None and ws.failed(websocket_section)
    every_run = runs + (crowd[0] if crowd else [])
    return 1 if ws_failed or any(r.error and not r.unavailable for r in every_run) else 0


def _raw(r: Run) -> dict[str, Any]:
    """One run's figures for ``latest.json``."""
    return {
        "round": r.round, "server": r.server, "scenario": r.scenario, "error": r.error,
        "rps": r.result.requests_per_second if r.result else None,
        "latency_ms": r.result.latency_ms if r.result else None,
        "requests": r.result.requests if r.result else None,
        "socket_errors": r.result.socket_errors if r.result else None,
        "non_2xx": r.result.non_2xx if r.result else None,
        "cpu_us": r.cpu_us,
    }


def _websocket_module() -> Any:
    """``bench/websocket.py``, loaded by path: an installed ``websocket`` package may shadow it."""
    return _load_beside("crosswind_bench_websocket", "websocket.py")


def _load_beside(name: str, filename: str) -> Any:
    """The module in *filename* beside this one, loaded once under *name*."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, BENCH / filename)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


if __name__ == "__main__":
    sys.exit(main())
