"""Run crosswind's fuzz targets for a time budget each.

    python fuzz/run.py [--budget SECONDS] [--seed N] [--engine auto|atheris|hypothesis] [target ...]

Targets are the modules in ``fuzz/targets/`` (``protocol``, ``cookies``, ``forms``,
``multipart``, ``routing``, ``signing``, ``template``, ``ws_connection``, ``h2_connection``); each exposes
``test_one_input(data: bytes)``.
Every target starts from its seed files in ``fuzz/corpus/<target>/``.

Engines:

* ``atheris`` -- coverage-guided (libFuzzer) with crosswind, h11 and python-multipart
  instrumented; each target runs in its own process for ``-max_total_time`` seconds.
  Inputs that found new coverage go to ``fuzz/.work/corpus/<target>/`` (not in git).
* ``hypothesis`` -- the fallback where atheris cannot be installed: Hypothesis mutates
  the seeds (insert, delete, replace, splice, repeat) in batches until the budget is
  spent.  Not coverage-guided, but the same targets and the same findings.

``auto`` (the default) uses atheris when it is importable.

``--seed N`` (N >= 1) makes the mutations the same from run to run: ``make test``'s
short smoke uses it, so that its verdict changes with the code, not with the luck
of a run.  Without it (``make fuzz``), each run explores from a new seed.

A finding is minimized and saved as ``fuzz/crashes/<target>-<sha1>``;
``tests/test_fuzz_regressions.py`` replays every seed and every saved finding on each
test run, so a fixed bug stays fixed.  The exit status is 1 if anything was found.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import logging
import os
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

FUZZ = Path(__file__).resolve().parent
TARGETS = FUZZ / "targets"
CORPUS = FUZZ / "corpus"
CRASHES = FUZZ / "crashes"
WORK = FUZZ / ".work"

# Instrumented for coverage: crosswind and the parsers it delegates to.
INSTRUMENT = ["crosswind", "h11", "python_multipart", "wsproto", "_common"]


def target_names() -> list[str]:
    """The names of all fuzz targets."""
    return sorted(p.stem for p in TARGETS.glob("*.py") if not p.stem.startswith("_"))


def load_target(name: str) -> ModuleType:
    """Import ``fuzz/targets/<name>.py`` and return the module.

    :param name: the target's name.
    :raises ValueError: there is no such target.
    """
    if name not in target_names():
        raise ValueError(f"unknown fuzz target {name!r}; choose from {', '.join(target_names())}")
    if str(TARGETS) not in sys.path:
        sys.path.insert(0, str(TARGETS))
    return importlib.import_module(name)


def seed_files(name: str) -> list[Path]:
    """The seed corpus of *name* and every saved finding for it.

    :param name: the target's name.
    """
    seeds = sorted((CORPUS / name).glob("*")) if (CORPUS / name).is_dir() else []
    crashes = sorted(CRASHES.glob(f"{name}-*"))
    return [p for p in seeds + crashes if p.is_file()]


def save_finding(name: str, data: bytes) -> Path:
    """Store a (minimized) failing input for *name* under ``fuzz/crashes/``.

    :param name: the target's name.
    :param data: the input.
    """
    CRASHES.mkdir(exist_ok=True)
    path = CRASHES / f"{name}-{hashlib.sha1(data).hexdigest()}"
    path.write_bytes(data)
    return path


def _failure(module: ModuleType, data: bytes) -> tuple[str, str, int] | None:
    """How *data* makes the target fail: exception type and innermost frame, or None."""
    try:
        module.test_one_input(data)
    except Exception as error:
        frame = traceback.extract_tb(error.__traceback__)[-1]
        return (type(error).__name__, frame.filename, frame.lineno or 0)
    return None


def minimize(name: str, data: bytes, seconds: float = 30.0) -> bytes:
    """Shrink a failing input by deleting runs of bytes while it fails the same way.

    An input that does not fail in this process (a libFuzzer timeout or memory
    limit, say) is returned unchanged.

    :param name: the target's name.
    :param data: the failing input.
    :param seconds: time allowed for shrinking.
    """
    module = load_target(name)
    logging.disable(logging.WARNING)
    signature = _failure(module, data)
    if signature is None:
        return data
    deadline = time.monotonic() + seconds
    step = max(1, len(data) // 2)
    while time.monotonic() < deadline:
        at, shrunk = 0, False
        while at < len(data) and time.monotonic() < deadline:
            candidate = data[:at] + data[at + step :]
            if _failure(module, candidate) == signature:
                data, shrunk = candidate, True
            else:
                at += step
        if not shrunk:
            if step == 1:
                break
            step = max(1, step // 2)
    return data


# -- atheris ------------------------------------------------------------------------------


def atheris_available() -> bool:
    """Whether atheris can be imported here."""
    try:
        import atheris  # noqa: F401
    except ImportError:
        return False
    return True


def _worker(name: str, libfuzzer_args: list[str]) -> None:
    """Inside the child process: instrument, then hand control to libFuzzer."""
    import atheris

    # python-multipart logs a warning per malformed body; millions of runs drown the log.
    logging.disable(logging.WARNING)
    sys.path.insert(0, str(TARGETS))
    with atheris.instrument_imports(include=INSTRUMENT):
        module = importlib.import_module(name)
    atheris.Setup([sys.argv[0], *libfuzzer_args], module.test_one_input)
    atheris.Fuzz()


def _child(name: str, args: list[str], log: Path, timeout: float) -> int:
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", name, "--", *args]
    with log.open("ab") as out:
        try:
            return subprocess.run(
                command, stdout=out, stderr=subprocess.STDOUT, timeout=timeout, check=False
            ).returncode
        except subprocess.TimeoutExpired:
            return -1


def run_atheris(name: str, budget: float, seed: int = 0) -> list[Path]:
    """Fuzz *name* with atheris for *budget* seconds; return the findings saved.

    :param name: the target's name.
    :param budget: seconds of fuzzing.
    :param seed: libFuzzer's seed; 0 for a new one.
    """
    corpus = WORK / "corpus" / name
    corpus.mkdir(parents=True, exist_ok=True)
    raw = WORK / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    log = WORK / f"{name}.log"
    log.write_bytes(b"")
    before = set(raw.glob(f"{name}-*"))
    seeds = [str(CORPUS / name)] if (CORPUS / name).is_dir() else []
    args = [
        f"-max_total_time={max(1, int(budget))}",
        f"-seed={seed}",
        "-timeout=10",
        "-rss_limit_mb=2048",
        "-print_final_stats=1",
        f"-artifact_prefix={raw}/{name}-",
        str(corpus),
        *seeds,
    ]
    status = _child(name, args, log, budget + 120)
    found = sorted(set(raw.glob(f"{name}-*")) - before)
    # libFuzzer's own -minimize_crash re-runs argv[0] as a program, which a Python
    # script cannot be; findings are minimized in this process instead.
    saved = [save_finding(name, minimize(name, artifact.read_bytes())) for artifact in found]
    if status not in (0, -1) and not found:
        print(f"  {name}: libFuzzer exited with {status} and left no input; see {log}")
    _summarize(log)
    return saved


def _summarize(log: Path) -> None:
    lines = log.read_text("utf-8", "replace").splitlines()
    for at, line in enumerate(lines):
        if line.startswith(("stat::number_of_executed_units", "stat::new_units_added")) or (
            "ERROR:" in line or "Uncaught Python exception" in line
        ):
            print(f"    {line.strip()}")
        if "Uncaught Python exception" in line and at + 1 < len(lines):
            # The exception's own line says what was found (a CI log may be all there is).
            print(f"    {lines[at + 1].strip()[:300]}")


# -- Hypothesis fallback ------------------------------------------------------------------


def run_hypothesis(name: str, budget: float, seed: int = 0) -> list[Path]:
    """Fuzz *name* with Hypothesis mutating its seeds for *budget* seconds.

    :param name: the target's name.
    :param budget: seconds of fuzzing.
    :param seed: the first batch's random seed, one more for each batch after; 0 for random.
    """
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as seeded

    module = load_target(name)
    inputs = _mutations([p.read_bytes() for p in seed_files(name)])
    failing: list[bytes] = []
    executed = 0

    def attempt(data: bytes) -> None:
        nonlocal executed
        executed += 1
        try:
            module.test_one_input(data)
        except Exception:
            failing.append(data)  # the last one recorded is Hypothesis's shrunk example
            raise

    deadline = time.monotonic() + budget
    saved: list[Path] = []
    batches = 0
    while time.monotonic() < deadline and not saved:
        test = given(inputs)(attempt)
        if seed:
            test = seeded(seed + batches)(test)
        batches += 1
        batch = settings(
            max_examples=200,
            deadline=None,
            database=None,
            phases=[Phase.generate, Phase.shrink],
            suppress_health_check=list(HealthCheck),
            print_blob=False,
        )(test)
        try:
            batch()
        except Exception as error:  # a finding: whatever the target raised
            if not failing:
                raise
            path = save_finding(name, minimize(name, failing[-1]))
            print(f"    {type(error).__name__}: {str(error).splitlines()[0][:200]}")
            saved.append(path)
    print(f"    executed {executed} inputs")
    return saved


def _mutations(seeds: list[bytes]) -> object:
    from hypothesis import strategies as st

    pool = seeds or [b""]
    interesting = st.one_of(
        st.binary(min_size=1, max_size=8),
        st.sampled_from([b"\r\n", b"\n", b"\r", b"\x00", b" ", b"\t", b":", b";", b"=", b"&",
                         b"%", b"0", b"f", b"/", b"<", b">", b"|", b'"', b"\\", b"\xff",
                         b"\r\n\r\n", b"--", b"chunked", b"Content-Length: ",
                         b"Transfer-Encoding: chunked\r\n"]),
    )

    @st.composite
    def mutated(draw: st.DrawFn) -> bytes:
        data = bytearray(draw(st.sampled_from(pool)))
        for _ in range(draw(st.integers(0, 6))):
            kind = draw(st.sampled_from(["insert", "delete", "replace", "splice", "repeat"]))
            at = draw(st.integers(0, len(data)))
            if kind == "insert":
                data[at:at] = draw(interesting)
            elif kind == "delete":
                del data[at : at + draw(st.integers(1, 16))]
            elif kind == "replace":
                piece = draw(interesting)
                data[at : at + len(piece)] = piece
            elif kind == "splice":
                other = draw(st.sampled_from(pool))
                start = draw(st.integers(0, len(other)))
                data[at:] = other[start:]
            else:
                end = draw(st.integers(at, min(len(data), at + 64)))
                data[end:end] = data[at:end] * draw(st.integers(1, 4))
        return bytes(data[:65536])

    return st.one_of(mutated(), st.binary(max_size=512))


# -- command line -------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status.

    :param argv: arguments without the program name (default ``sys.argv[1:]``).
    """
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:
        _worker(argv[1], argv[3:] if argv[2:3] == ["--"] else argv[2:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--budget", type=float, default=60.0, help="seconds per target")
    parser.add_argument("--seed", type=int, default=0,
                        help="the same mutations from run to run (>= 1); default: a new seed each run")
    parser.add_argument("--engine", choices=["auto", "atheris", "hypothesis"], default="auto")
    parser.add_argument("targets", nargs="*", help=f"default: all of {', '.join(target_names())}")
    options = parser.parse_args(argv)
    names = options.targets or target_names()
    unknown = [n for n in names if n not in target_names()]
    if unknown:
        parser.error(f"unknown targets {unknown}; choose from {', '.join(target_names())}")
    engine = options.engine
    if engine == "auto":
        engine = "atheris" if atheris_available() else "hypothesis"
    elif engine == "atheris" and not atheris_available():
        parser.error("atheris is not installed (pip install atheris), or use --engine hypothesis")
    if options.seed < 0:
        parser.error("--seed must be 0 (a new seed each run) or more")
    run: Callable[[str, float, int], list[Path]] = (
        run_atheris if engine == "atheris" else run_hypothesis
    )
    findings: dict[str, list[Path]] = {}
    for name in names:
        print(f"fuzzing {name} with {engine} for {options.budget:g} s", flush=True)
        findings[name] = run(name, options.budget, options.seed)
    total = sum(len(paths) for paths in findings.values())
    for name, paths in findings.items():
        for path in paths:
            print(f"FINDING {name}: {path.relative_to(FUZZ.parent)}")
    print(f"{total} finding(s); replay with: pytest tests/test_fuzz_regressions.py")
    return 1 if total else 0


if __name__ == "__main__":
    os.chdir(FUZZ.parent)
    sys.exit(main())
