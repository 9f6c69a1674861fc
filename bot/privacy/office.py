"""Office sanitizer: rebuild DOCX, XLSX, PPTX, ODT and ODS files without who-made-it metadata.

Word files carry author names, company names, comments with their authors, tracked changes with the
reviser's name and date, template paths under C:\\Users\\<name>, document GUIDs and embedded files that
have metadata of their own (DESIGN.md, threat 3). Deleting known tags is not enough, so the package is
rebuilt entry by entry from an allowlist; nothing reaches the output unless this module knows it is
content and has cleaned it.

OOXML (DOCX, XLSX, PPTX; also their template, slideshow and macro-enabled variants, written out as the
plain document type):
- Parts are kept only when a kept relationship reaches them from the package root and the relationship
  type is on the allowlist below (document body, styles, settings, numbering, notes, headers, footers,
  themes, sheets, shared strings, tables, pivot tables, drawings, charts, SmartArt, slides, layouts,
  masters, notes). Everything else goes with its relationship and content-type entry: docProps/app.xml,
  docProps/custom.xml, thumbnails, customXml/, comments, commentsExtended/Ids/Extensible, people.xml,
  threaded comments, persons, commentAuthors, modern PowerPoint comments and authors, xl/revisions/,
  VML drawings (xlsx comment boxes, form controls, header images), printer settings, embedded fonts,
  glossary, web extensions, digital signatures, sensitivity labels, query tables and data connections
  (connection strings name servers and users), attached templates, mail-merge sources.
- Macros: vbaProject.bin and friends are dropped (nothing executable is kept) and a macro-enabled
  document becomes the plain type. Excel 4 macro sheets, dialog sheets and add-ins are refused as
  "unsupported" (removing a sheet would renumber the workbook's sheet references).
- Embedded objects (OLE, embedded workbooks behind charts, ActiveX, audio, video) are dropped; the
  object keeps its preview picture, charts keep their cached values (but "Edit data" no longer works).
- docProps/core.xml is replaced by an empty cp:coreProperties.
- Images reached by an image relationship are re-encoded from their pixels by images.sanitize_image
  (JPEG stays JPEG, PNG stays PNG, others become JPEG or PNG); a picture whose format is not accepted
  there (EMF, WMF, TIFF, SVG, ...) or that cannot be decoded becomes a transparent 1x1 PNG, so every
  reference stays valid. A part whose format changes gets the matching extension (and its references).
- In every XML part: tracked changes accepted (w:ins/w:moveTo unwrapped, w:del/w:moveFrom and deleted
  table rows removed, every *PrChange and move/custom-XML range marker removed), comment anchors,
  permission ranges (they name users), w:rsid*, w14:paraId/textId, wp14:anchorId/editId, document GUIDs
  (w14/w15:docId, xr:revisionPtr, xr:uid, p14/a16:creationId), w:rsids, w:docVars, w:attachedTemplate,
  w:mailMerge, content-control data bindings, VML o:gfxdata (a base64 zip), picture alt texts that are
  file paths; xlsx fileVersion, fileSharing (user name), workbookPr/sheetPr codeName, x15ac:absPath,
  custom views (named after users), protected ranges (Windows SIDs), pivot refreshedBy/refreshedDate.
  Fields that print metadata (AUTHOR, USERNAME, FILENAME \\p, DOCPROPERTY, ...) are unlinked and their
  shown result emptied; fields that point at files (INCLUDEPICTURE, LINK, DDE, ...) are unlinked and
  keep their result as plain text. A reference (r:id, r:embed, o:relid, ...) to a dropped relationship
  is removed with its element, or alone where the schema makes it optional (hyperlinks, pictures, OLE
  objects); containers left empty (extLst, mc:Choice, ...) go too, mc:Fallback content stays.
- External targets: hyperlinks to http(s)/mailto stay (they are visible content); other external
  targets (file paths, UNC shares, linked pictures, templates) are dropped; links to other workbooks
  keep only the file name.

ODF (ODT, ODS): meta.xml becomes an empty office:meta, settings.xml an empty office:document-settings,
META-INF/manifest.xml is rebuilt for the kept entries; kept are content.xml, styles.xml, Pictures/
images (re-encoded; other formats dropped with the frames that show them) and embedded charts and
formulas ("Object N/" content and styles). Thumbnails/, Configurations2/, macros (Basic/, Scripts/,
Dialogs/, event listeners), manifest.rdf, signatures, fonts, OLE objects and replacement images are
dropped. In content.xml and styles.xml: office:annotation(-end), text/table:tracked-changes and the
change-start/-end/change markers (which accepts the changes), dc:creator, dc:date, officeooo:rsid,
DDE links, fields showing metadata (author, file name, sender, ...), links to local files, external
images. Encrypted ODF (manifest:encryption-data) is refused as "malformed".

Zip-level defences, before anything big is decompressed: input at most 50 MB, at most 2000 entries,
central directory at most 4 MiB (checked in the end record before zipfile parses it), declared total
at most 200 MB, declared ratio of entries over 1 MiB at most 200; members are read in chunks with the
same limits counted on the real bytes, XML parts at most 16 MiB each (libxml2 trees take ~20x the
text). Absolute names, '..', backslashes, duplicates (case-insensitive), encryption and compression
methods other than stored/deflate are "malformed". Nested zips (embedded documents) are never opened.
XML is parsed without DTDs, entities or network; any DOCTYPE is "malformed". The output zip has
entries in a fixed order ([Content_Types].xml or mimetype first, the rest sorted), all dated
1980-01-01, deflated (ODF's mimetype stored), without extra fields or comments; every XML part
written is parsed again before it is returned.

Known limits: the visible content is kept as it is (text, cell values, speaker notes, alt texts that
are not paths, unknown elements inside kept parts); a tracked deletion of a paragraph mark leaves the
two paragraphs apart; SmartArt/chart parts that are missing from the input are not repaired.

Pure and synchronous: the bot runs it through bot.privacy.sandbox.Sandbox.
"""

from __future__ import annotations

import base64
import binascii
import functools
import io
import posixpath
import re
import struct
import zipfile
import zlib
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import quote, unquote

from lxml import etree
from PIL import Image

from .clean import CleanFile, SanitizeError
from .images import detect_image_type, sanitize_image

OFFICE_TYPES = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
}
_EXTENSIONS = {mime: ext for ext, mime in OFFICE_TYPES.items()}
_ODF_MIMES = (OFFICE_TYPES["odt"], OFFICE_TYPES["ods"])

