"""One entry point for every attachment: detect the family from the content, then rewrite it.

Runs inside the sandbox's child process (see sandbox.py); every family's sanitizer is pure and raises
SanitizeError for what it refuses. Anything not recognised is refused as "unsupported".
"""

from __future__ import annotations

from .clean import CleanFile, SanitizeError
from .images import detect_image_type, sanitize_image
from .media import detect_media, sanitize_audio, sanitize_video
from .office import detect_office, sanitize_office
from .pdf import is_pdf, sanitize_pdf

ACCEPTED_FORMATS = {
    "images": ("JPEG", "PNG", "WebP", "HEIC", "GIF"),
    "documents": ("PDF", "DOCX", "XLSX", "PPTX", "ODT", "ODS"),
    "audio": ("MP3", "M4A", "WAV"),
    "video": ("MP4", "MOV"),
}
"""What reporters are told they may send (voice messages and video notes are accepted too)."""


def sanitize_file(data: bytes, voice_pitch_shift: bool = True) -> CleanFile:
    if detect_image_type(data):
        return sanitize_image(data)
    if is_pdf(data):
        return sanitize_pdf(data)
    if detect_office(data):
        return sanitize_office(data)
    media = detect_media(data)
    if media and media.startswith("audio/"):
        return sanitize_audio(data, pitch_shift=voice_pitch_shift)
    if media:
        return sanitize_video(data)
    raise SanitizeError("unsupported")
