"""PDF sanitizer tests, with fixtures built here by pikepdf and Pillow (no sample files from disk).
The public samples of ../shared/corpus/ are checked by `make corpus-check`, outside the suite."""

from __future__ import annotations

import io
import json
import random
import shutil
import subprocess
import sys
import time
import tracemalloc
import zlib
from pathlib import Path

import pikepdf
import pytest
from pikepdf import Array, Dictionary, Name, String
from PIL import Image, ImageCms

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `bot` importable here and in spawned children
    sys.path.insert(0, str(ROOT))

from bot.privacy import pdf as pdfmod  # noqa: E402
from bot.privacy.clean import SanitizeError  # noqa: E402
from bot.privacy.pdf import PDF_MIME, is_pdf, sanitize_pdf  # noqa: E402

EXIFTOOL = shutil.which("exiftool")
TEXT = b"Order 17 of the hokimiyat"

# Every planted marker; none may survive anywhere in a sanitized file.
MARKERS = [
    b"MARKER-AUTHOR-Karimov",
    b"MARKER-CREATOR-App",
    b"MARKER-PRODUCER",
    b"MARKER-TITLE",
    b"MARKER-XMP-Company",
    b"MARKER-XMP-OBJECT",
    b"MARKER-JS",  # also MARKER-JS-NAMED, MARKER-JS-FIELD, MARKER-JS-PAGE
    b"MARKER-ANNOT-Author",
    b"MARKER-COMMENT",
    b"MARKER-ATTACHMENT",
    b"MARKER-THUMB",
    b"MARKER-PIECEINFO",
    b"MARKER-OUTLINE",
    b"MARKER-FIELD",
    b"MARKER-ID",
    b"MARKER-URI",
    b"MARKER-STRUCT",
    b"MARKER-LABEL",
    b"MARKER-SPIDER",
    b"MARKER-OCG-USER",
    b"MARKER-ARTIST-Ivanov",
    b"SERIAL-XYZ-123",
    b"GPS-DATUM-MARKER",
    b"acsp",  # the signature inside every ICC profile
    b"D:20240301",  # the planted dates
]

EXIF_IFD, GPS_IFD = 0x8769, 0x8825
ARTIST, MAKE, BODY_SERIAL = 0x013B, 0x010F, 0xA431


# ---------------------------------------------------------------- fixtures


def _exif_jpeg(size: tuple[int, int] = (64, 48), colour: tuple[int, int, int] = (200, 60, 30)) -> bytes:
    """A camera-like JPEG: EXIF with artist, camera serial and a GPS position."""
    exif = Image.Exif()
    exif[ARTIST] = "MARKER-ARTIST-Ivanov"
    exif[MAKE] = "PhoneMaker"
    exif.get_ifd(EXIF_IFD)[BODY_SERIAL] = "SERIAL-XYZ-123"
    gps = exif.get_ifd(GPS_IFD)
    gps[1], gps[2] = "N", (41.0, 18.0, 30.5)  # Tashkent
    gps[3], gps[4] = "E", (69.0, 16.0, 45.25)
    gps[0x12] = "GPS-DATUM-MARKER"
    img = Image.new("RGB", size, colour)
    for x in range(size[0] // 2):  # a little structure, so the picture can be recognised
        for y in range(size[1]):
            img.putpixel((x, y), (30, 60, 200))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=90, exif=exif.tobytes())
    data = buf.getvalue()
    assert b"SERIAL-XYZ-123" in data and b"MARKER-ARTIST-Ivanov" in data
    return data


def _xmp(text: str) -> bytes:
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f"<dc:creator><rdf:Seq><rdf:li>{text}</rdf:li></rdf:Seq></dc:creator>"
        '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    ).encode()


def _image(pdf: pikepdf.Pdf, data: bytes, width: int, height: int, **keys) -> pikepdf.Stream:
    """An image XObject whose `data` is already encoded (keys give /Filter, /ColorSpace, ...)."""
    filter_ = keys.pop("Filter", None)
    stream = pikepdf.Stream(pdf, b"")
    stream.write(data, filter=filter_) if filter_ is not None else stream.write(data)
    stream.Type, stream.Subtype = Name.XObject, Name.Image
    stream.Width, stream.Height = width, height
    for key, value in keys.items():
        stream[Name("/" + key)] = value
    return stream


def _save(pdf: pikepdf.Pdf, **options) -> bytes:
    buf = io.BytesIO()
    pdf.save(buf, **options)
    return buf.getvalue()