MAX_INPUT_BYTES = 50_000_000
MAX_ENTRIES = 2000
MAX_CENTRAL_DIRECTORY = 4 * 1024 * 1024
MAX_TOTAL_UNCOMPRESSED = 200_000_000
MAX_RATIO = 200
RATIO_MIN_SIZE = 1024 * 1024  # smaller members cannot be bombs; tiny XML often compresses > 200x
MAX_XML_PART = 16 * 1024 * 1024
MAX_IMAGE_PART = 50_000_000
MAX_IMAGES = 300
MAX_RELATIONSHIPS = 50_000
_CHUNK = 1024 * 1024
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)

# ---------------------------------------------------------------- namespaces

_W = (
    "http://schemas.openxmlformats.org/wordprocessingml/2006/main",
    "http://purl.oclc.org/ooxml/wordprocessingml/main",
)
_R = (
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "http://purl.oclc.org/ooxml/officeDocument/relationships",
)
_S = (
    "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "http://purl.oclc.org/ooxml/spreadsheetml/main",
)
_W14 = "http://schemas.microsoft.com/office/word/2010/wordml"
_W15 = "http://schemas.microsoft.com/office/word/2012/wordml"
_W16DU = "http://schemas.microsoft.com/office/word/2023/wordml/word16du"
_WP14 = "http://schemas.microsoft.com/office/word/2010/wordprocessingDrawing"
_MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"
_O = "urn:schemas-microsoft-com:office:office"
_V = "urn:schemas-microsoft-com:vml"
_X15AC = "http://schemas.microsoft.com/office/spreadsheetml/2010/11/ac"
_XR = "http://schemas.microsoft.com/office/spreadsheetml/2014/revision"
_ASVG = "http://schemas.microsoft.com/office/drawing/2016/SVG/main"
_A16 = "http://schemas.microsoft.com/office/drawing/2014/main"
_P14 = "http://schemas.microsoft.com/office/powerpoint/2010/main"
_CT = "http://schemas.openxmlformats.org/package/2006/content-types"
_PR = "http://schemas.openxmlformats.org/package/2006/relationships"

_OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
_TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
_DRAW = "urn:oasis:names:tc:opendocument:xmlns:drawing:1.0"
_STYLE = "urn:oasis:names:tc:opendocument:xmlns:style:1.0"
_SVG = "urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0"
_XLINK = "http://www.w3.org/1999/xlink"
_DC = "http://purl.org/dc/elements/1.1/"
_MANIFEST = "urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"
_OFFICEOOO = "http://openoffice.org/2009/office"
_PRESENTATION = "urn:oasis:names:tc:opendocument:xmlns:presentation:1.0"


def _q(namespaces: str | Iterable[str], *names: str) -> frozenset[str]:
    """Clark names {ns}local for every namespace and local name given."""
    nss = (namespaces,) if isinstance(namespaces, str) else tuple(namespaces)
    return frozenset(f"{{{ns}}}{name}" for ns in nss for name in names)


