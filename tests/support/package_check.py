"""Build the sdist and the wheel, and meet each the way a user of the package would.

``python -m tests.support.package_check`` (a step of ``make test``):

1. builds both artefacts from this tree without build isolation: ``build`` and
   ``setuptools`` come from the test extra, so no package index is consulted;
2. checks that the sdist holds every file git tracks and nothing git ignores;
3. installs the wheel, with the ``trio`` and ``testing`` extras, into a fresh virtual
   environment in a temporary folder, through pip's own configuration (its indexes and
   find-links) and its cache;
4. from a folder outside the checkout, imports every public module of the installed
   package and checks that it is the installed copy which answers;
5. serves one request through the installed ``crosswind serve`` command.

``python -m tests.support.package_check --sdist-tests`` (``make test-sdist``) instead
installs the sdist with its test extra into a fresh environment and runs the whole suite
from the unpacked sdist, which takes as long as the suite does.

Every wait is bounded, and the server is stopped by its own process id.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
import venv
import zipfile
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXTRAS = "trio,testing"
SERVE_TIMEOUT = 20.0
PIP_TIMEOUT = 300.0

# The module a fresh environment serves: as small as an application gets.
HELLO_APP = '''\
from crosswind.web import Application, RequestHandler


class Hello(RequestHandler):
    def get(self):
        self.write("served from the wheel")


app = Application([(r"/", Hello)])
'''


class PackageError(Exception):
    """An artefact is not what a user of the package should receive."""


def log(message: str) -> None:
    print(f"package check: {message}", flush=True)


def run(args: Sequence[str | os.PathLike[str]], *, cwd: Path, timeout: float = PIP_TIMEOUT,
        env: dict[str, str] | None = None) -> str:
    """Run *args*, returning stdout; a failure carries the command's own output."""
    done = subprocess.run(
        [os.fspath(a) for a in args], cwd=cwd, env=env, timeout=timeout,
        stdin=subprocess.DEVNULL, capture_output=True, text=True,
    )
    if done.returncode != 0:
        raise PackageError(
            f"{' '.join(map(os.fspath, args))} exited with {done.returncode}:\n"
            f"{done.stdout}{done.stderr}"
        )
    return done.stdout


def build(outdir: Path, source: Path = ROOT) -> tuple[Path, Path]:
    """Build the sdist and the wheel of *source* into *outdir*; returns both paths."""
    run([sys.executable, "-m", "build", "--no-isolation", "--sdist", "--wheel",
         "--outdir", outdir, source], cwd=source)
    (sdist,) = outdir.glob("crosswind-*.tar.gz")
    (wheel,) = outdir.glob("crosswind-*.whl")
    return sdist, wheel


def sdist_members(sdist: Path) -> set[str]:
    """The files of *sdist*, relative to its top folder."""
    with tarfile.open(sdist) as archive:
        return {m.name.split("/", 1)[1] for m in archive.getmembers()
                if m.isfile() and "/" in m.name}


def check_sdist(sdist: Path, source: Path = ROOT) -> None:
    """The sdist holds every tracked file and no ignored one (skipped outside a checkout)."""
    if not (source / ".git").exists():
        log(f"{source} is not a git checkout: the sdist's file list is not compared")
        return
    members = sdist_members(sdist)
    tracked = set(run(["git", "ls-files", "-z"], cwd=source).split("\0")) - {""}
    # A tracked file deleted in the working tree cannot be packed, and is not missing.
    tracked = {name for name in tracked if (source / name).is_file()}
    missing = sorted(tracked - members)
    if missing:
        raise PackageError("the sdist lacks tracked files: " + ", ".join(missing[:20]))
    extra = "\n".join(sorted(members - tracked))
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", "--stdin"], cwd=source, input=extra,
        capture_output=True, text=True, timeout=60,
    ).stdout.split()
    # egg-info is the metadata setuptools writes into every sdist, ignored in the tree.
    ignored = [name for name in ignored if not name.startswith("crosswind.egg-info/")]
    if ignored:
        raise PackageError("the sdist carries ignored files: " + ", ".join(ignored[:20]))
    log(f"sdist holds all {len(tracked)} tracked files")


def public_modules(wheel: Path) -> list[str]:
    """Every module of *wheel* whose dotted name has no part starting with ``_``."""
    names = []
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            if not name.endswith(".py"):
                continue
            parts = name[: -len(".py")].split("/")
            if parts[-1] == "__init__":
                parts.pop()
            if not any(part.startswith("_") for part in parts):
                names.append(".".join(parts))
    return sorted(names)


def fresh_venv(where: Path) -> Path:
    """A new virtual environment at *where*; returns its python.

    It has no pip of its own: :func:`pip_install` drives this environment's pip into it,
    which spares the slowest part of making one.
    """
    venv.EnvBuilder(with_pip=False, clear=True).create(where)
    return where / "bin" / "python"


