"""Developer check: run every public sample in ../shared/corpus through the sanitizers and report what
exiftool still finds in the output, and whether any planted-looking value survives inside zip members
or PDF streams. Not part of the test suite (the samples are not ours to ship); run `make corpus-check`.

Exit status 1 if any output keeps a metadata tag outside file structure.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pikepdf

from bot.privacy.clean import EXTENSIONS, SanitizeError
from bot.privacy.sanitize import sanitize_file

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
STRUCTURE_GROUPS = (
    "SourceFile",
    "ExifTool",
    "System",
    "File",
    "Composite",
    "JFIF",
    "PNG",
    "PDF",
    "ZIP",
    "QuickTime",
    "Track",
    "Vorbis",
    "Opus",
    "MPEG",
    "RIFF",
    "XMP-x",
)
STRUCTURE_TAGS = {
    "PDF:PDFVersion",
    "PDF:Linearized",
    "PDF:PageCount",
    "QuickTime:MajorBrand",
    "QuickTime:MinorVersion",
    "QuickTime:CompatibleBrands",
    "QuickTime:MediaDataSize",
    "QuickTime:MediaDataOffset",
}
IDENTIFYING_WORDS = (
    "author",
    "creator",
    "artist",
    "make",
    "model",
    "serial",
    "gps",
    "comment",
    "company",
    "modifiedby",
    "owner",
    "copyright",
    "software",
    "producer",
    "date",
    "location",
    "title",
)


def leftovers(report: dict) -> list[str]:
    """Tags that are neither file structure nor empty, plus any identifying-sounding tag anywhere."""
    found = []
    for key, value in report.items():
        group, _, tag = key.partition(":")
        neutral = value in ("", 0, "0000:00:00 00:00:00", "1980:01:01 00:00:00")
        identifying = any(word in tag.lower() for word in IDENTIFYING_WORDS) and not neutral
        if key in STRUCTURE_TAGS or key == "SourceFile" or group == "System":
            continue
        if identifying or not group.startswith(STRUCTURE_GROUPS):
            found.append(f"{key}={value}")
    return found


def inner_parts(data: bytes) -> list[bytes]:
    """Zip members and decoded PDF streams, where exiftool does not look."""
    if data[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return [archive.read(name) for name in archive.namelist()]
    if data[:5] == b"%PDF-":
        with pikepdf.open(io.BytesIO(data)) as pdf:
            return [_stream_bytes(obj) for obj in pdf.objects if isinstance(obj, pikepdf.Stream)]
    return []


def _stream_bytes(stream: pikepdf.Stream) -> bytes:
    try:
        return stream.read_bytes()
    except pikepdf.PdfError:  # e.g. DCT images: the raw bytes are what is stored
        return stream.read_raw_bytes()


def exiftool(path: Path) -> dict:
    result = subprocess.run(["exiftool", "-j", "-a", "-G1", str(path)], capture_output=True, text=True, check=False)
    return json.loads(result.stdout or "[{}]")[0]


def main() -> int:
    if not CORPUS.is_dir():
        print(f"no corpus at {CORPUS}")
        return 0
    if shutil.which("exiftool") is None:
        print("exiftool is not installed (make exiftool)")
        return 2
    failed = False
    with tempfile.TemporaryDirectory() as work:
        for sample in sorted(CORPUS.iterdir()):
            if sample.suffix == ".md":
                continue
            original = exiftool(sample)
            try:
                clean = sanitize_file(sample.read_bytes())
            except SanitizeError as error:
                print(f"{sample.name:34} refused ({error.reason})")
                continue
            out = Path(work) / f"{sample.stem}.{EXTENSIONS.get(clean.mime, 'bin')}"
            out.write_bytes(clean.data)
            left = leftovers(exiftool(out))
            planted = [
                str(v)
                for k, v in original.items()
                if k.split(":")[0] not in STRUCTURE_GROUPS and isinstance(v, str) and len(v) >= 8
            ]
            parts = inner_parts(clean.data)
            inside = [v for v in planted for part in parts if v.encode() in part]
            status = "ok" if not left and not inside else "LEFT"
            failed |= status != "ok"
            print(f"{sample.name:34} -> {clean.mime:28} {status} {left[:6]} {sorted(set(inside))[:3]}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
