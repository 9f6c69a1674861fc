"""PDF sanitizer: rewrite a PDF so that only its visible pages survive.

A PDF carries far more than its pages (DESIGN.md, threat 3): the document information dictionary
(Author, Creator, Producer, dates), XMP packets on the catalog and on any object, the trailer /ID,
annotations whose /T names their author, form field values, bookmarks, attachments, thumbnails,
private application data (/PieceInfo), JavaScript and other actions, ICC profiles, and images that
keep their camera's EXIF. This module keeps the page tree, the content streams, fonts, colour spaces
and graphics resources, and rebuilds the rest from allowlists:

- the trailer keeps only /Root; qpdf writes a new /ID derived from the output's content
  (``deterministic_id``; with the old /ID left in the trailer, qpdf would keep its first element);
- the catalog, the page tree nodes, the pages, resource dictionaries, form XObjects and optional
  content groups keep only the keys needed to draw;
- /Metadata, /PieceInfo, /LastModified, /AA, /AF and friends are dropped from every object, and
  XMP, embedded file and stray ICC profile streams are emptied wherever they are still referenced;
- ICC-based colour spaces become the device space with the same number of components;
- every image (in pages, form XObjects, patterns, Type 3 glyphs and soft masks, inline images
  included) is decoded to pixels, rebuilt by ``sanitize_image`` and written back with only the keys
  that describe it; one that cannot be decoded becomes flat grey;
- content streams with a comment or an inline image are rewritten from parsed instructions, which
  drops comments and unknown operators; the others are kept byte for byte.

Decompression bombs are refused before anything is decoded: the input size, the page and object
counts and the decoded size of every Flate, LZW and RunLength stream are checked first, and qpdf's
own memory limits guard what it decodes while opening the file.

Pure and synchronous (qpdf's process-wide limits are set for the call and restored after it).
The bot runs it through ``bot.privacy.sandbox.Sandbox``.
"""

from __future__ import annotations

import io
import math
import re
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import pikepdf
from pikepdf import Array, Dictionary, Name, Stream
from pikepdf.models.image import PdfImageBase
from PIL import Image, ImageCms

from .clean import CleanFile, SanitizeError
from .images import sanitize_image

PDF_MIME = "application/pdf"

MAX_INPUT_BYTES = 50_000_000
MAX_OUTPUT_BYTES = 50_000_000  # Telegram bots may upload at most 50 MB
MAX_PAGES = 2000
MAX_OBJECTS = 200_000
MAX_STREAM_DECODED = 100_000_000  # one stream, decoded
MAX_TOTAL_DECODED = 300_000_000  # all streams together, decoded
MAX_IMAGE_PIXELS = 40_000_000  # one image, width x height (checked before its pixels are decoded)

_CHUNK = 1 << 16  # compressed bytes fed to zlib at a time
_GREY = 128
_SUSPECT_CONTENT = re.compile(rb"%|(?:^|[\s\x00])(?:BI|ID)[\s\x00]")  # a comment, an inline image
# Every operator of PDF content streams (ISO 32000-2, Annex A).
_OPERATOR_NAMES = (
    "b B b* B* BDC BI BMC BT BX c cm CS cs d d0 d1 Do DP EI EMC ET EX f F f* G g gs h i ID j J K k l m M"
    " MP n q Q re RG rg ri s S SC sc SCN scn sh T* Tc Td TD Tf TJ Tj TL Tm Tr Ts Tw Tz v w W W* y ' \""
)
_OPERATORS = frozenset(_OPERATOR_NAMES.split())
_DRAFT_SIDE = 4096  # sanitize_image shrinks bigger images to this long side anyway
_INTERMEDIATE_JPEG_QUALITY = 95

# qpdf's own limits, for what it decodes by itself (cross-reference and object streams while
# opening, predictors, and any stream we read).
_QPDF_LIMITS = {
    "flate_max_memory": MAX_STREAM_DECODED,
    "run_length_max_memory": MAX_STREAM_DECODED,
    "png_max_memory": MAX_STREAM_DECODED,
    "tiff_max_memory": MAX_STREAM_DECODED,
    "dct_max_memory": MAX_STREAM_DECODED,
}

