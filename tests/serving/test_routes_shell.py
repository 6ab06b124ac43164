"""``python -m crosswind routes`` and ``shell``, held against ``flask routes`` and ``flask shell``.

The table is compared line for line with what Flask's own command prints for
the twin application (``tests/support/route_apps.py``), in every sort order,
in process; a few runs go through a real ``python -m crosswind`` process.
"""

from __future__ import annotations

import os
import re
import sys

import pytest
from crosswind.serving import cli
from crosswind.serving.routes import route_rows
from flask.cli import routes_command
from flask.testing import FlaskCliRunner

from tests.support import route_apps
from tests.support.cli_process import ROOT, run_cli

SORTS = ["endpoint", "methods", "domain", "rule", "match"]


def flask_routes(app: object, *options: str) -> list[str]:
    result = FlaskCliRunner(app).invoke(routes_command, args=list(options))  # type: ignore[arg-type]
    assert result.exit_code == 0, result.output
    return result.output.splitlines()


def our_routes(capsys: pytest.CaptureFixture[str], target: str, *options: str) -> list[str]:
    assert cli.main(["routes", target, *options]) == 0
    return capsys.readouterr().out.splitlines()


@pytest.mark.parametrize("name", list(route_apps.BUILDERS))
@pytest.mark.parametrize("sort", SORTS)
@pytest.mark.parametrize("all_methods", [False, True])
def test_routes_table_same_as_flask(
    capsys: pytest.CaptureFixture[str], name: str, sort: str, all_methods: bool
) -> None:
    options = ["--sort", sort] + (["--all-methods"] if all_methods else [])
    want = flask_routes(getattr(route_apps, f"flask_{name}"), *options)
    got = our_routes(capsys, f"tests.support.route_apps:cw_{name}", *options)
    assert got == want


def test_routes_of_a_real_flask_app_too(capsys: pytest.CaptureFixture[str]) -> None:
    # A Flask application is listed by its shape, without being ported.
    assert our_routes(capsys, "tests.support.route_apps:flask_main", "-s", "rule") == flask_routes(
        route_apps.flask_main, "-s", "rule"
    )


def test_routes_of_a_tornado_style_application(capsys: pytest.CaptureFixture[str]) -> None:
    lines = our_routes(capsys, "tests.support.route_apps:tornado_app", "--sort", "match")
    assert [line.rstrip() for line in lines] == [
        "Endpoint     Methods      Host               Rule",
        "-----------  -----------  -----------------  ---------------",
        "ping         GET          api\\.example\\.com  /v1/ping",
        "MainHandler  GET                             /",
        "item         DELETE, GET                     /items/([0-9]+)",
        "EchoHandler  GET                             /echo",
    ]


def test_routes_through_the_command_for_a_mount_of_both_styles() -> None:
    done = run_cli("routes", "tests.support.route_apps:combo", "--sort", "rule")
    assert done.returncode == 0, done.stderr
    rows = [line.split() for line in done.stdout.splitlines()[2:]]
    assert [row[-1] for row in rows] == sorted(row[-1] for row in rows)
    by_endpoint = {row[0]: row for row in rows}
    # The Flask-style routes sit under the mount prefix, with their methods.
    assert by_endpoint["post"] == ["post", "DELETE,", "GET,", "POST", "/flask/post/<int:post_id>"]
    assert by_endpoint["admin.user"][-1] == "/flask/admin/users/<name>"
    assert by_endpoint["item"][-1] == "/items/([0-9]+)"
    assert by_endpoint["ping"][-2:] == ["api\\.example\\.com", "/v1/ping"]


def test_routes_of_something_that_is_no_application() -> None:
    done = run_cli("routes", "tests.support.route_apps:ROOT")
    assert done.returncode == 2
    assert done.stderr == (
        "crosswind: error: tests.support.route_apps:ROOT: str has no route table: expected a "
        "Flask-style App, a Tornado-style Application or a mount of them\n"
    )
    assert run_cli("routes", "tests.support.route_apps:cw_main", "--sort", "size").returncode == 2


SHELL_INPUT = """\
print("names", sorted(k for k in dir() if not k.startswith("__")))
print("answer", answer, site, app.name)
from crosswind.app import current_app, g as current_g
print("context", current_app.name, current_g is g)
g.note = "kept"  # a RuntimeError without an app context
print("g", current_g.note)
"""


def test_shell_pushes_the_app_context_and_runs_the_shell_context_processors() -> None:
    done = run_cli("shell", "tests.support.route_apps:cw_main", input=SHELL_INPUT)
    assert done.returncode == 0, done.stderr
    out = [re.sub(r"^(>>> |\.\.\. )+", "", line).strip() for line in done.stdout.splitlines()]
    assert "names ['answer', 'app', 'g', 'site']" in out
    assert "answer 42 route_apps route_apps" in out
    assert "context route_apps True" in out
    assert "g kept" in out
    banner = done.stderr.splitlines()
    assert banner[0] == f"Python {sys.version} on {sys.platform}".splitlines()[0]
    assert "App: route_apps" in banner
    assert f"Instance: {os.path.join(route_apps.ROOT, 'instance')}" in banner


def test_shell_runs_pythonstartup_first(tmp_path: os.PathLike[str]) -> None:
    startup = os.path.join(tmp_path, "startup.py")
    with open(startup, "w") as file:
        file.write("answer = 'startup'\nbefore = 'yes'\n")
    env = {**os.environ, "PYTHONSTARTUP": startup}
    done = run_cli(
        "shell", "tests.support.route_apps:cw_main", input="print(before, answer)\n", env=env
    )
    assert done.returncode == 0, done.stderr
    # The app's names are added after the startup file, so they win.
    assert ">>> yes 42" in done.stdout


def test_shell_on_a_tornado_style_application() -> None:
    done = run_cli(
        "shell", "tests.support.route_apps:tornado_app",
        input="print(type(app).__name__, app.reverse_url('item', 5))\n",
    )
    assert done.returncode == 0, done.stderr
    assert ">>> Application /items/5" in done.stdout
    assert "App: tests.support.route_apps:tornado_app (Application)" in done.stderr


def test_shell_reports_an_import_error_like_serve() -> None:
    done = run_cli("shell", "no_such_module_here:app", cwd=ROOT)
    assert done.returncode == 2
    assert done.stderr == (
        "crosswind: error: cannot import module 'no_such_module_here': "
        "no module named 'no_such_module_here'\n"
    )


def test_routes_of_an_app_with_an_application_mounted_on_it() -> None:
    app = route_apps.build(route_apps._names("crosswind"))
    app.mount("/legacy", route_apps.tornado_app)
    rules = [(row.endpoint, row.rule, row.domain) for row in route_rows(app)]
    assert rules[0] == ("index", "/", "")
    # The mounted application's own routes follow the app's, under the prefix.
    assert rules[-4:] == [
        ("ping", "/legacy/v1/ping", "api\\.example\\.com"),
        ("MainHandler", "/legacy/", ""),
        ("item", "/legacy/items/([0-9]+)", ""),
        ("EchoHandler", "/legacy/echo", ""),
    ]