def _dirty_pdf() -> bytes:
    """A two-page PDF with every kind of metadata, script and hidden content the sanitizer removes."""
    pdf = pikepdf.new()
    page = pdf.add_blank_page(page_size=(595, 842))
    pdf.add_blank_page(page_size=(595, 842))
    xmp_object = lambda: pdf.make_stream(_xmp("MARKER-XMP-OBJECT"), Type=Name.Metadata, Subtype=Name.XML)  # noqa: E731
    piece_info = Dictionary(
        MyEditor=Dictionary(LastModified=String("D:20240301120000"), Private=String("MARKER-PIECEINFO"))
    )

    # Document information dictionary and XMP, through pikepdf's own metadata API.
    pdf.docinfo["/Author"] = "MARKER-AUTHOR-Karimov"
    pdf.docinfo["/Creator"] = "MARKER-CREATOR-App"
    pdf.docinfo["/Producer"] = "MARKER-PRODUCER"
    pdf.docinfo["/Title"] = "MARKER-TITLE"
    pdf.docinfo["/CreationDate"] = "D:20240301120000+05'00'"
    pdf.docinfo["/ModDate"] = "D:20240301130000+05'00'"
    with pdf.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False) as meta:
        meta["dc:publisher"] = ["MARKER-XMP-Company"]
        meta["xmp:CreatorTool"] = "MARKER-XMP-Company Writer"

    # Page content: text, a camera JPEG, a nested form XObject with a lossless image and a soft mask,
    # an inline JPEG, a stencil mask, and an ICC-based colour space.
    font = pdf.make_indirect(
        Dictionary(Type=Name.Font, Subtype=Name.Type1, BaseFont=Name.Helvetica, Metadata=xmp_object())
    )
    photo = _image(
        pdf,
        _exif_jpeg(),
        64,
        48,
        Filter=Name.DCTDecode,
        ColorSpace=Name.DeviceRGB,
        BitsPerComponent=8,
        Metadata=xmp_object(),
        PieceInfo=piece_info,
    )
    gradient = bytes(v for y in range(32) for x in range(40) for v in (x * 6, y * 8, 100))
    soft_mask = _image(
        pdf,
        zlib.compress(bytes(x * 6 for y in range(32) for x in range(40))),
        40,
        32,
        Filter=Name.FlateDecode,
        ColorSpace=Name.DeviceGray,
        BitsPerComponent=8,
        Metadata=xmp_object(),
    )
    lossless = _image(
        pdf,
        zlib.compress(gradient),
        40,
        32,
        Filter=Name.FlateDecode,
        ColorSpace=Name.DeviceRGB,
        BitsPerComponent=8,
        SMask=soft_mask,
        Metadata=xmp_object(),
    )
    stencil = _image(pdf, zlib.compress(bytes([0b11110000]) * 8), 8, 8, Filter=Name.FlateDecode, ImageMask=True)
    photo.OPI = Dictionary(Version=1.3, F=String("C:/Users/MARKER-AUTHOR-Karimov/scan.tif"))
    inner_form = pdf.make_stream(
        b"q 40 0 0 32 0 0 cm /Im1 Do Q q 8 0 0 8 50 0 cm /Mk0 Do Q",
        Type=Name.XObject,
        Subtype=Name.Form,
        BBox=[0, 0, 100, 100],
        Resources=Dictionary(XObject=Dictionary(Im1=lossless, Mk0=stencil)),
        Metadata=xmp_object(),
        PieceInfo=piece_info,
        LastModified=String("D:20240301120000"),
    )
    outer_form = pdf.make_stream(
        b"q /Fm1 Do Q",
        Type=Name.XObject,
        Subtype=Name.Form,
        BBox=[0, 0, 100, 100],
        Resources=Dictionary(XObject=Dictionary(Fm1=inner_form)),
        Metadata=xmp_object(),
    )
    icc = pdf.make_stream(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes(), N=3)
    ocg = pdf.make_indirect(
        Dictionary(
            Type=Name.OCG,
            Name=String("Layer 1"),
            Usage=Dictionary(User=Dictionary(Type=Name.Ind, Name=String("MARKER-OCG-USER"))),
        )
    )
    inline = _exif_jpeg((16, 12))
    page.Resources = Dictionary(
        Font=Dictionary(F1=font),
        XObject=Dictionary(Im0=photo, Fm0=outer_form),
        ColorSpace=Dictionary(CS0=Array([Name.ICCBased, icc])),
        Properties=Dictionary(OC0=ocg),
        MyEditorNotes=String("MARKER-PIECEINFO in the resources"),  # no such resource type: dropped
    )
    page.Contents = pdf.make_stream(
        b"% written for MARKER-AUTHOR-Karimov by MARKER-CREATOR-App\n"  # a comment
        b"BX (MARKER-PIECEINFO) /Private myEditorData EX\n"  # an operator no viewer knows
        b"BT /F1 24 Tf 72 760 Td (" + TEXT + b") Tj ET\n"
        b"q 200 0 0 150 72 500 cm /Im0 Do Q\n"
        b"q 1 0 0 1 300 500 cm /Fm0 Do Q\n"
        b"/OC /OC0 BDC /CS0 cs 0.2 0.4 0.6 sc 72 300 100 50 re f EMC\n"
        b"q 32 0 0 24 72 200 cm BI /W 16 /H 12 /CS /RGB /BPC 8 /F /DCT ID " + inline + b" EI Q\n"
    )
    pdf.Root.OCProperties = Dictionary(
        OCGs=[ocg], D=Dictionary(Creator=String("MARKER-CREATOR-App"), ON=[ocg], Order=[ocg])
    )

    # Hidden extras on the page.
    page.Thumb = _image(pdf, b"MARKER-THUMB", 12, 1, ColorSpace=Name.DeviceGray, BitsPerComponent=8)
    page.PieceInfo = piece_info
    page.LastModified = String("D:20240301120000")
    page.Metadata = xmp_object()
    page.AA = Dictionary(O=Dictionary(S=Name.JavaScript, JS=String("app.alert('MARKER-JS-PAGE')")))

    # Annotations: a comment, a link, a file attachment, a form field's widget.
    comment = pdf.make_indirect(
        Dictionary(
            Type=Name.Annot,
            Subtype=Name.Text,
            Rect=[100, 100, 120, 120],
            T=String("MARKER-ANNOT-Author"),
            Contents=String("MARKER-COMMENT"),
            M=String("D:20240301120000"),
        )
    )
    link = pdf.make_indirect(
        Dictionary(
            Type=Name.Annot,
            Subtype=Name.Link,
            Rect=[100, 200, 200, 220],
            A=Dictionary(S=Name.URI, URI=String("https://example.org/MARKER-URI")),
        )
    )
    attached = pikepdf.AttachedFileSpec(pdf, b"MARKER-ATTACHMENT in an annotation", filename="a.txt")
    clip = pdf.make_indirect(
        Dictionary(Type=Name.Annot, Subtype=Name.FileAttachment, Rect=[0, 0, 10, 10], FS=attached.obj)
    )
    field = pdf.make_indirect(
        Dictionary(
            Type=Name.Annot,
            Subtype=Name.Widget,
            FT=Name.Tx,
            T=String("name"),
            V=String("MARKER-FIELD"),
            Rect=[100, 400, 300, 420],
            P=page.obj,
            AA=Dictionary(K=Dictionary(S=Name.JavaScript, JS=String("MARKER-JS-FIELD"))),
        )
    )
    page.Annots = pdf.make_indirect(Array([comment, link, clip, field]))
    pdf.Root.AcroForm = Dictionary(Fields=[field], DA=String("/Helv 0 Tf 0 g"))

    # Catalog: scripts, attachments, outlines, private data, structure tree, page labels, ...
    pdf.Root.OpenAction = Dictionary(S=Name.JavaScript, JS=String("app.alert('MARKER-JS')"))
    pdf.Root.AA = Dictionary(WC=Dictionary(S=Name.JavaScript, JS=String("MARKER-JS")))
    pdf.Root.Names = Dictionary(
        JavaScript=Dictionary(Names=[String("init"), Dictionary(S=Name.JavaScript, JS=String("MARKER-JS-NAMED"))])
    )
    pdf.attachments["evidence.txt"] = pikepdf.AttachedFileSpec(pdf, b"MARKER-ATTACHMENT", filename="evidence.txt")
    with pdf.open_outline() as outline:
        outline.root.append(pikepdf.OutlineItem("MARKER-OUTLINE", 0))
    pdf.Root.PieceInfo = piece_info
    pdf.Root.SpiderInfo = Dictionary(V=1.2, C=[Dictionary(URL=String("https://MARKER-SPIDER/"))])
    pdf.Root.URI = Dictionary(Base=String("https://example.org/MARKER-URI/"))
    pdf.Root.StructTreeRoot = Dictionary(
        Type=Name.StructTreeRoot, K=Dictionary(S=Name.P, Alt=String("MARKER-STRUCT"), Pg=page.obj)
    )
    pdf.Root.MarkInfo = Dictionary(Marked=True)
    pdf.Root.PageLabels = Dictionary(Nums=[0, Dictionary(P=String("MARKER-LABEL-"))])
    pdf.Root.Perms = Dictionary(DocMDP=Dictionary(Name=String("MARKER-SPIDER")))
    pdf.Root.Legal = Dictionary(Attestation=String("MARKER-COMMENT"))
    pdf.Root.Collection = Dictionary(Type=Name.Collection, D=String("evidence.txt"))

    # The permanent file identifier: qpdf keeps its first half on every later save.
    pdf.trailer.ID = Array([String(b"MARKER-ID-000001"), String(b"MARKER-ID-000002")])
    data = _save(pdf, compress_streams=False, object_stream_mode=pikepdf.ObjectStreamMode.disable)

    # Guards: the planted metadata really is in the file (so the assertions below mean something).
    dump = _everything(data)
    for marker in MARKERS:
        assert marker in dump, marker
    with pikepdf.open(io.BytesIO(data)) as check:
        assert bytes(check.trailer.ID[0]).startswith(b"MARKER-ID")
    return data