def pip_install(python: Path, requirement: str, cwd: Path) -> None:
    """Install *requirement* into the environment of *python*, with pip's configuration."""
    # --no-compile: the checks import a module once, so byte-compiling every dependency
    # up front would only add to the time make test takes.
    run([sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-compile",
         requirement], cwd=cwd)


def outside_env() -> dict[str, str]:
    """This environment without anything that would put the checkout on the path."""
    env = {k: v for k, v in os.environ.items()
           if k not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def check_imports(python: Path, modules: Sequence[str], cwd: Path, venv_dir: Path) -> None:
    """Import each of *modules* with *python*, and check the installed copy answered."""
    script = (
        "import importlib, sys\n"
        "import crosswind\n"
        "print(crosswind.__file__)\n"
        "failed = []\n"
        "for name in sys.argv[1:]:\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as exc:\n"
        "        failed.append(f'{name}: {type(exc).__name__}: {exc}')\n"
        "if failed:\n"
        "    sys.exit('\\n'.join(failed))\n"
    )
    where = run([python, "-c", script, *modules], cwd=cwd, env=outside_env()).strip()
    if not Path(where).resolve().is_relative_to(venv_dir.resolve()):
        raise PackageError(f"crosswind was imported from {where}, not from the fresh environment")
    log(f"imported {len(modules)} public modules from {where}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def check_serve(venv_dir: Path, cwd: Path) -> None:
    """Serve one request through the installed ``crosswind`` command."""
    (cwd / "hello_app.py").write_text(HELLO_APP)
    port = free_port()
    log_path = cwd / "serve.log"
    with log_path.open("wb") as output:
        server = subprocess.Popen(
            [venv_dir / "bin" / "crosswind", "serve", "hello_app:app",
             "--host", "127.0.0.1", "--port", str(port)],
            cwd=cwd, env=outside_env(), stdin=subprocess.DEVNULL,
            stdout=output, stderr=subprocess.STDOUT,
        )
    try:
        body = _first_answer(f"http://127.0.0.1:{port}/", server)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)
    if body is None:
        raise PackageError(f"crosswind serve did not answer:\n{log_path.read_text()}")
    if body != b"served from the wheel":
        raise PackageError(f"crosswind serve answered {body!r}")
    log(f"crosswind serve answered on port {port}")


def _first_answer(url: str, server: subprocess.Popen[bytes]) -> bytes | None:
    deadline = time.monotonic() + SERVE_TIMEOUT
    while time.monotonic() < deadline and server.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return bytes(response.read())
        except OSError:
            time.sleep(0.1)
    return None


def check_wheel(sdist: Path, wheel: Path, work: Path) -> None:
    venv_dir = work / "venv"
    python = fresh_venv(venv_dir)
    pip_install(python, f"{wheel}[{EXTRAS}]", work)
    log(f"installed {wheel.name}[{EXTRAS}] into a fresh environment")
    elsewhere = work / "elsewhere"
    elsewhere.mkdir()
    check_imports(python, public_modules(wheel), elsewhere, venv_dir)
    check_serve(venv_dir, elsewhere)


def check_sdist_tests(sdist: Path, work: Path) -> None:
    """Install *sdist* with its test extra, then run the suite from the unpacked sdist."""
    with tarfile.open(sdist) as archive:
        archive.extractall(work, filter="data")
    (unpacked,) = (p for p in work.iterdir() if p.name.startswith("crosswind-"))
    python = fresh_venv(work / "venv")
    pip_install(python, f"{sdist}[test,trio]", work)
    log(f"installed {sdist.name}[test,trio]; running the suite in {unpacked}")
    # The suite imports crosswind from the installed sdist: the unpacked folder has no
    # crosswind/ package, only core/, which is not on the path.
    done = subprocess.run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=unpacked,
        env=outside_env(), stdin=subprocess.DEVNULL,
    )
    if done.returncode != 0:
        raise PackageError(f"the suite failed from the unpacked sdist ({done.returncode})")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sdist-tests", action="store_true",
                        help="run the whole suite from the unpacked sdist instead")
    options = parser.parse_args(argv)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="crosswind-package-") as tmp:
        work = Path(tmp)
        try:
            sdist, wheel = build(work / "dist")
            log(f"built {sdist.name} and {wheel.name}")
            check_sdist(sdist)
            if options.sdist_tests:
                check_sdist_tests(sdist, work)
            else:
                check_wheel(sdist, wheel, work)
        except (PackageError, subprocess.TimeoutExpired) as exc:
            print(f"package check failed: {exc}", file=sys.stderr)
            return 1
    log(f"passed in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