# ----------------------------------------------------------------------------------- allowlists

_TRAILER_KEYS = {"/Root"}
_CATALOG_KEYS = {"/Type", "/Pages", "/Version", "/PageLayout", "/OCProperties"}
_PAGES_NODE_KEYS = {"/Type", "/Kids", "/Count", "/Parent", "/Resources", "/MediaBox", "/CropBox", "/Rotate"}
_PAGE_KEYS = {
    "/Type",
    "/Parent",
    "/Resources",
    "/MediaBox",
    "/CropBox",
    "/BleedBox",
    "/TrimBox",
    "/ArtBox",
    "/Rotate",
    "/Contents",
    "/Group",
    "/UserUnit",
}
_FORM_KEYS = {
    "/Type",
    "/Subtype",
    "/FormType",
    "/BBox",
    "/Matrix",
    "/Resources",
    "/Group",
    "/OC",
    "/Length",
    "/Filter",
    "/DecodeParms",
}
_RESOURCE_KEYS = {"/ExtGState", "/ColorSpace", "/Pattern", "/Shading", "/XObject", "/Font", "/ProcSet", "/Properties"}
_OCG_KEYS = {"/Type", "/Name", "/Intent"}  # drops /Usage: /CreatorInfo, /User names people
_OC_PROPERTIES_KEYS = {"/OCGs", "/D", "/Configs"}
_OC_CONFIG_KEYS = {"/BaseState", "/ON", "/OFF", "/Intent", "/AS", "/Order", "/ListMode", "/RBGroups", "/Locked"}
# Dropped from every dictionary and stream, wherever they appear.
_DROP_KEYS = (
    "/Metadata",  # XMP
    "/PieceInfo",  # private application data
    "/LastModified",
    "/AA",  # additional actions (JavaScript triggers)
    "/AF",  # associated (embedded) files
    "/EF",  # the embedded file streams of a file specification
    "/Thumb",
    "/OPI",  # paths of the original high-resolution images
    "/Measure",  # geospatial coordinates
    "/PtData",
    "/SpiderInfo",
    "/Usage",  # of an optional content group: /CreatorInfo, /User name people
)
_STREAM_DROP_KEYS = ("/F", "/FFilter", "/FDecodeParms", "/DL")  # stream data in an external file
_DEFAULT_COLOR_SPACES = {"/DefaultGray", "/DefaultRGB", "/DefaultCMYK"}
_ICC_DEVICE_SPACES = {1: Name.DeviceGray, 3: Name.DeviceRGB, 4: Name.DeviceCMYK}

# ------------------------------------------------------------------------------------ filters

_FLATE, _LZW, _RUNLENGTH = "/FlateDecode", "/LZWDecode", "/RunLengthDecode"
_ASCII_FILTERS = {"/ASCIIHexDecode", "/ASCII85Decode"}
_IMAGE_CODECS = {"/DCTDecode", "/JPXDecode", "/JBIG2Decode", "/CCITTFaxDecode"}
_LOSSY_CODECS = {"/DCTDecode", "/JPXDecode"}
_FILTER_ABBREVIATIONS = {
    "/Fl": _FLATE,
    "/LZW": _LZW,
    "/RL": _RUNLENGTH,
    "/AHx": "/ASCIIHexDecode",
    "/A85": "/ASCII85Decode",
    "/DCT": "/DCTDecode",
    "/CCF": "/CCITTFaxDecode",
}
# Upper bounds of output/input for a filter that follows another expanding one.
_WORST_RATIO = {_FLATE: 1032, _LZW: 1400, _RUNLENGTH: 64, "/ASCII85Decode": 4, "/ASCIIHexDecode": 1}


def is_pdf(data: bytes) -> bool:
    """True when the content looks like a PDF: "%PDF-" within the first 1024 bytes."""
    return b"%PDF-" in bytes(data[:1024])