@pytest.fixture(scope="module")
def dirty_pdf() -> bytes:
    return _dirty_pdf()


@pytest.fixture(scope="module")
def clean_pdf(dirty_pdf) -> bytes:
    result = sanitize_pdf(dirty_pdf)
    assert result.mime == PDF_MIME and result.extension == "pdf" and result.kind == "document"
    return result.data


# ---------------------------------------------------------------- helpers


def _strings(obj, out: list[bytes], seen: set) -> None:
    """Every string, name and decoded stream reachable in `obj`, appended to `out`."""
    pending = [obj]
    while pending:
        item = pending.pop()
        if isinstance(item, pikepdf.Object) and item.is_indirect:
            if item.objgen in seen:
                continue
            seen.add(item.objgen)
        if isinstance(item, String):
            out.append(bytes(item))
        elif isinstance(item, Name):
            out.append(item.unparse())
        elif isinstance(item, Array):
            pending.extend(item)
        elif isinstance(item, (Dictionary, pikepdf.Stream)):
            if isinstance(item, pikepdf.Stream):
                try:
                    out.append(item.read_bytes())
                except pikepdf.PdfError:  # image codecs qpdf cannot decode (DCT): the stored bytes
                    out.append(item.read_raw_bytes())
            for key in item:
                out.append(key.encode("utf-8", "surrogateescape"))
                pending.append(item[key])


def _everything(data: bytes) -> bytes:
    """The file's bytes, plus every string and every decompressed stream of every object in it."""
    out = [data]
    seen: set = set()
    with pikepdf.open(io.BytesIO(data)) as pdf:
        _strings(pdf.trailer, out, seen)
        for obj in pdf.objects:
            _strings(obj, out, seen)
    return b"\n".join(out)


def _contents(page: pikepdf.Page) -> bytes:
    contents = page.obj.Contents
    streams = contents if isinstance(contents, Array) else [contents]
    return b"\n".join(stream.read_bytes() for stream in streams)


def _images(pdf: pikepdf.Pdf) -> list[pikepdf.Stream]:
    return [o for o in pdf.objects if isinstance(o, pikepdf.Stream) and o.get("/Subtype") == Name.Image]


def _reason(data: bytes) -> str:
    with pytest.raises(SanitizeError) as exc:
        sanitize_pdf(data)
    return exc.value.reason