def _split(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return "", tag


# ---------------------------------------------------------------- public API


def detect_office(data: bytes) -> str | None:
    """The Office/ODF MIME type by zip structure alone (never names or declared types), else None."""
    try:
        _check_end_record(data, count_entries=False)
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return _detect(zf)
    except MemoryError:
        raise
    except Exception:
        return None


def sanitize_office(data: bytes) -> CleanFile:
    """Rebuild an Office or ODF file without metadata; see the module docstring for what goes.

    Raises SanitizeError("unsupported") for anything else (or add-ins, Excel 4 macro sheets),
    "too_large" past the size limits and "malformed" for broken or hostile packages.
    """
    archive = _Archive(data)
    with archive.zip:
        mime = _detect(archive.zip)
        if mime is None:
            raise SanitizeError("unsupported")
        out = _sanitize_odf(archive, mime) if mime in _ODF_MIMES else _sanitize_ooxml(archive, mime)
    return CleanFile(out, mime, _EXTENSIONS[mime])


def _detect(zf: zipfile.ZipFile) -> str | None:
    infos = zf.infolist()
    if not infos:
        return None
    first = min(infos, key=lambda i: i.header_offset)
    if first.filename == "mimetype":
        if first.compress_type != zipfile.ZIP_STORED or first.file_size > 100 or first.compress_size > 100:
            return None
        try:
            mime = zf.read(first).decode("ascii").strip()
        except (ValueError, zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, NotImplementedError):
            return None  # ValueError covers UnicodeDecodeError
        return mime if mime in _ODF_MIMES else None
    names = {info.filename.casefold() for info in infos}
    if "[content_types].xml" not in names:
        return None
    for name, ext in (("word/document.xml", "docx"), ("xl/workbook.xml", "xlsx"), ("ppt/presentation.xml", "pptx")):
        if name in names:
            return OFFICE_TYPES[ext]
    return None


# ---------------------------------------------------------------- zip reading with limits


def _check_end_record(data: bytes, count_entries: bool = True) -> None:
    """Bound the central directory from the end record, before zipfile builds a ZipInfo per entry."""
    pos = data.rfind(b"PK\x05\x06", max(0, len(data) - 22 - 65535))
    if pos < 0 or len(data) - pos < 22:
        raise SanitizeError("malformed")
    entries, size = struct.unpack("<HL", data[pos + 10 : pos + 16])
    locator = pos - 20
    if locator >= 0 and data[locator : locator + 4] == b"PK\x06\x07":
        record = locator - 56
        if record < 0 or data[record : record + 4] != b"PK\x06\x06":
            raise SanitizeError("malformed")
        entries, size = struct.unpack("<QQ", data[record + 32 : record + 48])
    if size > MAX_CENTRAL_DIRECTORY or (count_entries and entries > MAX_ENTRIES):
        raise SanitizeError("too_large")


def _check_name(name: str) -> None:
    if not name or name.startswith("/") or "\\" in name or "\x00" in name or re.match(r"[A-Za-z]:", name):
        raise SanitizeError("malformed")
    if any(part in ("", ".", "..") for part in name.removesuffix("/").split("/")):
        raise SanitizeError("malformed")


class _Archive:
    """The input zip, checked before any member is decompressed; reads count against the limits."""

    def __init__(self, data: bytes):
        if len(data) > MAX_INPUT_BYTES:
            raise SanitizeError("too_large")
        _check_end_record(data)
        try:
            self.zip = zipfile.ZipFile(io.BytesIO(data))
        except (
            zipfile.BadZipFile,
            zipfile.LargeZipFile,
            NotImplementedError,
            ValueError,
            EOFError,
            OSError,
            struct.error,
        ) as exc:
            raise SanitizeError("malformed") from exc
        infos = self.zip.infolist()
        if len(infos) > MAX_ENTRIES:
            raise SanitizeError("too_large")
        self._by_key: dict[str, zipfile.ZipInfo] = {}
        declared = 0
        for info in infos:
            _check_name(info.filename)
            if info.flag_bits & 0x1 or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise SanitizeError("malformed")  # encrypted, or a method Office never writes
            key = info.filename.casefold()
            if key in self._by_key:
                raise SanitizeError("malformed")
            self._by_key[key] = info
            declared += info.file_size
            if info.file_size > RATIO_MIN_SIZE and info.file_size > MAX_RATIO * max(info.compress_size, 1):
                raise SanitizeError("too_large")
        if declared > MAX_TOTAL_UNCOMPRESSED:
            raise SanitizeError("too_large")
        self.files = [info for info in infos if not info.is_dir()]
        self.names = set(self._by_key)
        self._read_total = 0

    def get(self, name: str | None) -> zipfile.ZipInfo | None:
        if not name:
            return None
        info = self._by_key.get(name.casefold()) or self._by_key.get(unquote(name).casefold())
        return None if info is None or info.is_dir() else info

    def read(self, info: zipfile.ZipInfo, limit: int) -> bytes:
        """The member's bytes, read in chunks and stopped at the first limit it crosses."""
        if info.file_size > limit:
            raise SanitizeError("too_large")
        cap = min(limit, info.file_size)
        chunks: list[bytes] = []
        size = 0
        try:
            with self.zip.open(info) as member:
                while chunk := member.read(_CHUNK):
                    size += len(chunk)
                    self._read_total += len(chunk)
                    if size > cap or self._read_total > MAX_TOTAL_UNCOMPRESSED:
                        raise SanitizeError("too_large")
                    if size > RATIO_MIN_SIZE and size > MAX_RATIO * max(info.compress_size, 1):
                        raise SanitizeError("too_large")
                    chunks.append(chunk)
        except (SanitizeError, MemoryError):
            raise
        except (
            zipfile.BadZipFile,
            zlib.error,
            EOFError,
            OSError,
            ValueError,
            RuntimeError,
            NotImplementedError,
        ) as exc:
            raise SanitizeError("malformed") from exc
        return b"".join(chunks)


class _Writer:
    """The output zip: fixed dates, no extra fields, no comments, deflate (or stored)."""

    def __init__(self) -> None:
        self._buf = io.BytesIO()
        self._zip = zipfile.ZipFile(self._buf, "w", compression=zipfile.ZIP_DEFLATED)

    def add(self, name: str, data: bytes, stored: bool = False) -> None:
        info = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
        info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
        info.create_system = 0
        info.external_attr = 0
        self._zip.writestr(info, data)

    def finish(self) -> bytes:
        self._zip.close()
        return self._buf.getvalue()

    def __enter__(self) -> _Writer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._zip.close()  # also on errors: an unclosed ZipFile complains when it is collected


# ---------------------------------------------------------------- XML helpers


def _parse(data: bytes) -> etree._Element:
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        root = etree.fromstring(data, parser)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise SanitizeError("malformed") from exc
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise SanitizeError("malformed")  # Office and ODF parts never have one; entities live there
    return root


def _serialize(root: etree._Element, standalone: bool) -> bytes:
    declaration = b'<?xml version="1.0" encoding="UTF-8"%s?>\n' % (b' standalone="yes"' if standalone else b"")
    data = declaration + etree.tostring(root, encoding="UTF-8", xml_declaration=False)
    _verify(data)
    return data


def _verify(data: bytes) -> None:
    """Parse what we wrote once more, streaming, so a broken part never leaves this module."""
    parser_options = {"resolve_entities": False, "no_network": True, "huge_tree": False, "load_dtd": False}
    try:
        for _, element in etree.iterparse(io.BytesIO(data), events=("end",), **parser_options):
            element.clear(keep_tail=True)
    except etree.XMLSyntaxError as exc:
        raise SanitizeError("malformed") from exc


def _add_text_before(el: etree._Element, text: str) -> None:
    prev = el.getprevious()
    if prev is not None:
        prev.tail = (prev.tail or "") + text
    else:
        parent = el.getparent()
        parent.text = (parent.text or "") + text


def _drop(el: etree._Element) -> None:
    """Remove `el` and its subtree, keeping the text that follows it (mixed content in ODF)."""
    parent = el.getparent()
    if parent is None:
        return
    if el.tail:
        _add_text_before(el, el.tail)
    parent.remove(el)


def _unwrap(el: etree._Element) -> None:
    """Replace `el` by its children and text."""
    if el.getparent() is None:
        return
    if el.text:
        _add_text_before(el, el.text)
    for child in list(el):
        el.addprevious(child)
    _drop(el)


_MC_CHOICE, _MC_FALLBACK, _MC_ALTERNATE = (f"{{{_MC}}}{n}" for n in ("Choice", "Fallback", "AlternateContent"))
_W_RUN, _W_RPR, _W_OBJECT = _q(_W, "r"), _q(_W, "rPr"), _q(_W, "object")
_PRUNE_ANY_NS = frozenset({"extLst", "externalReferences", "controls", "oleObjects", "font-face-src"})
_FRAME_CONTENT = _q(
    _DRAW, "image", "object", "object-ole", "text-box", "applet", "plugin", "floating-frame", "g", "custom-shape"
)


def _prunable(el: etree._Element) -> bool:
    ns, local = _split(el.tag)
    if el.tag in _W_RUN:
        return all(child.tag in _W_RPR for child in el)
    if el.tag == f"{{{_DRAW}}}frame":
        return not any(child.tag in _FRAME_CONTENT for child in el)
    if len(el):
        return False
    return (
        local in _PRUNE_ANY_NS
        or (local == "ext" and el.get("uri") is not None)
        or el.tag in (_MC_CHOICE, _MC_FALLBACK)
        or el.tag in _W_OBJECT  # an OLE object or control with nothing left to show
    )


def _prune(el: etree._Element | None) -> None:
    """After a removal below `el`: remove containers left empty, up the tree."""
    while el is not None and el.getparent() is not None:
        parent = el.getparent()
        if el.tag == _MC_ALTERNATE:
            if any(child.tag == _MC_CHOICE for child in el):
                return
            for fallback in [child for child in el if child.tag == _MC_FALLBACK]:
                _unwrap(fallback)
            _unwrap(el)  # no Choice left: the fallback content (if any) stands alone
        elif _prunable(el):
            _drop(el)
        else:
            return
        el = parent


def _drop_and_prune(el: etree._Element) -> None:
    parent = el.getparent()
    _drop(el)
    _prune(parent)


_PATHLIKE = re.compile(r"\\|^[A-Za-z]:|^file:|^~|^/(?:Users|home|private|var|tmp|mnt|media|Volumes)/", re.IGNORECASE)


# ---------------------------------------------------------------- images


@functools.cache
def _placeholder_png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGBA", (1, 1), (0, 0, 0, 0)).save(buf, format="PNG")
    return buf.getvalue()


def _clean_image(raw: bytes) -> tuple[bytes, str] | None:
    """(data, mime) rebuilt from the pixels; None for a format images.py refuses or cannot decode."""
    if detect_image_type(raw) is None:
        return None
    try:
        clean = sanitize_image(raw)
    except SanitizeError as exc:
        if exc.reason == "too_large":
            raise
        return None
    if clean.mime not in ("image/jpeg", "image/png"):
        return None
    return clean.data, clean.mime


_IMAGE_EXTENSIONS = {"image/png": ("png",), "image/jpeg": ("jpeg", "jpg", "jpe", "jfif")}


def _image_name(name: str, mime: str, taken: set[str]) -> str:
    """`name`, or `name` with the extension of `mime` when it had another one (unique in `taken`)."""
    directory, _, leaf = name.rpartition("/")
    stem, dot, ext = leaf.rpartition(".")
    if dot and ext.lower() in _IMAGE_EXTENSIONS[mime]:
        return name
    stem = stem if dot else leaf
    prefix = f"{directory}/" if directory else ""
    new_ext = _IMAGE_EXTENSIONS[mime][0]
    candidate, n = f"{prefix}{stem}.{new_ext}", 1
    while candidate.casefold() in taken:
        candidate, n = f"{prefix}{stem}_{n}.{new_ext}", n + 1
    taken.add(candidate.casefold())
    return candidate


def _retarget(target: str, new_name: str) -> str:
    """`target` (a relative reference) pointing at the renamed part instead."""
    head, slash, _ = target.rpartition("/")
    leaf = quote(new_name.rpartition("/")[2], safe="%!$&'()*+,;=:@-._~")
    return f"{head}{slash}{leaf}"


def _web_url(url: str) -> bool:
    return re.match(r"(?i)\s*(https?|mailto):", url) is not None


# ================================================================ OOXML

_OOXML_MAIN_TYPES = {
    "docx": (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml",
        "application/vnd.ms-word.document.macroenabled.main+xml",
        "application/vnd.ms-word.template.macroenabledtemplate.main+xml",
    ),
    "xlsx": (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml",
        "application/vnd.ms-excel.sheet.macroenabled.main+xml",
        "application/vnd.ms-excel.template.macroenabled.main+xml",
    ),
    "pptx": (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
        "application/vnd.openxmlformats-officedocument.presentationml.slideshow.main+xml",
        "application/vnd.openxmlformats-officedocument.presentationml.template.main+xml",
        "application/vnd.ms-powerpoint.presentation.macroenabled.main+xml",
        "application/vnd.ms-powerpoint.slideshow.macroenabled.main+xml",
        "application/vnd.ms-powerpoint.template.macroenabled.main+xml",
    ),
}
_REL_CT = "application/vnd.openxmlformats-package.relationships+xml"
_CORE_CT = "application/vnd.openxmlformats-package.core-properties+xml"
_CORE_XML = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties"'
    b' xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/"'
    b' xmlns:dcmitype="http://purl.org/dc/dcmitype/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/>'
)
_REL_PREFIXES = (
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships/",
    "http://purl.oclc.org/ooxml/officeDocument/relationships/",
    "http://schemas.openxmlformats.org/package/2006/relationships/",
    "http://schemas.microsoft.com/office/",
)
# Relationship types (the part after ".../relationships/") whose targets are kept as cleaned XML.
_KEEP_XML = frozenset(
    {
        "officeDocument",
        # shared
        "theme",
        "themeOverride",
        "chart",
        "chartUserShapes",
        "chartStyle",
        "chartColorStyle",
        "diagramData",
        "diagramLayout",
        "diagramQuickStyle",
        "diagramColors",
        "diagramDrawing",
        # word
        "styles",
        "stylesWithEffects",
        "settings",
        "webSettings",
        "fontTable",
        "numbering",
        "footnotes",
        "endnotes",
        "header",
        "footer",
        # excel
        "worksheet",
        "chartsheet",
        "sharedStrings",
        "calcChain",
        "table",
        "pivotTable",
        "pivotCacheDefinition",
        "pivotCacheRecords",
        "drawing",
        "externalLink",
        "sheetMetadata",
        # powerpoint
        "slide",
        "slideLayout",
        "slideMaster",
        "notesMaster",
        "notesSlide",
        "handoutMaster",
        "presProps",
        "viewProps",
        "tableStyles",
    }
)
_CORE_REL = "metadata/core-properties"
_REFUSED_RELS = frozenset({"xlMacrosheet", "xlIntlMacrosheet", "dialogsheet"})


