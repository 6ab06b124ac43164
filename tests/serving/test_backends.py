"""The backend registry, and the ``Serve`` interface every backend's ``serve`` implements.

The interface is checked on the signatures: whatever keyword the command line,
``Application.listen`` or ``App.run`` may pass, every installed backend must
accept, with the default the interface promises.  A backend whose ``serve``
takes ``**options`` hands them to the ``start_server`` of its module (as each
built-in backend documents), so that function's parameters count as its own.
"""

from __future__ import annotations

import inspect
import logging
import sys
from collections.abc import Callable
from typing import Any

import pytest
from crosswind.serving import cli
from crosswind.serving.backends import Serve, available_backends, load_backend
from crosswind.serving.errors import CLIError

from tests.support.servers import self_signed_certificate

BUILT_IN = {"asyncio", "trio", "threads"}

POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
BY_KEYWORD = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def declared() -> inspect.Signature:
    """``Serve.__call__`` without ``self``: the signature every backend must accept."""
    signature = inspect.signature(Serve.__call__)
    return signature.replace(parameters=list(signature.parameters.values())[1:])


KEYWORDS = [p.name for p in declared().parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY]


def incompatibilities(
    serve: Callable[..., Any], start_server: Callable[..., Any] | None = None
) -> list[str]:
    """Why *serve* cannot be called as :class:`Serve` declares; empty if it can.

    :param serve: a backend's ``serve``.
    :param start_server: where *serve* sends its ``**options``, if it takes them.
    """
    params = inspect.signature(serve).parameters
    problems: list[str] = []
    forwarded: dict[str, inspect.Parameter] = {}
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        if start_server is None:
            problems.append("takes **options but has no start_server that says which")
        else:
            forwarded = dict(inspect.signature(start_server).parameters)
    positional = [p for p in params.values() if p.kind in POSITIONAL]
    wanted = list(declared().parameters.values())
    for index, want in enumerate(p for p in wanted if p.kind in POSITIONAL):
        got = positional[index] if index < len(positional) else None
        if got is None or got.name != want.name or got.kind not in BY_KEYWORD:
            problems.append(f"positional parameter {index} is not {want.name!r}")
        elif got.default != want.default:
            problems.append(f"{want.name} defaults to {got.default!r}, not {want.default!r}")
    for want in wanted:
        if want.kind is not inspect.Parameter.KEYWORD_ONLY:
            continue
        found = params.get(want.name) or forwarded.get(want.name)
        if found is None:
            problems.append(f"no keyword {want.name!r}")
        elif found.kind not in BY_KEYWORD:
            problems.append(f"{want.name!r} cannot be passed by keyword")
        elif found.default != want.default:
            problems.append(f"{want.name} defaults to {found.default!r}, not {want.default!r}")
    names = {p.name for p in wanted}
    for extra in params.values():
        if (
            extra.name not in names
            and extra.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
            and extra.default is inspect.Parameter.empty
        ):
            problems.append(f"requires {extra.name!r}, which no caller passes")
    return problems


def test_the_built_in_backends_are_installed() -> None:
    assert set(available_backends()) >= BUILT_IN


@pytest.mark.parametrize("name", sorted(available_backends()))
def test_each_installed_backend_implements_serve(name: str) -> None:
    serve = load_backend(name)
    start_server = getattr(sys.modules[serve.__module__], "start_server", None)
    assert incompatibilities(serve, start_server) == []


def test_backends_come_from_entry_points() -> None:
    from crosswind.backends import threads

    assert load_backend("threads") is threads.serve
    with pytest.raises(CLIError, match="unknown backend 'nope'; available: asyncio, threads, trio"):
        load_backend("nope")


# -- the check itself ------------------------------------------------------------