def _one_page_pdf(stream_setup) -> bytes:
    """A one-page PDF whose content stream is set up by `stream_setup(pdf, page)`."""
    pdf = pikepdf.new()
    page = pdf.add_blank_page()
    stream_setup(pdf, page)
    return _save(pdf)


def _pdf_with_image(**image) -> bytes:
    def setup(pdf, page):
        data = image.pop("data")
        width, height = image.pop("Width"), image.pop("Height")
        page.Resources = Dictionary(XObject=Dictionary(Im0=_image(pdf, data, width, height, **image)))
        page.Contents = pdf.make_stream(b"q 100 0 0 100 0 0 cm /Im0 Do Q")

    return _one_page_pdf(setup)


# ---------------------------------------------------------------- the full fixture


def test_no_marker_survives_anywhere(clean_pdf):
    everything = _everything(clean_pdf)
    found = [marker for marker in MARKERS if marker in everything]
    assert not found
    assert b"JavaScript" not in everything and b"/JS" not in everything


def test_pages_and_visible_content_survive(dirty_pdf, clean_pdf):
    with pikepdf.open(io.BytesIO(dirty_pdf)) as before, pikepdf.open(io.BytesIO(clean_pdf)) as after:
        assert not after.check_pdf_syntax()  # qpdf --check finds nothing wrong
        assert len(after.pages) == len(before.pages) == 2
        assert TEXT in _contents(after.pages[0])
        assert b"/Fm0 Do" in _contents(after.pages[0])
        assert after.pages[0].mediabox == before.pages[0].mediabox
        resources = after.pages[0].Resources
        assert resources.Font.F1.BaseFont == Name.Helvetica
        # the ICC-based colour space became the device space with as many components
        assert resources.ColorSpace.get("/CS0") == Name.DeviceRGB
        # the optional content group keeps its name, loses who made it
        assert after.Root.OCProperties.OCGs[0].Name == "Layer 1"
        assert "/Usage" not in after.Root.OCProperties.OCGs[0]
        # the photo, the nested image and its soft mask, the stencil mask, the former inline image
        assert len(_images(after)) == 5


def test_structure_is_reduced_to_pages(clean_pdf):
    with pikepdf.open(io.BytesIO(clean_pdf)) as pdf:
        assert "/Info" not in pdf.trailer
        assert len(pdf.docinfo) == 0
        assert set(pdf.Root.keys()) <= {"/Type", "/Pages", "/Version", "/PageLayout", "/OCProperties"}
        for key in ("/Metadata", "/AcroForm", "/Names", "/OpenAction", "/Outlines", "/AA", "/StructTreeRoot"):
            assert key not in pdf.Root
        assert not pdf.attachments
        for page in pdf.pages:
            for key in ("/Annots", "/Thumb", "/PieceInfo", "/LastModified", "/Metadata", "/AA"):
                assert key not in page.obj
        for obj in pdf.objects:
            if isinstance(obj, (Dictionary, pikepdf.Stream)):
                assert "/Metadata" not in obj and "/PieceInfo" not in obj, repr(obj)
        identifier = b"".join(bytes(part) for part in pdf.trailer.ID)
        assert b"MARKER" not in identifier
        assert len(pdf.open_metadata()) == 0


def test_images_are_rebuilt_without_exif(clean_pdf):
    with pikepdf.open(io.BytesIO(clean_pdf)) as pdf:
        photo = pdf.pages[0].Resources.XObject.Im0
        assert photo.Filter == Name.DCTDecode and photo.ColorSpace == Name.DeviceRGB
        assert set(photo.keys()) <= {
            "/Type",
            "/Subtype",
            "/Width",
            "/Height",
            "/ColorSpace",
            "/BitsPerComponent",
            "/Filter",
            "/Length",
        }
        assert b"Exif" not in photo.read_raw_bytes()
        for stream in _images(pdf):
            raw = stream.read_raw_bytes()
            assert b"Exif\x00\x00" not in raw and b"http://ns.adobe.com/xap/1.0/" not in raw
            with pikepdf.PdfImage(stream).as_pil_image() as im:
                assert not im.getexif() and not im.getexif().get_ifd(GPS_IFD)
                assert "exif" not in im.info and "icc_profile" not in im.info
        with pikepdf.PdfImage(photo).as_pil_image() as im:  # still the same picture
            assert im.size == (64, 48)
            left, right = im.getpixel((8, 24)), im.getpixel((56, 24))
            assert left[2] > 150 > left[0] and right[0] > 150 > right[2]
        form = pdf.pages[0].Resources.XObject.Fm0.Resources.XObject.Fm1
        assert "/Metadata" not in form and "/PieceInfo" not in form and "/LastModified" not in form
        nested = form.Resources.XObject.Im1
        assert nested.Filter == Name.FlateDecode and nested.ColorSpace == Name.DeviceRGB
        assert nested.SMask.ColorSpace == Name.DeviceGray  # the soft mask was rebuilt and kept
        with pikepdf.PdfImage(nested).as_pil_image(apply_mask=False) as im:
            assert im.getpixel((39, 31)) == (234, 248, 100)  # lossless stays lossless
        stencil = form.Resources.XObject.Mk0
        assert stencil.ImageMask is True and "/ColorSpace" not in stencil
        assert stencil.read_bytes() == bytes([0b11110000]) * 8


def test_same_input_gives_same_output_id_included(dirty_pdf, clean_pdf):
    # the /ID comes from the output's content (qpdf's deterministic_id), not from the clock or the input
    assert sanitize_pdf(dirty_pdf).data == clean_pdf
    with pikepdf.open(io.BytesIO(dirty_pdf)) as before, pikepdf.open(io.BytesIO(clean_pdf)) as after:
        assert bytes(after.trailer.ID[0]) != bytes(before.trailer.ID[0])


