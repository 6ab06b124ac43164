"""User programs type-check against crosswind's annotations, as mypy sees them.

``make test`` runs mypy over crosswind itself; this checks the other side of the
annotations: that the code a user writes (a Flask-style and a Tornado-style
application with their tests) type-checks without a cast, and that a mistake in
such code is reported rather than swallowed by an ``Any``.  The programs are
checked together in one run of mypy, in process, with the repository's own
configuration (``[tool.mypy]`` in ``pyproject.toml``, strict) and its cache.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from mypy import api as mypy_api

from tests.support.mypy_paths import ensure as ensure_mypy_paths

ROOT = Path(__file__).resolve().parent.parent

FLASK_STYLE = """
from crosswind.app import App, request, session
from crosswind.app.testing import AppClient

app = App(__name__)
app.secret_key = "not secret"


@app.get("/visit")
def visit() -> dict[str, object]:
    session["seen"] = True
    visits: int = session.get("visits", 0) + 1
    session["visits"] = visits
    session.pop("flash", None)
    name: str | None = request.args.get("name")
    return {"visits": visits, "name": name}


def check_visit() -> None:
    client: AppClient = app.test_client()
    response = client.get("/visit", query_string={"name": "ada"})
    status: int = response.status_code
    body = response.get_json()
    assert status == 200 and body["visits"] == 1
    with client.session_transaction() as stored:
        stored["seen"] = False
        assert "visits" in stored
"""

TORNADO_STYLE = """
from crosswind.testing import Client
from crosswind.web import Application, RequestHandler


class Greet(RequestHandler):
    def get(self) -> None:
        name: str = self.get_argument("name")
        title: str = self.get_argument("title", "")
        nickname: str | None = self.get_argument("nickname", None)
        tags: list[str] = self.get_arguments("tag")
        page: str = self.get_query_argument("page", "1")
        self.session["seen"] = True
        visits: int = self.session.get("visits", 0) + 1
        self.session["visits"] = visits
        self.write(f"{title} {name.upper()} {nickname or ''} {len(tags)} {page.zfill(3)}")


def check_greet() -> None:
    app = Application([("/greet", Greet)], cookie_secret="not secret")
    response = Client(app).get("/greet?name=ada")
    status: int = response.status_code
    text: str = response.text
    assert status == 200 and "ADA" in text
"""

# Mistakes mypy can see only through real types: an optional argument or header used
# as if it were always there, and a status code taken for text.
MISTAKES = """
from crosswind.app import App, request
from crosswind.web import RequestHandler


class Shout(RequestHandler):
    def get(self) -> None:
        nickname = self.get_argument("nickname", None)
        self.write(nickname.upper())


def shout_header() -> str:
    return request.headers.get("X-Name").upper()


def check_status(app: App) -> None:
    app.test_client().get("/").status_code.upper()
"""

PROGRAMS = {"flask_style": FLASK_STYLE, "tornado_style": TORNADO_STYLE, "mistakes": MISTAKES}


@pytest.fixture(scope="module")
def mypy_errors(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """Run mypy once over every program; return each program's error lines."""
    ensure_mypy_paths()
    folder = tmp_path_factory.mktemp("programs")
    paths = []
    for name, source in PROGRAMS.items():
        path = folder / f"{name}.py"
        path.write_text(textwrap.dedent(source).lstrip())
        paths.append(path)
    stdout, stderr, _status = mypy_api.run(
        [
            "--config-file",
            str(ROOT / "pyproject.toml"),
            # The cache `make test` warms for crosswind itself.
            "--cache-dir",
            str(ROOT / ".mypy_cache"),
            "--no-error-summary",
            *map(str, paths),
        ]
    )
    assert not stderr, stderr
    errors: dict[str, list[str]] = {name: [] for name in PROGRAMS}
    for line in stdout.splitlines():
        # By file name: a program unchanged since an earlier run is not checked again,
        # and mypy repeats its errors under the folder that run wrote it to.
        where, _, message = line.partition(":")
        name = Path(where).stem
        if name in errors and ": error:" in message:
            errors[name].append(":" + message)
    return errors


@pytest.mark.parametrize("program", ["flask_style", "tornado_style"])
def test_user_program_type_checks(mypy_errors: dict[str, list[str]], program: str) -> None:
    assert mypy_errors[program] == []


def test_mistakes_are_reported(mypy_errors: dict[str, list[str]]) -> None:
    assert mypy_errors["mistakes"] == [
        ':8: error: Item "None" of "str | None" has no attribute "upper"  [union-attr]',
        ':12: error: Item "None" of "str | None" has no attribute "upper"  [union-attr]',
        ':16: error: "int" has no attribute "upper"  [attr-defined]',
    ]
