"""Audio and video sanitizers: rebuild voice notes, recordings and videos with ffmpeg.

Why (DESIGN.md, threat 3 "Identifying files"): media files carry names (ID3 artist, iTunes atoms,
RIFF INFO), places (QuickTime ``©xyz`` and 3GPP ``loci`` atoms, GoPro ``gpmd`` and Apple ``mebx``
location tracks), exact times (``creation_time``), device names (handler names, encoder strings,
H.264/HEVC SEI user data), cover pictures with their own EXIF, and the voice itself identifies people.

What is kept:
- Ogg voice notes (Opus, also Vorbis) are decoded and encoded again as mono 48 kHz Ogg/Opus at 32 kb/s
  (``-application voip``). With ``pitch_shift`` (the default) the voice is moved down by about three
  semitones with the rubberband filter (``VOICE_FILTER``): pitch *and* formants move together and the
  tempo is kept. Formants (the resonances of a person's throat and mouth) carry much of what makes a voice
  recognisable, so they are shifted rather than preserved: the speaker sounds like a larger, different
  person while staying clearly intelligible. This defeats recognition by ear (a boss or neighbour
  hearing a leaked recording); it is NOT strong anonymisation: the factor is public (this file), so a
  forensic analyst can shift it back approximately. Staff should transcribe rather than forward voices.
- MP3, M4A and WAV are treated as evidence (for example a recorded official): the audio is kept as it is
  (``-c:a copy`` when the codec fits the container, else re-encoded: MP3 -> libmp3lame, M4A -> AAC,
  WAV -> PCM 16 bit), only the first audio stream is kept, and every tag, chapter, cover picture and
  foreign chunk/atom is dropped. mutagen then deletes anything a tag library can still find, and the
  result is checked against an allow-list of boxes/chunks. No pitch shift: it would spoil evidence.
- Videos (MP4, MOV, Telegram video notes) become MP4 with the first video and first audio stream only
  (no subtitles, data/timecode/location tracks, chapters or metadata; empty handler names; zero
  creation times; SEI/metadata NAL units removed from H.264/HEVC/AV1). Streams are copied when the
  codec allows it (H.264, HEVC, AV1 video; AAC audio) and re-encoded (libx264 veryfast CRF 23 at most
  1920 px, AAC) otherwise, or when copying fails or leaves anything the allow-list check rejects.

What copying cannot clean: bytes inside the coded audio frames (MP3 ancillary data, AAC fill
elements, e.g. an encoder's name) are kept as they are, like the sound itself; SEI is removed from video.

Detection uses the content only. Limits: at most ``MAX_BYTES`` in, ``MAX_DURATION`` seconds (checked
from the headers before ffmpeg runs and again on the output, which is cut at ``MAX_DURATION`` + 1 s),
``MAX_SIDE`` pixels per side, ``MAX_OUTPUT_BYTES`` out, ``TIME_BUDGET`` seconds of ffmpeg per file (the
sandbox kills its worker at 30 s, which would leave the temporary directory behind).

Pure and synchronous; meant to run in ``bot.privacy.sandbox.Sandbox``. ffmpeg (from imageio-ffmpeg) runs
without network protocols, with a forced demuxer, a size cap and a timeout; the original bytes are
written only into a private ``tempfile.TemporaryDirectory`` (mode 0700) that is removed on every path.
ffmpeg's stderr goes to a file in that directory and is never logged (it can quote the file's tags).
"""

from __future__ import annotations

import ctypes
import functools
import io
import os
import resource
import signal
import struct
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import mutagen
import mutagen.apev2
import mutagen.id3
import mutagen.mp3
import mutagen.mp4
import mutagen.oggopus
import mutagen.oggvorbis
import mutagen.wave

from .clean import CleanFile, SanitizeError


class MediaToolError(RuntimeError):
    """ffmpeg cannot be found or started: a problem of the server, not of the file."""


ACCEPTED_AUDIO_TYPES = ("audio/ogg", "audio/mpeg", "audio/mp4", "audio/wav")
ACCEPTED_VIDEO_TYPES = ("video/mp4", "video/quicktime")

MAX_BYTES = 50_000_000  # input size
MAX_OUTPUT_BYTES = 50_000_000  # ffmpeg -fs (and the Bot API's upload limit); bigger is "too_large"
MAX_DURATION = 30 * 60.0  # seconds
# Re-encoding a voice note (decode, pitch shift, Opus) costs about 1.1 CPU seconds per minute of sound on
# the 2-core reference machine, so FFMPEG_CPU_SECONDS covers about 17 minutes: longer notes are refused
# at once instead of after 20 s of work.
MAX_VOICE_DURATION = 15 * 60.0
MAX_SIDE = 4096  # pixels, width and height
MAX_DECODE_PIXELS = MAX_SIDE * MAX_SIDE  # decoders refuse bigger frames (a lying header)
TIME_BUDGET = 25.0  # seconds of ffmpeg per file, all attempts together
FFMPEG_CPU_SECONDS = 20  # RLIMIT_CPU of each ffmpeg run (the sandbox gives its worker the same)
FFMPEG_THREADS = "2"  # bounds memory under the sandbox's 1 GiB RLIMIT_AS
MAX_ALLOC = str(512 * 1024 * 1024)  # ffmpeg -max_alloc: no single allocation above this
MAX_LOG_BYTES = 16 * 1024 * 1024  # RLIMIT_FSIZE margin above the output cap (ffmpeg's log file)
MAX_BOXES = 100_000  # ISO BMFF boxes parsed per file