def sanitize_pdf(data: bytes) -> CleanFile:
    """Rebuild a PDF keeping only its pages' visible content; see the module docstring.

    Raises SanitizeError("unsupported") for anything that is not a PDF, SanitizeError("too_large")
    when a limit is exceeded, SanitizeError("malformed") for encrypted or unreadable files.
    """
    if not is_pdf(data):
        raise SanitizeError("unsupported")
    if len(data) > MAX_INPUT_BYTES:
        raise SanitizeError("too_large")
    previous = pikepdf.settings.set_qpdf_limits(**_QPDF_LIMITS)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pikepdf and Pillow warn about odd images
            with pikepdf.open(io.BytesIO(bytes(data))) as pdf:
                out = _sanitize(pdf)
    except SanitizeError:
        raise
    except MemoryError:
        raise  # the sandbox turns it into "too_large" and replaces its worker
    except pikepdf.PikepdfError as exc:
        if "memory limit" in str(exc):
            raise SanitizeError("too_large") from exc
        raise SanitizeError("malformed") from exc
    except Exception as exc:  # hostile structure: wrong types, broken references, ...
        raise SanitizeError("malformed") from exc
    finally:
        pikepdf.settings.set_qpdf_limits(**previous)
    if len(out) > MAX_OUTPUT_BYTES:
        raise SanitizeError("too_large")
    return CleanFile(out, PDF_MIME, "pdf")


def _sanitize(pdf: pikepdf.Pdf) -> bytes:
    if pdf.is_encrypted:
        raise SanitizeError("malformed")
    if len(pdf.pages) > MAX_PAGES or len(pdf.objects) > MAX_OBJECTS:
        raise SanitizeError("too_large")
    budget = _Budget()
    budget.check(pdf)

    _clean_structure(pdf)
    _externalize_inline_images(pdf)
    budget.check(pdf)  # the new image streams
    _rewrite_content_streams(pdf)
    images, soft_masks = _scrub_graph(pdf)
    for image in images:
        _rewrite_image(image, as_soft_mask=image.objgen in soft_masks)

    out = io.BytesIO()
    pdf.save(
        out,
        compress_streams=True,
        object_stream_mode=pikepdf.ObjectStreamMode.generate,
        deterministic_id=True,  # an /ID from the output's own bytes; the old trailer is gone
        fix_metadata_version=False,
    )
    with pikepdf.open(io.BytesIO(out.getvalue())) as check:  # what staff will open must open
        if len(check.pages) != len(pdf.pages):
            raise SanitizeError("malformed")
    return out.getvalue()


# ------------------------------------------------------------------------------- bomb checks


class _Budget:
    """Decoded bytes of the streams measured so far, to refuse a file before decoding them."""

    def __init__(self) -> None:
        self.total = 0
        self.measured: set[tuple[int, int]] = set()

    def check(self, pdf: pikepdf.Pdf) -> None:
        """Measure every stream not measured yet; refuse when one, or all together, is too big."""
        for obj in pdf.objects:
            if isinstance(obj, Stream) and obj.objgen not in self.measured:
                self.measured.add(obj.objgen)
                self.total += _decoded_size(obj.read_raw_bytes(), _filter_chain(obj))
                if self.total > MAX_TOTAL_DECODED:
                    raise SanitizeError("too_large")


def _filter_chain(obj: Dictionary | Stream) -> list[tuple[str, object]]:
    """The (filter name, parameters) pairs of a stream or inline image, abbreviations expanded."""
    filters = obj.get("/Filter")
    parms = obj.get("/DecodeParms")
    if filters is None:
        return []
    if isinstance(filters, Name):
        filters, parms = [filters], [parms]
    elif isinstance(filters, Array):
        parms = list(parms) if isinstance(parms, Array) else [parms]
    else:
        raise SanitizeError("malformed")
    chain = []
    for index, name in enumerate(filters):
        if not isinstance(name, Name):
            raise SanitizeError("malformed")
        parm = parms[index] if index < len(parms) else None
        chain.append((_FILTER_ABBREVIATIONS.get(str(name), str(name)), parm))
    return chain


