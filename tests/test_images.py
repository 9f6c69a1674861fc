"""Image sanitizer and sandbox tests, with fixtures built here (no sample files from disk)."""

from __future__ import annotations

import asyncio
import io
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageCms, ImageOps, PngImagePlugin

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `bot` and `tests` importable here and in spawned children
    sys.path.insert(0, str(ROOT))

from bot.privacy import images  # noqa: E402
from bot.privacy.images import (  # noqa: E402
    ACCEPTED_IMAGE_TYPES,
    CleanFile,
    SanitizeError,
    detect_image_type,
    sanitize_image,
)
from bot.privacy.sandbox import Sandbox  # noqa: E402
from tests import sandbox_helpers  # noqa: E402

# ---------------------------------------------------------------- fixtures

EXIF_IFD, GPS_IFD = 0x8769, 0x8825
ARTIST, MAKE, MODEL, ORIENTATION = 0x013B, 0x010F, 0x0110, 0x0112
BODY_SERIAL = 0xA431
GPS_LAT_REF, GPS_LAT, GPS_LON_REF, GPS_LON, GPS_MAP_DATUM = 1, 2, 3, 4, 0x12

RED, BLUE = (220, 20, 20), (20, 20, 220)
GREEN, YELLOW = (20, 200, 20), (230, 230, 20)

XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><dc:creator>xmp-marker</dc:creator></x:xmpmeta>'

# Every planted marker; none may survive anywhere in a sanitized file.
MARKERS = [
    b"Ivanov",
    b"SERIAL-XYZ-123",
    b"PhoneMaker",
    b"GPS-DATUM-MARKER",
    b"secret comment",
    b"xmp-marker",
    b"http://ns.adobe.com/xap/1.0/",
    b"iptc-marker",
    b"Photoshop 3.0",
    b"Exif\x00\x00",
    b"ICC_PROFILE",
    b"acsp",  # the signature inside every ICC profile
    b"itxt-marker",
    b"eXIf",
    b"tEXt",
    b"iTXt",
    b"zTXt",
    b"iCCP",
    b"MARKER-GIF-COMMENT",
    b"XMP DataXMP",  # GIF application extension
    b"NETSCAPE2.0",
    b"MPF\x00",  # multi-picture index (APP2)
    b"ftyp",  # nothing of a HEIF container
]


def _exif(orientation: int = 6) -> bytes:
    exif = Image.Exif()
    exif[ARTIST] = "Ivanov Ivan"
    exif[MAKE] = "PhoneMaker"
    exif[MODEL] = "PhoneMaker X1"
    exif[ORIENTATION] = orientation
    exif.get_ifd(EXIF_IFD)[BODY_SERIAL] = "SERIAL-XYZ-123"
    gps = exif.get_ifd(GPS_IFD)
    gps[GPS_LAT_REF], gps[GPS_LAT] = "N", (41.0, 18.0, 30.5)  # Tashkent
    gps[GPS_LON_REF], gps[GPS_LON] = "E", (69.0, 16.0, 45.25)
    gps[GPS_MAP_DATUM] = "GPS-DATUM-MARKER"
    return exif.tobytes()