# Voice: rubberband pitch factor 0.84 = -3.0 semitones; formant=shifted moves the vocal-tract resonances
# with the pitch (a different-sounding person) while the tempo stays; pitchq=quality suits a fixed shift.
# It runs at 16 kHz (wideband speech, all a 32 kb/s voice note carries): half the CPU of 48 kHz, which
# matters because a 60 s note takes about 1 s on 2 cores and the sandbox allows 30 s per file.
VOICE_PITCH = 0.84
VOICE_RATE = 16000
VOICE_FILTER = f"rubberband=pitch={VOICE_PITCH}:formant=shifted:pitchq=quality"
VOICE_BITRATE = "32k"

_AUDIO_FORMATS = "sample_rates=8000|11025|12000|16000|22050|24000|32000|44100|48000:channel_layouts=mono|stereo"
# Re-encoded video fits in 1920x1920 (even sides, square pixels, 8-bit 4:2:0 that every player shows):
# x264 needs about 900 MB for 4K frames, more than the sandbox's 1 GiB address space leaves, and is
# too slow for the time budget at that size. Copied streams keep their size (up to MAX_SIDE).
MAX_REENCODE_SIDE = 1920
_VIDEO_FILTER = (
    f"scale=w='min({MAX_REENCODE_SIDE},iw)':h='min({MAX_REENCODE_SIDE},ih)'"
    ":force_original_aspect_ratio=decrease:force_divisible_by=2,setsar=1,format=yuv420p"
)

# ISO BMFF major brands (content only; HEIF/AVIF images have other brands and are refused here).
_AUDIO_BRANDS = {b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B "}
_VIDEO_BRANDS = {
    b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"dash", b"MSNV",
    b"mmp4", b"M4V ", b"M4VH", b"M4VP", b"3gp4", b"3gp5", b"3gp6", b"3gp7", b"3gs6", b"3g2a", b"3g2b",
    b"3g2c", b"3ge6", b"f4v ", b"XAVC", b"NDAS",
}  # fmt: skip
_QT_FIRST_ATOMS = {b"moov", b"mdat", b"wide", b"pnot"}

# Sample entries that are copied into the MP4 (and the bitstream filter that strips their SEI/metadata).
_COPY_VIDEO = {
    b"avc1": ("filter_units=remove_types=6", None),  # H.264 SEI
    b"avc3": ("filter_units=remove_types=6", None),
    b"hvc1": ("filter_units=remove_types=39|40", "hvc1"),  # HEVC prefix/suffix SEI
    b"hev1": ("filter_units=remove_types=39|40", "hvc1"),
    b"av01": ("filter_units=remove_types=5", None),  # AV1 metadata OBUs
}
_COPY_VIDEO_AUDIO = {b"mp4a"}
_COPY_M4A = {b"mp4a", b"alac"}
_H264_SEI_FILTER = "filter_units=remove_types=6"

# What a sanitized MP4/M4A may contain: ffmpeg's own boxes, nothing that carries text or places.
_MP4_CHILDREN = {
    b"": {b"ftyp", b"moov", b"mdat", b"free"},
    b"moov": {b"mvhd", b"trak", b"free"},
    b"trak": {b"tkhd", b"edts", b"mdia"},
    b"edts": {b"elst"},
    b"mdia": {b"mdhd", b"hdlr", b"minf"},
    b"minf": {b"vmhd", b"smhd", b"dinf", b"stbl"},
    b"dinf": {b"dref"},
    b"stbl": {
        b"stsd", b"stts", b"ctts", b"cslg", b"stss", b"stps", b"sdtp", b"stsc", b"stsz", b"stz2",
        b"stco", b"co64", b"sgpd", b"sbgp",
    },
}  # fmt: skip
_MP4_VIDEO_ENTRIES = {b"avc1", b"avc3", b"hvc1", b"hev1", b"av01"}
_MP4_AUDIO_ENTRIES = {b"mp4a", b"alac"}
_WAV_FORMAT_TAGS = {1, 3, 6, 7, 0xFFFE}  # PCM, IEEE float, A-law, mu-law, extensible


# ------------------------------------------------------------------ detection


def detect_media(data: bytes) -> str | None:
    """The audio/video type from the content only (never a file name or a declared MIME type).

    "audio/ogg" (Ogg whose first stream is Opus or Vorbis), "audio/mpeg" (MPEG audio layer III, with or
    without ID3v2 in front), "audio/mp4" (ISO BMFF with an audio brand, or with audio tracks only),
    "audio/wav" (RIFF WAVE), "video/mp4" (ISO BMFF with a video brand), "video/quicktime" (brand "qt  "
    or a classic QuickTime file starting with moov/mdat/wide/pnot); None for anything else.
    """
    head = bytes(data[:16])
    if head.startswith(b"OggS"):
        return "audio/ogg" if _ogg_codec(data) in ("opus", "vorbis") else None
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith(b"ID3") or _mpeg_frames_at(data, 0):
        return "audio/mpeg" if _mp3_audio_start(data) is not None else None
    return _detect_isobmff(data)


def _ogg_codec(data: bytes) -> str | None:
    """The codec of the first Ogg page's first packet."""
    if len(data) < 27 or data[4] != 0:
        return None
    segments = data[26]
    payload = bytes(data[27 + segments : 27 + segments + 8])
    if payload.startswith(b"OpusHead"):
        return "opus"
    if payload.startswith(b"\x01vorbis"):
        return "vorbis"
    return None


_MP3_BITRATES = {
    3: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),  # MPEG-1
    2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),  # MPEG-2
    0: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),  # MPEG-2.5
}
_MP3_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def _mp3_frame(data: bytes, pos: int) -> tuple[int, int] | None:
    """(length, header key) of a valid MPEG audio layer III frame header at `pos`, else None."""
    if pos + 4 > len(data):
        return None
    b0, b1, b2 = data[pos], data[pos + 1], data[pos + 2]
    if b0 != 0xFF or b1 & 0xE0 != 0xE0:
        return None
    version, layer = (b1 >> 3) & 3, (b1 >> 1) & 3
    bitrate_index, rate_index, padding = b2 >> 4, (b2 >> 2) & 3, (b2 >> 1) & 1
    if version == 1 or layer != 1 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    bitrate = _MP3_BITRATES[version][bitrate_index] * 1000
    rate = _MP3_RATES[version][rate_index]
    length = (144 if version == 3 else 72) * bitrate // rate + padding
    return length, (b1 & 0xFE) << 8 | (b2 & 0x0C)


