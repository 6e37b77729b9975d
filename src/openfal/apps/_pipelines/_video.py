"""MP4 encoding with PyAV's bundled FFmpeg (H.264 when the build has it, else MPEG-4)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["encode_mp4"]


def encode_mp4(frames: Any, fps: int, path: Path) -> Path:
    """Write ``frames`` (uint8 array, frames, height, width, RGB) to ``path``."""
    import av

    codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
    _, height, width, _ = frames.shape
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if codec == "libx264":
            stream.options = {"crf": "18", "preset": "fast"}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
