"""Image sanitizer: rebuild JPEG, PNG, WebP, HEIC/HEIF and GIF attachments from their raw pixels.

A photo sent "as file" keeps EXIF (GPS position, camera serial number, owner name), XMP, IPTC,
ICC profiles and comments (DESIGN.md, threat 3). Removing known tags is not enough, so this module
keeps only the decoded pixels: it applies the orientation, copies the pixels into a brand-new
image (nothing from ``.info`` is carried over) and encodes that with no metadata options at all.

Only one picture per file survives: the primary image of a HEIF file (no thumbnails, depth maps or
other items), the first frame of a GIF, the first image of an MPO (multi-picture JPEG).

Pure and synchronous. Decoding hostile input costs memory and CPU, so the bot calls
``sanitize_image`` through ``bot.privacy.sandbox.Sandbox`` (a child process with limits).
"""

from __future__ import annotations

import io
import math
import struct
import warnings

import pillow_heif
from PIL import Image, ImageOps

from .clean import CleanFile, SanitizeError

# Pillow plugin for HEIF, registered once (here and in every sandbox child, which imports this module).
# Only the primary image is ever decoded: thumbnails, depth maps and auxiliary images are not even listed.
pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)

# What reporters are told they may send (bot.conversation.file_refusal lists the subtypes).
ACCEPTED_IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp", "image/heic", "image/heif", "image/gif")

MAX_PIXELS = 50_000_000  # width x height refused before decoding: stops decompression bombs
MAX_SIDE = 4096  # long side of the output, in pixels
MAX_JPEG_BYTES = 10_000_000  # Telegram's limit for photos is 10 MB
JPEG_QUALITY = 90

# The only Pillow decoder allowed to read each detected type.
_PIL_FORMATS = {
    "image/jpeg": "JPEG",  # Pillow reports a multi-picture JPEG as "MPO"; only its first image is read
    "image/png": "PNG",
    "image/webp": "WEBP",
    "image/heic": "HEIF",
    "image/heif": "HEIF",
    "image/gif": "GIF",
}
_PNG_OUTPUT = ("image/png", "image/gif")  # lossless in, lossless out (keeps transparency); the rest -> JPEG
# Formats whose decoded pixels are already upright: libheif applies the HEIF irot/imir transforms, and the EXIF
# orientation inside a HEIF file is informational only (MIAF; pillow-heif and libheif ignore it too), so applying
# it again would turn an iPhone photo twice. GIF has no EXIF; no viewer honours an orientation in its XMP.
_SELF_ORIENTED = ("HEIF", "GIF")

# ISO BMFF `ftyp` brands. The major brand decides (as pillow-heif's own check does); the compatible brands only
# tell a HEVC file from an AV1 one when the major brand is the generic mif1/msf1.
_HEVC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"})
_GENERIC_HEIF_BRANDS = frozenset({b"mif1", b"msf1"})
_AV1_BRANDS = frozenset({b"avif", b"avis"})  # AVIF: this pillow-heif build has no AV1 decoder, so unsupported
_MAX_FTYP_BYTES = 256

_WHITE = (255, 255, 255)


def detect_image_type(data: bytes) -> str | None:
    """The image type by magic bytes only (never by file name or declared MIME type)."""
    head = bytes(data[:12])
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"  # MPO included: it is a JPEG with more images appended
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(head) == 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if len(head) == 12 and head[4:8] == b"ftyp":
        return _heif_type(bytes(data[:_MAX_FTYP_BYTES]))
    return None


def _heif_type(ftyp: bytes) -> str | None:
    major = ftyp[8:12]
    if major in _HEVC_BRANDS:
        return "image/heic"
    if major not in _GENERIC_HEIF_BRANDS:
        return None  # AVIF, MP4/MOV video, Canon CR3, ...
    (box_size,) = struct.unpack(">I", ftyp[:4])
    end = min(box_size, len(ftyp))
    compatible = {ftyp[i : i + 4] for i in range(16, end - 3, 4)}  # after major brand and minor version
    if compatible & _HEVC_BRANDS:
        return "image/heic"
    if compatible & _AV1_BRANDS:
        return None
    return "image/heif"


def sanitize_image(data: bytes, max_pixels: int = MAX_PIXELS) -> CleanFile:
    """Re-encode an image from its pixels alone: JPEG (MPO), WebP, HEIC/HEIF -> JPEG; PNG, GIF -> PNG.

    Raises SanitizeError("unsupported") for any other content (AVIF, BMP, TIFF, PDF, ...),
    SanitizeError("too_large") for more than `max_pixels` pixels (checked before decoding) and
    SanitizeError("malformed") when the file cannot be decoded.
    """
    mime = detect_image_type(data)
    if mime is None:
        raise SanitizeError("unsupported")
    as_png = mime in _PNG_OUTPUT
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # formats=[...]: only the decoder the magic bytes named may touch the file
            with Image.open(io.BytesIO(data), formats=[_PIL_FORMATS[mime]]) as src:
                # From the header: no pixel is decoded yet. For a GIF this already covers the first frame's extent;
                # for HEIF it is the primary image's size with its rotation applied.
                width, height = src.size
                if width < 1 or height < 1:
                    raise SanitizeError("malformed")
                if width * height > max_pixels:
                    raise SanitizeError("too_large")
                pixels = _decode(src, keep_alpha=as_png, max_pixels=max_pixels)
    except SanitizeError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise SanitizeError("too_large") from exc
    except MemoryError:
        raise  # the sandbox turns it into "too_large" and replaces its worker
    except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError, EOFError, RuntimeError (libheif), ...
        raise SanitizeError("malformed") from exc
    return _encode_png(pixels) if as_png else _encode_jpeg(pixels)


def _decode(src: Image.Image, keep_alpha: bool, max_pixels: int) -> Image.Image:
    """Decoded, upright pixels of `src` in a new RGB/RGBA image with an empty `.info`.

    Only the current frame is decoded: the first one of a GIF or MPO, the primary image of a HEIF file.
    Nothing here may seek or count frames (`n_frames`, `is_animated`), which would read the other ones.
    """
    if src.format in ("JPEG", "MPO"):
        # Let libjpeg decode big photos at 1/2, 1/4 or 1/8 scale: less memory, same result.
        factor = max(src.size) / MAX_SIDE
        if factor >= 2:
            src.draft(None, (math.ceil(src.width / factor), math.ceil(src.height / factor)))
    src.load()
    if src.width * src.height > max_pixels:  # a decoder may only learn the real size while decoding
        raise SanitizeError("too_large")
    if src.format not in _SELF_ORIENTED:
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
