"""load_app: file and module references, and the errors for bad ones."""

import sys
import textwrap
from pathlib import Path

import pytest

import openfal
from openfal.sdk import AppLoadError, load_app

APP_SOURCE = """
from pydantic import BaseModel
import openfal

class In(BaseModel):
    text: str = ""

class {name}(openfal.App):
    @openfal.endpoint("/")
    def run(self, input: In) -> In:
        return input
"""


@pytest.fixture(autouse=True)
def _restore_import_state(monkeypatch: pytest.MonkeyPatch) -> None:
    # load_app adds the app's folder to sys.path; keep that from leaking between tests.
    monkeypatch.setattr(sys, "path", list(sys.path))


def _write(path: Path, *names: str, extra: str = "") -> Path:
    source = extra + "".join(APP_SOURCE.format(name=name) for name in names)
    path.write_text(textwrap.dedent(source))
    return path


def test_file_with_and_without_class(tmp_path: Path) -> None:
    path = _write(tmp_path / "one.py", "Only")
    named = load_app(f"{path}::Only")
    found = load_app(str(path))
    assert named.__name__ == found.__name__ == "Only"
    assert issubclass(named, openfal.App)
    assert load_app(f"{path}::").__name__ == "Only"


def test_file_can_import_its_siblings(tmp_path: Path) -> None:
    (tmp_path / "helper_for_loader_test.py").write_text("GREETING = 'hi'\n")
    path = _write(tmp_path / "uses.py", "Uses", extra="import helper_for_loader_test\n")
    assert load_app(str(path)).__name__ == "Uses"


def test_two_files_with_the_same_name_stay_apart(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = load_app(str(_write(tmp_path / "a" / "app.py", "First")))
    second = load_app(str(_write(tmp_path / "b" / "app.py", "Second")))
    assert first.__module__ != second.__module__


def test_module_reference(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "loader_test_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    _write(package / "apps.py", "Served")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert load_app("loader_test_pkg.apps:Served").__name__ == "Served"
    assert load_app("loader_test_pkg.apps").__name__ == "Served"


@pytest.mark.parametrize(
    ("ref", "problem"),
    [
        ("missing.py::App", "app file not found"),
        ("no_such_module_for_openfal:App", "cannot import module"),
        ("", "empty app reference"),
    ],
)
def test_bad_references(ref: str, problem: str) -> None:
    with pytest.raises(AppLoadError, match=problem):
        load_app(ref)


def test_bad_class_parts(tmp_path: Path) -> None:
    path = _write(tmp_path / "two.py", "Left", "Right", extra="NOT_AN_APP = 1\n")
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    with pytest.raises(AppLoadError, match="no attribute 'Missing'"):
        load_app(f"{path}::Missing")
    with pytest.raises(AppLoadError, match=r"not an openfal\.App subclass"):
        load_app(f"{path}::NOT_AN_APP")
    with pytest.raises(AppLoadError, match=r"several App classes \(Left, Right\)"):
        load_app(str(path))
    with pytest.raises(AppLoadError, match=r"defines no openfal\.App subclass"):
        load_app(str(empty))
    assert issubclass(AppLoadError, ValueError)


def test_errors_in_the_apps_own_code_propagate(tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("import definitely_not_installed_openfal_dep\n")
    with pytest.raises(ModuleNotFoundError, match="definitely_not_installed_openfal_dep"):
        load_app(str(broken))