def _decoded_size(data: bytes, chain: list[tuple[str, object]]) -> int:
    """Bytes that `data` decodes to (or an upper bound), without decompressing it into memory.

    The first expanding filter (Flate, LZW, RunLength, after any ASCII filters) is measured
    exactly; an expanding filter after that one counts with its worst possible ratio.
    Image codecs end the chain: their pixels are decoded only after a pixel-count check.
    """
    size = len(data)
    exact = True  # `data` still holds the real output of the filters so far
    for name, parms in chain:
        if name in _IMAGE_CODECS or name not in _WORST_RATIO:
            break  # unknown filters are not decoded by qpdf either
        if not exact:
            size *= _WORST_RATIO[name]
        elif name in _ASCII_FILTERS:  # at most 4 bytes out per byte in
            data = _decode_one(data, name)
            size = len(data)
        elif name == _FLATE:
            size, exact = _inflated_size(data), False
        elif name == _LZW:
            early = parms.get("/EarlyChange", 1) if isinstance(parms, Dictionary) else 1
            size, exact = _lzw_size(data, early_change=int(early) != 0), False
        else:
            size, exact = _runlength_size(data), False
        if size > MAX_STREAM_DECODED:
            raise SanitizeError("too_large")
    return size


def _decode_one(data: bytes, name: str) -> bytes:
    with pikepdf.new() as scratch:
        stream = Stream(scratch, b"")
        stream.write(data, filter=Name(name))
        return stream.read_bytes()


def _inflated_size(data: bytes) -> int:
    """Size of zlib `data` inflated, counted chunk by chunk; refused past the stream limit."""
    inflater = zlib.decompressobj()
    size = 0
    view = memoryview(data)
    try:
        for start in range(0, len(view), _CHUNK):
            pending = view[start : start + _CHUNK]
            while pending:
                size += len(inflater.decompress(pending, _CHUNK))
                if size > MAX_STREAM_DECODED:
                    raise SanitizeError("too_large")
                if inflater.eof:
                    return size
                pending = inflater.unconsumed_tail
        while chunk := inflater.decompress(b"", _CHUNK):
            size += len(chunk)
            if size > MAX_STREAM_DECODED:
                raise SanitizeError("too_large")
    except zlib.error:
        pass  # damaged data: qpdf stops decoding at the same point
    return size


def _lzw_size(data: bytes, early_change: bool) -> int:
    """Size of LZW `data` decoded, following qpdf's decoder (Pl_LZWDecoder) without the bytes."""
    lengths: list[int] = []  # length of each table entry from code 258 on
    code_size, bits, nbits = 9, 0, 0
    last_length = 0  # 0: no previous code since the start or the last clear-table code
    size = 0
    delta = 1 if early_change else 0
    for byte in data:
        bits = (bits << 8) | byte
        nbits += 8
        if nbits < code_size:
            continue
        nbits -= code_size
        code = bits >> nbits
        bits &= (1 << nbits) - 1
        if code == 256:
            lengths.clear()
            code_size, last_length = 9, 0
            continue
        if code == 257:
            break
        if last_length:
            if code > 257 and code - 258 > len(lengths):
                break  # bad code: qpdf stops
            new_index = 258 + len(lengths)
            if new_index == 4096:
                break  # table full: qpdf stops
            lengths.append(last_length + 1)
            if new_index + delta in (511, 1023, 2047):
                code_size += 1
        if code < 256:
            length = 1
        elif code - 258 < len(lengths):
            length = lengths[code - 258]
        else:
            break
        size += length
        if size > MAX_STREAM_DECODED:
            raise SanitizeError("too_large")
        last_length = length
    return size


def _runlength_size(data: bytes) -> int:
    size, index, end = 0, 0, len(data)
    while index < end:
        length = data[index]
        if length == 128:
            break
        if length < 128:
            size += length + 1
            index += length + 2
        else:
            size += 257 - length
            index += 2
        if size > MAX_STREAM_DECODED:
            raise SanitizeError("too_large")
    return size


# ------------------------------------------------------------------------------- structure


def _keep_only(obj: Dictionary | Stream, keys: set[str]) -> None:
    for key in list(obj.keys()):
        if key not in keys:
            del obj[key]


def _drop(obj: Dictionary | Stream, keys: tuple[str, ...]) -> None:
    for key in keys:
        if key in obj:
            del obj[key]


