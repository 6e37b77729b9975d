"""``Image`` (a ``File`` with ``width`` and ``height``) and fal's image size presets."""

from __future__ import annotations

import io
import os
from typing import TYPE_CHECKING, Literal, TypeVar

from pydantic import BaseModel, Field

from openfal.toolkit._download import decode_image, load_image
from openfal.toolkit._file import DEFAULT_REPOSITORY, File, RepositoryArg

if TYPE_CHECKING:
    from PIL import Image as PILImage

__all__ = [
    "IMAGE_SIZE_PRESETS",
    "Image",
    "ImageFormat",
    "ImageSize",
    "ImageSizeInput",
    "ImageSizePreset",
    "get_image_size",
    "resolve_image_size",
]

ImageT = TypeVar("ImageT", bound="Image")

ImageSizePreset = Literal[
    "square_hd", "square", "portrait_4_3", "portrait_16_9", "landscape_4_3", "landscape_16_9"
]
ImageFormat = Literal["png", "jpeg", "jpg", "webp", "gif"]


class ImageSize(BaseModel):
    width: int = Field(default=512, description="The width of the generated image.", gt=0, le=14142)
    height: int = Field(
        default=512, description="The height of the generated image.", gt=0, le=14142
    )


IMAGE_SIZE_PRESETS: dict[str, ImageSize] = {
    "square_hd": ImageSize(width=1024, height=1024),
    "square": ImageSize(width=512, height=512),
    "portrait_4_3": ImageSize(width=768, height=1024),
    "portrait_16_9": ImageSize(width=576, height=1024),
    "landscape_4_3": ImageSize(width=1024, height=768),
    "landscape_16_9": ImageSize(width=1024, height=576),
}

ImageSizeInput = ImageSize | ImageSizePreset
"""A field type taking a preset name or ``{"width": ..., "height": ...}``."""


def get_image_size(source: ImageSizeInput | dict[str, int]) -> ImageSize:
    """The ``ImageSize`` of a preset name, an ``ImageSize`` or ``{"width", "height"}``."""
    if isinstance(source, ImageSize):
        return source
    if isinstance(source, str) and source in IMAGE_SIZE_PRESETS:
        return IMAGE_SIZE_PRESETS[source]
    if isinstance(source, dict):
        return ImageSize.model_validate(source)
    raise TypeError(f"Invalid value for ImageSize: {source!r}")


def resolve_image_size(source: ImageSizeInput | dict[str, int]) -> tuple[int, int]:
    """``(width, height)`` of a preset name, an ``ImageSize`` or ``{"width", "height"}``."""
    size = get_image_size(source)
    return size.width, size.height


def _content_type(format: str) -> str:
    return "image/jpeg" if format.lower() in ("jpg", "jpeg") else f"image/{format.lower()}"


class Image(File):
    """An image file, with its size in pixels."""

    width: int | None = Field(
        default=None, description="The width of the image in pixels.", examples=[1024]
    )
    height: int | None = Field(
        default=None, description="The height of the image in pixels.", examples=[1024]
    )

    model_config = {"json_schema_extra": {"ui": {"field": "image"}}}

    @classmethod
    def from_bytes(  # type: ignore[override]
        cls: type[ImageT],
        data: bytes,
        format: str,
        size: ImageSize | None = None,
        file_name: str | None = None,
        repository: RepositoryArg = DEFAULT_REPOSITORY,
        fallback_repository: RepositoryArg | list[RepositoryArg] | None = None,
    ) -> ImageT:
        """Store encoded image ``data`` of ``format`` (png, jpeg, ...), ``size`` if known."""
        image = super().from_bytes(
            data,
            content_type=_content_type(format),
            file_name=file_name,
            repository=repository,
            fallback_repository=fallback_repository,
        )
        if size is not None:
            image.width, image.height = size.width, size.height
        return image

    @classmethod
    def from_pil(
        cls: type[ImageT],
        pil_image: PILImage.Image,
        format: str | None = None,
        file_name: str | None = None,
        repository: RepositoryArg = DEFAULT_REPOSITORY,
        fallback_repository: RepositoryArg | list[RepositoryArg] | None = None,
    ) -> ImageT:
        """Encode a PIL image (``format`` defaults to its own, else png) and store it."""
        format = (format or pil_image.format or "png").lower()
        options: dict[str, int] = {}
        if format == "png":
            options["compress_level"] = 1  # fast: outputs are re-encoded by clients anyway
        elif format in ("jpeg", "jpg"):
            options["quality"] = 95
        buffer = io.BytesIO()
        pil_image.save(buffer, format="jpeg" if format == "jpg" else format, **options)
        size = ImageSize(width=pil_image.width, height=pil_image.height)
        return cls.from_bytes(
            buffer.getvalue(), format, size, file_name, repository, fallback_repository
        )

    @classmethod
    def from_path(
        cls: type[ImageT],
        path: str | os.PathLike[str],
        content_type: str | None = None,
        repository: RepositoryArg = DEFAULT_REPOSITORY,
        fallback_repository: RepositoryArg | list[RepositoryArg] | None = None,
        *,
        file_name: str | None = None,
    ) -> ImageT:
        """Store an image file, with its width and height when Pillow can read them."""
        image = super().from_path(
            path, content_type, repository, fallback_repository, file_name=file_name
        )
        try:
            from PIL import Image as PILImage

            with PILImage.open(path) as opened:
                image.width, image.height = opened.size
        except (ImportError, OSError):
            pass
        return image

    def to_pil(self, mode: str = "RGB") -> PILImage.Image:
        """The image as a PIL image in ``mode`` (downloaded unless made in this process)."""
        if self._data is not None:
            return decode_image(self._data, mode, self._field)
        return load_image(self.input_url(), mode)
