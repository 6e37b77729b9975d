"""The dependency direction of docs/architecture.md, checked on every import.

``make lint`` runs import-linter's contracts (``[tool.importlinter]`` in pyproject.toml);
these tests run them too, and add the rule import-linter cannot say with wildcards: a
package's private modules (``_name``) are imported from inside that package only.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "openfal"


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
        elif isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
    return names


def test_private_modules_are_imported_from_their_own_package_only() -> None:
    wrong = []
    for path in SRC.rglob("*.py"):
        package = path.relative_to(SRC).parts[0]
        for name in _imports(path):
            parts = name.split(".")
            private = [p for p in parts[2:] if p.startswith("_")]
            if parts[0] == "openfal" and len(parts) > 2 and private and parts[1] != package:
                wrong.append(f"{path.relative_to(SRC.parent)} imports {name}")
    assert wrong == []


def test_import_contracts_hold() -> None:
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint is not None, "import-linter is part of the test extra"
    done = subprocess.run(
        [lint, "--no-cache"], capture_output=True, text=True, cwd=SRC.parents[1], timeout=300
    )
    assert done.returncode == 0, done.stdout[-3000:]
