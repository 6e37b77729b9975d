"""Characters that text line splitters break on travel whole through ``openfal serve``.

U+2028, U+2029 and U+0085 are legal raw inside JSON strings; a reader that split the runner's
event stream on them used to lose the request (and restart the runner three times).
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.e2e.harness import wait_for

pytestmark = pytest.mark.e2e

TAGS = {name: f"a{char}b" for name, char in [("LS", "\u2028"), ("PS", "\u2029"), ("NEL", "\u0085")]}


def _status(c: httpx.Client, sub: dict[str, str], logs: bool = False) -> dict[str, object]:
    r = c.get(sub["status_url"], params={"logs": "1" if logs else "0"})
    assert r.status_code in (200, 202), r.text
    out: dict[str, object] = r.json()
    return out


def _queue_round_trip(c: httpx.Client, tag: str, gate: Path) -> None:
    r = c.post("/queue/test/tagged", json={"tag": tag, "gate": str(gate)})
    assert r.status_code == 200, r.text
    sub = r.json()
    running = wait_for(
        lambda: (s := _status(c, sub)).get("progress") and s,
        60,
        what=f"progress of {sub['request_id']}",
    )
    assert running["progress"]["message"] == tag  # type: ignore[index]
    gate.write_text("go")
    done = wait_for(
        lambda: (s := _status(c, sub, logs=True))["status"] == "COMPLETED" and s,
        60,
        what=f"{sub['request_id']} to complete",
    )
    assert done.get("error") is None, done
    assert f"tag {tag}" in [line["message"] for line in done["logs"]]  # type: ignore[attr-defined]
    result = c.get(sub["response_url"])
    assert result.status_code == 200, result.text
    assert result.json() == {"tag": tag}


def _stream_round_trip(c: httpx.Client, tag: str) -> None:
    with c.stream("POST", "/test/tagged/events/stream", json={"tag": tag, "count": 2}) as resp:
        assert resp.status_code == 200, resp.read()
        body = resp.read()
    # the SSE frames themselves split on b"\n" only
    data = [line[6:] for line in body.split(b"\n") if line.startswith(b"data: ")]
    assert [json.loads(d) for d in data] == [{"tag": tag}, {"tag": tag}], body


@pytest.mark.parametrize("name", sorted(TAGS))
def test_line_separators_survive_every_channel(serve, tmp_path, name):
    s = serve("line_breaks")
    tag = TAGS[name]
    with s.client() as c:
        _queue_round_trip(c, tag, tmp_path / f"gate-{name}")
        _stream_round_trip(c, tag)
        direct = c.post("/test/tagged", json={"tag": tag})
        assert direct.status_code == 200, direct.text
        assert direct.json() == {"tag": tag}
    assert "Restarting" not in s.logs()