def _clean_structure(pdf: pikepdf.Pdf) -> None:
    """Trailer, catalog and page tree: only what is needed to draw the pages stays.

    This drops /Info, /ID, /Metadata, /Names (JavaScript, embedded files, destinations),
    /OpenAction, /AA, /AcroForm, /Outlines, /StructTreeRoot, /MarkInfo, /PieceInfo, /Perms,
    /Legal, /URI, /SpiderInfo, /Collection, /OutputIntents, /PageLabels, /Threads ... from the
    catalog and /Annots, /Thumb, /B, /AA, /PieceInfo, /LastModified ... from the pages.
    """
    root = pdf.Root
    if not isinstance(root, Dictionary):
        raise SanitizeError("malformed")
    _keep_only(pdf.trailer, _TRAILER_KEYS)
    pdf.trailer.Size = 0  # qpdf writes the real value, but only where the key exists
    _keep_only(root, _CATALOG_KEYS)

    properties = root.get("/OCProperties")
    if isinstance(properties, Dictionary):  # layers: their names stay, who made them goes
        _keep_only(properties, _OC_PROPERTIES_KEYS)
        groups, configs = properties.get("/OCGs"), properties.get("/Configs")
        for group in groups if isinstance(groups, Array) else []:
            if isinstance(group, Dictionary):
                _keep_only(group, _OCG_KEYS)
        for config in [properties.get("/D"), *(configs if isinstance(configs, Array) else [])]:
            if isinstance(config, Dictionary):
                _keep_only(config, _OC_CONFIG_KEYS)  # drops /Creator and /Name
    elif properties is not None:
        del root["/OCProperties"]

    seen: set[tuple[int, int]] = set()
    nodes: list[object] = [root.get("/Pages")]
    while nodes:
        node = nodes.pop()
        if not isinstance(node, Dictionary) or (node.is_indirect and node.objgen in seen):
            continue
        if node.is_indirect:
            seen.add(node.objgen)
        kids = node.get("/Kids")
        if node.get("/Type") == Name.Pages or isinstance(kids, Array):
            _keep_only(node, _PAGES_NODE_KEYS)
            if isinstance(kids, Array):
                nodes.extend(kids)
        else:
            _keep_only(node, _PAGE_KEYS)


def _scrub_graph(pdf: pikepdf.Pdf) -> tuple[list[Stream], set[tuple[int, int]]]:
    """Clean every object reachable from the catalog; return the image streams and soft masks.

    Objects nothing refers to any more are not written by qpdf, so this walk sees all that stays.
    """
    images: list[Stream] = []
    soft_masks: set[tuple[int, int]] = set()
    seen: set[tuple[int, int]] = set()
    pending: list[object] = [pdf.Root]
    while pending:
        obj = pending.pop()
        if not isinstance(obj, (Dictionary, Array, Stream)):
            continue
        if obj.is_indirect:
            if obj.objgen in seen:
                continue
            seen.add(obj.objgen)
        if isinstance(obj, Array):
            for index, child in enumerate(obj):
                if _is_icc(child):
                    obj[index] = _icc_device_space(child)
                else:
                    pending.append(child)
            continue
        _scrub_dict(obj, images, soft_masks)
        for key in list(obj.keys()):
            child = obj[key]
            if key == "/Resources" and isinstance(child, Dictionary):
                _clean_resources(child)
            if _is_icc(child):
                if key in _DEFAULT_COLOR_SPACES:
                    del obj[key]
                else:
                    obj[key] = _icc_device_space(child)
            else:
                pending.append(child)
    return images, soft_masks


def _clean_resources(resources: Dictionary) -> None:
    """Only known resource types stay, and only image and form streams as XObjects."""
    _keep_only(resources, _RESOURCE_KEYS)
    xobjects = resources.get("/XObject")
    if isinstance(xobjects, Dictionary):
        for name in list(xobjects.keys()):
            xobject = xobjects[name]
            if not (isinstance(xobject, Stream) and xobject.get("/Subtype") in (Name.Image, Name.Form)):
                del xobjects[name]
    elif xobjects is not None:
        del resources["/XObject"]


