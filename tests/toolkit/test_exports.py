"""The public surface of ``openfal.toolkit`` is exactly its ``__all__``."""

from __future__ import annotations

import openfal.toolkit as toolkit


def test_exported_names() -> None:
    public = {name for name in vars(toolkit) if not name.startswith("_")}
    assert public == set(toolkit.__all__)
    for name in toolkit.__all__:
        assert getattr(toolkit, name) is not None
    assert {"File", "Image", "Audio", "Video", "ImageSizeInput", "load_image"} <= public
    assert {"download_file", "ImageUrl", "FileUrl", "get_image_size"} <= public
