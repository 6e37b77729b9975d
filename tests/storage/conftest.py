"""Fixtures for the storage contract: one suite, every backend.

``make_storage(**options)`` builds a fresh, empty backend of the parametrised kind (``local``
in a temp dir, ``s3`` under a fresh prefix of a bucket in a real SeaweedFS server that is
started once per session); ``storage`` is ``make_storage()``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from openfal.storage import LocalStorage, Storage

from .seaweed import SeaweedS3

BUCKET = "openfal-test"

MakeStorage = Callable[..., Storage]


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    """A SeaweedFS S3 server for the whole session (fails loudly if ``weed`` is missing)."""
    server = SeaweedS3(tmp_path_factory.mktemp("seaweed"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def s3_bucket(seaweed: SeaweedS3) -> str:
    return seaweed.create_bucket(BUCKET)


@pytest.fixture(scope="session")
def boto_session() -> Any:
    """One boto3 session, so that each test's client skips loading the service model."""
    import boto3

    return boto3.session.Session()


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def make_storage(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[MakeStorage]:
    made: list[Storage] = []
    server: SeaweedS3 | None = None
    bucket = ""
    if backend == "s3":
        bucket = request.getfixturevalue("s3_bucket")
        server = request.getfixturevalue("seaweed")
        session = request.getfixturevalue("boto_session")

    def make(**options: Any) -> Storage:
        storage: Storage
        if backend == "local":
            storage = LocalStorage(tmp_path / f"files{len(made)}", **options)
        else:
            from openfal.storage.s3 import S3Storage

            assert server is not None
            storage = S3Storage(
                bucket,
                f"test-{uuid.uuid4().hex[:12]}",
                endpoint_url=server.endpoint,
                session=session,
                **server.credentials,
                **options,
            )
        made.append(storage)
        return storage

    yield make
    for storage in made:
        await storage.close()


@pytest.fixture
async def storage(make_storage: MakeStorage) -> Storage:
    s = make_storage()
    await s.open()
    return s
