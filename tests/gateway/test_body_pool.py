"""Large bodies are validated in a helper process with the app's own input model."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from openfal import toolkit
from openfal.gateway import body_pool
from openfal.gateway.file_inputs import validation_context
from openfal.toolkit._urls import OWN_FILES
from tests.e2e.harness import app_ref


@pytest.fixture(autouse=True)
def pool() -> Iterator[None]:
    yield
    body_pool._reset()
    toolkit.configure()


async def test_the_child_validates_with_the_apps_model() -> None:
    echo = app_ref("echo")
    bad = await body_pool.validate_in_pool(echo, "", b'{"message": 5}', validation_context())
    assert bad is not None and bad[0] == "invalid"
    assert [(e["loc"], e["type"]) for e in bad[1]] == [(["message"], "string_type")]
    ok = await body_pool.validate_in_pool(echo, "upper", b'{"message": "x"}', validation_context())
    assert ok is not None and ok[0] == "ok"
    broken = await body_pool.validate_in_pool(echo, "", b'{"message": "x",', validation_context())
    assert broken is not None and broken[1][0]["type"] == "json_invalid"
    assert "EOF" in broken[1][0]["problem"]


async def test_the_child_lists_own_file_urls_with_the_parents_settings() -> None:
    toolkit.configure(public_url="http://files.test")
    body = b'{"image_url": "http://files.test/files/0123456789abcdef0123456789abcdef/a.png"}'
    out = await body_pool.validate_in_pool(app_ref("images"), "inspect", body, validation_context())
    assert out is not None and out[0] == "ok"
    listed = [tuple(item) for item in out[1][0][OWN_FILES]]
    assert listed == [("image_url", "0123456789abcdef0123456789abcdef/a.png")]


async def test_code_the_child_cannot_load_is_validated_by_the_caller() -> None:
    missing = await body_pool.validate_in_pool("/nowhere/app.py", "", b"{}", validation_context())
    assert missing is None
    anything = await body_pool.validate_in_pool(None, "", b'{"a": [1, {}]}', validation_context())
    assert anything is not None and anything[0] == "ok"