@pytest.mark.skipif(EXIFTOOL is None, reason="exiftool is not on PATH: the independent metadata check needs it")
def test_exiftool_finds_only_file_structure(tmp_path, dirty_pdf, clean_pdf):
    (tmp_path / "dirty.pdf").write_bytes(dirty_pdf)
    (tmp_path / "clean.pdf").write_bytes(clean_pdf)
    found = _exiftool([tmp_path / "dirty.pdf", tmp_path / "clean.pdf"])
    # guard: exiftool does see the planted document information and XMP
    assert {"PDF:Author", "XMP-dc:Publisher"} <= set(found["dirty.pdf"]), json.dumps(found["dirty.pdf"], indent=1)
    problems = _metadata_problems(found["clean.pdf"])
    assert not problems, f"{problems}\n{json.dumps(found['clean.pdf'], indent=1, ensure_ascii=False)}"


# What exiftool may report about a clean PDF: the file itself and the PDF's structure, nothing else.
ALLOWED_EXIFTOOL_KEYS = {
    "File:FileType",
    "File:FileTypeExtension",
    "File:MIMEType",
    "PDF:PDFVersion",
    "PDF:Linearized",
    "PDF:PageCount",
}


def _exiftool(paths: list[Path]) -> dict[str, dict]:
    result = subprocess.run(
        [EXIFTOOL, "-j", "-a", "-G1", *map(str, paths)], capture_output=True, check=False, timeout=60
    )
    assert result.stdout, result.stderr
    return {Path(entry["SourceFile"]).name: entry for entry in json.loads(result.stdout)}


def _metadata_problems(entry: dict) -> list[str]:
    return [
        key
        for key in entry
        if key != "SourceFile" and key.split(":")[0] not in ("ExifTool", "System") and key not in ALLOWED_EXIFTOOL_KEYS
    ]


# ---------------------------------------------------------------- detection and refusals


def test_is_pdf():
    assert is_pdf(b"%PDF-1.7\n...")
    assert is_pdf(b"\x00" * 1000 + b"%PDF-1.4")  # junk before the header, as readers allow
    assert not is_pdf(b"\x00" * 1020 + b"%PDF-1.4")  # too late
    assert not is_pdf(b"")
    assert not is_pdf(b"\xff\xd8\xff\xe0 a JPEG")
    assert not is_pdf(b"PK\x03\x04 a DOCX")


@pytest.mark.parametrize("data", [b"", b"hello", b"\xff\xd8\xff\xe0\x00\x10JFIF", b"%PDF"])
def test_not_a_pdf_is_unsupported(data):
    assert _reason(data) == "unsupported"


def test_random_bytes_behind_a_header_are_malformed():
    junk = random.Random(7).randbytes(20_000)
    assert _reason(b"%PDF-1.7\n" + junk) == "malformed"
    assert _reason(b"%PDF-1.7\n%%EOF\n") == "malformed"


@pytest.mark.parametrize("user_password", ["secret", ""])
def test_encrypted_pdf_is_malformed(user_password):
    pdf = pikepdf.new()
    pdf.add_blank_page()
    data = _save(pdf, encryption=pikepdf.Encryption(owner="owner-pw", user=user_password))
    assert _reason(data) == "malformed"


def test_too_big_input():
    assert _reason(b"%PDF-1.7\n" + bytes(pdfmod.MAX_INPUT_BYTES)) == "too_large"


def test_too_many_pages(monkeypatch):
    monkeypatch.setattr(pdfmod, "MAX_PAGES", 3)
    pdf = pikepdf.new()
    for _ in range(4):
        pdf.add_blank_page()
    assert _reason(_save(pdf)) == "too_large"


def test_too_many_objects(monkeypatch):
    monkeypatch.setattr(pdfmod, "MAX_OBJECTS", 50)
    pdf = pikepdf.new()
    pdf.add_blank_page()
    pdf.Root.Junk = Array([pdf.make_indirect(Dictionary(N=n)) for n in range(60)])
    assert _reason(_save(pdf)) == "too_large"


# ---------------------------------------------------------------- decompression bombs


def _zero_bomb(decoded: int) -> bytes:
    """zlib data that inflates to `decoded` (a multiple of 1 MiB) zero bytes, built without inflating it.

    Every megabyte is compressed the same way after a full flush, so one block is repeated; the stream
    ends with an empty final block and the Adler-32 of n zeros, which is (n mod 65521) << 16 | 1.
    """
    megabytes = decoded >> 20
    compressor = zlib.compressobj(9)
    first = compressor.compress(bytes(1 << 20)) + compressor.flush(zlib.Z_FULL_FLUSH)  # header + block
    block = first[2:]
    adler = ((decoded % 65521) << 16) | 1
    return first + block * (megabytes - 1) + b"\x03\x00" + adler.to_bytes(4, "big")


def test_zero_bomb_helper_is_valid_zlib():
    assert zlib.decompress(_zero_bomb(3 << 20)) == bytes(3 << 20)


def _pdf_with_streams(raw: bytes, filter_: Name, count: int = 1) -> bytes:
    """A page whose content is `count` streams of `raw`, already encoded with `filter_`."""
    pdf = pikepdf.new()
    page = pdf.add_blank_page()
    streams = []
    for _ in range(count):
        stream = pikepdf.Stream(pdf, b"")
        stream.write(raw, filter=filter_)
        streams.append(stream)
    page.Contents = Array(streams)
    # decode nothing while saving: qpdf would otherwise inflate the bombs to re-encode them
    # (with compress_streams it turns LZW into Flate whatever the decode level)
    return _save(pdf, compress_streams=False, stream_decode_level=pikepdf.StreamDecodeLevel.none)


