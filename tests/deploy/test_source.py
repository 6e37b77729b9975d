"""Packing an app's source and reading its settings without importing it."""

from __future__ import annotations

from pathlib import Path

import pytest

from openfal.deploy.source import SourceError, env_key, pack, static_info, unpack


def test_one_file_round_trips(tmp_path: Path) -> None:
    app = tmp_path / "app.py"
    app.write_text("class A: pass\n")
    packed = pack(f"{app}::A")
    assert (packed.archive, packed.entry) == ("file", "app.py::A")
    ref = unpack(packed.data, packed.archive, packed.entry, tmp_path / "out")
    assert ref == f"{tmp_path / 'out' / 'app.py'}::A"
    assert (tmp_path / "out" / "app.py").read_text() == "class A: pass\n"


def test_a_folder_travels_with_its_modules_but_not_caches(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    (root / "pkg" / "__pycache__").mkdir(parents=True)
    (root / "pkg" / "app.py").write_text("from helpers import X\nclass A: pass\n")
    (root / "helpers.py").write_text("X = 1\n")
    (root / "pkg" / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"junk")
    packed = pack(f"{root / 'pkg' / 'app.py'}::A", root)
    assert (packed.archive, packed.entry) == ("tar", "pkg/app.py::A")
    unpack(packed.data, packed.archive, packed.entry, tmp_path / "out")
    assert (tmp_path / "out" / "helpers.py").read_text() == "X = 1\n"
    assert not (tmp_path / "out" / "pkg" / "__pycache__").exists()
    with pytest.raises(SourceError, match="not inside --dir"):
        pack(f"{root / 'pkg' / 'app.py'}::A", tmp_path / "elsewhere")


@pytest.mark.parametrize("ref", ["app.py", "app.txt::A", "missing.py::A"])
def test_bad_references(tmp_path: Path, ref: str) -> None:
    with pytest.raises(SourceError):
        pack(str(tmp_path / ref))


def test_static_settings_from_class_body_and_keywords() -> None:
    text = (
        "import openfal\n"
        "class Banner(openfal.App, name='acme/banner', keep_alive=5):\n"
        "    requirements = ['pyfiglet==1.0.4', ' numpy ']\n"
        "    python_version: str = '3.11'\n"
    )
    info = static_info(text, "Banner")
    assert info.requirements == ["pyfiglet==1.0.4", "numpy"]
    assert (info.python_version, info.app_id()) == ("3.11", "acme/banner")
    assert static_info("class MyHTTPApp: pass\n", "MyHTTPApp").app_id() == "local/my-http-app"
    with pytest.raises(SourceError, match="list of strings"):
        static_info("class A:\n    requirements = 'x'\n", "A")


def test_environment_keys_depend_on_what_goes_in_only() -> None:
    assert env_key([], None) == ""
    assert env_key(["a==1", "b"], None) == env_key(["b", "a==1"], None)
    assert env_key(["a==1"], None) != env_key(["a==2"], None)
    assert env_key(["a==1"], "3.11") != env_key(["a==1"], None)