def _rel_tail(rel_type: str) -> str | None:
    if not rel_type.startswith(_REL_PREFIXES) or "/relationships/" not in rel_type:
        return None
    return rel_type.rpartition("/relationships/")[2]


def _external_path_rel(tail: str) -> bool:
    return tail == "externalLinkPath" or tail.startswith("xlExternalLinkPath")


def _file_name_only(target: str) -> str:
    leaf = target.replace("\\", "/").rstrip("/").rpartition("/")[2].rpartition(":")[2]
    return leaf or "external"


def _rels_name(source: str) -> str:
    return posixpath.join(posixpath.dirname(source), "_rels", posixpath.basename(source) + ".rels")


def _resolve(source: str, target: str) -> str | None:
    path = target.partition("#")[0]
    if not path:
        return None
    path = path[1:] if path.startswith("/") else posixpath.join(posixpath.dirname(source), path)
    path = posixpath.normpath(path)
    if path in (".", "..") or path.startswith(("../", "/")):
        return None
    return path


def _is_package_part(name: str) -> bool:
    """Parts this module writes itself: never the target of a relationship."""
    key = name.casefold()
    return key == "[content_types].xml" or key.endswith(".rels") or "_rels/" in key


@dataclass
class _Part:
    name: str  # output name
    kind: str  # "xml", "image", "core"
    content_type: str
    data: bytes | None = None  # generated content (images, core)
    source: zipfile.ZipInfo | None = None  # for "xml"
    kept_ids: set[str] = field(default_factory=set)


