"""``File``, ``Audio`` and ``Video``: fal's file models, same fields and JSON.

As outputs, ``File.from_bytes`` / ``from_path`` store the bytes in a repository (the
platform's storage by default, ``"in_memory"`` for a ``data:`` URI) and serialise as
``{"url", "content_type", "file_name", "file_size"}``. As inputs, a field typed ``File``
takes that object or a plain URL string (http, https, data), checked like ``FileUrl``.
"""

from __future__ import annotations

import mimetypes
import os
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, Field, GetCoreSchemaHandler, PrivateAttr, ValidationInfo
from pydantic_core import CoreSchema, core_schema

from openfal.toolkit._download import download_bytes, fetch_to_path
from openfal.toolkit._repository import FileRepository, default_file_name, get_repository
from openfal.toolkit._urls import InputUrl, check_url, note_own_file

__all__ = ["Audio", "File", "RepositoryArg", "Video"]

F = TypeVar("F", bound="File")
RepositoryArg = FileRepository | str | None
DEFAULT_REPOSITORY = "default"


def save_with_fallback(
    save: str,
    args: tuple[Any, ...],
    repository: RepositoryArg,
    fallback_repository: RepositoryArg | list[RepositoryArg] | None,
) -> str:
    """``getattr(repo, save)(*args)`` on ``repository``, then each fallback in turn."""
    if fallback_repository is None:
        fallbacks: list[RepositoryArg] = []
    elif isinstance(fallback_repository, list):
        fallbacks = fallback_repository
    else:
        fallbacks = [fallback_repository]
    chain = [repository, *fallbacks]
    for index, repo in enumerate(chain):
        try:
            url: str = getattr(get_repository(repo), save)(*args)
            return url
        except Exception:
            if index == len(chain) - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def guess_content_type(file_name: str | None) -> str:
    guessed = mimetypes.guess_type(file_name or "")[0]
    return guessed or "application/octet-stream"


class File(BaseModel):
    """A file clients can download from its URL."""

    url: str = Field(description="The URL where the file can be downloaded from.")
    content_type: str | None = Field(
        default=None, description="The mime type of the file.", examples=["image/png"]
    )
    file_name: str | None = Field(
        default=None,
        description="The name of the file. It will be auto-generated if not provided.",
        examples=["z9RV14K95DvU.png"],
    )
    file_size: int | None = Field(
        default=None, description="The size of the file in bytes.", examples=[4404019]
    )

    _data: bytes | None = PrivateAttr(None)
    _field: str | None = PrivateAttr(None)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[BaseModel], handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.with_info_before_validator_function(cls._from_input, handler(source))

    @classmethod
    def _from_input(cls, value: Any, info: ValidationInfo) -> Any:
        """A URL string becomes a File (after the URL checks); remembers the input field."""
        if isinstance(value, str):
            problem = check_url(value)
            if problem is not None:
                raise ValueError(problem)
            note_own_file(value, info)
            file = cls(url=value.strip())
            file._field = info.field_name
            return file
        if isinstance(value, dict) and isinstance(value.get("url"), str):
            problem = check_url(value["url"])
            if problem is not None:
                raise ValueError(problem)
            note_own_file(value["url"], info)
        return value

    # ------------------------------------------------------------------ making files

    @classmethod
    def from_bytes(
        cls: type[F],
        data: bytes,
        content_type: str | None = None,
        file_name: str | None = None,
        repository: RepositoryArg = DEFAULT_REPOSITORY,
        fallback_repository: RepositoryArg | list[RepositoryArg] | None = None,
    ) -> F:
        """Store ``data`` and describe it; ``repository="in_memory"`` gives a data URI."""
        content_type = content_type or guess_content_type(file_name)
        file_name = file_name or default_file_name(content_type)
        url = save_with_fallback(
            "save", (bytes(data), content_type, file_name), repository, fallback_repository
        )
        file = cls(url=url, content_type=content_type, file_name=file_name, file_size=len(data))
        file._data = bytes(data)
        return file

    @classmethod
    def from_path(
        cls: type[F],
        path: str | os.PathLike[str],
        content_type: str | None = None,
        repository: RepositoryArg = DEFAULT_REPOSITORY,
        fallback_repository: RepositoryArg | list[RepositoryArg] | None = None,
        *,
        file_name: str | None = None,
    ) -> F:
        """Store the file at ``path`` (streamed, not read into memory) and describe it."""
        file_path = Path(path)
        if not file_path.is_file():
            raise FileNotFoundError(f"File {file_path} does not exist")
        file_name = file_name or file_path.name
        content_type = content_type or guess_content_type(file_name)
        url = save_with_fallback(
            "save_file", (file_path, content_type, file_name), repository, fallback_repository
        )
        return cls(
            url=url,
            content_type=content_type,
            file_name=file_name,
            file_size=file_path.stat().st_size,
        )

    # ------------------------------------------------------------------ reading files

    def input_url(self) -> InputUrl:
        """``url``, carrying the input field it came from (for errors that name it)."""
        return InputUrl(self.url, self._field)

    def as_bytes(self, *, filesize_limit: int | None = None) -> bytes:
        """The file's bytes: kept from ``from_bytes``, else downloaded (and then kept)."""
        if self._data is None:
            self._data = download_bytes(self.input_url(), filesize_limit=filesize_limit)
        return self._data

    def save(self, path: str | os.PathLike[str], overwrite: bool = False) -> Path:
        """Download the file to ``path``; refuses to replace a file unless ``overwrite``."""
        target = Path(path).resolve()
        if target.exists() and not overwrite:
            raise FileExistsError(f"File {target} already exists")
        if self._data is not None:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(self._data)
            return target
        return fetch_to_path(self.input_url(), target)


class Audio(File):
    """An audio file."""

    model_config = {"json_schema_extra": {"ui": {"field": "audio"}}}


class Video(File):
    """A video file."""

    model_config = {"json_schema_extra": {"ui": {"field": "video"}}}