def _scrub_dict(obj: Dictionary | Stream, images: list[Stream], soft_masks: set[tuple[int, int]]) -> None:
    _drop(obj, _DROP_KEYS)
    kind = obj.get("/Type")
    if kind == Name.OCG:
        _keep_only(obj, _OCG_KEYS)
    if not isinstance(obj, Stream):
        return
    _drop(obj, _STREAM_DROP_KEYS)
    subtype = obj.get("/Subtype")
    if subtype == Name.Image:
        images.append(obj)
        soft_mask = obj.get("/SMask")
        if isinstance(soft_mask, Stream):
            soft_masks.add(soft_mask.objgen)
    elif subtype == Name.Form:
        _keep_only(obj, _FORM_KEYS)
    elif subtype == Name.PS or kind in (Name.EmbeddedFile, Name.Metadata) or _is_icc_profile(obj):
        # PostScript code, a file's bytes, XMP or an ICC profile that the keys above did not
        # catch (referred to in some unexpected way): nothing a viewer should draw
        obj.write(b"")


def _is_icc_profile(stream: Stream) -> bool:
    """An ICC profile, recognised by its content: the signature "acsp" at offset 36."""
    return "/N" in stream and "/Subtype" not in stream and stream.read_bytes()[36:40] == b"acsp"


def _is_icc(obj: object) -> bool:
    return isinstance(obj, Array) and len(obj) >= 1 and obj[0] == Name.ICCBased


def _icc_device_space(icc: Array) -> Name:
    """The device colour space an ICC-based one falls back to; the profile itself is dropped."""
    profile = icc[1] if len(icc) > 1 else None
    components = profile.get("/N") if isinstance(profile, Stream) else None
    if isinstance(components, int) and components in _ICC_DEVICE_SPACES:
        return _ICC_DEVICE_SPACES[components]
    return Name.DeviceRGB


# ------------------------------------------------------------------------------------ images


@dataclass(frozen=True)
class _Rebuilt:
    """An image's new encoded data and the few keys that describe it."""

    data: bytes
    width: int
    height: int
    filter: Name
    colorspace: Name | None  # None: a stencil mask (/ImageMask true)
    bits: int
    inverted: bool = False  # a stencil mask's /Decode [1 0]


def _rewrite_image(stream: Stream, as_soft_mask: bool) -> None:
    """Replace an image XObject's data and dictionary with pixels rebuilt by `sanitize_image`."""
    rebuilt = _rebuild(lambda: pikepdf.PdfImage(stream), stream, as_soft_mask, inline=False)
    keep: dict[str, object] = {}
    for key in ("/SMask", "/Mask"):  # stream masks are images of their own, sanitized in turn
        value = stream.get(key)
        if isinstance(value, Stream) and value.get("/Subtype") == Name.Image:
            keep[key] = value
    if isinstance(stream.get("/OC"), Dictionary):
        keep["/OC"] = stream.get("/OC")
    if stream.get("/Interpolate") is True:
        keep["/Interpolate"] = True

    stream.write(rebuilt.data, filter=rebuilt.filter)  # also drops /DecodeParms
    _keep_only(stream, {"/Length", "/Filter"})
    stream.Type = Name.XObject
    stream.Subtype = Name.Image
    stream.Width = rebuilt.width
    stream.Height = rebuilt.height
    stream.BitsPerComponent = rebuilt.bits
    if rebuilt.colorspace is None:
        stream.ImageMask = True
        if rebuilt.inverted:
            stream.Decode = Array([1, 0])
    else:
        stream.ColorSpace = rebuilt.colorspace
    for key, value in keep.items():
        stream[key] = value


def _externalize_inline_images(pdf: pikepdf.Pdf) -> None:
    """qpdf turns the inline images of pages and of their form XObjects into image XObjects."""
    for page in pdf.pages:
        page.externalize_inline_images(min_size=0, shallow=False)