_MIME_RE = re.compile(r"^[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+$")


class _OoxmlPlan:
    """Walk the relationships from the package root; decide every part before writing any."""

    def __init__(self, archive: _Archive, family: str):
        self.archive = archive
        self.family = family
        self.defaults, self.overrides = self._content_types()
        self.parts: dict[str, _Part] = {}  # casefolded input name -> part
        self.rels: dict[str, bytes] = {}  # rels part name -> generated XML
        self.taken = set(archive.names)
        self.queue: deque[str] = deque()
        self.relationships = 0
        self.images = 0
        self.main: _Part | None = None

    def _content_types(self) -> tuple[dict[str, str], dict[str, str]]:
        info = self.archive.get("[Content_Types].xml")
        if info is None:
            raise SanitizeError("malformed")
        root = _parse(self.archive.read(info, MAX_XML_PART))
        if root.tag != f"{{{_CT}}}Types":
            raise SanitizeError("malformed")
        defaults: dict[str, str] = {}
        overrides: dict[str, str] = {}
        for el in root:
            content_type = el.get("ContentType") or ""
            if el.tag == f"{{{_CT}}}Default" and el.get("Extension"):
                defaults.setdefault(el.get("Extension").casefold(), content_type)
            elif el.tag == f"{{{_CT}}}Override" and el.get("PartName"):
                name = el.get("PartName").lstrip("/").casefold()
                overrides.setdefault(name, content_type)
                overrides.setdefault(unquote(name), content_type)
        return defaults, overrides

    def content_type(self, name: str) -> str:
        key = name.casefold()
        found = self.overrides.get(key) or self.defaults.get(key.rpartition(".")[2] if "." in key else "")
        if not found or not _MIME_RE.match(found):
            raise SanitizeError("malformed")
        return found

    def run(self) -> None:
        self._relationships("")
        if self.main is None:
            raise SanitizeError("malformed")
        while self.queue:
            self._relationships(self.queue.popleft())

    def _relationships(self, source: str) -> None:
        """Filter the relationships of `source` ("" is the package); plan the parts they keep."""
        rels_name = _rels_name(source)
        info = self.archive.get(rels_name)
        part = self.parts.get(source.casefold())
        if info is None:
            if source == "":
                raise SanitizeError("malformed")
            return
        root = _parse(self.archive.read(info, MAX_XML_PART))
        if root.tag != f"{{{_PR}}}Relationships":
            raise SanitizeError("malformed")
        out = etree.Element(f"{{{_PR}}}Relationships", nsmap={None: _PR})
        seen: set[str] = set()
        for el in root:
            if el.tag != f"{{{_PR}}}Relationship":
                continue
            rid, rel_type, target = el.get("Id"), el.get("Type"), el.get("Target")
            if not rid or not rel_type or target is None or rid in seen:
                raise SanitizeError("malformed")
            seen.add(rid)
            self.relationships += 1
            if self.relationships > MAX_RELATIONSHIPS:
                raise SanitizeError("too_large")
            kept = self._decide(source, rel_type, target, (el.get("TargetMode") or "").casefold() == "external")
            if kept is None:
                continue
            new_target, external = kept
            rel = etree.SubElement(out, f"{{{_PR}}}Relationship", Id=rid, Type=rel_type, Target=new_target)
            if external:
                rel.set("TargetMode", "External")
            if part is not None:
                part.kept_ids.add(rid)
        if len(out):
            self.rels[info.filename] = _serialize(out, standalone=True)

    def _decide(self, source: str, rel_type: str, target: str, external: bool) -> tuple[str, bool] | None:
        """(target, external) for a kept relationship, None for a dropped one."""
        tail = _rel_tail(rel_type)
        if tail is None:
            return None
        if tail in _REFUSED_RELS:
            raise SanitizeError("unsupported")
        if external:
            if tail == "hyperlink" and _web_url(target):
                return target, True
            if _external_path_rel(tail):
                return _file_name_only(target), True
            return None
        if tail == "image":
            kind = "image"
        elif tail == _CORE_REL and source == "":
            kind = "core"
        elif tail in _KEEP_XML and (tail == "officeDocument") == (source == ""):
            kind = "xml"
        else:
            return None
        info = self.archive.get(_resolve(source, target))
        if info is None or _is_package_part(info.filename):
            return None
        part = self._plan(info, kind)
        if tail == "officeDocument":
            if self.main is not None:
                raise SanitizeError("malformed")
            self._set_main(part)
        return (target if part.name == info.filename else _retarget(target, part.name)), False

    def _set_main(self, part: _Part) -> None:
        declared = part.content_type.casefold()
        if declared not in _OOXML_MAIN_TYPES[self.family]:
            raise SanitizeError("unsupported" if "addin" in declared else "malformed")
        part.content_type = _OOXML_MAIN_TYPES[self.family][0]  # templates, slideshows, macro-enabled
        self.main = part

    def _plan(self, info: zipfile.ZipInfo, kind: str) -> _Part:
        key = info.filename.casefold()
        if key in self.parts:
            return self.parts[key]
        if kind == "image":
            self.images += 1
            if self.images > MAX_IMAGES:
                raise SanitizeError("too_large")
            data, mime = _clean_image(self.archive.read(info, MAX_IMAGE_PART)) or (_placeholder_png(), "image/png")
            part = _Part(_image_name(info.filename, mime, self.taken), "image", mime, data)
        elif kind == "core":
            part = _Part(info.filename, "core", _CORE_CT, _CORE_XML)
        else:
            part = _Part(info.filename, "xml", self.content_type(info.filename), source=info)
            self.queue.append(info.filename)
        self.parts[key] = part
        return part

    def content_types_xml(self) -> bytes:
        root = etree.Element(f"{{{_CT}}}Types", nsmap={None: _CT})
        defaults = {"rels": _REL_CT, "xml": "application/xml"}
        overrides: dict[str, str] = {}
        for part in self.parts.values():
            if part.kind == "image":
                defaults[part.name.rpartition(".")[2].casefold()] = part.content_type
            else:
                overrides[part.name] = part.content_type
        for ext, content_type in sorted(defaults.items()):
            etree.SubElement(root, f"{{{_CT}}}Default", Extension=ext, ContentType=content_type)
        for name, content_type in sorted(overrides.items()):
            part_name = "/" + quote(name, safe="/%!$&'()*+,;=:@-._~")
            etree.SubElement(root, f"{{{_CT}}}Override", PartName=part_name, ContentType=content_type)
        return _serialize(root, standalone=True)


