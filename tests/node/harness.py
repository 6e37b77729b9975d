"""Run the official ``@fal-ai/client`` (Node) scripts in this folder against a server.

``scripts/node-deps.sh`` installs the pinned packages (``npm ci``) before the tests run; the
scripts print one JSON object on their last stdout line, which ``run_node`` returns.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

NODE_DIR = Path(__file__).resolve().parent


def run_node(script: str, env: dict[str, str], timeout: float = 90.0) -> Any:
    """Run ``tests/node/<script>`` with ``env`` added; return its last stdout line as JSON."""
    node = shutil.which("node")
    assert node, "node is not installed (scripts/node-deps.sh installs it)"
    assert (NODE_DIR / "node_modules" / "@fal-ai" / "client").is_dir(), (
        "tests/node/node_modules is missing: run scripts/node-deps.sh"
    )
    proc = subprocess.run(
        [node, str(NODE_DIR / script)],
        cwd=NODE_DIR,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, (
        f"node {script} exited {proc.returncode}\n"
        f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
    )
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert lines, f"node {script} printed nothing\n--- stderr\n{proc.stderr}"
    return json.loads(lines[-1])
