"""What every sanitizer returns or raises, whatever the file family."""

from __future__ import annotations

from dataclasses import dataclass

REASONS = ("unsupported", "too_large", "malformed", "busy")


class SanitizeError(Exception):
    """A refused file; `reason` is one of: "unsupported", "too_large", "malformed", or "busy" (no sanitizer
    was free in time)."""

    def __init__(self, reason: str):
        if reason not in REASONS:
            raise ValueError(f"unknown SanitizeError reason: {reason!r}")
        super().__init__(reason)  # args == (reason,): survives pickling from the sandbox child
        self.reason = reason


@dataclass(frozen=True)
class CleanFile:
    """A file rebuilt by a sanitizer: nothing but its content survives."""

    data: bytes
    mime: str
    extension: str
    width: int = 0
    height: int = 0

    @property
    def kind(self) -> str:
        return file_kind(self.mime)


EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "application/pdf": "pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "pptx",
    "application/vnd.oasis.opendocument.text": "odt",
    "application/vnd.oasis.opendocument.spreadsheet": "ods",
    "audio/ogg": "ogg",
    "audio/mpeg": "mp3",
    "audio/mp4": "m4a",
    "audio/wav": "wav",
    "video/mp4": "mp4",
}
"""File name extensions of what the sanitizers produce, for files sent to staff."""


def file_kind(mime: str) -> str:
    """How staff receive a file: "image", "voice" (Ogg/Opus), "audio", "video" or "document"."""
    family = mime.split("/")[0]
    if family == "image":
        return "image"
    if mime == "audio/ogg":
        return "voice"
    if family in ("audio", "video"):
        return family
    return "document"
