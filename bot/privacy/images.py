"""Image sanitizer: rebuild JPEG, PNG and WebP attachments from their raw pixels.

A photo sent "as file" keeps EXIF (GPS position, camera serial number, owner name), XMP, IPTC,
ICC profiles and comments (DESIGN.md, threat 3). Removing known tags is not enough, so this module
keeps only the decoded pixels: it applies the EXIF orientation, copies the pixels into a brand-new
image (nothing from ``.info`` is carried over) and encodes that with no metadata options at all.

Pure and synchronous. Decoding hostile input costs memory and CPU, so the bot calls
``sanitize_image`` through ``bot.privacy.sandbox.Sandbox`` (a child process with limits).
"""

from __future__ import annotations

import io
import math
import warnings

from PIL import Image, ImageOps

from .clean import CleanFile, SanitizeError

ACCEPTED_IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp")

MAX_PIXELS = 40_000_000  # width x height refused before decoding: stops decompression bombs
MAX_SIDE = 4096  # long side of the output, in pixels
MAX_JPEG_BYTES = 10_000_000  # Telegram's limit for photos is 10 MB
JPEG_QUALITY = 90

_PIL_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
_WHITE = (255, 255, 255)


def detect_image_type(data: bytes) -> str | None:
    """The image type by magic bytes only (never by file name or declared MIME type)."""
    head = bytes(data[:12])
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(head) == 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def sanitize_image(data: bytes, max_pixels: int = MAX_PIXELS) -> CleanFile:
    """Re-encode an image from its pixels alone: JPEG and WebP -> JPEG, PNG -> PNG.

    Raises SanitizeError("unsupported") for anything but JPEG/PNG/WebP content,
    SanitizeError("too_large") for more than `max_pixels` pixels (checked before decoding) and
    SanitizeError("malformed") when the file cannot be decoded.
    """
    mime = detect_image_type(data)
    if mime is None:
        raise SanitizeError("unsupported")
    as_png = mime == "image/png"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # formats=[...]: only the decoder the magic bytes named may touch the file
            with Image.open(io.BytesIO(data), formats=[_PIL_FORMATS[mime]]) as src:
                width, height = src.size  # from the header; no pixel is decoded yet
                if width < 1 or height < 1:
                    raise SanitizeError("malformed")
                if width * height > max_pixels:
                    raise SanitizeError("too_large")
                pixels = _decode(src, keep_alpha=as_png)
    except SanitizeError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise SanitizeError("too_large") from exc
    except MemoryError:
        raise  # the sandbox turns it into "too_large" and replaces its worker
    except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError, EOFError, ...
        raise SanitizeError("malformed") from exc
    return _encode_png(pixels) if as_png else _encode_jpeg(pixels)


def _decode(src: Image.Image, keep_alpha: bool) -> Image.Image:
    """Decoded, upright pixels of `src` in a new RGB/RGBA image with an empty `.info`."""
    if src.format in ("JPEG", "MPO"):
        # Let libjpeg decode big photos at 1/2, 1/4 or 1/8 scale: less memory, same result.
        factor = max(src.size) / MAX_SIDE
        if factor >= 2:
            src.draft(None, (math.ceil(src.width / factor), math.ceil(src.height / factor)))
    src.load()
    try:
        ImageOps.exif_transpose(src, in_place=True)
    except MemoryError:
        raise
    except Exception:
        pass  # unreadable EXIF: the orientation is lost, the rest is dropped anyway

    has_alpha = src.has_transparency_data
    if src.mode == "I" or src.mode.startswith("I;16"):
        # 16-bit greyscale: scale to 8 bits (a plain convert would clip everything to white)
        img = src.convert("I").point(lambda v: v / 256).convert("L")
    else:
        img = src
    img = img.convert("RGBA" if has_alpha else "RGB")

    if max(img.size) > MAX_SIDE:
        img = img.resize(_fit(img.size, MAX_SIDE / max(img.size)), Image.Resampling.LANCZOS)

    # A brand-new image: only the pixels are copied, never info/encoderinfo/palette metadata.
    if has_alpha and not keep_alpha:
        clean = Image.new("RGB", img.size, _WHITE)  # JPEG has no alpha: flatten onto white
        clean.paste(img, (0, 0), img.getchannel("A"))
    else:
        clean = Image.new(img.mode, img.size)
        clean.paste(img, (0, 0))
    return clean


def _fit(size: tuple[int, int], scale: float) -> tuple[int, int]:
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def _encode_jpeg(img: Image.Image) -> CleanFile:
    # No exif / icc_profile / comment / xmp argument: the encoder writes none of them.
    base = img
    while True:
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=JPEG_QUALITY, optimize=True)
        data = buf.getvalue()
        if len(data) <= MAX_JPEG_BYTES or max(img.size) == 1:
            break
        # Too big for Telegram: shrink by the byte ratio (with a margin), always from the base.
        scale = min(0.9, math.sqrt(MAX_JPEG_BYTES / len(data)) * 0.95)
        img = base.resize(_fit(img.size, scale), Image.Resampling.LANCZOS)
    return CleanFile(data, "image/jpeg", "jpg", img.width, img.height)


def _encode_png(img: Image.Image) -> CleanFile:
    # No pnginfo / icc_profile / exif argument: no text, iCCP or eXIf chunks are written.
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return CleanFile(buf.getvalue(), "image/png", "png", img.width, img.height)
