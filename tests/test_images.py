"""Image sanitizer and sandbox tests, with fixtures built here (no sample files from disk)."""

from __future__ import annotations

import io
import os
import random
import struct
import sys
import time
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageCms, PngImagePlugin

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


def test_detect_image_type_by_magic_bytes(dirty_jpeg, dirty_png, dirty_webp):
    assert detect_image_type(dirty_jpeg) == "image/jpeg"
    assert detect_image_type(dirty_png) == "image/png"
    assert detect_image_type(dirty_webp) == "image/webp"
    assert set(ACCEPTED_IMAGE_TYPES) == {"image/jpeg", "image/png", "image/webp"}
    for other in (b"", b"hello", b"%PDF-1.7\n", b"GIF89a", b"RIFF\x00\x00\x00\x00WAVEfmt ", b"PK\x03\x04"):
        assert detect_image_type(other) is None


# ---------------------------------------------------------------- metadata removal


def test_fixtures_really_carry_metadata(dirty_jpeg, dirty_png, dirty_webp):
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


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    "data",
    [
        b"",
        "Хоким заставил учителей собирать хлопок\n".encode(),
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n",
        _encode(Image.new("P", (4, 4)), "GIF"),
        _encode(Image.new("RGB", (4, 4)), "BMP"),
        _encode(Image.new("RGB", (4, 4)), "TIFF"),
        random.Random(7).randbytes(4096),
    ],
    ids=["empty", "text", "pdf", "gif", "bmp", "tiff", "random"],
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
    ],
    ids=["png", "webp", "jpeg"],
)
def test_garbage_behind_magic_bytes_is_malformed(data):
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
    [(20_000, 20_000), (8_000, 6_000)],  # beyond Pillow's own bomb limit / only beyond ours (40 MP)
)
def test_too_many_pixels_is_refused_before_decoding(size):
    data = _png_header_only(*size)
    assert len(data) < 200_000
    start = time.monotonic()
    with pytest.raises(SanitizeError) as exc:
        sanitize_image(data)
    assert exc.value.reason == "too_large"
    assert time.monotonic() - start < 0.5  # decoding 400 MP would take far longer


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
        if sandbox._pool is not None:
            sandbox._discard(sandbox._pool)


class TestSandbox:
    pytestmark = pytest.mark.asyncio

    async def test_runs_the_sanitizer_in_a_child(self, sandboxes, dirty_jpeg):
        sandbox = sandboxes()
        assert await sandbox.run(sandbox_helpers.child_pid) != os.getpid()
        assert await sandbox.run(sanitize_image, dirty_jpeg) == sanitize_image(dirty_jpeg)
        with pytest.raises(SanitizeError) as exc:  # raised in the child, re-raised as is
            await sandbox.run(sanitize_image, b"%PDF-1.7\n")
        assert exc.value.reason == "unsupported"
        await sandbox.close()
        assert sandbox._pool is None

    async def test_memory_limit(self, sandboxes, dirty_jpeg):
        sandbox = sandboxes(memory_limit_mb=256)
        with pytest.raises(SanitizeError) as exc:
            await sandbox.run(sandbox_helpers.allocate, 2048)
        assert exc.value.reason == "too_large"
        assert (await sandbox.run(sanitize_image, dirty_jpeg)).width == 32  # the next call works
        await sandbox.close()

    async def test_timeout_kills_the_child(self, sandboxes, dirty_jpeg):
        sandbox = sandboxes(timeout=1)
        pid = await sandbox.run(sandbox_helpers.child_pid)
        start = time.monotonic()
        with pytest.raises(SanitizeError) as exc:
            await sandbox.run(sandbox_helpers.sleep, 30)
        assert exc.value.reason == "too_large"
        assert time.monotonic() - start < 3
        assert await sandbox.run(sandbox_helpers.child_pid) != pid  # a fresh worker
        assert (await sandbox.run(sanitize_image, dirty_jpeg)).width == 32
        await sandbox.close()

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