def _mpeg_frames_at(data: bytes, pos: int) -> bool:
    """Two consecutive matching layer III frames at `pos` (or one frame that ends the file)."""
    first = _mp3_frame(data, pos)
    if first is None:
        return False
    following = pos + first[0]
    if following >= len(data):
        return following == len(data)
    second = _mp3_frame(data, following)
    return second is not None and second[1] == first[1]


def _mp3_audio_start(data: bytes) -> int | None:
    """Where the MPEG frames start after any ID3v2 tags (a little junk or padding is tolerated)."""
    pos = tags = 0
    while bytes(data[pos : pos + 3]) == b"ID3" and pos + 10 <= len(data) and tags < 16:
        tags += 1
        flags, raw = data[pos + 5], bytes(data[pos + 6 : pos + 10])
        if any(byte & 0x80 for byte in raw):
            return None
        size = raw[0] << 21 | raw[1] << 14 | raw[2] << 7 | raw[3]
        pos += 10 + size + (10 if flags & 0x10 else 0)
    for start in range(pos, min(pos + 4096, len(data))):
        if data[start] == 0xFF and _mpeg_frames_at(data, start):
            return start
    return None


def _box_header(data: bytes, pos: int, end: int) -> tuple[bytes, int, int] | None:
    """(type, payload start, box end) of the ISO BMFF box at `pos`, or None if it does not fit."""
    if pos + 8 > end:
        return None
    size, kind = struct.unpack_from(">I4s", data, pos)
    header = 8
    if size == 1:
        if pos + 16 > end:
            return None
        size = struct.unpack_from(">Q", data, pos + 8)[0]
        header = 16
    elif size == 0:
        size = end - pos
    if size < header or pos + size > end:
        return None
    return kind, pos + header, pos + size


def _detect_isobmff(data: bytes) -> str | None:
    first = _box_header(data, 0, len(data))
    if first is None:
        # A truncated or streaming file may have its last box cut short: the header is enough here.
        if len(data) < 8:
            return None
        first = (bytes(data[4:8]), 8, len(data))
    kind, payload, end = first
    if kind == b"ftyp":
        if end - payload < 8:
            return None
        major = bytes(data[payload : payload + 4])
        if major in _AUDIO_BRANDS:
            return "audio/mp4"
        if major == b"qt  ":
            guess = "video/quicktime"
        elif major in _VIDEO_BRANDS:
            guess = "video/mp4"
        else:
            return None
    elif kind in _QT_FIRST_ATOMS:
        guess = "video/quicktime"
    else:
        return None
    movie = _parse_movie(data)
    if movie is not None:
        handlers = {track.handler for track in movie.tracks}
        if b"soun" in handlers and b"vide" not in handlers:
            return "audio/mp4"
    return guess


@dataclass
class _Track:
    handler: bytes = b""
    entry: bytes = b""  # the first sample entry's four-character code, e.g. b"avc1"
    width: int = 0  # from the visual sample entry
    height: int = 0
    display_width: int = 0  # from tkhd (16.16 fixed point), before the rotation matrix
    display_height: int = 0
    rotated: bool = False  # a 90/270 degree matrix