def _rewrite_content_streams(pdf: pikepdf.Pdf) -> None:
    """Rewrite, from parsed instructions, the content streams that may hide something.

    That is one with a comment ("%", also found in text such as "50%") or with an inline image:
    qpdf turns those of pages and their form XObjects into image XObjects, but not those of tiling
    patterns, Type 3 glyphs and soft masks, so they are rebuilt in place here. qpdf's parser stops at
    an inline image it cannot delimit, so undelimited image data (a JPEG with its EXIF) is dropped
    too, and so is every instruction whose operator is not a PDF operator. Other content streams
    are kept as they are: parsing every one of them would cost seconds per 10 MB.
    """
    for scope in pdf.content_scopes():
        target = scope.content  # a stream, or a page dictionary whose /Contents may be an array
        contents = target.get("/Contents") if scope.kind == "page" else target
        parts = contents if isinstance(contents, Array) else [contents]
        if not any(isinstance(part, Stream) and _SUSPECT_CONTENT.search(part.read_bytes()) for part in parts):
            continue
        instructions = [
            _clean_inline_image(pdf, item)
            for item in pikepdf.parse_content_stream(target)
            if isinstance(item, pikepdf.ContentStreamInlineImage) or str(item.operator) in _OPERATORS
        ]
        data = pikepdf.unparse_content_stream(instructions)
        if scope.kind == "page":
            target.Contents = pdf.make_stream(data)
        else:
            target.write(data)


def _clean_inline_image(pdf: pikepdf.Pdf, item: object) -> object:
    if not isinstance(item, pikepdf.ContentStreamInlineImage):
        return item
    image = item.iimage
    rebuilt = _rebuild(lambda: image, image.obj, as_soft_mask=False, inline=True)
    if rebuilt.colorspace is None:
        keys = b"/IM true" + (b" /D [1 0]" if rebuilt.inverted else b"")
    else:
        keys = b"/CS " + (b"/RGB" if rebuilt.colorspace == Name.DeviceRGB else b"/G")
    abbreviation = b"/DCT" if rebuilt.filter == Name.DCTDecode else b"/Fl"
    # Hexadecimal data cannot contain "EI", which would end the image early for some readers.
    source = b"BI /W %d /H %d /BPC %d %s /F [/AHx %s] ID %s> EI" % (
        rebuilt.width,
        rebuilt.height,
        rebuilt.bits,
        keys,
        abbreviation,
        rebuilt.data.hex().encode(),
    )
    (parsed,) = pikepdf.parse_content_stream(pdf.make_stream(source))  # not attached: never written
    return parsed


def _rebuild(
    open_image: Callable[[], PdfImageBase], obj: Dictionary | Stream, as_soft_mask: bool, inline: bool
) -> _Rebuilt:
    """Decode an image, rebuild its pixels through `sanitize_image` and encode them for a PDF.

    `obj` holds the image's keys (the stream itself, or an inline image's dictionary). An image that
    cannot be decoded becomes flat grey of the same size (a stencil mask, one that paints nothing).
    """
    width, height = obj.get("/Width"), obj.get("/Height")
    is_mask = obj.get("/ImageMask") is True
    decode = obj.get("/Decode")
    inverted = is_mask and isinstance(decode, Array) and [float(v) for v in decode] == [1.0, 0.0]
    if not (isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0):
        return _placeholder(1, 1, is_mask)
    if width * height > MAX_IMAGE_PIXELS:
        raise SanitizeError("too_large")
    try:
        chain = _filter_chain(obj)
        filters = [name for name, _ in chain]
        if inline:  # its data was not measured with the streams
            _decoded_size(open_image().read_raw_bytes(), chain)
        pixels = _decode_pixels(open_image, filters, is_mask)
    except SanitizeError as exc:
        if exc.reason == "too_large":
            raise
        pixels = None
    except MemoryError:
        raise
    except Exception:  # any decoder failure on hostile data
        pixels = None
    if pixels is None:
        return _placeholder(width, height, is_mask)

    if is_mask:
        target = "1"
    elif as_soft_mask:
        target = "L"  # a soft mask must be a DeviceGray image
    elif _LOSSY_CODECS.intersection(filters):
        clean = sanitize_image(_encode(pixels, "JPEG"), max_pixels=MAX_IMAGE_PIXELS)
        return _Rebuilt(clean.data, clean.width, clean.height, Name.DCTDecode, Name.DeviceRGB, 8)
    else:
        target = pixels.mode if pixels.mode in ("1", "L") else "RGB"

    clean = sanitize_image(_encode(pixels, "PNG"), max_pixels=MAX_IMAGE_PIXELS)
    with Image.open(io.BytesIO(clean.data), formats=["PNG"]) as rebuilt:
        if target == "1":  # threshold, no dithering: black stays black, white stays white
            out = rebuilt.convert("L").point(lambda v: 255 if v >= 128 else 0).convert("1", dither=Image.Dither.NONE)
        else:
            out = rebuilt.convert(target)
        raw, (out_width, out_height) = out.tobytes(), out.size
    colorspace = {"1": Name.DeviceGray, "L": Name.DeviceGray, "RGB": Name.DeviceRGB}[target] if not is_mask else None
    bits = 1 if target == "1" else 8
    return _Rebuilt(zlib.compress(raw), out_width, out_height, Name.FlateDecode, colorspace, bits, inverted)


