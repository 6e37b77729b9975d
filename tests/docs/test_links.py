"""README.md and docs/ link only to files in this repository (and anchors in them), and
name no design document that lives elsewhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [
    ROOT / "README.md",
    *sorted((ROOT / "docs").glob("**/*.md")),
    ROOT / "examples" / "README.md",
]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
# documents of the developers' own workspace, never part of the repository
ELSEWHERE = re.compile(r"\b(PROTOCOL|ARCHITECTURE|STYLE|RECIPES)\.md\b|\.\./shared\b")


def _anchors(page: Path) -> set[str]:
    headings = re.findall(r"^#+ (.+)$", page.read_text(), re.M)
    return {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in headings}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_links_stay_in_the_repository(page: Path) -> None:
    text = page.read_text()
    wrong = []
    for target in LINK.findall(text):
        path, _, anchor = target.partition("#")
        if "://" in path or path.startswith(("mailto:", "//")):
            wrong.append(f"{target}: leaves the repository")
            continue
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.is_relative_to(ROOT) or not resolved.exists():
            wrong.append(f"{target}: not a file of the repository")
        elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
            wrong.append(f"{target}: no such heading")
    wrong += [
        f"names {m.group(0)}, which is not in the repository" for m in ELSEWHERE.finditer(text)
    ]
    assert wrong == []
