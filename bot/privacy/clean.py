"""What every sanitizer returns or raises, whatever the file family."""

from __future__ import annotations

from dataclasses import dataclass

REASONS = ("unsupported", "too_large", "malformed")


class SanitizeError(Exception):
    """A refused file; `reason` is one of: "unsupported", "too_large", "malformed"."""

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
        """How staff receive it: "image", "voice" (Ogg/Opus), "audio", "video" or "document"."""
        family = self.mime.split("/")[0]
        if family == "image":
            return "image"
        if self.mime == "audio/ogg":
            return "voice"
        if family in ("audio", "video"):
            return family
        return "document"