def _icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _two_colour(size: tuple[int, int] = (64, 32), mode: str = "RGB") -> Image.Image:
    """Left half red, right half blue."""
    im = Image.new(mode, size, RED)
    im.paste(BLUE, (size[0] // 2, 0, size[0], size[1]))
    return im


def _quadrants(size: tuple[int, int] = (64, 32)) -> Image.Image:
    """Red, blue / green, yellow quadrants: tells all eight EXIF orientations apart."""
    w, h = size[0] // 2, size[1] // 2
    im = Image.new("RGB", size)
    for colour, (x, y) in zip((RED, BLUE, GREEN, YELLOW), ((0, 0), (w, 0), (0, h), (w, h)), strict=True):
        im.paste(colour, (x, y, x + w, y + h))
    return im


def _quadrant_colours(im: Image.Image) -> list[tuple[int, ...]]:
    w, h = im.size
    return [im.convert("RGB").getpixel((x * w // 4, y * h // 4)) for y in (1, 3) for x in (1, 3)]


def _assert_looks_like(im: Image.Image, expected: Image.Image) -> None:
    assert im.size == expected.size
    got, want = _quadrant_colours(im), _quadrant_colours(expected)
    assert all(_close(g, w) for g, w in zip(got, want, strict=True)), (got, want)


def _upright_reference(im: Image.Image, orientation: int) -> Image.Image:
    """What `im` stored with `orientation` must look like on screen (Pillow's EXIF transpose)."""
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    im = im.copy()
    im.info["exif"] = exif.tobytes()
    return ImageOps.exif_transpose(im)


def _noise(size: tuple[int, int], seed: int = 1) -> Image.Image:
    return Image.frombytes("RGB", size, random.Random(seed).randbytes(size[0] * size[1] * 3))


def _insert_jpeg_segment(jpeg: bytes, marker: int, payload: bytes) -> bytes:
    assert jpeg[:2] == b"\xff\xd8"
    return jpeg[:2] + struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload + jpeg[2:]


def _iptc_app13() -> bytes:
    record = b"\x1c\x02\x50" + struct.pack(">H", 11) + b"iptc-marker"  # 2:80 By-line
    block = b"8BIM" + struct.pack(">H", 0x0404) + b"\x00\x00" + struct.pack(">I", len(record)) + record
    return b"Photoshop 3.0\x00" + block + b"\x00" * (len(record) % 2)


def _encode(im: Image.Image, fmt: str, **params) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **params)
    return buf.getvalue()


@pytest.fixture(scope="module")
def dirty_jpeg() -> bytes:
    """64x32 two-colour JPEG, stored sideways (orientation 6), full of identifying metadata."""
    data = _encode(
        _two_colour(),
        "JPEG",
        quality=95,
        exif=_exif(orientation=6),
        icc_profile=_icc(),
        comment=b"secret comment",
        xmp=b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><dc:creator>xmp-marker</dc:creator></x:xmpmeta>',
    )
    return _insert_jpeg_segment(data, 0xED, _iptc_app13())


@pytest.fixture(scope="module")
def dirty_png() -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Ivanov")
    info.add_itxt("Description", "itxt-marker, photographed by Ivanov", lang="ru", tkey="Описание")
    info.add_text("Comment", "ztxt-marker", zip=True)
    return _encode(_two_colour(), "PNG", pnginfo=info, exif=_exif(orientation=1), icc_profile=_icc())


@pytest.fixture(scope="module")
def dirty_webp() -> bytes:
    return _encode(_two_colour(), "WEBP", quality=95, exif=_exif(orientation=1), icc_profile=_icc(), xmp=b"xmp-marker")


def _heic(im: Image.Image, orientation: int = 1, **params) -> bytes:
    """HEIC as an iPhone writes it: pillow-heif turns the EXIF orientation into irot/imir and keeps it in EXIF."""
    return _encode(im, "HEIF", quality=90, exif=_exif(orientation), xmp=XMP, **params)


def _patch_exif_orientation(data: bytes, old: int, new: int) -> bytes:
    """Change the EXIF orientation inside a file without touching anything else (big-endian "MM" EXIF)."""
    entry = struct.pack(">HHI", ORIENTATION, 3, 1)  # tag, SHORT, count 1, then the value
    assert data.count(entry + struct.pack(">H", old)) == 1
    return data.replace(entry + struct.pack(">H", old), entry + struct.pack(">H", new))


def _patch_ispe(data: bytes, width: int, height: int) -> bytes:
    """Make the HEIF image-spatial-extent property declare another size (the coded image is unchanged)."""
    assert data.count(b"ispe") == 1
    pos = data.index(b"ispe") + 8  # after the type and version/flags
    return data[:pos] + struct.pack(">II", width, height) + data[pos + 8 :]


@pytest.fixture(scope="module")
def dirty_heic() -> bytes:
    """64x32 two-colour HEIC stored sideways (irot + EXIF orientation 6), with EXIF GPS/serial and XMP."""
    return _heic(_two_colour(), orientation=6)


def _gif_insert_extension(gif: bytes, extension: bytes) -> bytes:
    """Insert an extension block right after the header, logical screen descriptor and global colour table."""
    flags = gif[10]
    pos = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    return gif[:pos] + extension + gif[pos:]


def _gif_xmp_extension(packet: bytes) -> bytes:
    """The XMP application extension: a raw packet followed by the 258-byte "magic trailer"."""
    return b"\x21\xff\x0bXMP DataXMP" + packet + bytes([1, *range(255, -1, -1), 0])


def _gif_frame(colours: list[tuple[int, int, int]], layout: Image.Image) -> Image.Image:
    frame = layout.copy()
    frame.putpalette([c for colour in colours for c in colour])
    return frame


@pytest.fixture(scope="module")
def dirty_gif() -> bytes:
    """Animated GIF: a red/blue first frame, then a green and a yellow one; comment and XMP extensions."""
    layout = Image.new("P", (64, 32), 0)
    layout.paste(1, (32, 0, 64, 32))
    frames = [
        _gif_frame([RED, BLUE], layout),
        _gif_frame([GREEN, GREEN], layout),
        _gif_frame([YELLOW, YELLOW], layout),
    ]
    gif = _encode(
        frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0, comment=b"MARKER-GIF-COMMENT"
    )
    return _gif_insert_extension(gif, _gif_xmp_extension(XMP))


def _gif_header_only(screen: tuple[int, int], frame: tuple[int, int]) -> bytes:
    """A GIF declaring a logical screen and a first frame of the given sizes, with 1 pixel of image data."""
    lsd = struct.pack("<HHBBB", *screen, 0x80, 0, 0) + bytes((0, 0, 0, 255, 255, 255))  # 2-colour global table
    descriptor = b"," + struct.pack("<HHHHB", 0, 0, *frame, 0)
    return b"GIF89a" + lsd + descriptor + b"\x02\x02\x44\x01\x00;"


@pytest.fixture(scope="module")
def dirty_mpo() -> bytes:
    """MPO (multi-picture JPEG): a sideways red/blue image with metadata, then a green 80x40 second image."""
    return _encode(
        _two_colour(),
        "MPO",
        save_all=True,
        append_images=[Image.new("RGB", (80, 40), GREEN)],
        quality=95,
        exif=_exif(orientation=6),
        comment=b"secret comment",
        xmp=XMP,
    )


def _reopen(clean: CleanFile) -> Image.Image:
    im = Image.open(io.BytesIO(clean.data))
    im.load()
    return im


def _jpeg_markers(data: bytes) -> list[int]:
    """Marker codes of the segments before the image data."""
    assert data[:2] == b"\xff\xd8"
    pos, found = 2, []
    while pos < len(data):
        assert data[pos] == 0xFF
        marker = data[pos + 1]
        found.append(marker)
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            return found
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        pos += 2 + length
    return found


def _jpeg_image_end(data: bytes) -> int:
    """Offset just past the EOI marker that ends the first image in `data`."""
    assert data[:2] == b"\xff\xd8"
    pos = 2
    while True:
        assert data[pos] == 0xFF, pos
        marker = data[pos + 1]
        if marker == 0xD9:
            return pos + 2
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        pos += 2 + length
        if marker == 0xDA:  # entropy-coded data runs to the next marker that is not a stuffed 00 or a restart
            while not (data[pos] == 0xFF and data[pos + 1] not in (0x00, *range(0xD0, 0xD8))):
                pos += 1


def _png_chunks(data: bytes) -> list[bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, found = 8, []
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        found.append(kind)
        pos += 12 + length
    return found


def _assert_no_metadata(clean: CleanFile) -> None:
    for marker in MARKERS:
        assert marker not in clean.data, marker
    im = _reopen(clean)
    assert not im.getexif()
    for key in ("icc_profile", "exif", "xmp", "comment", "photoshop", "Author", "Description", "Comment"):
        assert key not in im.info, key
    if clean.mime == "image/jpeg":
        assert not hasattr(im, "applist") or [seg for seg, _ in im.applist] in ([], ["APP0"])
        allowed = {0xE0, 0xDB, 0xC0, 0xC1, 0xC2, 0xC4, 0xDD, 0xDA}  # JFIF, tables, frame, scan
        assert set(_jpeg_markers(clean.data)) <= allowed
    else:
        assert set(_png_chunks(clean.data)) <= {b"IHDR", b"IDAT", b"IEND"}


def _close(a: tuple[int, ...], b: tuple[int, ...], tolerance: int = 40) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


# ---------------------------------------------------------------- type detection


def test_detect_image_type_by_magic_bytes(dirty_jpeg, dirty_png, dirty_webp, dirty_heic, dirty_gif, dirty_mpo):
    assert detect_image_type(dirty_jpeg) == "image/jpeg"
    assert detect_image_type(dirty_png) == "image/png"
    assert detect_image_type(dirty_webp) == "image/webp"
    assert detect_image_type(dirty_heic) == "image/heic"
    assert detect_image_type(dirty_gif) == "image/gif"
    assert detect_image_type(b"GIF87a") == "image/gif"
    assert detect_image_type(dirty_mpo) == "image/jpeg"  # a JPEG with more images appended
    assert set(ACCEPTED_IMAGE_TYPES) == {
        "image/jpeg",
        "image/png",
        "image/webp",
        "image/heic",
        "image/heif",
        "image/gif",
    }
    for other in (b"", b"hello", b"%PDF-1.7\n", b"GIF8", b"RIFF\x00\x00\x00\x00WAVEfmt ", b"PK\x03\x04"):
        assert detect_image_type(other) is None


def _ftyp(major: bytes, *compatible: bytes) -> bytes:
    return struct.pack(">I", 16 + 4 * len(compatible)) + b"ftyp" + major + b"\x00\x00\x00\x00" + b"".join(compatible)


@pytest.mark.parametrize(
    ("ftyp", "expected"),
    [
        *[(_ftyp(brand, b"mif1", b"heic"), "image/heic") for brand in (b"heic", b"heix", b"heim", b"heis")],
        *[(_ftyp(brand, b"msf1", b"hevc"), "image/heic") for brand in (b"hevc", b"hevx", b"hevm", b"hevs")],
        (_ftyp(b"mif1", b"mif1", b"heic"), "image/heic"),  # some Android phones: generic major brand
        (_ftyp(b"mif1", b"mif1", b"miaf"), "image/heif"),
        (_ftyp(b"msf1", b"msf1", b"iso8"), "image/heif"),
        (_ftyp(b"mif1"), "image/heif"),
        (_ftyp(b"avif", b"avif", b"mif1", b"miaf"), None),  # AVIF: no AV1 decoder in pillow-heif
        (_ftyp(b"avis", b"avis", b"msf1"), None),
        (_ftyp(b"mif1", b"mif1", b"avif", b"miaf"), None),
        (_ftyp(b"isom", b"isom", b"mif1", b"heic"), None),  # MP4 video: the major brand decides
        (_ftyp(b"qt  ", b"qt  "), None),  # QuickTime / iPhone video
        (_ftyp(b"crx ", b"crx "), None),  # Canon raw
        (b"\x00\x00\x00\x18ftyp", None),  # too short to name a brand
    ],
)
def test_detect_iso_bmff_brands(ftyp, expected):
    assert detect_image_type(ftyp + b"\x00" * 32) == expected


# ---------------------------------------------------------------- metadata removal


def test_fixtures_really_carry_metadata(dirty_jpeg, dirty_png, dirty_webp, dirty_heic, dirty_gif, dirty_mpo):
    """Guard against a vacuous pass: the planted metadata is there before sanitizing."""
    with Image.open(io.BytesIO(dirty_jpeg)) as im:
        exif = im.getexif()
        assert exif[ARTIST] == "Ivanov Ivan" and exif[ORIENTATION] == 6
        assert exif.get_ifd(EXIF_IFD)[BODY_SERIAL] == "SERIAL-XYZ-123"
        assert exif.get_ifd(GPS_IFD)[GPS_LAT] == (41.0, 18.0, 30.5)
        assert im.info["comment"] == b"secret comment"
        assert b"xmp-marker" in im.info["xmp"]
        assert im.info["icc_profile"][36:40] == b"acsp"
        assert b"iptc-marker" in dirty_jpeg
    with Image.open(io.BytesIO(dirty_png)) as im:
        im.load()
        assert im.info["Author"] == "Ivanov" and "icc_profile" in im.info
        assert im.getexif()[ARTIST] == "Ivanov Ivan"
        assert {b"tEXt", b"iTXt", b"zTXt", b"eXIf", b"iCCP"} <= set(_png_chunks(dirty_png))
    with Image.open(io.BytesIO(dirty_webp)) as im:
        assert im.getexif()[ARTIST] == "Ivanov Ivan" and "icc_profile" in im.info
    with Image.open(io.BytesIO(dirty_heic)) as im:
        assert im.format == "HEIF" and im.size == (32, 64)  # libheif applies irot on its own
        assert im.info["original_orientation"] == 6  # ... and the EXIF orientation is there too, like an iPhone's
        assert b"SERIAL-XYZ-123" in im.info["exif"] and b"GPS-DATUM-MARKER" in im.info["exif"]
        assert b"xmp-marker" in im.info["xmp"]
        assert b"irot" in dirty_heic
    with Image.open(io.BytesIO(dirty_gif)) as im:
        assert im.format == "GIF" and im.n_frames == 3
        assert im.info["comment"] == b"MARKER-GIF-COMMENT"
        assert b"XMP DataXMP" + XMP in dirty_gif  # Pillow does not parse it; exiftool does (see below)
    with Image.open(io.BytesIO(dirty_mpo)) as im:
        assert im.format == "MPO" and im.n_frames == 2
        assert im.getexif()[ORIENTATION] == 6
        assert dirty_mpo.count(b"SERIAL-XYZ-123") == 2 and b"MPF\x00" in dirty_mpo
        assert _jpeg_image_end(dirty_mpo) < len(dirty_mpo)  # the second image follows the first


def test_jpeg_loses_all_metadata_and_is_turned_upright(dirty_jpeg):
    clean = sanitize_image(dirty_jpeg)
    assert (clean.mime, clean.extension) == ("image/jpeg", "jpg")
    _assert_no_metadata(clean)
    # orientation 6 applied: the 64x32 landscape image is now 32x64, and the pixels moved with it
    assert (clean.width, clean.height) == (32, 64)
    im = _reopen(clean)
    assert im.size == (32, 64) and im.mode == "RGB"
    assert _close(im.getpixel((16, 8)), RED)  # the left (red) half rotated to the top
    assert _close(im.getpixel((16, 56)), BLUE)


def test_png_loses_text_icc_and_exif_chunks(dirty_png):
    clean = sanitize_image(dirty_png)
    assert (clean.mime, clean.extension, clean.width, clean.height) == ("image/png", "png", 64, 32)
    _assert_no_metadata(clean)
    im = _reopen(clean)
    assert im.mode == "RGB"
    assert im.getpixel((8, 16)) == RED and im.getpixel((56, 16)) == BLUE  # lossless


def test_webp_becomes_clean_jpeg(dirty_webp):
    clean = sanitize_image(dirty_webp)
    assert (clean.mime, clean.extension, clean.width, clean.height) == ("image/jpeg", "jpg", 64, 32)
    _assert_no_metadata(clean)
    im = _reopen(clean)
    assert _close(im.getpixel((8, 16)), RED) and _close(im.getpixel((56, 16)), BLUE)


def test_png_keeps_transparency():
    im = _two_colour(mode="RGBA")
    im.paste((0, 0, 0, 0), (0, 0, 8, 8))
    clean = sanitize_image(_encode(im, "PNG"))
    out = _reopen(clean)
    assert out.mode == "RGBA"
    assert out.getpixel((2, 2))[3] == 0 and out.getpixel((56, 16)) == (*BLUE, 255)
    _assert_no_metadata(clean)


def test_palette_png_with_transparency_becomes_rgba():
    im = _two_colour().convert("P")
    clean = sanitize_image(_encode(im, "PNG", transparency=im.getpixel((0, 0))))
    out = _reopen(clean)
    assert out.mode == "RGBA" and out.getpixel((0, 0))[3] == 0 and out.getpixel((56, 16))[3] == 255


def test_transparent_webp_is_flattened_onto_white():
    im = _two_colour(mode="RGBA")
    im.paste((0, 0, 0, 0), (0, 0, 8, 8))
    out = _reopen(sanitize_image(_encode(im, "WEBP", lossless=True)))
    assert out.mode == "RGB" and _close(out.getpixel((2, 2)), (255, 255, 255))


def test_16_bit_greyscale_png_is_scaled_not_clipped():
    clean = sanitize_image(_encode(Image.new("I;16", (8, 8), 32768), "PNG"))
    assert _close(_reopen(clean).getpixel((4, 4)), (128, 128, 128), tolerance=2)


def test_long_side_is_limited_to_4096():
    clean = sanitize_image(_encode(Image.new("RGB", (5000, 100), RED), "JPEG"))
    assert (clean.width, clean.height) == (4096, 82)
    assert _reopen(clean).size == (4096, 82)


def test_big_jpeg_output_is_downscaled_under_the_byte_limit(monkeypatch):
    monkeypatch.setattr(images, "MAX_JPEG_BYTES", 40_000)
    noise = _encode(_noise((400, 300)), "PNG")
    clean = sanitize_image(_encode(Image.open(io.BytesIO(noise)), "JPEG", quality=95))
    assert len(clean.data) <= 40_000
    assert clean.width < 400 and abs(clean.width / clean.height - 4 / 3) < 0.02


def test_output_is_deterministic(dirty_jpeg):
    assert sanitize_image(dirty_jpeg) == sanitize_image(dirty_jpeg)


# ---------------------------------------------------------------- HEIC / HEIF


def test_heic_becomes_clean_upright_jpeg(dirty_heic):
    clean = sanitize_image(dirty_heic)
    assert (clean.mime, clean.extension) == ("image/jpeg", "jpg")
    _assert_no_metadata(clean)
    # turned exactly once: twice would give 64x32 again (irot) or an upside-down 32x64 (irot + EXIF)
    assert (clean.width, clean.height) == (32, 64)
    im = _reopen(clean)
    assert im.size == (32, 64) and im.format == "JPEG"
    assert _close(im.getpixel((16, 8)), RED)
    assert _close(im.getpixel((16, 56)), BLUE)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_heic_orientation_is_applied_exactly_once(orientation):
    """irot/imir written from the EXIF orientation, which stays in EXIF too (as iPhones do)."""
    data = _heic(_quadrants(), orientation)
    expected = _upright_reference(_quadrants(), orientation)
    _assert_looks_like(_reopen(sanitize_image(data)), expected)


def test_heic_irot_without_exif_orientation_is_applied():
    data = _patch_exif_orientation(_heic(_quadrants(), 6), old=6, new=1)
    with Image.open(io.BytesIO(data)) as im:
        assert im.info["original_orientation"] is None and b"irot" in data
    out = _reopen(sanitize_image(data))
    assert out.size == (32, 64)
    _assert_looks_like(out, _upright_reference(_quadrants(), 6))


def test_heic_exif_orientation_without_irot_is_ignored():
    """In HEIF only irot/imir turn the image; EXIF orientation is informational (MIAF), as libheif and viewers do."""
    data = _patch_exif_orientation(_heic(_quadrants(), 1), old=1, new=6)
    with Image.open(io.BytesIO(data)) as im:
        assert im.info["original_orientation"] == 6 and b"irot" not in data and b"imir" not in data
    clean = sanitize_image(data)
    out = _reopen(clean)
    assert out.size == (64, 32)
    _assert_looks_like(out, _quadrants())
    _assert_no_metadata(clean)


def test_generic_heif_brand_is_decoded():
    data = _heic(_two_colour()).replace(
        b"ftypheic\x00\x00\x00\x00mif1heicmiaf", b"ftypmif1\x00\x00\x00\x00mif1miafmiaf"
    )
    assert detect_image_type(data) == "image/heif"
    clean = sanitize_image(data)
    assert (clean.mime, clean.width, clean.height) == ("image/jpeg", 64, 32)
    _assert_no_metadata(clean)


def test_transparent_heic_is_flattened_onto_white():
    im = _two_colour(mode="RGBA")
    im.paste((0, 0, 0, 0), (0, 0, 16, 16))
    out = _reopen(sanitize_image(_encode(im, "HEIF", quality=90)))
    assert out.mode == "RGB" and _close(out.getpixel((4, 4)), (255, 255, 255)) and _close(out.getpixel((48, 16)), BLUE)


def test_avif_is_unsupported():
    buf = io.BytesIO()
    try:
        _two_colour().save(buf, format="AVIF")
    except (KeyError, OSError):
        data = _ftyp(b"avif", b"avif", b"mif1", b"miaf") + b"\x00" * 64  # Pillow without an AVIF encoder
    else:
        data = buf.getvalue()
    with pytest.raises(SanitizeError) as exc:
        sanitize_image(data)
    assert exc.value.reason == "unsupported"


# ---------------------------------------------------------------- GIF


def test_animated_gif_becomes_first_frame_png(dirty_gif):
    clean = sanitize_image(dirty_gif)
    assert (clean.mime, clean.extension, clean.width, clean.height) == ("image/png", "png", 64, 32)
    _assert_no_metadata(clean)
    im = _reopen(clean)
    assert im.mode == "RGB" and getattr(im, "n_frames", 1) == 1
    assert im.getpixel((8, 16)) == RED and im.getpixel((56, 16)) == BLUE  # the first frame, losslessly
    assert {colour for _, colour in im.getcolors()} == {RED, BLUE}  # nothing of the green and yellow frames


def test_gif_later_frames_are_never_decoded(dirty_gif):
    truncated = dirty_gif[:-4]  # the last frame loses its end
    with Image.open(io.BytesIO(truncated)) as im, pytest.raises(OSError):  # guard: decoding it would fail
        im.seek(2)
        im.load()
    assert sanitize_image(truncated) == sanitize_image(dirty_gif)


def test_transparent_gif_becomes_rgba_png():
    layout = Image.new("P", (64, 32), 1)
    layout.paste(2, (32, 0, 64, 32))
    layout.paste(0, (0, 0, 8, 8))
    clean = sanitize_image(_encode(_gif_frame([(0, 0, 0), RED, BLUE], layout), "GIF", transparency=0))
    out = _reopen(clean)
    assert out.mode == "RGBA"
    assert (
        out.getpixel((2, 2))[3] == 0
        and out.getpixel((16, 16)) == (*RED, 255)
        and out.getpixel((56, 16)) == (*BLUE, 255)
    )
    _assert_no_metadata(clean)


# ---------------------------------------------------------------- MPO


def test_mpo_becomes_one_clean_upright_jpeg(dirty_mpo):
    clean = sanitize_image(dirty_mpo)
    assert (clean.mime, clean.extension, clean.width, clean.height) == ("image/jpeg", "jpg", 32, 64)
    _assert_no_metadata(clean)
    assert _jpeg_image_end(clean.data) == len(clean.data)  # nothing after the first image's EOI
    assert clean.data.count(b"\xff\xd8") == 1 and clean.data.count(b"\xff\xd9") == 1
    im = _reopen(clean)
    assert im.format == "JPEG" and getattr(im, "n_frames", 1) == 1
    assert _close(im.getpixel((16, 8)), RED) and _close(im.getpixel((16, 56)), BLUE)
    # nothing of the second (green) image
    assert not any(_close(colour, GREEN) for _, colour in im.getcolors(im.width * im.height))


# ---------------------------------------------------------------- independent check with exiftool

EXIFTOOL = shutil.which("exiftool")
FILE_LEVEL_GROUPS = {"ExifTool", "System", "File", "JFIF", "PNG", "Composite"}
PNG_HEADER_TAGS = {"ImageWidth", "ImageHeight", "BitDepth", "ColorType", "Compression", "Filter", "Interlace"}
FORBIDDEN_TAGS = {"Comment", "ExifByteOrder", "Warning", "Error"}  # File:Comment is a JPEG COM segment


def _exiftool(paths: list[Path]) -> dict[str, dict]:
    result = subprocess.run(
        [EXIFTOOL, "-j", "-a", "-G1", *map(str, paths)], capture_output=True, check=False, timeout=60
    )
    assert result.stdout, result.stderr
    return {Path(entry["SourceFile"]).name: entry for entry in json.loads(result.stdout)}


def _metadata_problems(entry: dict) -> list[str]:
    problems = []
    for key in entry:
        if key == "SourceFile":
            continue
        group, _, tag = key.partition(":")
        if group not in FILE_LEVEL_GROUPS:
            problems.append(f"group {group}")
        elif tag in FORBIDDEN_TAGS or (group == "PNG" and tag not in PNG_HEADER_TAGS):
            problems.append(key)
    return problems


@pytest.mark.skipif(EXIFTOOL is None, reason="exiftool is not on PATH: the independent metadata check needs it")
def test_exiftool_finds_only_file_level_metadata(
    tmp_path, dirty_jpeg, dirty_png, dirty_webp, dirty_heic, dirty_gif, dirty_mpo
):
    dirty = {
        "jpeg.jpg": dirty_jpeg,
        "png.png": dirty_png,
        "webp.webp": dirty_webp,
        "heic.heic": dirty_heic,
        "gif.gif": dirty_gif,
        "mpo.mpo": dirty_mpo,
    }
    paths = []
    for name, data in dirty.items():
        clean = sanitize_image(data)
        paths.append(tmp_path / f"dirty-{name}")
        paths[-1].write_bytes(data)
        paths.append(tmp_path / f"clean-{name.split('.')[0]}.{clean.extension}")
        paths[-1].write_bytes(clean.data)
    found = _exiftool(paths)
    assert set(found) == {path.name for path in paths}
    for name, entry in found.items():
        problems = _metadata_problems(entry)
        if name.startswith("dirty-"):  # guard: exiftool does see the planted GPS position or XMP
            assert {"group GPS", "group XMP-dc"} & set(problems), json.dumps(entry, indent=1)
        else:
            assert not problems, f"{problems}\n{json.dumps(entry, indent=1, ensure_ascii=False)}"


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    "data",
    [
        b"",
        "Хоким заставил учителей собирать хлопок\n".encode(),
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n",
        _encode(Image.new("RGB", (4, 4)), "BMP"),
        _encode(Image.new("RGB", (4, 4)), "TIFF"),
        _ftyp(b"isom", b"isom", b"iso2", b"avc1", b"mp41") + b"\x00" * 64,
        random.Random(7).randbytes(4096),
    ],
    ids=["empty", "text", "pdf", "bmp", "tiff", "mp4", "random"],
)
def test_other_content_is_unsupported(data):
    with pytest.raises(SanitizeError) as exc:
        sanitize_image(data)
    assert exc.value.reason == "unsupported"


def test_truncated_jpeg_is_malformed():
    data = _encode(_noise((200, 200)), "JPEG", quality=90)
    for cut in (len(data) // 2, 40):
        with pytest.raises(SanitizeError) as exc:
            sanitize_image(data[:cut])
        assert exc.value.reason == "malformed"


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 50,
        b"RIFF\x20\x00\x00\x00WEBPVP8 " + b"\xff" * 40,
        b"\xff\xd8\xff\xe0" + b"\x00" * 30,
        b"GIF89a" + b"\x00" * 40,
        _ftyp(b"heic", b"mif1", b"heic") + b"\xff" * 60,
        _ftyp(b"mif1", b"mif1") + b"\x00\x00\x00\x10meta" + b"\x00" * 40,
    ],
    ids=["png", "webp", "jpeg", "gif", "heic", "heif"],
)
def test_garbage_behind_magic_bytes_is_malformed(data):
    with pytest.raises(SanitizeError) as exc:
        sanitize_image(data)
    assert exc.value.reason == "malformed"


def test_truncated_heic_and_gif_are_malformed(dirty_heic, dirty_gif):
    for data in (dirty_heic[: len(dirty_heic) // 2], dirty_heic[:200], dirty_gif[:40]):
        with pytest.raises(SanitizeError) as exc:
            sanitize_image(data)
        assert exc.value.reason == "malformed"


def _png_header_only(width: int, height: int) -> bytes:
    """A 1-bit greyscale PNG declaring width x height, with an all-zero, highly compressed IDAT."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    compressor = zlib.compressobj(9)
    row = bytes(1 + (width + 7) // 8)  # filter byte + packed bits
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    "size",
    [(20_000, 20_000), (9_000, 6_000)],  # beyond Pillow's own bomb limit / only beyond ours (50 MP)
)
def test_too_many_pixels_is_refused_before_decoding(size):
    data = _png_header_only(*size)
    assert len(data) < 200_000
    start = time.monotonic()
    with pytest.raises(SanitizeError) as exc:
        sanitize_image(data)
    assert exc.value.reason == "too_large"
    assert time.monotonic() - start < 0.5  # decoding 400 MP would take far longer


@pytest.mark.parametrize(
    "data",
    [
        _gif_header_only((9_000, 6_000), (1, 1)),  # logical screen beyond our 50 MP
        _gif_header_only((1, 1), (9_000, 6_000)),  # a first frame bigger than the screen enlarges it
        _gif_header_only((20_000, 20_000), (1, 1)),  # beyond Pillow's own bomb limit
    ],
    ids=["gif-screen", "gif-frame", "gif-bomb"],
)
def test_too_large_gif_is_refused_before_decoding(data):
    start = time.monotonic()
    with pytest.raises(SanitizeError) as exc:
        sanitize_image(data)
    assert exc.value.reason == "too_large"
    assert time.monotonic() - start < 0.5


@pytest.mark.parametrize("size", [(9_000, 6_000), (20_000, 20_000)])  # beyond our 50 MP / Pillow's bomb limit
def test_too_large_heic_is_refused_before_decoding(size):
    data = _patch_ispe(_heic(_two_colour((64, 64))), *size)  # 64x64: no clean-aperture crop to hide the lie
    start = time.monotonic()
    with pytest.raises(SanitizeError) as exc:
        sanitize_image(data)
    assert exc.value.reason == "too_large"
    assert time.monotonic() - start < 0.5
    if size == (9_000, 6_000):  # guard: decoding it does fail (the coded image is 64x64), so nothing was decoded
        with pytest.raises(SanitizeError) as exc:
            sanitize_image(data, max_pixels=100_000_000)
        assert exc.value.reason == "malformed"


def test_max_pixels_applies_to_every_format(dirty_heic, dirty_gif, dirty_mpo):
    for data in (dirty_heic, dirty_gif, dirty_mpo):
        with pytest.raises(SanitizeError) as exc:
            sanitize_image(data, max_pixels=64 * 32 - 1)
        assert exc.value.reason == "too_large"
        assert sanitize_image(data, max_pixels=64 * 32).mime


def test_max_pixels_is_a_parameter(dirty_jpeg):
    with pytest.raises(SanitizeError) as exc:
        sanitize_image(dirty_jpeg, max_pixels=64 * 32 - 1)
    assert exc.value.reason == "too_large"
    assert sanitize_image(dirty_jpeg, max_pixels=64 * 32).width == 32


def test_sanitize_error_reasons():
    assert SanitizeError("malformed").reason == "malformed"
    with pytest.raises(ValueError):
        SanitizeError("whatever")


# ---------------------------------------------------------------- sandbox


@pytest.fixture
def sandboxes(monkeypatch):
    """Makes sandboxes whose spawned children can import `bot` and `tests`; closes them afterwards."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    made: list[Sandbox] = []

    def make(**kwargs) -> Sandbox:
        made.append(Sandbox(**kwargs))
        return made[-1]

    yield make
    for sandbox in made:  # a failed test may leave a pool behind
        for slot in sandbox._slots:
            sandbox._discard(slot)


class TestSandbox:
    pytestmark = pytest.mark.asyncio

    async def test_runs_the_sanitizer_in_a_child(self, sandboxes, dirty_jpeg, dirty_heic):
        sandbox = sandboxes()
        assert await sandbox.run(sandbox_helpers.child_pid) != os.getpid()
        assert await sandbox.run(sanitize_image, dirty_jpeg) == sanitize_image(dirty_jpeg)
        # the HEIF plugin is registered in the spawned child too (by importing bot.privacy.images)
        assert await sandbox.run(sanitize_image, dirty_heic) == sanitize_image(dirty_heic)
        with pytest.raises(SanitizeError) as exc:  # raised in the child, re-raised as is
            await sandbox.run(sanitize_image, b"%PDF-1.7\n")
        assert exc.value.reason == "unsupported"
        await sandbox.close()
        assert all(slot.pool is None for slot in sandbox._slots) and not os.path.exists(sandbox._root)

    async def test_memory_limit(self, sandboxes, dirty_jpeg):
        sandbox = sandboxes(memory_limit_mb=256)
        with pytest.raises(SanitizeError) as exc:
            await sandbox.run(sandbox_helpers.allocate, 2048)
        assert exc.value.reason == "too_large"
        assert (await sandbox.run(sanitize_image, dirty_jpeg)).width == 32  # the next call works
        await sandbox.close()

    async def test_timeout_kills_the_child(self, sandboxes, dirty_jpeg):
        sandbox = sandboxes(timeout=1, workers=1)
        pid = await sandbox.run(sandbox_helpers.child_pid)
        start = time.monotonic()
        with pytest.raises(SanitizeError) as exc:
            await sandbox.run(sandbox_helpers.sleep, 30)
        assert exc.value.reason == "too_large"
        assert time.monotonic() - start < 3
        assert await sandbox.run(sandbox_helpers.child_pid) != pid  # a fresh worker
        assert (await sandbox.run(sanitize_image, dirty_jpeg)).width == 32
        await sandbox.close()

    async def test_a_killed_worker_does_not_take_down_its_neighbour(self, sandboxes, dirty_jpeg):
        sandbox = sandboxes(timeout=2, workers=2)
        slow = asyncio.ensure_future(sandbox.run(sandbox_helpers.sleep, 30))
        await asyncio.sleep(0.2)
        cleaned = await sandbox.run(sanitize_image, dirty_jpeg)  # runs beside the doomed one
        with pytest.raises(SanitizeError):
            await slow
        assert cleaned.width == 32
        await sandbox.close()

    async def test_a_killed_worker_leaves_no_temporary_files(self, sandboxes):
        sandbox = sandboxes(timeout=2, workers=1)
        with pytest.raises(SanitizeError):
            await sandbox.run(sandbox_helpers.leave_temp_file_then_sleep, 30)
        assert os.listdir(sandbox._slots[0].temp_dir) == []
        root = sandbox._root
        await sandbox.close()
        assert not os.path.exists(root)

    async def test_cpu_limit_is_per_task(self, sandboxes):
        sandbox = sandboxes(cpu_seconds=1, timeout=20)
        # Three tasks of 0.7 s each outlive a lifetime limit of 1-2 s: each gets its own budget.
        for _ in range(3):
            assert await sandbox.run(sandbox_helpers.burn_cpu, 0.7) == 0.7
        start = time.monotonic()
        with pytest.raises(SanitizeError) as exc:  # killed by SIGXCPU, long before the timeout
            await sandbox.run(sandbox_helpers.burn_cpu, 30)
        assert exc.value.reason == "too_large"
        assert time.monotonic() - start < 5
        await sandbox.close()
