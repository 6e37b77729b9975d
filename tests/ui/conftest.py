"""The playground in a real browser: Playwright driving Debian's chromium (never a
downloaded browser) against real ``openfal serve`` processes.

Set ``OPENFAL_SCREENSHOTS=DIR`` to save a PNG of each page the tests visit (this is how
docs/images/ is made: ``scripts/ui-screenshots.sh``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.e2e.harness import Serve

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 60_000  # a busy 2-core machine starts runners slowly; every wait is a condition
expect.set_options(timeout=TIMEOUT_MS)  # assertions wait on their condition as long as actions


# module scope: Playwright's sync API marks an event loop as running in this thread while
# it is started, so it must be stopped before any other module's asyncio tests run
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install it with scripts/system-deps.sh", pytrace=False)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (empty localStorage) per test; a script error fails it."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(TIMEOUT_MS)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    context.close()
    assert not errors, errors


def shot(page: Page, name: str) -> None:
    """Save a screenshot when OPENFAL_SCREENSHOTS names a folder."""
    folder = os.environ.get("OPENFAL_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def _serve(root: Path, apps: list[str], **kw: object) -> Serve:
    return Serve(root, apps, **kw).start()  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def playground(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    """``openfal serve`` in dev mode (no keys) with the fixture apps the tests use."""
    s = _serve(
        tmp_path_factory.mktemp("ui"),
        ["echo", "sleeper", "prints_logs", "file_input", "realtime", "form_kinds", "file_output"],
    )
    yield s
    s.stop()


@pytest.fixture(scope="module")
def image_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    """The built-in FLUX app on demo weights (tiny random pipelines built in code)."""
    s = _serve(
        tmp_path_factory.mktemp("ui-image"),
        ["openfal.apps.flux:Flux"],
        args=["--demo-weights"],
        env={"OMP_NUM_THREADS": "1"},
    )
    yield s
    s.stop()


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    s = _serve(tmp_path_factory.mktemp("ui-keys"), ["echo"])
    yield s
    s.stop()
