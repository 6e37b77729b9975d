"""``openfal requests list``: full ids, filters, --json pages with the API's shape."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from openfal.cli.main import main
from openfal.store import Store


def _seed(data_dir: Path) -> list[str]:
    async def go() -> list[str]:
        store = Store.from_url(f"sqlite:///{data_dir / 'openfal.db'}")
        await store.open()
        try:
            ids = [(await store.enqueue("openfal/echo", "", b"{}", owner="ann")).id]
            ids.append((await store.enqueue("openfal/echo", "", b"{}", mode="run")).id)
            ids.append((await store.enqueue("test/other", "x", b"{}", owner="ann")).id)
            claimed = await store.claim(["openfal/echo"], "w")
            assert claimed is not None
            await store.complete(claimed.id, status_code=200, body=b"{}")
            return ids
        finally:
            await store.close()

    data_dir.mkdir()
    return asyncio.run(go())


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, object]:
    assert main(["requests", "list", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_requests_list_json_filters_and_pages(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = _seed(tmp_path / "d")
    where = ("--data-dir", str(tmp_path / "d"))
    page = _json(capsys, *where, "--limit", "2")
    assert [i["request_id"] for i in page["items"]] == [ids[2], ids[1]]  # type: ignore[attr-defined]
    rest = _json(capsys, *where, "--limit", "2", "--cursor", str(page["next_cursor"]))
    assert [i["request_id"] for i in rest["items"]] == [ids[0]]  # type: ignore[attr-defined]
    assert rest["next_cursor"] is None
    done = _json(capsys, *where, "--status", "COMPLETED", "--since", "1h")
    assert [i["request_id"] for i in done["items"]] == [ids[0]]  # type: ignore[attr-defined]
    assert (
        _json(capsys, *where, "--owner", "ann", "--app", "test/other")["items"][0][  # type: ignore[index]
            "endpoint"
        ]
        == "test/other/x"
    )
    assert _json(capsys, *where, "--until", "2000-01-01")["items"] == []


def test_requests_list_table_shows_whole_ids(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ids = _seed(tmp_path / "d")
    assert main(["requests", "list", "--data-dir", str(tmp_path / "d"), "--limit", "2"]) == 0
    out = capsys.readouterr().out
    assert ids[2] in out and ids[1] in out and ids[0] not in out
    assert "more: --cursor " in out
    assert main(["requests", "list", "--data-dir", str(tmp_path / "d"), "--since", "soon"]) == 2
    assert "Invalid --since 'soon'" in capsys.readouterr().out