def _sanitize_ooxml(archive: _Archive, mime: str) -> bytes:
    plan = _OoxmlPlan(archive, _EXTENSIONS[mime])
    plan.run()
    entries: dict[str, _Part | bytes] = {part.name: part for part in plan.parts.values()}
    entries.update(plan.rels)
    with _Writer() as writer:
        writer.add("[Content_Types].xml", plan.content_types_xml())
        for name in sorted(entries):
            entry = entries[name]
            if isinstance(entry, bytes):
                writer.add(name, entry)
            elif entry.data is not None:
                writer.add(name, entry.data)
            else:
                root = _parse(archive.read(entry.source, MAX_XML_PART))
                _clean_ooxml(root, entry.kept_ids)
                data = _serialize(root, standalone=True)
                del root
                writer.add(name, data)
        return writer.finish()


# ---------------------------------------------------------------- OOXML XML cleaning

_W_DROP = _q(
    _W,
    "commentRangeStart",
    "commentRangeEnd",
    "commentReference",
    "annotationRef",
    "del",
    "moveFrom",
    "delText",
    "delInstrText",
    "rPrChange",
    "pPrChange",
    "sectPrChange",
    "tblPrChange",
    "trPrChange",
    "tcPrChange",
    "tblGridChange",
    "numberingChange",
    "moveFromRangeStart",
    "moveFromRangeEnd",
    "moveToRangeStart",
    "moveToRangeEnd",
    "customXmlInsRangeStart",
    "customXmlInsRangeEnd",
    "customXmlDelRangeStart",
    "customXmlDelRangeEnd",
    "customXmlMoveFromRangeStart",
    "customXmlMoveFromRangeEnd",
    "customXmlMoveToRangeStart",
    "customXmlMoveToRangeEnd",
    "customXmlPr",
    "cellIns",
    "cellDel",
    "cellMerge",
    "permStart",
    "permEnd",
    "rsids",
    "rsid",  # w:style/w:rsid in styles.xml
    "attachedTemplate",
    "docVars",
    "mailMerge",
    "dataBinding",
)
_OOXML_DROP = (
    _W_DROP
    | _q((_W14, _W15), "docId")
    | _q(_W15, "dataBinding")
    | _q(_S, "fileVersion", "fileSharing", "protectedRanges", "customWorkbookViews", "customSheetViews")
    | _q(_X15AC, "absPath")
    | _q(_XR, "revisionPtr")
    | _q(_ASVG, "svgBlip")
    | _q((_P14, _A16), "creationId")
)
_W_UNWRAP = _q(_W, "ins", "moveTo", "customXml")
_W_TABLE_ROW, _W_ROW_PROPS, _W_DEL = _q(_W, "tr"), _q(_W, "trPr"), _q(_W, "del")
_W_TABLE, _W_CELL, _W_PARAGRAPH = _q(_W, "tbl"), _q(_W, "tc"), _q(_W, "p")
_W_FLDCHAR, _W_INSTR, _W_TEXT, _W_FLDSIMPLE = _q(_W, "fldChar"), _q(_W, "instrText"), _q(_W, "t"), _q(_W, "fldSimple")

# Fields whose shown result is document metadata: the result is emptied.
_METADATA_FIELDS = frozenset(
    {
        "AUTHOR",
        "COMMENTS",
        "CREATEDATE",
        "DOCPROPERTY",
        "EDITTIME",
        "FILENAME",
        "FILESIZE",
        "INFO",
        "KEYWORDS",
        "LASTSAVEDBY",
        "PRINTDATE",
        "REVNUM",
        "SAVEDATE",
        "SUBJECT",
        "TEMPLATE",
        "TITLE",
        "USERADDRESS",
        "USERINITIALS",
        "USERNAME",
    }
)
# Fields whose code names a file or another program: unlinked, the result stays as plain text.
_FILE_FIELDS = frozenset(["INCLUDEPICTURE", "INCLUDETEXT", "LINK", "DDE", "DDEAUTO", "RD", "IMPORT"])

# Attributes that reference a relationship of the part; where the schema makes one optional, only the
# attribute goes when its relationship was dropped, otherwise the element goes.
_REF_ATTRS = _q(_R, "id", "embed", "link", "pict", "dm", "lo", "qs", "cs", "href") | {f"{{{_O}}}relid"}
_OPTIONAL_REF_ELEMENTS = frozenset(
    {
        "hyperlink",
        "blip",
        "imagedata",
        "fill",
        "stroke",
        "hlinkClick",
        "hlinkHover",
        "hlinkMouseOver",
        "OLEObject",
        "oleObj",
        "oleObject",
        "objectPr",
        "pageSetup",
    }
)
_SHEET_ATTRS = {
    **dict.fromkeys(_q(_S, "workbookPr", "sheetPr"), ("codeName",)),
    **dict.fromkeys(_q(_S, "pivotCacheDefinition"), ("refreshedBy", "refreshedDate", "refreshedDateIso")),
}
_DRAWING_PROPS = frozenset({"docPr", "cNvPr"})


def _clean_ooxml(root: etree._Element, kept_ids: set[str]) -> None:
    _accept_deleted_rows(root)
    for el in [el for el in root.iter() if el.tag in _OOXML_DROP]:
        _drop_and_prune(el)
    for el in [el for el in root.iter() if el.tag in _W_UNWRAP]:
        _unwrap(el)
    _scrub_fields(root)
    for el in root.iter(etree.Element):
        _scrub_ooxml_attributes(el)
    _drop_dangling_references(root, kept_ids)


def _accept_deleted_rows(root: etree._Element) -> None:
    """A tracked row deletion (w:trPr/w:del) is accepted by removing the row."""
    rows = [p.getparent() for p in root.iter(*_W_ROW_PROPS) if any(c.tag in _W_DEL for c in p)]
    for row in rows:
        if row is None or row.tag not in _W_TABLE_ROW:
            continue
        table = row.getparent()
        _drop(row)
        if table is not None and table.tag in _W_TABLE and not any(c.tag in _W_TABLE_ROW for c in table):
            holder = table.getparent()
            _drop(table)
            if holder is not None and holder.tag in _W_CELL and not any(c.tag in _W_PARAGRAPH for c in holder):
                ns = _split(holder.tag)[0]
                etree.SubElement(holder, f"{{{ns}}}p")  # a cell must end with a paragraph