@pytest.fixture(scope="module")
def gigabyte_bomb() -> bytes:
    raw = _zero_bomb(1 << 30)
    assert len(raw) < 1_100_000
    return raw


def test_flate_bomb_is_refused_quickly_and_in_little_memory(gigabyte_bomb):
    data = _pdf_with_streams(gigabyte_bomb, Name.FlateDecode)
    tracemalloc.start()
    started = time.monotonic()
    try:
        assert _reason(data) == "too_large"
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert elapsed < 5
    assert peak < 30_000_000  # the inflated bytes are counted, never kept


def test_streams_together_are_limited(monkeypatch):
    monkeypatch.setattr(pdfmod, "MAX_TOTAL_DECODED", 7_000_000)
    monkeypatch.setattr(pdfmod, "MAX_STREAM_DECODED", 3_000_000)
    each = _zero_bomb(2 << 20)  # 2 MiB: under the limit for one stream
    assert sanitize_pdf(_pdf_with_streams(each, Name.FlateDecode, count=3)).data
    assert _reason(_pdf_with_streams(each, Name.FlateDecode, count=4)) == "too_large"


def _lzw_encode_growing(cycles: int) -> bytes:
    """LZW codes that each refer to the entry being created: the longest output per code possible.

    The code widths follow the decoder (PDF's default /EarlyChange 1): 9 bits, 10 from entry 510 on,
    11 from 1022, 12 from 2046; a clear-table code starts each cycle before the table is full.
    """
    bits, nbits, out = 0, 0, bytearray()

    def emit(code: int, width: int) -> None:
        nonlocal bits, nbits
        bits, nbits = (bits << width) | code, nbits + width
        while nbits >= 8:
            nbits -= 8
            out.append((bits >> nbits) & 0xFF)
        bits &= (1 << nbits) - 1

    width = 9
    for _ in range(cycles):
        emit(256, width)
        width = 9
        emit(0, width)
        for code in range(258, 4095):
            emit(code, width)
            if code + 1 in (511, 1023, 2047):
                width += 1
    emit(257, width)
    if nbits:
        out.append((bits << (8 - nbits)) & 0xFF)
    return bytes(out)