def _decode_pixels(open_image: Callable[[], PdfImageBase], filters: list[str], is_mask: bool) -> Image.Image | None:
    """The image's pixels as a new "1", "L" or "RGB" Pillow image, or None if undecodable."""
    if "/JBIG2Decode" in filters:
        return None  # pikepdf decodes JBIG2 through temporary files on disk
    image = open_image()
    # A stencil mask keeps its /Decode array, so its samples are taken as stored.
    with image.as_pil_image(apply_decode_array=not is_mask, apply_mask=False) as im:
        if im.format not in (None, "JPEG", "JPEG2000", "TIFF"):
            return None  # only the decoders a PDF image can need may touch the data
        if im.width < 1 or im.height < 1:
            return None
        if im.width * im.height > MAX_IMAGE_PIXELS:  # a JPEG's own header may disagree with /Width
            raise SanitizeError("too_large")
        if im.format == "JPEG":
            factor = max(im.size) / _DRAFT_SIDE
            if factor >= 2:  # let libjpeg decode at 1/2, 1/4 or 1/8 scale
                im.draft(None, (math.ceil(im.width / factor), math.ceil(im.height / factor)))
        im.load()
        return _normalise(im, gray=is_mask)


def _normalise(im: Image.Image, gray: bool) -> Image.Image:
    mode = im.mode
    if mode == "1":
        out = im.copy()
    elif mode == "I" or mode.startswith("I;16"):
        out = im.convert("I").point(lambda v: v / 256).convert("L")
    elif mode in ("L", "LA"):
        out = im.convert("L")
    elif mode == "LAB":
        lab, srgb = ImageCms.createProfile("LAB"), ImageCms.createProfile("sRGB")
        out = ImageCms.applyTransform(im, ImageCms.buildTransform(lab, srgb, "LAB", "RGB"))
    else:
        out = im.convert("RGB")  # RGB, CMYK (naively), palettes
    if gray and out.mode != "1":
        out = out.convert("L")
    # A brand-new image: nothing of the decoder's .info (ICC profile, EXIF) comes along.
    clean = Image.new(out.mode, out.size)
    clean.paste(out, (0, 0))
    return clean


def _encode(img: Image.Image, fmt: str) -> bytes:
    """Pixels as a metadata-free file for `sanitize_image` (which accepts JPEG and PNG)."""
    if img.mode == "1":
        img = img.convert("L")
    buf = io.BytesIO()
    if fmt == "JPEG":
        img.save(buf, format="JPEG", quality=_INTERMEDIATE_JPEG_QUALITY)
    else:
        img.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def _placeholder(width: int, height: int, is_mask: bool) -> _Rebuilt:
    """Flat grey of the given size; for a stencil mask, one that paints nothing."""
    if is_mask:
        row = b"\xff" * ((width + 7) // 8)  # with the default /Decode [0 1], sample 1 is not painted
        return _Rebuilt(_compressed_rows(row, height), width, height, Name.FlateDecode, None, 1)
    data = _compressed_rows(bytes([_GREY]) * width, height)
    return _Rebuilt(data, width, height, Name.FlateDecode, Name.DeviceGray, 8)


def _compressed_rows(row: bytes, count: int) -> bytes:
    compressor = zlib.compressobj()
    return b"".join(compressor.compress(row) for _ in range(count)) + compressor.flush()