def with_signature(signature: inspect.Signature) -> Callable[..., None]:
    def serve(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("only its signature is read")

    serve.__signature__ = signature  # type: ignore[attr-defined]
    return serve


def without(name: str) -> inspect.Signature:
    signature = declared()
    return signature.replace(parameters=[p for p in signature.parameters.values() if p.name != name])


def test_the_declared_signature_passes() -> None:
    assert incompatibilities(with_signature(declared())) == []


@pytest.mark.parametrize("name", KEYWORDS)
def test_a_dropped_keyword_fails(name: str) -> None:
    assert incompatibilities(with_signature(without(name))) == [f"no keyword {name!r}"]


@pytest.mark.parametrize("name", KEYWORDS)
def test_a_keyword_dropped_from_start_server_fails(name: str) -> None:
    # serve(app, host, port, *, started, handle_signals, **options), as the
    # built-in backends write it: the rest must be start_server's.
    own = ("app", "host", "port", "started", "handle_signals")
    serve = declared().replace(
        parameters=[
            *(p for p in declared().parameters.values() if p.name in own),
            inspect.Parameter("options", inspect.Parameter.VAR_KEYWORD),
        ]
    )
    start_server = without(name)
    problems = incompatibilities(with_signature(serve), with_signature(start_server))
    assert problems == ([f"no keyword {name!r}"] if name not in own else [])
    assert incompatibilities(with_signature(serve), with_signature(declared())) == []


def test_options_with_nowhere_to_go_fail() -> None:
    serve = without("sock").replace(
        parameters=[
            *without("sock").parameters.values(),
            inspect.Parameter("options", inspect.Parameter.VAR_KEYWORD),
        ]
    )
    assert incompatibilities(with_signature(serve)) == [
        "takes **options but has no start_server that says which",
        "no keyword 'sock'",
    ]


def test_a_changed_default_or_a_required_extra_fails() -> None:
    params = list(declared().parameters.values())
    changed = [p.replace(default=10.0) if p.name == "shutdown_timeout" else p for p in params]
    assert incompatibilities(with_signature(declared().replace(parameters=changed))) == [
        "shutdown_timeout defaults to 10.0, not 30.0"
    ]
    positional_only = [
        p.replace(kind=inspect.Parameter.POSITIONAL_ONLY) if p.name in ("app", "host", "port") else p
        for p in params
    ]
    assert "positional parameter 1 is not 'host'" in incompatibilities(
        with_signature(declared().replace(parameters=positional_only))
    )
    extra = [*params, inspect.Parameter("loop", inspect.Parameter.KEYWORD_ONLY)]
    assert incompatibilities(with_signature(declared().replace(parameters=extra))) == [
        "requires 'loop', which no caller passes"
    ]


# -- what the command line passes -------------------------------------------------


def test_the_command_line_passes_only_what_serve_declares(tmp_path, monkeypatch) -> None:
    pytest.importorskip("cryptography")
    cert, key = self_signed_certificate(tmp_path)
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def serve(*args: Any, **kwargs: Any) -> None:
        calls.append((args, kwargs))

    monkeypatch.setattr(cli, "load_backend", lambda name: serve)
    monkeypatch.setattr(cli, "configure_logging", lambda level: None)
    # The command line silences the web layer's access log for the process.
    web_access = logging.getLogger("crosswind.web.access")
    monkeypatch.setattr(web_access, "disabled", web_access.disabled)
    status = cli.main([
        "serve", "tests.support.apps:app", "--certfile", str(cert), "--keyfile", str(key),
        "--unix-socket", str(tmp_path / "s.sock"), "--protocol", "h11", "--shutdown-timeout", "3",
    ])
    assert status == 0
    [(args, kwargs)] = calls
    declared().bind(*args, **kwargs)  # raises TypeError on a keyword Serve does not declare
    assert set(kwargs) == {
        "started", "handle_signals", "ssl_context", "unix_socket", "limits",
        "shutdown_timeout", "engine", "access_log",
    }
    assert (kwargs["unix_socket"], kwargs["engine"], kwargs["shutdown_timeout"]) == (
        str(tmp_path / "s.sock"), "h11", 3.0,
    )