@dataclass
class _Movie:
    duration: float = 0.0  # from mvhd; 0 when unknown (fragmented files)
    tracks: list[_Track] = field(default_factory=list)


class _BoxLimit(Exception):
    pass


def _children(data: bytes, start: int, end: int, budget: list[int]):
    """(type, box start, payload start, end) of the boxes between start and end; stops at the first broken one."""
    pos = start
    while pos < end:
        budget[0] -= 1
        if budget[0] < 0:
            raise _BoxLimit
        box = _box_header(data, pos, end)
        if box is None:
            return
        yield box[0], pos, box[1], box[2]
        pos = box[2]


def _child(data: bytes, start: int, end: int, kind: bytes, budget: list[int]) -> tuple[int, int] | None:
    for child, _, payload, child_end in _children(data, start, end, budget):
        if child == kind:
            return payload, child_end
    return None


def _parse_movie(data: bytes) -> _Movie | None:
    """Track handlers, sample entries and sizes from moov, or None when there is no readable moov."""
    budget = [MAX_BOXES]
    try:
        moov = _child(data, 0, len(data), b"moov", budget)
        if moov is None:
            return None
        movie = _Movie()
        for kind, _, payload, end in _children(data, moov[0], moov[1], budget):
            if kind == b"mvhd" and end - payload >= 32:
                if data[payload] == 1:
                    timescale, duration = struct.unpack_from(">IQ", data, payload + 20)
                else:
                    timescale, duration = struct.unpack_from(">II", data, payload + 12)
                if timescale and duration not in (0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF):
                    movie.duration = duration / timescale
            elif kind == b"trak":
                movie.tracks.append(_parse_track(data, payload, end, budget))
        return movie
    except (_BoxLimit, struct.error, IndexError):
        return None


def _parse_track(data: bytes, start: int, end: int, budget: list[int]) -> _Track:
    track = _Track()
    tkhd = _child(data, start, end, b"tkhd", budget)
    if tkhd is not None and tkhd[1] - tkhd[0] >= 84:
        matrix_at = tkhd[0] + (52 if data[tkhd[0]] == 1 else 40)
        a, b = struct.unpack_from(">ii", data, matrix_at)
        track.rotated = a == 0 and b != 0
        width, height = struct.unpack_from(">II", data, tkhd[1] - 8)
        track.display_width, track.display_height = width >> 16, height >> 16
    mdia = _child(data, start, end, b"mdia", budget)
    if mdia is None:
        return track
    hdlr = _child(data, mdia[0], mdia[1], b"hdlr", budget)
    if hdlr is not None and hdlr[1] - hdlr[0] >= 12:
        track.handler = bytes(data[hdlr[0] + 8 : hdlr[0] + 12])
    minf = _child(data, mdia[0], mdia[1], b"minf", budget)
    stbl = minf and _child(data, minf[0], minf[1], b"stbl", budget)
    stsd = stbl and _child(data, stbl[0], stbl[1], b"stsd", budget)
    if stsd:
        entry = _box_header(data, stsd[0] + 8, stsd[1])
        if entry is not None:
            track.entry = entry[0]
            if track.handler == b"vide" and entry[2] - entry[1] >= 28:
                track.width, track.height = struct.unpack_from(">HH", data, entry[1] + 24)
    return track


# ------------------------------------------------------------------ public sanitizers


