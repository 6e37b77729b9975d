"""The app toolkit: fal's file models, image sizes and URL-input helpers.

Outputs::

    from openfal.toolkit import Image
    return Output(image=Image.from_pil(img))                        # a URL on this platform
    return Output(image=Image.from_pil(img, repository="in_memory"))  # a data: URI (sync_mode)

Inputs::

    class Input(BaseModel):
        image_url: ImageUrl                     # http(s)/data; private addresses refused (422)
        image_size: ImageSizeInput = "square_hd"

    image = load_image(input.image_url)         # PIL image; own files read from storage
    width, height = resolve_image_size(input.image_size)

Where files go and which URLs may be fetched is configured by environment variables that
the worker gives every runner (see :mod:`openfal.toolkit._settings`).
"""

from openfal.toolkit._download import download_bytes, download_file, load_image
from openfal.toolkit._errors import DownloadError
from openfal.toolkit._file import Audio, File, Video
from openfal.toolkit._image import (
    IMAGE_SIZE_PRESETS,
    Image,
    ImageFormat,
    ImageSize,
    ImageSizeInput,
    ImageSizePreset,
    get_image_size,
    resolve_image_size,
)
from openfal.toolkit._loop import use_storage
from openfal.toolkit._repository import (
    FileRepository,
    InMemoryRepository,
    StorageRepository,
    default_repository,
    get_repository,
    register_repository,
)
from openfal.toolkit._settings import ToolkitSettings, configure, settings
from openfal.toolkit._urls import OWN_FILES, FileUrl, ImageUrl, InputUrl, check_url

__all__ = [
    "IMAGE_SIZE_PRESETS",
    "OWN_FILES",
    "Audio",
    "DownloadError",
    "File",
    "FileRepository",
    "FileUrl",
    "Image",
    "ImageFormat",
    "ImageSize",
    "ImageSizeInput",
    "ImageSizePreset",
    "ImageUrl",
    "InMemoryRepository",
    "InputUrl",
    "StorageRepository",
    "ToolkitSettings",
    "Video",
    "check_url",
    "configure",
    "default_repository",
    "download_bytes",
    "download_file",
    "get_image_size",
    "get_repository",
    "load_image",
    "register_repository",
    "resolve_image_size",
    "settings",
    "use_storage",
]