@dataclass
class _Field:
    markers: list[etree._Element] = field(default_factory=list)
    code: list[str] = field(default_factory=list)
    in_result: bool = False
    kind: str | None = None  # "metadata", "file" or None

    def classify(self) -> None:
        if self.kind is None:
            self.kind = _field_kind(" ".join(self.code))


def _field_kind(code: str) -> str:
    words = code.split()
    name = words[0].upper() if words else ""
    if name in _METADATA_FIELDS:
        return "metadata"
    if name in _FILE_FIELDS:
        return "file"
    if name == "HYPERLINK":
        quoted = re.findall(r'"([^"]*)"', code)
        if quoted and "\\l" not in code and not _web_url(quoted[0]):
            return "file"
    return "plain"


def _scrub_fields(root: etree._Element) -> None:
    """Empty the shown result of metadata fields; unlink fields that point at files."""
    stack: list[_Field] = []
    unlink: list[etree._Element] = []
    for el in root.iter(*(_W_FLDCHAR | _W_INSTR | _W_TEXT)):
        if el.tag in _W_FLDCHAR:
            kind = el.get(f"{{{_split(el.tag)[0]}}}fldCharType")
            if kind == "begin":
                stack.append(_Field(markers=[el]))
            elif stack:
                current = stack[-1]
                current.markers.append(el)
                if kind == "separate":
                    current.classify()
                    current.in_result = True
                elif kind == "end":
                    current.classify()
                    stack.pop()
                    if current.kind in ("metadata", "file"):
                        unlink.extend(current.markers)
        elif el.tag in _W_INSTR:
            if stack and not stack[-1].in_result:
                stack[-1].code.append(el.text or "")
                stack[-1].markers.append(el)
        elif any(f.in_result and f.kind == "metadata" for f in stack):
            el.text = ""
    for marker in unlink:
        _drop_and_prune(marker)
    for simple in list(root.iter(*_W_FLDSIMPLE)):
        kind = _field_kind(simple.get(f"{{{_split(simple.tag)[0]}}}instr") or "")
        if kind == "metadata":
            for text in simple.iter(*_W_TEXT):
                text.text = ""
        if kind in ("metadata", "file"):
            _unwrap(simple)


def _scrub_ooxml_attributes(el: etree._Element) -> None:
    for name in list(el.attrib):
        ns, local = _split(name)
        if (
            (ns in _W and (local.startswith("rsid") or local in ("author", "initials", "date")))
            or (ns == _W14 and local in ("paraId", "textId"))
            or (ns == _WP14 and local in ("anchorId", "editId"))
            or (ns == _W16DU and local == "dateUtc")
            or (ns == _O and local == "gfxdata")
            or (ns.startswith("http://schemas.microsoft.com/office/spreadsheetml/20") and "/revision" in ns)
        ):
            del el.attrib[name]
    for name in _SHEET_ATTRS.get(el.tag, ()):
        el.attrib.pop(name, None)
    ns, local = _split(el.tag)
    if local in _DRAWING_PROPS:
        for name in ("descr", "title"):
            if _PATHLIKE.search(el.get(name) or ""):
                del el.attrib[name]
        if _PATHLIKE.search(el.get("name") or ""):
            el.set("name", "Picture")
    elif ns == _V:
        el.attrib.pop(f"{{{_O}}}title", None)
        if _PATHLIKE.search(el.get("alt") or ""):
            del el.attrib["alt"]


def _drop_dangling_references(root: etree._Element, kept_ids: set[str]) -> None:
    for el in list(root.iter(etree.Element)):
        dangling = [name for name, value in el.attrib.items() if name in _REF_ATTRS and value and value not in kept_ids]
        if not dangling:
            continue
        if _split(el.tag)[1] in _OPTIONAL_REF_ELEMENTS:
            for name in dangling:
                del el.attrib[name]
        else:
            _drop_and_prune(el)


# ================================================================ ODF

_ODF_OBJECT_TYPES = ("application/vnd.oasis.opendocument.chart", "application/vnd.oasis.opendocument.formula")
_ODF_DROP = (
    _q(_OFFICE, "annotation", "annotation-end", "event-listeners", "scripts")
    | _q(_TEXT, "tracked-changes", "change-start", "change-end", "change")
    | _q(_TABLE, "tracked-changes", "dde-links")
    | _q(_DC, "creator", "date")
    # fields that show metadata or the user's profile
    | _q(
        _TEXT,
        "author-name",
        "author-initials",
        "initial-creator",
        "creator",
        "printed-by",
        "print-date",
        "print-time",
        "creation-date",
        "creation-time",
        "modification-date",
        "modification-time",
        "editing-cycles",
        "editing-duration",
        "file-name",
        "template-name",
        "user-defined",
        "title",
        "subject",
        "description",
        "keywords",
        "sender-firstname",
        "sender-lastname",
        "sender-initials",
        "sender-title",
        "sender-position",
        "sender-email",
        "sender-phone-private",
        "sender-fax",
        "sender-company",
        "sender-phone-work",
        "sender-street",
        "sender-city",
        "sender-postal-code",
        "sender-country",
        "sender-state-or-province",
    )
)
_ODF_LINKS = _q(_TEXT, "a") | _q(_DRAW, "a")
# Elements whose xlink:href loads something: kept only when it names a kept entry of the package.
_ODF_EMBEDS = (
    _q(_DRAW, "image", "object", "object-ole", "fill-image", "plugin", "applet", "floating-frame")
    | _q(_STYLE, "background-image")
    | _q(_TEXT, "list-level-style-image", "section-source")
    | _q(_SVG, "font-face-uri")
    | _q(_TABLE, "table-source", "cell-range-source")
    | _q(_PRESENTATION, "sound")
)
_XLINK_HREF = f"{{{_XLINK}}}href"
_ODF_BINARY = f"{{{_OFFICE}}}binary-data"


def _odf_path(base: str, href: str) -> str | None:
    """The package entry an xlink:href names, or None when it points outside the package."""
    if not href or re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", href) or href.startswith(("/", "\\", "#")):
        return None
    path = posixpath.normpath(posixpath.join(base, unquote(href)))
    if path in (".", "..") or path.startswith("../"):
        return None
    return path


