"""The README's examples as data: console blocks (commands and the output they showed) and
the scripts they run, so a test can run them against a real ``openfal serve`` started the
way ``make serve`` starts it.

Run as a script (``python -m tests.docs.readme URL``) it prints what each command answers
now, for refreshing the transcripts.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
# A block that starts its own servers (or talks to one on another port) shows another setup
# than `make serve` (many machines, keys and limits, deploying, ...), and so do the blocks
# after it in its section: the tests of that setup cover them.
OWN_SETUP = re.compile(
    r"^\$ (\S+=\S+ )*(openfal (serve|gateway|worker)|redis-server|weed) "
    r"|^\$ [^'\"]*?(localhost|127\.0\.0\.1):(?!8000\b)\d{4,5}",
    re.M,
)


@dataclass
class Command:
    line: str
    output: list[str] = field(default_factory=list)


@dataclass
class Block:
    number: int
    commands: list[Command]
    files: dict[
        str, str
    ]  # scripts the block shows with `$ cat NAME` (or the python block before it)

    @property
    def title(self) -> str:
        return f"block {self.number}: {self.commands[0].line[:60]}" if self.commands else ""


def _makefile_apps() -> list[str]:
    text = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    match = re.search(r"^EXAMPLES := (.*)$", text, re.M)
    assert match, "the Makefile names the example apps make serve serves"
    return shlex.split(match.group(1))


def serve_args() -> list[str]:
    """The ``openfal serve`` options ``make serve`` uses (its EXAMPLES)."""
    return _makefile_apps()


def blocks() -> list[Block]:
    """Console blocks that run against ``make serve`` (not those that start their own)."""
    text = README.read_text()
    found: list[Block] = []
    previous_python: str | None = None
    own_setup_sections: set[int] = set()  # a section that set up its own server keeps it
    for number, match in enumerate(FENCE.finditer(text)):
        lang, body = match.group(1), match.group(2)
        section = text.rfind("\n## ", 0, match.start())
        if lang == "python":
            previous_python = body
            continue
        if lang != "console":
            previous_python = None
            continue
        block = _parse(number, body, previous_python)
        previous_python = None
        if OWN_SETUP.search(body):
            own_setup_sections.add(section)
        elif block.commands and section not in own_setup_sections:
            found.append(block)
    return found


def _parse(number: int, body: str, previous_python: str | None) -> Block:
    commands: list[Command] = []
    files: dict[str, str] = {}
    cat: list[str] | None = None
    continued = False
    for line in body.splitlines():
        if continued and commands:
            commands[-1].line = commands[-1].line[:-1] + line.lstrip()
            continued = line.endswith("\\")
            continue
        if line.startswith("$ "):
            command = line[2:]
            if (m := re.fullmatch(r"cat (\S+\.(py|mjs|txt|json|toml))", command)) is not None:
                cat = []
                files[m.group(1)] = ""
                continue
            cat = None
            commands.append(Command(command))
            continued = command.endswith("\\")
        elif cat is not None:
            name = list(files)[-1]
            files[name] += line + "\n"
        elif commands:
            commands[-1].output.append(line)
    if previous_python is not None:
        for command in commands:
            if (m := re.search(r"python3? (\S+\.py)", command.line)) and m.group(1) not in files:
                files[m.group(1)] = previous_python
    return Block(number, commands, files)


def run(block: Block, base_url: str, workdir: Path, timeout: float = 300) -> list[str]:
    """Run the block's commands in ``workdir`` against ``base_url``; their outputs."""
    port = base_url.rsplit(":", 1)[1]
    for name, content in block.files.items():
        (workdir / name).write_text(_local(content, port))
    env = {
        **os.environ,
        "OPENFAL_URL": base_url,
        "FAL_KEY": os.environ.get("FAL_KEY", "local"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    node_modules = ROOT / "tests" / "node" / "node_modules"
    if node_modules.exists() and not (workdir / "node_modules").exists():
        (workdir / "node_modules").symlink_to(node_modules)  # for a block's `node x.mjs`
    outputs: list[str] = []
    ids: dict[str, str] = {}  # an id the README shows -> the one this run got
    status = 0
    for command in block.commands:
        line = _with_ids(_local(command.line, port), ids).replace("$?", str(status))
        if (m := re.fullmatch(r"export (\w+)=(\S+)", line)) is not None:
            env[m.group(1)] = m.group(2)
            outputs.append("")
            continue
        if (m := re.fullmatch(r"(\w+)=\$\((.*)\)", line)) is not None:
            done = _bash(m.group(2), workdir, env, timeout)
            env[m.group(1)] = done.stdout.strip()
            outputs.append("")
            continue
        done = _bash(line, workdir, env, timeout)
        deadline = time.monotonic() + 60
        while mismatches(command, done.stdout) and _is_read(line) and time.monotonic() < deadline:
            time.sleep(0.5)  # a person types the next command later: the result may be pending
            done = _bash(line, workdir, env, timeout)
        status = done.returncode
        if done.returncode != 0 and not _shows_failure(command):
            raise AssertionError(f"`{command.line}` exited {done.returncode}:\n{done.stderr}")
        output = done.stdout + done.stderr
        _learn_ids("\n".join(command.output), output, ids)
        outputs.append(output)
    return outputs


_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\b[0-9a-f]{32}\b")


def _learn_ids(shown: str, actual: str, ids: dict[str, str]) -> None:
    """Pair the ids (request ids, file keys) the README shows with those of this run."""
    theirs = list(dict.fromkeys(_ID.findall(shown)))
    ours = list(dict.fromkeys(_ID.findall(actual)))
    for old, new in zip(theirs, ours, strict=False):
        ids.setdefault(old, new)


def _with_ids(line: str, ids: dict[str, str]) -> str:
    return _ID.sub(lambda m: ids.get(m.group(0), m.group(0)), line)


def _is_read(line: str) -> bool:
    return line.startswith(("curl", "openfal requests")) and not re.search(
        r" -X (POST|PUT|DELETE)| -d | --data| -F ", line
    )


def _bash(
    line: str, cwd: Path, env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", line], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def _shows_failure(command: Command) -> bool:
    """The README shows this command failing on purpose (an `echo $?` after it, ...)."""
    return any(line.startswith(("error", "Traceback")) for line in command.output)


def _local(text: str, port: str) -> str:
    return re.sub(r"(localhost|127\.0\.0\.1):8000\b", rf"\g<1>:{port}", text)


def mismatches(command: Command, actual: str) -> list[str]:
    """What the README shows that the command's real output lacks: HTTP status lines and
    the top-level JSON keys of each shown JSON line (ids, times and sizes may differ)."""
    problems = []
    for shown in command.output:
        if m := re.match(r"HTTP/1\.1 (\d{3})", shown):
            if not re.search(rf"^HTTP/1\.1 {m.group(1)}", actual, re.M):
                problems.append(f"status {m.group(1)} not answered")
        elif shown.startswith("{") and not shown.startswith("{'"):
            for key in re.findall(r'^\{"(\w+)"|, "(\w+)":', shown):
                name = key[0] or key[1]
                if f'"{name}"' not in actual:
                    problems.append(f"key {name!r} missing")
    return problems


if __name__ == "__main__":
    import tempfile

    for block in blocks():
        with tempfile.TemporaryDirectory() as tmp:
            print(f"=== {block.title}")
            for command, out in zip(
                block.commands, run(block, sys.argv[1], Path(tmp)), strict=True
            ):
                print(f"$ {command.line}\n{out}", end="")