def _refusing_surprises(func: Callable[..., CleanFile]) -> Callable[..., CleanFile]:
    """Any unexpected error while handling a hostile file becomes SanitizeError("malformed").

    The original exception is not chained: parser messages can quote the file's own text.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs) -> CleanFile:
        try:
            return func(*args, **kwargs)
        except (SanitizeError, MemoryError, MediaToolError):
            raise  # the sandbox turns MemoryError into "too_large" and replaces its worker
        except Exception:
            raise SanitizeError("malformed") from None

    return wrapper


@_refusing_surprises
def sanitize_audio(data: bytes, pitch_shift: bool = True) -> CleanFile:
    """Rebuild a voice note or an audio recording without any tag, picture or chapter.

    Ogg (Opus/Vorbis) -> Ogg/Opus voice, pitch-shifted when `pitch_shift`; MP3 -> MP3, M4A -> M4A,
    WAV -> WAV with the audio copied when possible. Raises SanitizeError("unsupported") for other
    content, ("too_large") beyond the size/duration limits or the time budget, ("malformed") when ffmpeg
    cannot read the file.
    """
    if len(data) > MAX_BYTES:
        raise SanitizeError("too_large")
    mime = detect_media(data)
    if mime not in ACCEPTED_AUDIO_TYPES:
        raise SanitizeError("unsupported")
    deadline = time.monotonic() + TIME_BUDGET
    if mime == "audio/ogg":
        length = _mutagen_duration(data, (mutagen.oggopus.OggOpus, mutagen.oggvorbis.OggVorbis))
        _check_duration(length, min(MAX_DURATION, MAX_VOICE_DURATION))
        with _Workdir(data) as work:
            return _voice(work, pitch_shift, deadline)
    if mime == "audio/mpeg":
        _check_duration(_mutagen_duration(data, (mutagen.mp3.MP3,)))
        with _Workdir(data) as work:
            return _mp3(work, deadline)
    if mime == "audio/wav":
        _check_duration(_mutagen_duration(data, (mutagen.wave.WAVE,)))
        with _Workdir(data) as work:
            return _wav(work, data, deadline)
    movie = _parse_movie(data)
    if movie is None:
        raise SanitizeError("malformed")
    _check_duration(movie.duration)
    with _Workdir(data) as work:
        return _m4a(work, movie, deadline)


@_refusing_surprises
def sanitize_video(data: bytes) -> CleanFile:
    """Rebuild an MP4/MOV video as MP4 with one video and at most one audio stream and nothing else.

    Raises SanitizeError("unsupported") for other content, ("too_large") beyond the size, duration or
    side limits or the time budget, ("malformed") when ffmpeg cannot read the file.
    """
    if len(data) > MAX_BYTES:
        raise SanitizeError("too_large")
    if detect_media(data) not in ACCEPTED_VIDEO_TYPES:
        raise SanitizeError("unsupported")
    movie = _parse_movie(data)
    if movie is None:
        raise SanitizeError("malformed")
    _check_duration(movie.duration)
    videos = [track for track in movie.tracks if track.handler == b"vide"]
    if not videos:
        raise SanitizeError("malformed")
    if any(max(t.width, t.height, t.display_width, t.display_height) > MAX_SIDE for t in movie.tracks):
        raise SanitizeError("too_large")
    audios = [track for track in movie.tracks if track.handler == b"soun"]
    deadline = time.monotonic() + TIME_BUDGET
    with _Workdir(data) as work:
        return _video(work, videos[0], audios[0] if audios else None, deadline)


# ------------------------------------------------------------------ limits


def _mutagen_duration(data: bytes, kinds: tuple) -> float:
    """The length the headers claim (0.0 if mutagen cannot tell; the output is checked again)."""
    for kind in kinds:
        try:
            return float(kind(io.BytesIO(data)).info.length or 0.0)
        except MemoryError:
            raise
        except Exception:
            continue
    return 0.0


def _check_duration(seconds: float, limit: float | None = None) -> None:
    if seconds > (MAX_DURATION if limit is None else limit):
        raise SanitizeError("too_large")


# ------------------------------------------------------------------ running ffmpeg


def _ffmpeg_exe() -> str:
    import imageio_ffmpeg  # imported late: it looks for the binary on import of its helpers

    return imageio_ffmpeg.get_ffmpeg_exe()


_PRCTL = getattr(ctypes.CDLL(None), "prctl", None)  # Linux: the C library is in the process already
_PR_SET_PDEATHSIG = 1


def _cpu_limit() -> int:
    """CPU seconds one ffmpeg run may use: ours, or less if this process was given less."""
    soft, _ = resource.getrlimit(resource.RLIMIT_CPU)
    return FFMPEG_CPU_SECONDS if soft == resource.RLIM_INFINITY else min(FFMPEG_CPU_SECONDS, soft)


def _limit_child() -> None:
    """Runs in the forked ffmpeg before exec: no core dumps (they would hold the reporter's file),
    CPU and file-size ceilings, and death with the sandbox worker if that is killed."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    for limit, value in (
        (resource.RLIMIT_CPU, _cpu_limit()),
        (resource.RLIMIT_FSIZE, MAX_OUTPUT_BYTES + MAX_LOG_BYTES),
    ):
        _, hard = resource.getrlimit(limit)
        resource.setrlimit(limit, (value if hard == resource.RLIM_INFINITY else min(value, hard), hard))
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class _Workdir:
    """A private temporary directory holding the original as `in`, removed on every path."""

    def __init__(self, data: bytes):
        self._data = data
        self._tmp: tempfile.TemporaryDirectory | None = None
        self.path = Path()
        self.source = Path()
        self._runs = 0

    def __enter__(self) -> _Workdir:
        self._tmp = tempfile.TemporaryDirectory(prefix="tipbot-media-")
        self.path = Path(self._tmp.name)
        os.chmod(self.path, 0o700)
        self.source = self.path / "in"
        try:
            descriptor = os.open(self.source, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(self._data)
        except BaseException:
            self._tmp.cleanup()  # __exit__ does not run when __enter__ fails
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        assert self._tmp is not None
        self._tmp.cleanup()

    def ffmpeg(
        self, input_args: list[str], output_args: list[str], suffix: str, deadline: float, limit: float | None = None
    ) -> Path | None:
        """Run one ffmpeg conversion of `in` (cut 1 s after `limit` seconds, MAX_DURATION by default);
        the output path, or None when ffmpeg failed."""
        remaining = deadline - time.monotonic()
        if remaining <= 0.5:
            raise SanitizeError("too_large")
        try:
            exe = _ffmpeg_exe()
        except Exception as exc:
            raise MediaToolError("ffmpeg from imageio-ffmpeg is not available") from exc
        self._runs += 1
        out = self.path / f"out{self._runs}.{suffix}"
        command = [
            exe,
            *("-nostdin", "-hide_banner", "-loglevel", "error", "-max_alloc", MAX_ALLOC),
            *("-protocol_whitelist", "file", "-threads", FFMPEG_THREADS),
            *input_args,
            *("-i", str(self.source)),
            *("-map_metadata", "-1", "-map_chapters", "-1", "-dn", "-sn", "-metadata:s", "encoder="),
            *output_args,
            *("-fflags", "+bitexact", "-flags", "+bitexact", "-threads", FFMPEG_THREADS),
            *("-t", str((MAX_DURATION if limit is None else limit) + 1), "-fs", str(MAX_OUTPUT_BYTES), "-y", str(out)),
        ]
        log_path = self.path / f"ffmpeg{self._runs}.log"
        cpu_limit = _cpu_limit()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        try:
            with open(log_path, "wb") as log:  # captured, never logged: it may quote the file's tags
                process = subprocess.run(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                    timeout=remaining,
                    env={"LC_ALL": "C"},
                    preexec_fn=_limit_child,  # safe here: the sandbox worker runs no other threads
                    close_fds=True,
                )
        except subprocess.TimeoutExpired:
            raise SanitizeError("too_large") from None  # subprocess.run has killed ffmpeg
        except OSError as exc:
            raise MediaToolError("cannot start ffmpeg") from exc
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
        if process.returncode in (-signal.SIGXCPU, -signal.SIGXFSZ, -signal.SIGKILL) or cpu + 0.1 >= cpu_limit:
            # Out of CPU time (ffmpeg catches SIGXCPU and exits with 255), the file-size limit, the OOM killer.
            raise SanitizeError("too_large")
        if process.returncode != 0 or not out.exists():
            return None
        if out.stat().st_size >= MAX_OUTPUT_BYTES:
            raise SanitizeError("too_large")  # -fs cut the output short
        return out


def _output_length(path: Path, kind, limit: float | None = None) -> float:
    """The output's duration (ffmpeg wrote the headers, so they can be trusted); checks the limits."""
    try:
        length = float(kind(path).info.length or 0.0)
    except MemoryError:
        raise
    except Exception:
        raise SanitizeError("malformed") from None
    if length <= 0:
        raise SanitizeError("malformed")
    _check_duration(length, limit)
    return length


# ------------------------------------------------------------------ audio


def _voice(work: _Workdir, pitch_shift: bool, deadline: float) -> CleanFile:
    limit = min(MAX_DURATION, MAX_VOICE_DURATION)
    filters = "aformat=channel_layouts=mono"
    if pitch_shift:
        filters += f":sample_rates={VOICE_RATE},{VOICE_FILTER}"
    out = work.ffmpeg(
        ["-f", "ogg"],
        [
            *("-map", "0:a:0", "-vn", "-af", filters, "-ac", "1", "-ar", "48000"),
            *("-c:a", "libopus", "-b:a", VOICE_BITRATE, "-vbr", "constrained", "-application", "voip"),
            *("-f", "ogg"),
        ],
        "ogg",
        deadline,
        limit,
    )
    if out is None:
        raise SanitizeError("malformed")
    _output_length(out, mutagen.oggopus.OggOpus, limit)
    voice = mutagen.oggopus.OggOpus(out)
    if voice.tags:  # ffmpeg's "encoder" comment; only mutagen's vendor string stays
        voice.tags.clear()
        voice.save()
    if mutagen.oggopus.OggOpus(out).tags:
        raise SanitizeError("malformed")
    return CleanFile(out.read_bytes(), "audio/ogg", "ogg")


def _mp3(work: _Workdir, deadline: float) -> CleanFile:
    common = ["-map", "0:a:0", "-vn", "-id3v2_version", "0", "-write_id3v1", "0", "-f", "mp3"]
    out = work.ffmpeg(["-f", "mp3"], ["-c:a", "copy", *common], "mp3", deadline)
    if out is None or not _is_clean_mp3(out):
        encode = ["-af", f"aformat={_AUDIO_FORMATS}", "-c:a", "libmp3lame", "-q:a", "2"]
        out = work.ffmpeg(["-f", "mp3"], [*encode, *common], "mp3", deadline)
        if out is None:
            raise SanitizeError("malformed")
    _output_length(out, mutagen.mp3.MP3)
    raw = out.read_bytes()
    if raw.startswith(b"ID3") or raw[-128:-125] == b"TAG":
        mutagen.id3.delete(out)
    if b"APETAGEX" in raw:
        mutagen.apev2.delete(out)
    if not _is_clean_mp3(out) or mutagen.mp3.MP3(out).tags:
        raise SanitizeError("malformed")
    return CleanFile(out.read_bytes(), "audio/mpeg", "mp3")


def _is_clean_mp3(path: Path) -> bool:
    """Layer III frames from the first byte, no ID3v1/ID3v2/APE tag anywhere."""
    raw = path.read_bytes()
    return _mpeg_frames_at(raw, 0) and raw[-128:-125] != b"TAG" and b"APETAGEX" not in raw and b"ID3" not in raw[:10]


def _wav(work: _Workdir, data: bytes, deadline: float) -> CleanFile:
    tag = _wav_format_tag(data)
    out = None
    if tag in _WAV_FORMAT_TAGS:
        out = work.ffmpeg(["-f", "wav"], ["-map", "0:a:0", "-c:a", "copy", "-f", "wav"], "wav", deadline)
    if out is None or _wav_format_tag(out.read_bytes()) not in _WAV_FORMAT_TAGS:
        out = work.ffmpeg(["-f", "wav"], ["-map", "0:a:0", "-c:a", "pcm_s16le", "-f", "wav"], "wav", deadline)
        if out is None:
            raise SanitizeError("malformed")
    _output_length(out, mutagen.wave.WAVE)
    clean = _rebuild_wav(out.read_bytes())  # fmt, fact and data chunks only: no LIST/INFO, bext, id3
    if clean is None:
        raise SanitizeError("malformed")
    return CleanFile(clean, "audio/wav", "wav")


def _riff_chunks(data: bytes) -> list[tuple[bytes, bytes]] | None:
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    chunks, pos = [], 12
    while pos + 8 <= len(data) and len(chunks) < MAX_BOXES:
        kind, size = struct.unpack_from("<4sI", data, pos)
        body = bytes(data[pos + 8 : pos + 8 + size])
        chunks.append((kind, body))
        pos += 8 + size + (size & 1)
    return chunks


def _wav_format_tag(data: bytes) -> int | None:
    for kind, body in _riff_chunks(data) or []:
        if kind == b"fmt " and len(body) >= 2:
            return struct.unpack_from("<H", body)[0]
    return None


def _rebuild_wav(data: bytes) -> bytes | None:
    chunks = {kind: body for kind, body in reversed(_riff_chunks(data) or [])}  # first of each kind
    if b"fmt " not in chunks or b"data" not in chunks:
        return None
    parts = []
    for kind in (b"fmt ", b"fact", b"data"):
        if kind in chunks:
            body = chunks[kind]
            parts.append(kind + struct.pack("<I", len(body)) + body + (b"\x00" if len(body) & 1 else b""))
    body = b"WAVE" + b"".join(parts)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def _m4a(work: _Workdir, movie: _Movie, deadline: float) -> CleanFile:
    audio = next((track for track in movie.tracks if track.handler == b"soun"), None)
    if audio is None:
        raise SanitizeError("malformed")
    common = ["-map", "0:a:0", "-vn", "-empty_hdlr_name", "1", "-movflags", "+faststart", "-f", "ipod"]
    source = ["-f", "mov", "-enable_drefs", "0"]
    out = None
    if audio.entry in _COPY_M4A:
        out = work.ffmpeg(source, ["-c:a", "copy", *common], "m4a", deadline)
    checked = out and _finish_mp4(out, video=False)
    if checked is None:
        encode = ["-af", f"aformat={_AUDIO_FORMATS}", "-c:a", "aac", "-b:a", "128k"]
        out = work.ffmpeg(source, [*encode, *common], "m4a", deadline)
        checked = out and _finish_mp4(out, video=False)
        if checked is None:
            raise SanitizeError("malformed")
    _output_length(out, mutagen.mp4.MP4)
    return CleanFile(checked, "audio/mp4", "m4a")


# ------------------------------------------------------------------ video


def _video(work: _Workdir, video: _Track, audio: _Track | None, deadline: float) -> CleanFile:
    source = ["-f", "mov", "-enable_drefs", "0", "-max_pixels", str(MAX_DECODE_PIXELS)]
    common = [
        *("-map", "0:V:0", "-map", "0:a:0?", "-empty_hdlr_name", "1"),
        *("-movflags", "+faststart", "-f", "mp4"),
    ]
    encode_video = [
        *("-vf", _VIDEO_FILTER, "-fpsmax", "60", "-c:v", "libx264", "-preset", "veryfast", "-crf", "23"),
        *("-bsf:v", _H264_SEI_FILTER),
    ]
    encode_audio = ["-af", f"aformat={_AUDIO_FORMATS}", "-c:a", "aac", "-b:a", "128k"]
    checked = out = None
    copy_video = _COPY_VIDEO.get(video.entry)
    if copy_video is not None:
        bsf, tag = copy_video
        args = ["-c:v", "copy", "-bsf:v", bsf, *(["-tag:v", tag] if tag else [])]
        if audio is None or audio.entry in _COPY_VIDEO_AUDIO:
            args += ["-c:a", "copy"]
        else:
            args += encode_audio
        out = work.ffmpeg(source, [*args, *common], "mp4", deadline)
        checked = out and _finish_mp4(out, video=True)
    if checked is None:  # not copyable, copying failed, or it left something the check refuses
        out = work.ffmpeg(source, [*encode_video, *encode_audio, *common], "mp4", deadline)
        checked = out and _finish_mp4(out, video=True)
        if checked is None:
            raise SanitizeError("malformed")
    _output_length(out, mutagen.mp4.MP4)
    movie = _parse_movie(checked)
    track = next(t for t in movie.tracks if t.handler == b"vide") if movie else _Track()
    width, height = track.display_width or track.width, track.display_height or track.height
    if track.rotated:
        width, height = height, width
    return CleanFile(checked, "video/mp4", "mp4", width, height)


# ------------------------------------------------------------------ MP4 output check


def _finish_mp4(path: Path, video: bool) -> bytes | None:
    """The output with udta/meta boxes blanked and SEI taken out of hvcC, if everything left passes the
    allow-list; None if anything does not (the caller then re-encodes, or refuses the file)."""
    try:
        tags = mutagen.mp4.MP4(path)
        if tags.tags:
            tags.delete()
        data = bytearray(path.read_bytes())
        _blank(data, 0, len(data), b"", [MAX_BOXES])
        if not _allowed(data, 0, len(data), b"", [MAX_BOXES]):
            return None
        movie = _parse_movie(bytes(data))
        if movie is None or mutagen.mp4.MP4(io.BytesIO(bytes(data))).tags:
            return None
    except (_BoxLimit, struct.error, IndexError, mutagen.MutagenError):
        return None
    handlers = [track.handler for track in movie.tracks]
    if handlers not in ([[b"vide"], [b"vide", b"soun"]] if video else [[b"soun"]]):
        return None
    for track in movie.tracks:
        allowed = _MP4_VIDEO_ENTRIES if track.handler == b"vide" else _MP4_AUDIO_ENTRIES
        if track.entry not in allowed or max(track.width, track.height) > MAX_SIDE:
            return None
    return bytes(data)


_CONTAINERS_TO_STSD = (b"moov", b"trak", b"mdia", b"minf", b"stbl")


def _blank(data: bytearray, start: int, end: int, parent: bytes, budget: list[int]) -> None:
    """In place, without moving any byte: udta/meta in moov or a trak become zeroed `free` boxes, and
    SEI arrays leave HEVC's hvcC (a `free` box takes up the bytes they held)."""
    for kind, box_start, payload, box_end in list(_children(data, start, end, budget)):
        if parent in (b"moov", b"trak") and kind in (b"udta", b"meta"):
            data[box_start + 4 : box_start + 8] = b"free"
            data[payload:box_end] = bytes(box_end - payload)
        elif kind in _CONTAINERS_TO_STSD:
            _blank(data, payload, box_end, kind, budget)
        elif kind == b"stsd":
            entries = payload + 8  # version, flags, entry count
            for entry, _, entry_payload, entry_end in list(_children(data, entries, box_end, budget)):
                if entry in (b"hvc1", b"hev1"):
                    children = entry_payload + 78  # the fixed part of a VisualSampleEntry
                    for child, child_start, _, child_end in list(_children(data, children, entry_end, budget)):
                        if child == b"hvcC":
                            _strip_hvcc_sei(data, child_start, child_end)


_HEVC_SEI_TYPES = (39, 40)  # prefix and suffix SEI NAL units


def _strip_hvcc_sei(data: bytearray, start: int, end: int) -> None:
    """Rewrite the hvcC box at start..end without SEI arrays, padded with a `free` box to the same size.

    Encoders put their name and settings there (x265 does); filter_units cleans packets, not this.
    """
    body = bytes(data[start + 8 : end])
    if len(body) < 23:
        raise struct.error("short hvcC")
    kept, pos = [], 23
    for _ in range(body[22]):
        nal_type, count = body[pos] & 0x3F, struct.unpack_from(">H", body, pos + 1)[0]
        array_end = pos + 3
        for _ in range(count):
            array_end += 2 + struct.unpack_from(">H", body, array_end)[0]
        if array_end > len(body):
            raise struct.error("truncated hvcC")
        if nal_type not in _HEVC_SEI_TYPES:
            kept.append(body[pos:array_end])
        pos = array_end
    new_body = body[:22] + bytes([len(kept)]) + b"".join(kept) + body[pos:]
    freed = len(body) - len(new_body)
    if freed == 0:
        return
    if freed < 8:
        raise struct.error("no room for a free box")  # the caller re-encodes instead
    hvcc = struct.pack(">I", 8 + len(new_body)) + b"hvcC" + new_body
    data[start:end] = hvcc + struct.pack(">I", freed) + b"free" + bytes(freed - 8)


def _allowed(data: bytearray, start: int, end: int, parent: bytes, budget: list[int]) -> bool:
    covered = start
    for kind, _, payload, box_end in _children(data, start, end, budget):
        covered = box_end
        if kind not in _MP4_CHILDREN[parent]:
            return False
        if kind == b"free" and any(data[payload:box_end]):
            return False
        if kind in (b"mvhd", b"tkhd", b"mdhd"):
            times = data[payload + 4 : payload + (20 if data[payload] == 1 else 12)]
            if any(times):  # creation and modification times must be zero
                return False
        if kind == b"hdlr" and any(data[payload + 24 : box_end]):
            return False  # a handler name
        if kind == b"dref" and bytes(data[payload + 8 : box_end]) != b"\x00\x00\x00\x0curl \x00\x00\x00\x01":
            return False  # only "self-contained", never a URL
        if kind in _MP4_CHILDREN and not _allowed(data, payload, box_end, kind, budget):
            return False
    return covered == end
