"""Finding the application ``MODULE:ATTR`` names (detecting and adapting it: ``test_adapt.py``)."""

from __future__ import annotations

import os

import pytest
from crosswind.serving.errors import CLIError
from crosswind.serving.loading import import_target, load_app


def test_import_target_follows_dotted_attributes() -> None:
    assert import_target("os:path.join") is os.path.join
    with pytest.raises(CLIError, match="expected MODULE:ATTR"):
        import_target("os.path")
    with pytest.raises(CLIError, match="cannot import module 'os.nowhere'") as info:
        import_target("os.nowhere:x")
    assert info.value.exit_code == 2


def test_import_error_inside_the_module_names_both(tmp_path, monkeypatch) -> None:
    (tmp_path / "broken_app_mod.py").write_text("import missing_dependency_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(CLIError) as info:
        load_app("broken_app_mod:app")
    assert info.value.message == (
        "cannot import module 'broken_app_mod': No module named 'missing_dependency_xyz'"
    )