def _sanitize_odf(archive: _Archive, mime: str) -> bytes:
    info = archive.get("META-INF/manifest.xml")
    if info is None:
        raise SanitizeError("malformed")
    manifest = _parse(archive.read(info, MAX_XML_PART))
    if manifest.tag != f"{{{_MANIFEST}}}manifest":
        raise SanitizeError("malformed")
    if any(el.tag == f"{{{_MANIFEST}}}encryption-data" for el in manifest.iter()):
        raise SanitizeError("malformed")
    version = manifest.get(f"{{{_MANIFEST}}}version")
    version = version if version and re.fullmatch(r"\d\.\d", version) else None
    declared = {
        (el.get(f"{{{_MANIFEST}}}full-path") or ""): (el.get(f"{{{_MANIFEST}}}media-type") or "")
        for el in manifest.iter(f"{{{_MANIFEST}}}file-entry")
    }
    objects = {
        path.removesuffix("/"): media_type
        for path, media_type in declared.items()
        if path.endswith("/")
        and "/" not in path.removesuffix("/")
        and media_type in _ODF_OBJECT_TYPES
        and archive.get(path + "content.xml") is not None
    }

    xml_parts: dict[str, zipfile.ZipInfo] = {}
    generated: dict[str, tuple[bytes, str]] = {}  # name -> (data, media type)
    renames: dict[str, str] = {}
    taken = set(archive.names)
    meta, settings = _odf_meta(version), _odf_settings(version)
    images = 0
    for member in sorted(archive.files, key=lambda i: i.filename):
        name = member.filename
        directory, _, leaf = name.rpartition("/")
        if (directory == "" or directory in objects) and leaf in ("content.xml", "styles.xml"):
            xml_parts[name] = member
        elif (directory == "" or directory in objects) and leaf == "meta.xml":
            generated[name] = (meta, "text/xml")
        elif name == "settings.xml":
            generated[name] = (settings, "text/xml")
        elif name.startswith("Pictures/"):
            images += 1
            if images > MAX_IMAGES:
                raise SanitizeError("too_large")
            cleaned = _clean_image(archive.read(member, MAX_IMAGE_PART))
            if cleaned is None:
                continue  # not a picture we can rebuild: dropped with the frames that show it
            new_name = _image_name(name, cleaned[1], taken)
            renames[name] = new_name
            generated[new_name] = cleaned
        # everything else is dropped: Thumbnails/, Configurations2/, Basic/, Scripts/, signatures, ...
    if "content.xml" not in xml_parts:
        raise SanitizeError("malformed")

    kept = set(xml_parts) | set(generated) | set(objects)

    def resolve(path: str) -> str | None:
        path = renames.get(path, path)
        return path if path in kept else None

    entries: dict[str, zipfile.ZipInfo | tuple[bytes, str]] = {**xml_parts, **generated}
    entries["META-INF/manifest.xml"] = (_odf_manifest(mime, version, xml_parts, generated, objects), "")
    with _Writer() as writer:
        writer.add("mimetype", mime.encode("ascii"), stored=True)
        for name in sorted(entries):
            entry = entries[name]
            if isinstance(entry, tuple):
                writer.add(name, entry[0])
                continue
            root = _parse(archive.read(entry, MAX_XML_PART))
            _clean_odf(root, name.rpartition("/")[0], resolve)
            data = _serialize(root, standalone=False)
            del root
            writer.add(name, data)
        return writer.finish()


def _odf_meta(version: str | None) -> bytes:
    root = etree.Element(f"{{{_OFFICE}}}document-meta", nsmap={"office": _OFFICE})
    if version:
        root.set(f"{{{_OFFICE}}}version", version)
    etree.SubElement(root, f"{{{_OFFICE}}}meta")
    return _serialize(root, standalone=False)


def _odf_settings(version: str | None) -> bytes:
    root = etree.Element(f"{{{_OFFICE}}}document-settings", nsmap={"office": _OFFICE})
    if version:
        root.set(f"{{{_OFFICE}}}version", version)
    return _serialize(root, standalone=False)


def _odf_manifest(
    mime: str,
    version: str | None,
    xml_parts: dict[str, zipfile.ZipInfo],
    generated: dict[str, tuple[bytes, str]],
    objects: dict[str, str],
) -> bytes:
    m = f"{{{_MANIFEST}}}"
    root = etree.Element(f"{m}manifest", nsmap={"manifest": _MANIFEST})
    if version:
        root.set(f"{m}version", version)
    listed = {"/": mime}
    listed.update({f"{path}/": media_type for path, media_type in objects.items()})
    listed.update(dict.fromkeys(xml_parts, "text/xml"))
    listed.update({name: media_type for name, (_, media_type) in generated.items()})
    for path in sorted(listed):
        entry = etree.SubElement(root, f"{m}file-entry", {f"{m}full-path": path})
        if version and path == "/":
            entry.set(f"{m}version", version)
        entry.set(f"{m}media-type", listed[path])
    return _serialize(root, standalone=False)


def _clean_odf(root: etree._Element, base: str, resolve: Callable[[str], str | None]) -> None:
    for el in [el for el in root.iter() if el.tag in _ODF_DROP]:
        _drop_and_prune(el)
    for el in root.iter(etree.Element):
        for name in [n for n in el.attrib if _split(n)[0] == _OFFICEOOO and "rsid" in _split(n)[1]]:
            del el.attrib[name]
    for el in list(root.iter(f"{{{_SVG}}}title", f"{{{_SVG}}}desc")):
        if _PATHLIKE.search(el.text or ""):
            el.text = ""
    for data in list(root.iter(_ODF_BINARY)):
        _clean_inline_image(data)
    for el in list(root.iter(etree.Element)):
        href = el.get(_XLINK_HREF)
        if href is None:
            continue
        if el.tag in _ODF_LINKS:
            if not (href.startswith("#") or _web_url(href)):
                _unwrap(el)  # a link to a local file: keep the text, lose the path
        elif el.tag in _ODF_EMBEDS:
            path = _odf_path(base, href)
            target = resolve(path) if path is not None else None
            if target is None:
                _drop_and_prune(el)
            elif target != path:
                el.set(_XLINK_HREF, _retarget(href, target))


def _clean_inline_image(el: etree._Element) -> None:
    """office:binary-data (a base64 picture inside the XML): rebuilt, or removed with its owner."""
    try:
        raw = base64.b64decode("".join((el.text or "").split()), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    cleaned = _clean_image(raw) if raw else None
    if cleaned is None:
        owner = el.getparent()
        _drop_and_prune(owner if owner is not None and owner.getparent() is not None else el)
        return
    el.text = base64.b64encode(cleaned[0]).decode("ascii")
