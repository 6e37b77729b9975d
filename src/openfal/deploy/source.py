"""An app's code as a revision holds it: one module, or a folder packed as a tar.

What the platform must know before a revision's environment exists (its requirements,
its name) is read from the source text without importing it: the class body's literal
``requirements = [...]``, ``python_version = "3.11"`` and ``app_name``/``name``.
"""

from __future__ import annotations

import ast
import hashlib
import io
import tarfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from openfal.errors import OpenfalError
from openfal.sdk import app_id_for

MAX_SOURCE = 64 * 1024 * 1024  # bytes of packed source a deploy may send
_SKIP = {"__pycache__", ".git", ".venv", "node_modules", ".mypy_cache", ".pytest_cache"}


class SourceError(OpenfalError, ValueError):
    """The source cannot be a revision (bad reference, class not found, bad archive)."""

    status_code = 400
    error_type = "bad_request"


@dataclass(frozen=True)
class Packed:
    data: bytes
    archive: str  # "file" or "tar"
    entry: str  # "relative/path.py::Class"


@dataclass(frozen=True)
class StaticInfo:
    class_name: str
    requirements: list[str] = field(default_factory=list)
    python_version: str | None = None
    app_name: str | None = None

    def app_id(self) -> str:
        return app_id_for(self.class_name, self.app_name)


def pack(ref: str, folder: Path | None = None) -> Packed:
    """``FILE.py::Class`` alone, or with ``folder`` (which holds the file) as a tar."""
    path_s, sep, cls = ref.partition("::")
    if not sep or not cls or not path_s.endswith(".py"):
        raise SourceError(f"deploy FILE.py::Class, not {ref!r}")
    path = Path(path_s).resolve()
    if not path.is_file():
        raise SourceError(f"{path_s}: no such file")
    if folder is None:
        return Packed(path.read_bytes(), "file", f"{path.name}::{cls}")
    root = folder.resolve()
    if not path.is_relative_to(root):
        raise SourceError(f"{path_s} is not inside --dir {folder}")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for item in sorted(root.rglob("*")):
            if item.is_file() and not _SKIP & set(item.relative_to(root).parts):
                tar.add(item, arcname=item.relative_to(root).as_posix(), recursive=False)
    return Packed(buf.getvalue(), "tar", f"{path.relative_to(root).as_posix()}::{cls}")


def entry_text(data: bytes, archive: str, entry: str) -> str:
    """The text of the entry module inside packed source."""
    rel = _entry_path(entry)
    if archive == "file":
        return data.decode()
    if archive != "tar":
        raise SourceError(f"archive must be 'file' or 'tar', not {archive!r}")
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
            member = tar.extractfile(rel)
            if member is None:
                raise KeyError(rel)
            return member.read().decode()
    except (KeyError, tarfile.TarError) as e:
        raise SourceError(f"the source has no {rel}: {e}") from None


def unpack(data: bytes, archive: str, entry: str, dest: Path) -> str:
    """Write the source under ``dest``; returns the runner reference (absolute)."""
    dest.mkdir(parents=True, exist_ok=True)
    rel = _entry_path(entry)
    if archive == "file":
        (dest / rel).write_bytes(data)
    else:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
            tar.extractall(dest, filter="data")  # no absolute paths, no escapes
    return f"{dest / rel}::{entry.partition('::')[2]}"


def _entry_path(entry: str) -> str:
    rel, sep, cls = entry.partition("::")
    parts = PurePosixPath(rel).parts
    if not sep or not cls or not rel.endswith(".py") or ".." in parts or rel.startswith("/"):
        raise SourceError(f"entry must be a relative path.py::Class, not {entry!r}")
    return rel


def static_info(text: str, class_name: str) -> StaticInfo:
    """Literal settings of ``class_name`` in module ``text`` (never imported)."""
    try:
        tree = ast.parse(text)
    except SyntaxError as e:
        raise SourceError(f"the app's module does not parse: {e}") from None
    node = next(
        (n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == class_name), None
    )
    if node is None:
        raise SourceError(f"the module defines no class {class_name}")
    found: dict[str, Any] = {
        kw.arg: _literal(kw.value, kw.arg) for kw in node.keywords if kw.arg is not None
    }
    for stmt in node.body:
        target, value = _assignment(stmt)
        if target in ("requirements", "python_version", "app_name") and value is not None:
            found[target] = _literal(value, target)
    reqs = found.get("requirements") or []
    if not isinstance(reqs, list | tuple) or not all(isinstance(r, str) for r in reqs):
        raise SourceError("requirements must be a list of strings")
    name = found.get("app_name", found.get("name"))
    version = found.get("python_version")
    return StaticInfo(
        class_name,
        [r.strip() for r in reqs if r.strip()],
        None if version is None else str(version),
        None if name is None else str(name),
    )


def _assignment(stmt: ast.stmt) -> tuple[str | None, ast.expr | None]:
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
        target = stmt.targets[0]
        return (target.id if isinstance(target, ast.Name) else None), stmt.value
    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
        return stmt.target.id, stmt.value
    return None, None


def _literal(node: ast.expr, name: str) -> Any:
    try:
        return ast.literal_eval(node)
    except ValueError:
        raise SourceError(f"{name} must be a literal in the class body to be deployed") from None


def env_key(requirements: list[str], python_version: str | None) -> str:
    """The environment a revision runs in: "" (the server's own) without requirements,
    else a hash of what goes into it (each worker host builds it once)."""
    if not requirements:
        return ""
    text = "\n".join([python_version or "", *sorted(requirements)])
    return hashlib.sha256(text.encode()).hexdigest()[:16]