def _tiff_lzw(raw: bytes, width: int) -> bytes:
    """`raw` LZW-encoded by libtiff through Pillow (TIFF's LZW is PDF's with /EarlyChange 1)."""
    img = Image.frombytes("L", (width, len(raw) // width), raw)
    buf = io.BytesIO()
    img.save(buf, format="TIFF", compression="tiff_lzw", strip_size=len(raw) + 1)
    tiff = Image.open(io.BytesIO(buf.getvalue()))
    (offset,), (length,) = tiff.tag_v2[273], tiff.tag_v2[279]  # StripOffsets, StripByteCounts
    return buf.getvalue()[offset : offset + length]


def _qpdf_decoded_length(raw: bytes, filter_: Name) -> int:
    with pikepdf.new() as pdf:
        stream = pikepdf.Stream(pdf, b"")
        stream.write(raw, filter=filter_)
        return len(stream.read_bytes(pikepdf.StreamDecodeLevel.specialized))  # RunLength is "specialized"


@pytest.mark.parametrize(
    "raw",
    [
        _lzw_encode_growing(2),
        _tiff_lzw(bytes(2_000_000), 1000),
        _tiff_lzw(random.Random(3).randbytes(200_000), 1000),  # the encoder clears a full table often
        _tiff_lzw(TEXT * 40_000, len(TEXT)),
    ],
    ids=["longest-codes", "zeros", "random", "text"],
)
def test_lzw_size_is_counted_exactly_as_qpdf_decodes(raw):
    assert pdfmod._lzw_size(raw, early_change=True) == _qpdf_decoded_length(raw, Name.LZWDecode)


def test_lzw_bomb_is_refused_quickly():
    raw = _lzw_encode_growing(150)  # ~1.1 GB from ~0.8 MB
    assert len(raw) < 1_000_000
    started = time.monotonic()
    assert _reason(_pdf_with_streams(raw, Name.LZWDecode)) == "too_large"
    assert time.monotonic() - started < 5


def test_runlength_size_and_bomb():
    raw = bytes([2]) + b"abc" + bytes([129, 7]) + bytes([128])
    assert pdfmod._runlength_size(raw) == 3 + 128 == _qpdf_decoded_length(raw, Name.RunLengthDecode)
    bomb = bytes([129, 0]) * 1_000_000 + bytes([128])  # 2 MB -> 128 MB
    assert _reason(_pdf_with_streams(bomb, Name.RunLengthDecode)) == "too_large"


def test_bomb_behind_an_ascii_filter_is_measured():
    raw = _zero_bomb(200 << 20).hex().encode() + b">"
    data = _pdf_with_streams(raw, Array([Name.ASCIIHexDecode, Name.FlateDecode]))
    assert _reason(data) == "too_large"


# ---------------------------------------------------------------- images


def test_huge_image_is_too_large():
    data = _pdf_with_image(
        data=zlib.compress(bytes(100)),
        Width=8000,
        Height=6000,
        Filter=Name.FlateDecode,
        ColorSpace=Name.DeviceGray,
        BitsPerComponent=8,
    )
    assert _reason(data) == "too_large"


def test_jpeg_whose_header_is_bigger_than_its_dictionary_is_too_large():
    jpeg = bytearray(_exif_jpeg())
    sof = jpeg.index(b"\xff\xc0")  # baseline frame header: length(2) precision(1) height(2) width(2)
    jpeg[sof + 5 : sof + 9] = (9000).to_bytes(2, "big") + (9000).to_bytes(2, "big")
    data = _pdf_with_image(
        data=bytes(jpeg), Width=64, Height=48, Filter=Name.DCTDecode, ColorSpace=Name.DeviceRGB, BitsPerComponent=8
    )
    assert _reason(data) == "too_large"


@pytest.mark.parametrize(
    "image",
    [
        {"Filter": Name.DCTDecode, "ColorSpace": Name.DeviceRGB},  # not a JPEG at all
        {"Filter": Name.JBIG2Decode, "ColorSpace": Name.DeviceGray},  # never decoded (needs files on disk)
        {"Filter": Name.FlateDecode, "ColorSpace": Name.DeviceRGB},  # not zlib data
    ],
    ids=["bad-jpeg", "jbig2", "bad-flate"],
)
def test_undecodable_image_becomes_grey(image):
    data = _pdf_with_image(data=b"MARKER-BADIMAGE " * 20, Width=30, Height=20, BitsPerComponent=8, **image)
    clean = sanitize_pdf(data).data
    assert b"MARKER-BADIMAGE" not in _everything(clean)
    with pikepdf.open(io.BytesIO(clean)) as pdf:
        (image_stream,) = _images(pdf)
        assert image_stream.ColorSpace == Name.DeviceGray
        assert (image_stream.Width, image_stream.Height) == (30, 20)
        assert set(image_stream.read_bytes()) == {pdfmod._GREY}


def _bilevel() -> Image.Image:
    img = Image.new("1", (64, 32), 1)
    img.paste(0, (10, 5, 40, 20))
    return img


def _group4(img: Image.Image) -> bytes:
    """CCITT group 4 data of a bilevel image, encoded by libtiff through Pillow."""
    buf = io.BytesIO()
    img.save(buf, format="TIFF", compression="group4")
    tiff = Image.open(io.BytesIO(buf.getvalue()))
    (offset,), (length,) = tiff.tag_v2[273], tiff.tag_v2[279]
    return buf.getvalue()[offset : offset + length]


def _runlength_literal(data: bytes) -> bytes:
    """RunLength encoding with literal runs only (a length byte n, then n + 1 bytes), then EOD."""
    return (
        b"".join(bytes([len(part) - 1]) + part for part in (data[i : i + 128] for i in range(0, len(data), 128)))
        + b"\x80"
    )


LOSSLESS_IMAGES = {
    "ccitt-g4": lambda img: {
        "data": _group4(img),
        "Filter": Name.CCITTFaxDecode,
        "DecodeParms": Dictionary(K=-1, Columns=64, Rows=32),
        "ColorSpace": Name.DeviceGray,
        "BitsPerComponent": 1,
    },
    "bilevel": lambda img: {
        "data": zlib.compress(img.tobytes()),
        "Filter": Name.FlateDecode,
        "ColorSpace": Name.DeviceGray,
        "BitsPerComponent": 1,
    },
    "gray-lzw": lambda img: {
        "data": _tiff_lzw(img.convert("L").tobytes(), 64),
        "Filter": Name.LZWDecode,
        "ColorSpace": Name.DeviceGray,
        "BitsPerComponent": 8,
    },
    "gray-inverted-by-decode": lambda img: {
        "data": zlib.compress(img.convert("L").tobytes()),
        "Filter": Name.FlateDecode,
        "ColorSpace": Name.DeviceGray,
        "BitsPerComponent": 8,
        "Decode": Array([1, 0]),
    },
    "stencil-mask-inverted": lambda img: {
        "data": zlib.compress(img.tobytes()),
        "Filter": Name.FlateDecode,
        "ImageMask": True,
        "Decode": Array([1, 0]),
    },
    "rgb-runlength": lambda img: {
        "data": _runlength_literal(img.convert("RGB").tobytes()),
        "Filter": Name.RunLengthDecode,
        "ColorSpace": Name.DeviceRGB,
        "BitsPerComponent": 8,
    },
}


@pytest.mark.parametrize("kind", list(LOSSLESS_IMAGES))
def test_lossless_images_keep_their_pixels(kind):
    data = _pdf_with_image(Width=64, Height=32, **LOSSLESS_IMAGES[kind](_bilevel()))
    with pikepdf.open(io.BytesIO(data)) as pdf:
        (original,) = _images(pdf)
        before = pikepdf.PdfImage(original).as_pil_image().convert("L")
    assert before.getpixel((20, 10)) != before.getpixel((2, 2))  # guard: the picture is there
    with pikepdf.open(io.BytesIO(sanitize_pdf(data).data)) as pdf:
        (image,) = _images(pdf)
        assert image.Filter == Name.FlateDecode and (image.Width, image.Height) == (64, 32)
        after = pikepdf.PdfImage(image).as_pil_image().convert("L")
    assert after.tobytes() == before.tobytes()


def test_cmyk_and_indexed_images_become_rgb():
    cmyk = Image.new("CMYK", (20, 10), (0, 255, 255, 0))  # red
    buf = io.BytesIO()
    cmyk.save(buf, format="JPEG")
    palette = pikepdf.String(bytes([0, 0, 0, 0, 200, 0]))  # black, green

    def setup(pdf, page):
        page.Resources = Dictionary(
            XObject=Dictionary(
                Cm=_image(
                    pdf,
                    buf.getvalue(),
                    20,
                    10,
                    Filter=Name.DCTDecode,
                    ColorSpace=Name.DeviceCMYK,
                    BitsPerComponent=8,
                ),
                Ix=_image(
                    pdf,
                    bytes([1] * 40),
                    8,
                    5,
                    ColorSpace=Array([Name.Indexed, Name.DeviceRGB, 1, palette]),
                    BitsPerComponent=8,
                ),
            )
        )
        page.Contents = pdf.make_stream(b"/Cm Do /Ix Do")

    with pikepdf.open(io.BytesIO(sanitize_pdf(_one_page_pdf(setup)).data)) as pdf:
        xobjects = pdf.pages[0].Resources.XObject
        with pikepdf.PdfImage(xobjects.Cm).as_pil_image() as im:
            red, green, blue = im.getpixel((10, 5))
            assert red > 200 and green < 60 and blue < 60
        assert xobjects.Ix.ColorSpace == Name.DeviceRGB
        with pikepdf.PdfImage(xobjects.Ix).as_pil_image() as im:
            assert im.getpixel((3, 3)) == (0, 200, 0)


def test_big_photo_is_shrunk_and_stays_jpeg():
    img = Image.linear_gradient("L").resize((5000, 300)).convert("RGB")
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=80)
    data = _pdf_with_image(
        data=buf.getvalue(),
        Width=5000,
        Height=300,
        Filter=Name.DCTDecode,
        ColorSpace=Name.DeviceRGB,
        BitsPerComponent=8,
    )
    with pikepdf.open(io.BytesIO(sanitize_pdf(data).data)) as pdf:
        (image_stream,) = _images(pdf)
        assert image_stream.Filter == Name.DCTDecode
        assert image_stream.Width <= 4096 and image_stream.Height < 300


def _inline_everywhere_pdf() -> bytes:
    """A camera JPEG drawn inline by a page, a form, a tiling pattern, a Type 3 glyph and a soft mask."""
    inline = b"q 32 0 0 24 0 0 cm BI /W 16 /H 12 /CS /RGB /BPC 8 /F /DCT ID " + _exif_jpeg((16, 12)) + b" EI Q"
    pdf = pikepdf.new()
    page = pdf.add_blank_page()
    form = pdf.make_stream(inline, Type=Name.XObject, Subtype=Name.Form, BBox=[0, 0, 100, 100])
    pattern = pdf.make_stream(
        inline,
        Type=Name.Pattern,
        PatternType=1,
        PaintType=1,
        TilingType=1,
        BBox=[0, 0, 50, 50],
        XStep=50,
        YStep=50,
        Resources=Dictionary(),
    )
    group = pdf.make_stream(
        inline,
        Type=Name.XObject,
        Subtype=Name.Form,
        BBox=[0, 0, 100, 100],
        Group=Dictionary(S=Name.Transparency, CS=Name.DeviceGray),
    )
    glyph = pdf.make_stream(b"10 0 0 0 10 10 d1 " + inline)
    type3 = Dictionary(
        Type=Name.Font,
        Subtype=Name.Type3,
        FontBBox=[0, 0, 10, 10],
        FontMatrix=[0.1, 0, 0, 0.1, 0, 0],
        CharProcs=Dictionary(a=glyph),
        Encoding=Dictionary(Differences=[97, Name.a]),
        FirstChar=97,
        LastChar=97,
        Widths=[10],
    )
    page.Resources = Dictionary(
        XObject=Dictionary(Fm0=form),
        Pattern=Dictionary(P0=pattern),
        ExtGState=Dictionary(G0=Dictionary(SMask=Dictionary(S=Name.Luminosity, G=group))),
        Font=Dictionary(T3=type3),
    )
    page.Contents = pdf.make_stream(
        inline + b" /Fm0 Do /Pattern cs /P0 scn 0 0 100 100 re f /G0 gs BT /T3 12 Tf (a) Tj ET"
    )
    return _save(pdf, compress_streams=False)


@pytest.mark.parametrize("qpdf_externalizes", [True, False], ids=["externalized", "rebuilt-inline"])
def test_inline_images_are_rebuilt_wherever_they_are_drawn(monkeypatch, qpdf_externalizes):
    dirty = _inline_everywhere_pdf()
    assert dirty.count(b"SERIAL-XYZ-123") == 5
    if not qpdf_externalizes:  # the fallback rebuilds them in place, pages included
        monkeypatch.setattr(pdfmod, "_externalize_inline_images", lambda pdf: None)
    clean = sanitize_pdf(dirty).data
    everything = _everything(clean)
    assert b"SERIAL-XYZ-123" not in everything and b"MARKER-ARTIST" not in everything
    assert b"GPS-DATUM-MARKER" not in everything and b"Exif" not in everything
    with pikepdf.open(io.BytesIO(clean)) as pdf:
        assert not pdf.check_pdf_syntax()
        inline_left = 0
        for scope in pdf.content_scopes():
            for item in pikepdf.parse_content_stream(scope.content):
                if isinstance(item, pikepdf.ContentStreamInlineImage):
                    inline_left += 1
                    with item.iimage.as_pil_image() as im:  # still a picture: blue left, red right
                        assert im.size == (16, 12) and not im.getexif()
                        assert im.getpixel((2, 6))[2] > 150 and im.getpixel((13, 6))[0] > 150
        assert inline_left == (3 if qpdf_externalizes else 5)


# ---------------------------------------------------------------- in the sandbox, as the bot runs it


async def test_runs_in_the_sandbox(dirty_pdf, clean_pdf, gigabyte_bomb):
    from bot.privacy.sandbox import Sandbox

    sandbox = Sandbox()
    try:
        assert (await sandbox.run(sanitize_pdf, dirty_pdf)).data == clean_pdf
        with pytest.raises(SanitizeError) as exc:
            await sandbox.run(sanitize_pdf, _pdf_with_streams(gigabyte_bomb, Name.FlateDecode))
        assert exc.value.reason == "too_large"
    finally:
        await sandbox.close()


# ---------------------------------------------------------------- developer check on public samples
