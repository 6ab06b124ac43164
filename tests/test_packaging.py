"""What a user of the published package meets: its metadata, README, extras and API reference.

The artefacts themselves are built and installed by ``python -m tests.support.package_check``
(a step of ``make test``): a wheel in a fresh environment, every public module imported,
one request served by the installed command.  The checks here read the sources those
artefacts are made from, so they stay fast.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from markdown_it import MarkdownIt

from tests.support.package_check import public_modules

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
REPOSITORY = PROJECT["urls"]["Repository"]
# setuptools' package-dir: the folder each installed package name comes from.
PACKAGE_DIRS = PYPROJECT["tool"]["setuptools"]["package-dir"]


def test_license_is_mit_under_the_declared_authors() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert PROJECT["license"] == "MIT"
    assert PROJECT["license-files"] == ["LICENSE"]
    assert text.startswith("MIT License\n")
    (author,) = (entry["name"] for entry in PROJECT["authors"])
    assert re.search(rf"^Copyright \(c\) \d{{4}} {re.escape(author)}$", text, re.M)
    assert "THE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND" in text


def test_classifiers_say_what_the_package_is() -> None:
    classifiers = set(PROJECT["classifiers"])
    assert {"Typing :: Typed", "Framework :: AsyncIO", "Framework :: Trio"} <= classifiers
    # Typing :: Typed is a promise that the marker file ships in the wheel.
    assert (ROOT / "core" / "py.typed").is_file()
    assert "py.typed" in PYPROJECT["tool"]["setuptools"]["package-data"]["crosswind"]
    assert "License :: OSI Approved :: MIT License" not in classifiers, (
        "the SPDX license expression replaces the license classifier"
    )


def test_python_versions_are_the_ones_make_test_all_runs() -> None:
    declared = sorted(
        c.rsplit(" ", 1)[1] for c in PROJECT["classifiers"]
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    )
    match = re.search(r"^PYTHONS \?= (.+)$", (ROOT / "Makefile").read_text(), re.M)
    assert match, "the Makefile names the interpreters of make test-all in PYTHONS"
    assert declared == match.group(1).split()
    assert PROJECT["requires-python"] == f">={declared[0]}"


def test_project_urls_all_lead_to_the_repository() -> None:
    assert REPOSITORY.startswith("https://")
    for name, url in PROJECT["urls"].items():
        assert url == REPOSITORY or url.startswith(REPOSITORY + "/"), name


def _slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    text = re.sub(r"[^\w\- ]", "", heading.lower())
    return text.replace(" ", "-")


def _anchors(markdown: str) -> set[str]:
    tokens = MarkdownIt().parse(markdown)
    return {
        _slug(tokens[i + 1].content.replace("`", ""))
        for i, token in enumerate(tokens) if token.type == "heading_open"
    }


def _links(markdown: str) -> list[str]:
    found = []
    for token in MarkdownIt().parse(markdown):
        for child in token.children or ():
            if child.type == "link_open":
                found.append(str(child.attrs["href"]))
            elif child.type == "image":
                found.append(str(child.attrs["src"]))
    return found


def test_readme_links_work_on_a_package_index() -> None:
    """A package index shows the README away from the repository: no link may be relative."""
    links = _links((ROOT / "README.md").read_text())
    assert len(links) > 10
    for link in links:
        assert re.match(r"https?://", link), f"{link} is relative; a package index breaks it"
        if not link.startswith(REPOSITORY):
            continue
        rest = link[len(REPOSITORY):]
        match = re.fullmatch(r"(?:/(?:blob|tree)/main/(?P<path>[^#]+))?(?:#(?P<anchor>.+))?", rest)
        assert match, f"{link}: not a file or folder of the main branch"
        # The repository's own page shows README.md, so a bare anchor is one of its headings.
        target = ROOT / (match["path"] or "README.md")
        assert target.exists(), f"{link}: {target.relative_to(ROOT)} does not exist"
        if match["anchor"]:
            assert target.suffix == ".md", link
            assert match["anchor"] in _anchors(target.read_text()), f"{link}: no such heading"


def _tracked(path: Path) -> bool:
    """Whether *path* is part of the project (in a checkout: tracked by git)."""
    if not (ROOT / ".git").exists():
        return True
    done = subprocess.run(
        ["git", "ls-files", "--error-unmatch", str(path)], cwd=ROOT,
        capture_output=True, timeout=30,
    )
    return done.returncode == 0


def test_every_package_folder_is_in_the_wheel() -> None:
    """A subpackage missing from tool.setuptools.packages installs as nothing at all."""
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    found = set()
    for package, folder in PACKAGE_DIRS.items():
        for init in sorted((ROOT / folder).rglob("__init__.py")):
            if "__pycache__" in init.parts or not _tracked(init):
                continue
            relative = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((package, *relative)))
    assert found == listed


def test_testing_extra_is_what_the_strategies_import() -> None:
    """crosswind[testing] brings what crosswind.testing.strategies needs beyond the core."""
    tree = ast.parse((ROOT / "core" / "testing" / "strategies.py").read_text())
    imported = {
        alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        node.module.split(".")[0] for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
    }
    third_party = imported - set(sys.stdlib_module_names) - {"crosswind"}
    extra = {re.split(r"[<>=\[ ]", req)[0] for req in PROJECT["optional-dependencies"]["testing"]}
    assert third_party == extra == {"hypothesis"}


def _module_named(dotted: str) -> str | None:
    """The longest prefix of *dotted* that is a module (the rest names an attribute)."""
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        name = ".".join(parts[:end])
        try:
            if importlib.util.find_spec(name) is not None:
                return name
        except ImportError:
            continue
    return None


def _modules_the_docs_name() -> set[str]:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    names = set()
    for page in pages:
        for dotted in re.findall(r"\bcrosswind(?:\.[A-Za-z_]\w*)+", page.read_text()):
            module = _module_named(dotted)
            if module and not any(part.startswith("_") for part in module.split(".")):
                names.add(module)
    return names


def test_api_reference_has_a_page_for_every_module_the_docs_name() -> None:
    documented = set()
    for page in (ROOT / "docs" / "api").glob("*.rst"):
        documented |= set(re.findall(r"^\.\. automodule:: (\S+)", page.read_text(), re.M))
    named = _modules_the_docs_name()
    assert {"crosswind.escape", "crosswind.locale", "crosswind.app.json"} <= named
    assert sorted(named - documented) == []


def test_public_modules_are_the_ones_without_a_private_part(tmp_path: Path) -> None:
    wheel = tmp_path / "crosswind-0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name in ("crosswind/__init__.py", "crosswind/__main__.py", "crosswind/escape.py",
                     "crosswind/_sync.py", "crosswind/web/__init__.py",
                     "crosswind/backends/broadcast/_redis.py", "crosswind/py.typed",
                     "crosswind-0.dist-info/METADATA"):
            archive.writestr(name, "")
    assert public_modules(wheel) == ["crosswind", "crosswind.escape", "crosswind.web"]
