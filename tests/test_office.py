"""Office (DOCX, XLSX, PPTX) and OpenDocument (ODT, ODS) sanitizer tests.

Every fixture is written here by hand with zipfile, with identifying markers planted where Word, Excel,
PowerPoint and LibreOffice keep them; none may survive anywhere in a sanitized file.
"""

from __future__ import annotations

import io
import json
import os
import posixpath
import shutil
import subprocess
import time
import warnings
import zipfile
from pathlib import Path
from urllib.parse import unquote

import pytest
from lxml import etree
from PIL import Image, PngImagePlugin

from bot.privacy import office
from bot.privacy.clean import CleanFile, SanitizeError
from bot.privacy.office import OFFICE_TYPES, detect_office, sanitize_office
from bot.privacy.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[1]
BODY = "Order 17 of the hokimiyat"
INSERTED = "sends teachers to the cotton fields"

MARKERS = [
    b"MARKER-AUTHOR-Karimov",
    b"MARKER-COMPANY-ACME-Cluster",
    b"MARKER-MANAGER",
    b"MARKER-TEMPLATE",
    b"MARKER-HYPERLINKBASE",
    b"MARKER-CUSTOM",
    b"MARKER-COMMENTER",
    b"MARKER-COMMENT",
    b"MARKER-PEOPLE",
    b"MARKER-REVISOR",
    b"MARKER-DELETED",
    b"MARKER-MOVED",
    b"00DEAD42",
    b"1A2B3C4D",  # w14:paraId / docId
    b"MARKER-THUMB",
    b"MARKER-CUSTOMXML",
    b"SERIAL-XYZ-123",
    b"PhoneMaker",
    b"Exif\x00\x00",
    b"MARKER-DOCVAR",
    b"MARKER-DOCID",
    b"MARKER-EDITOR",
    b"MARKER-FIELD",
    b"MARKER-PATHUSER",
    b"MARKER-FILELINK",
    b"MARKER-OLE",
    b"MARKER-EMF",
    b"MARKER-VBA",
    b"MARKER-XL-AUTHOR",
    b"MARKER-XL-COMMENT",
    b"MARKER-XL-THREAD",
    b"MARKER-XL-PERSON",
    b"MARKER-VML",
    b"MARKER-CODENAME",
    b"MARKER-ABSPATH",
    b"MARKER-UID",
    b"MARKER-PNG-TEXT",
    b"MARKER-PRINTER",
    b"MARKER-PPT-AUTHOR",
    b"MARKER-PPT-COMMENT",
    b"MARKER-CREATIONID",
    b"MARKER-ODF-AUTHOR",
    b"MARKER-ODF-COMMENTER",
    b"MARKER-ODF-COMMENT",
    b"MARKER-ODF-REVISOR",
    b"MARKER-ODF-DELETED",
    b"MARKER-ODF-FIELD",
    b"MARKER-ODF-FILELINK",
    b"MARKER-ODF-PATH",
    b"MARKER-ODF-FOOTER",
    b"MARKER-GENERATOR",
    b"MARKER-USERDEF",
    b"MARKER-RDF",
    b"MARKER-MACRO",
    b"MARKER-CONFIG",
    b"MARKER-SVG",
]

# ---------------------------------------------------------------- namespaces and fixture helpers

NS = {
    "w": "http://schemas.openxmlformats.org/wordprocessingml/2006/main",
    "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "w14": "http://schemas.microsoft.com/office/word/2010/wordml",
    "w15": "http://schemas.microsoft.com/office/word/2012/wordml",
    "wp": "http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing",
    "a": "http://schemas.openxmlformats.org/drawingml/2006/main",
    "pic": "http://schemas.openxmlformats.org/drawingml/2006/picture",
    "mc": "http://schemas.openxmlformats.org/markup-compatibility/2006",
    "v": "urn:schemas-microsoft-com:vml",
    "o": "urn:schemas-microsoft-com:office:office",
    "s": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "xdr": "http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing",
    "p": "http://schemas.openxmlformats.org/presentationml/2006/main",
    "ct": "http://schemas.openxmlformats.org/package/2006/content-types",
    "pr": "http://schemas.openxmlformats.org/package/2006/relationships",
    "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
    "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
    "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
    "draw": "urn:oasis:names:tc:opendocument:xmlns:drawing:1.0",
    "style": "urn:oasis:names:tc:opendocument:xmlns:style:1.0",
    "svg": "urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0",
    "xlink": "http://www.w3.org/1999/xlink",
    "dc": "http://purl.org/dc/elements/1.1/",
    "meta": "urn:oasis:names:tc:opendocument:xmlns:meta:1.0",
    "config": "urn:oasis:names:tc:opendocument:xmlns:config:1.0",
    "manifest": "urn:oasis:names:tc:opendocument:xmlns:manifest:1.0",
    "officeooo": "http://openoffice.org/2009/office",
    "fo": "urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0",
}
DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships/"
OFFICE_CT = "application/vnd.openxmlformats-officedocument."


def q(prefix: str, local: str) -> str:
    return f"{{{NS[prefix]}}}{local}"


def xmlns(*prefixes: str) -> str:
    return " ".join(f'xmlns:{p}="{NS[p]}"' for p in prefixes)


def build_zip(members: list[tuple[str, bytes | str]], stored: tuple[str, ...] = ("mimetype",)) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate-name fixtures
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in members:
                info = zipfile.ZipInfo(name, date_time=(2024, 9, 15, 8, 30, 0))
                info.compress_type = zipfile.ZIP_STORED if name in stored else zipfile.ZIP_DEFLATED
                info.comment = b"MARKER-ZIPCOMMENT"
                zf.writestr(info, data.encode() if isinstance(data, str) else data)
            zf.comment = b"MARKER-ZIPCOMMENT"
    return buf.getvalue()


def content_types(defaults: dict[str, str], overrides: dict[str, str]) -> str:
    items = [f'<Default Extension="{e}" ContentType="{c}"/>' for e, c in defaults.items()]
    items += [f'<Override PartName="{n}" ContentType="{c}"/>' for n, c in overrides.items()]
    return f'{DECL}<Types xmlns="{NS["ct"]}">{"".join(items)}</Types>'


def rels(*relationships: tuple[str, str, str] | tuple[str, str, str, str]) -> str:
    items = []
    for rid, rel_type, target, *mode in relationships:
        full_type = rel_type if rel_type.startswith("http") else REL + rel_type
        extra = ' TargetMode="External"' if mode else ""
        items.append(f'<Relationship Id="{rid}" Type="{full_type}" Target="{target}"{extra}/>')
    return f'{DECL}<Relationships xmlns="{NS["pr"]}">{"".join(items)}</Relationships>'


def exif_jpeg(size: tuple[int, int] = (32, 24)) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x013B] = "MARKER-AUTHOR-Karimov"  # Artist
    exif.get_ifd(0x8769)[0xA431] = "SERIAL-XYZ-123"  # BodySerialNumber
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (41.0, 18.0, 30.5)
    gps[3], gps[4] = "E", (69.0, 16.0, 45.25)
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buf, "JPEG", exif=exif.tobytes())
    return buf.getvalue()


def text_png(marker: str) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", marker)
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (30, 30, 200)).save(buf, "PNG", pnginfo=info)
    return buf.getvalue()


CORE_XML = (
    f"{DECL}<cp:coreProperties "
    'xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
    "<dc:title>Report</dc:title><dc:creator>MARKER-AUTHOR-Karimov</dc:creator>"
    "<cp:lastModifiedBy>MARKER-AUTHOR-Karimov</cp:lastModifiedBy><cp:revision>3</cp:revision>"
    '<dcterms:created xsi:type="dcterms:W3CDTF">2024-09-15T08:30:00Z</dcterms:created>'
    '<dcterms:modified xsi:type="dcterms:W3CDTF">2024-09-15T09:30:00Z</dcterms:modified>'
    "</cp:coreProperties>"
)
APP_XML = (
    f"{DECL}<Properties "
    'xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties" '
    'xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">'
    "<Template>MARKER-TEMPLATE-Normal.dotm</Template><TotalTime>42</TotalTime>"
    "<Application>Microsoft Office Word</Application><Manager>MARKER-MANAGER</Manager>"
    "<Company>MARKER-COMPANY-ACME-Cluster</Company><HyperlinkBase>MARKER-HYPERLINKBASE</HyperlinkBase>"
    "</Properties>"
)
CUSTOM_XML = (
    f"{DECL}<Properties "
    'xmlns="http://schemas.openxmlformats.org/officeDocument/2006/custom-properties" '
    'xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">'
    '<property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="2" name="Owner">'
    "<vt:lpwstr>MARKER-CUSTOM</vt:lpwstr></property></Properties>"
)
CORE_CT = "application/vnd.openxmlformats-package.core-properties+xml"
APP_CT = OFFICE_CT + "extended-properties+xml"
CUSTOM_CT = OFFICE_CT + "custom-properties+xml"
PACKAGE_RELS = [
    ("rId2", PKG_REL + "metadata/core-properties", "docProps/core.xml"),
    ("rId3", "extended-properties", "docProps/app.xml"),
    ("rId4", "custom-properties", "docProps/custom.xml"),
    ("rId5", PKG_REL + "metadata/thumbnail", "docProps/thumbnail.jpeg"),
]
PACKAGE_MEMBERS = [
    ("docProps/core.xml", CORE_XML),
    ("docProps/app.xml", APP_XML),
    ("docProps/custom.xml", CUSTOM_XML),
    ("docProps/thumbnail.jpeg", exif_jpeg((8, 8)) + b"MARKER-THUMB"),
]
PACKAGE_OVERRIDES = {"/docProps/core.xml": CORE_CT, "/docProps/app.xml": APP_CT, "/docProps/custom.xml": CUSTOM_CT}

# ---------------------------------------------------------------- DOCX

WML_MAIN = OFFICE_CT + "wordprocessingml.document.main+xml"


def minimal_docx(body: str = f"<w:p><w:r><w:t>{BODY}</w:t></w:r></w:p>", extra: list | None = None) -> bytes:
    return build_zip(
        [
            (
                "[Content_Types].xml",
                content_types({"rels": office._REL_CT, "xml": "application/xml"}, {"/word/document.xml": WML_MAIN}),
            ),
            ("_rels/.rels", rels(("rId1", "officeDocument", "word/document.xml"))),
            ("word/document.xml", f"{DECL}<w:document {xmlns('w', 'r')}><w:body>{body}</w:body></w:document>"),
            *(extra or []),
        ]
    )


RICH_DOCUMENT = f"""{DECL}<w:document {xmlns("w", "r", "w14", "wp", "a", "pic", "mc", "v", "o")} mc:Ignorable="w14">
<w:body>
<w:p w:rsidR="00DEAD42" w:rsidRDefault="00DEAD42" w:rsidP="00DEAD42" w14:paraId="1A2B3C4D" w14:textId="1A2B3C4D">
  <w:permStart w:id="7" w:ed="DOMAIN\\MARKER-EDITOR"/>
  <w:commentRangeStart w:id="0"/>
  <w:r w:rsidR="00DEAD42" w:rsidRPr="00DEAD42"><w:t>{BODY}</w:t></w:r>
  <w:commentRangeEnd w:id="0"/>
  <w:r><w:rPr><w:rStyle w:val="CommentReference"/></w:rPr><w:commentReference w:id="0"/></w:r>
  <w:ins w:id="1" w:author="MARKER-REVISOR" w:date="2024-09-15T08:30:00Z">
    <w:r w:rsidR="00DEAD42"><w:t xml:space="preserve"> {INSERTED}</w:t></w:r></w:ins>
  <w:del w:id="2" w:author="MARKER-REVISOR" w:date="2024-09-15T08:31:00Z">
    <w:r w:rsidDel="00DEAD42"><w:delText>MARKER-DELETED-TEXT</w:delText></w:r></w:del>
  <w:moveFromRangeStart w:id="8" w:author="MARKER-REVISOR" w:name="move1"/>
  <w:moveFrom w:id="9" w:author="MARKER-REVISOR"><w:r><w:t>MARKER-MOVED-AWAY</w:t></w:r></w:moveFrom>
  <w:moveFromRangeEnd w:id="8"/>
  <w:r><w:rPr><w:b/><w:rPrChange w:id="3" w:author="MARKER-REVISOR" w:date="2024-09-15T08:32:00Z"><w:rPr/>
</w:rPrChange></w:rPr>
    <w:t xml:space="preserve">, norma 60 kg.</w:t></w:r>
  <w:permEnd w:id="7"/>
</w:p>
<w:p><w:pPr><w:pPrChange w:id="4" w:author="MARKER-REVISOR"><w:pPr/></w:pPrChange></w:pPr>
  <w:hyperlink r:id="rId11"><w:r><w:t>public link</w:t></w:r></w:hyperlink>
  <w:hyperlink r:id="rId12"><w:r><w:t>local link</w:t></w:r></w:hyperlink></w:p>
<w:p><w:r><w:drawing><wp:inline distT="0" distB="0" distL="0" distR="0">
  <wp:extent cx="304800" cy="228600"/>
  <wp:docPr id="1" name="Picture 1" descr="C:\\Users\\MARKER-PATHUSER\\Pictures\\IMG_0001.jpg"/>
  <a:graphic><a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/picture"><pic:pic>
    <pic:nvPicPr><pic:cNvPr id="0" name="C:\\Users\\MARKER-PATHUSER\\IMG_0001.jpg"/><pic:cNvPicPr/></pic:nvPicPr>
    <pic:blipFill><a:blip r:embed="rId8"/><a:stretch><a:fillRect/></a:stretch></pic:blipFill>
    <pic:spPr><a:xfrm><a:off x="0" y="0"/><a:ext cx="304800" cy="228600"/></a:xfrm>
      <a:prstGeom prst="rect"><a:avLst/></a:prstGeom></pic:spPr>
  </pic:pic></a:graphicData></a:graphic></wp:inline></w:drawing></w:r></w:p>
<w:p><w:r><w:object w:dxaOrig="1440" w:dyaOrig="1440">
  <v:shape id="_x0000_i1025" style="width:72pt;height:72pt" o:gfxdata="UEsDBE1BUktFUi1WT0xF">
    <v:imagedata r:id="rId14" o:title="MARKER-OLE-TITLE"/></v:shape>
  <o:OLEObject Type="Embed" ProgID="Package" ShapeID="_x0000_i1025" DrawAspect="Icon" ObjectID="_1" r:id="rId13"/>
</w:object></w:r></w:p>
<w:tbl><w:tblPr><w:tblW w:w="0" w:type="auto"/></w:tblPr><w:tblGrid><w:gridCol w:w="4000"/></w:tblGrid>
  <w:tr w:rsidR="00DEAD42"><w:trPr><w:del w:id="5" w:author="MARKER-REVISOR" w:date="2024-09-15T08:33:00Z"/></w:trPr>
    <w:tc><w:p><w:r><w:t>MARKER-DELETED-ROW</w:t></w:r></w:p></w:tc></w:tr>
  <w:tr w:rsidR="00DEAD42"><w:tc><w:tcPr><w:tcW w:w="4000" w:type="dxa"/></w:tcPr><w:p><w:r><w:t>kept row</w:t>
</w:r></w:p></w:tc></w:tr>
</w:tbl>
<w:p/>
<w:sectPr w:rsidR="00DEAD42" w:rsidSect="00DEAD42"><w:footerReference w:type="default" r:id="rId10"/>
  <w:pgSz w:w="11906" w:h="16838"/></w:sectPr>
</w:body></w:document>"""

FOOTER = f"""{DECL}<w:ftr {xmlns("w", "r")}>
<w:p><w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r>
<w:instrText xml:space="preserve"> FILENAME \\p </w:instrText></w:r>
  <w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>C:\\Users\\MARKER-FIELD-PATH\\report.docx</w:t></w:r>
  <w:r><w:fldChar w:fldCharType="end"/></w:r></w:p>
<w:p><w:r><w:t xml:space="preserve">Page </w:t></w:r><w:r><w:fldChar w:fldCharType="begin"/></w:r>
  <w:r><w:instrText xml:space="preserve"> PAGE </w:instrText></w:r><w:r><w:fldChar w:fldCharType="separate"/></w:r>
  <w:r><w:t>1</w:t></w:r><w:r><w:fldChar w:fldCharType="end"/></w:r></w:p>
<w:p><w:fldSimple w:instr=" AUTHOR \\* MERGEFORMAT "><w:r><w:t>MARKER-FIELD-AUTHOR</w:t></w:r></w:fldSimple></w:p>
</w:ftr>"""

SETTINGS = f"""{DECL}<w:settings {xmlns("w", "r", "w14", "w15", "mc")} mc:Ignorable="w14 w15">
<w:zoom w:percent="100"/><w:attachedTemplate r:id="rId1"/><w:trackRevisions/><w:defaultTabStop w:val="708"/>
<w:docVars><w:docVar w:name="Owner" w:val="MARKER-DOCVAR"/></w:docVars>
<w:rsids><w:rsidRoot w:val="00DEAD42"/><w:rsid w:val="00DEAD42"/></w:rsids>
<w14:docId w14:val="1A2B3C4D"/><w15:docId w15:val="{{MARKER-DOCID}}"/>
</w:settings>"""


def word_part(root: str, body: str, *prefixes: str) -> str:
    return f"{DECL}<w:{root} {xmlns('w', 'r', *prefixes)}>{body}</w:{root}>"


def rich_docx(main_type: str = WML_MAIN, extra: list | None = None, extra_rels: tuple = ()) -> bytes:
    w = OFFICE_CT + "wordprocessingml."
    overrides = {
        "/word/document.xml": main_type,
        "/word/styles.xml": w + "styles+xml",
        "/word/settings.xml": w + "settings+xml",
        "/word/comments.xml": w + "comments+xml",
        "/word/commentsExtended.xml": w + "commentsExtended+xml",
        "/word/commentsIds.xml": w + "commentsIds+xml",
        "/word/people.xml": w + "people+xml",
        "/word/footer1.xml": w + "footer+xml",
        "/customXml/itemProps1.xml": OFFICE_CT + "customXmlProperties+xml",
        **PACKAGE_OVERRIDES,
    }
    defaults = {
        "rels": office._REL_CT,
        "xml": "application/xml",
        "jpeg": "image/jpeg",
        "emf": "image/x-emf",
        "bin": "application/vnd.openxmlformats-officedocument.oleObject",
    }
    document_rels = rels(
        ("rId1", "styles", "styles.xml"),
        ("rId2", "settings", "settings.xml"),
        ("rId3", "comments", "comments.xml"),
        ("rId4", "http://schemas.microsoft.com/office/2011/relationships/commentsExtended", "commentsExtended.xml"),
        ("rId5", "http://schemas.microsoft.com/office/2016/09/relationships/commentsIds", "commentsIds.xml"),
        ("rId7", "http://schemas.microsoft.com/office/2011/relationships/people", "people.xml"),
        ("rId8", "image", "media/image1.jpeg"),
        ("rId9", "customXml", "../customXml/item1.xml"),
        ("rId10", "footer", "footer1.xml"),
        ("rId11", "hyperlink", "https://example.org/report", "External"),
        ("rId12", "hyperlink", "file:///C:/Users/MARKER-FILELINK/secret.docx", "External"),
        ("rId13", "oleObject", "embeddings/oleObject1.bin"),
        ("rId14", "image", "media/image2.emf"),
        *extra_rels,
    )
    comment = (
        '<w:comment w:id="0" w:author="MARKER-COMMENTER" w:date="2024-09-15T08:30:00Z" w:initials="MC">'
        "<w:p><w:r><w:annotationRef/></w:r><w:r><w:t>MARKER-COMMENT text</w:t></w:r></w:p></w:comment>"
    )
    people = (
        '<w15:person w15:author="MARKER-COMMENTER">'
        '<w15:presenceInfo w15:providerId="AD" w15:userId="MARKER-PEOPLE-SID"/></w15:person>'
    )
    return build_zip(
        [
            ("[Content_Types].xml", content_types(defaults, overrides)),
            ("_rels/.rels", rels(("rId1", "officeDocument", "word/document.xml"), *PACKAGE_RELS)),
            *PACKAGE_MEMBERS,
            ("word/document.xml", RICH_DOCUMENT),
            ("word/_rels/document.xml.rels", document_rels),
            (
                "word/styles.xml",
                word_part(
                    "styles",
                    '<w:style w:type="paragraph" w:default="1" w:styleId="Normal">'
                    '<w:name w:val="Normal"/><w:rsid w:val="00DEAD42"/></w:style>',
                ),
            ),
            ("word/settings.xml", SETTINGS),
            (
                "word/_rels/settings.xml.rels",
                rels(("rId1", "attachedTemplate", "file:///C:/Users/MARKER-TEMPLATE/Normal.dotm", "External")),
            ),
            ("word/comments.xml", word_part("comments", comment)),
            ("word/commentsExtended.xml", word_part("commentsEx", "<!-- MARKER-COMMENTER -->", "w15")),
            ("word/commentsIds.xml", word_part("commentsIds", "<!-- MARKER-COMMENTER -->")),
            ("word/people.xml", f"{DECL}<w15:people {xmlns('w15')}>{people}</w15:people>"),
            ("word/footer1.xml", FOOTER),
            ("word/media/image1.jpeg", exif_jpeg()),
            ("word/media/image2.emf", b"\x01\x00\x00\x00 MARKER-EMF preview of the object"),
            ("word/embeddings/oleObject1.bin", b"\xd0\xcf\x11\xe0 MARKER-OLE embedded file"),
            ("customXml/item1.xml", "<root>MARKER-CUSTOMXML</root>"),
            (
                "customXml/itemProps1.xml",
                '<ds:datastoreItem xmlns:ds="http://schemas.openxmlformats.org/officeDocument/2006/customXml"'
                ' ds:itemID="{MARKER-CUSTOMXML}"/>',
            ),
            ("customXml/_rels/item1.xml.rels", rels(("rId1", "customXmlProps", "itemProps1.xml"))),
            *(extra or []),
        ]
    )


# ---------------------------------------------------------------- XLSX

SML_MAIN = OFFICE_CT + "spreadsheetml.sheet.main+xml"


def xlsx(workbook_rels_extra: tuple = ()) -> bytes:
    sml = OFFICE_CT + "spreadsheetml."
    overrides = {
        "/xl/workbook.xml": SML_MAIN,
        "/xl/worksheets/sheet1.xml": sml + "worksheet+xml",
        "/xl/sharedStrings.xml": sml + "sharedStrings+xml",
        "/xl/styles.xml": sml + "styles+xml",
        "/xl/comments1.xml": sml + "comments+xml",
        "/xl/threadedComments/threadedComment1.xml": "application/vnd.ms-excel.threadedcomments+xml",
        "/xl/persons/person.xml": "application/vnd.ms-excel.person+xml",
        "/xl/drawings/drawing1.xml": OFFICE_CT + "drawing+xml",
        **PACKAGE_OVERRIDES,
    }
    defaults = {
        "rels": office._REL_CT,
        "xml": "application/xml",
        "png": "image/png",
        "vml": OFFICE_CT + "vmlDrawing",
    }
    workbook = f"""{DECL}<workbook xmlns="{NS["s"]}" {xmlns("r", "mc")}
 xmlns:x15ac="http://schemas.microsoft.com/office/spreadsheetml/2010/11/ac"
 xmlns:xr="http://schemas.microsoft.com/office/spreadsheetml/2014/revision"
 xmlns:xr2="http://schemas.microsoft.com/office/spreadsheetml/2015/revision2" mc:Ignorable="x15ac xr xr2">
<fileVersion appName="xl" lastEdited="7" lowestEdited="7" rupBuild="27328" codeName="{{MARKER-CODENAME}}"/>
<fileSharing userName="MARKER-AUTHOR-Karimov" readOnlyRecommended="1"/>
<workbookPr codeName="MARKER-CODENAME" defaultThemeVersion="166925"/>
<mc:AlternateContent><mc:Choice Requires="x15"><x15ac:absPath url="C:\\Users\\MARKER-ABSPATH\\Documents\\"/>
</mc:Choice></mc:AlternateContent>
<xr:revisionPtr revIDLastSave="0" documentId="8_{{MARKER-DOCID}}"/>
<bookViews>
<workbookView xWindow="0" yWindow="0" windowWidth="28800" windowHeight="12300" xr2:uid="{{MARKER-UID}}"/>
</bookViews>
<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets>
<customWorkbookViews>
<customWorkbookView name="MARKER-AUTHOR-Karimov - Personal View" guid="{{00000000-0000-0000-0000-000000000001}}"
 windowWidth="1" windowHeight="1" activeSheetId="1"/></customWorkbookViews>
</workbook>"""
    sheet = f"""{DECL}<worksheet xmlns="{NS["s"]}" {xmlns("r", "mc")}
 xmlns:xr="http://schemas.microsoft.com/office/spreadsheetml/2014/revision" mc:Ignorable="xr" xr:uid="{{MARKER-UID}}">
<sheetPr codeName="MARKER-CODENAME"/>
<sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row><row r="2"><c r="A2"><v>60</v></c></row></sheetData>
<protectedRanges><protectedRange sqref="A1" name="r" securityDescriptor="O:WDG:WDD:(A;;CC;;;S-1-5-21-MARKER-UID)"/>
</protectedRanges>
<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>
<pageSetup orientation="portrait" r:id="rId9"/>
<drawing r:id="rId3"/><legacyDrawing r:id="rId2"/>
</worksheet>"""
    sheet_rels = rels(
        ("rId1", "comments", "../comments1.xml"),
        ("rId2", "vmlDrawing", "../drawings/vmlDrawing1.vml"),
        ("rId3", "drawing", "../drawings/drawing1.xml"),
        (
            "rId4",
            "http://schemas.microsoft.com/office/2017/10/relationships/threadedComment",
            "../threadedComments/threadedComment1.xml",
        ),
        ("rId9", "printerSettings", "../printerSettings/printerSettings1.bin"),
    )
    comments = (
        f'{DECL}<comments xmlns="{NS["s"]}"><authors><author>MARKER-XL-AUTHOR</author></authors>'
        '<commentList><comment ref="A1" authorId="0"><text><r><t>MARKER-XL-COMMENT</t></r></text></comment>'
        "</commentList></comments>"
    )
    threaded = (
        f'{DECL}<ThreadedComments xmlns="http://schemas.microsoft.com/office/spreadsheetml/2018/threadedcomments">'
        '<threadedComment ref="A1" dT="2024-09-15T08:30:00.00" personId="{P1}" id="{C1}">'
        "<text>MARKER-XL-THREAD</text></threadedComment></ThreadedComments>"
    )
    persons = (
        f'{DECL}<personList xmlns="http://schemas.microsoft.com/office/spreadsheetml/2018/threadedcomments">'
        '<person displayName="MARKER-XL-PERSON" id="{P1}" userId="MARKER-XL-PERSON@example.org" providerId="AD"/>'
        "</personList>"
    )
    drawing = f"""{DECL}<xdr:wsDr {xmlns("xdr", "a", "r")}><xdr:oneCellAnchor>
<xdr:from><xdr:col>2</xdr:col><xdr:colOff>0</xdr:colOff><xdr:row>2</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:from>
<xdr:ext cx="76200" cy="76200"/>
<xdr:pic><xdr:nvPicPr><xdr:cNvPr id="2" name="Picture 1" descr="/Users/MARKER-PATHUSER/photo.png"/><xdr:cNvPicPr/>
</xdr:nvPicPr>
<xdr:blipFill><a:blip r:embed="rId1"/><a:stretch><a:fillRect/></a:stretch></xdr:blipFill>
<xdr:spPr><a:prstGeom prst="rect"><a:avLst/></a:prstGeom></xdr:spPr></xdr:pic><xdr:clientData/>
</xdr:oneCellAnchor></xdr:wsDr>"""
    return build_zip(
        [
            ("[Content_Types].xml", content_types(defaults, overrides)),
            ("_rels/.rels", rels(("rId1", "officeDocument", "xl/workbook.xml"), *PACKAGE_RELS)),
            *PACKAGE_MEMBERS,
            ("xl/workbook.xml", workbook),
            (
                "xl/_rels/workbook.xml.rels",
                rels(
                    ("rId1", "worksheet", "worksheets/sheet1.xml"),
                    ("rId2", "sharedStrings", "sharedStrings.xml"),
                    ("rId3", "styles", "styles.xml"),
                    ("rId4", "http://schemas.microsoft.com/office/2017/10/relationships/person", "persons/person.xml"),
                    *workbook_rels_extra,
                ),
            ),
            ("xl/worksheets/sheet1.xml", sheet),
            ("xl/worksheets/_rels/sheet1.xml.rels", sheet_rels),
            (
                "xl/sharedStrings.xml",
                f'{DECL}<sst xmlns="{NS["s"]}" count="1" uniqueCount="1"><si><t>{BODY}</t></si></sst>',
            ),
            (
                "xl/styles.xml",
                f'{DECL}<styleSheet xmlns="{NS["s"]}">'
                '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
                '<fills count="1"><fill><patternFill patternType="none"/></fill></fills>'
                '<borders count="1"><border/></borders><cellStyleXfs count="1"><xf/></cellStyleXfs>'
                '<cellXfs count="1"><xf xfId="0"/></cellXfs></styleSheet>',
            ),
            ("xl/comments1.xml", comments),
            (
                "xl/drawings/vmlDrawing1.vml",
                '<xml xmlns:v="urn:schemas-microsoft-com:vml"><v:shape>MARKER-VML</v:shape></xml>',
            ),
            ("xl/drawings/drawing1.xml", drawing),
            ("xl/drawings/_rels/drawing1.xml.rels", rels(("rId1", "image", "../media/image1.png"))),
            ("xl/media/image1.png", text_png("MARKER-PNG-TEXT")),
            ("xl/threadedComments/threadedComment1.xml", threaded),
            ("xl/persons/person.xml", persons),
            ("xl/printerSettings/printerSettings1.bin", b"MARKER-PRINTER DEVMODE"),
        ]
    )


# ---------------------------------------------------------------- PPTX

PML_MAIN = OFFICE_CT + "presentationml.presentation.main+xml"
THEME = f"""{DECL}<a:theme {xmlns("a")} name="Office"><a:themeElements>
<a:clrScheme name="Office"><a:dk1><a:srgbClr val="000000"/></a:dk1><a:lt1><a:srgbClr val="FFFFFF"/></a:lt1>
<a:dk2><a:srgbClr val="1F497D"/></a:dk2><a:lt2><a:srgbClr val="EEECE1"/></a:lt2>
<a:accent1><a:srgbClr val="4F81BD"/></a:accent1><a:accent2><a:srgbClr val="C0504D"/></a:accent2>
<a:accent3><a:srgbClr val="9BBB59"/></a:accent3><a:accent4><a:srgbClr val="8064A2"/></a:accent4>
<a:accent5><a:srgbClr val="4BACC6"/></a:accent5><a:accent6><a:srgbClr val="F79646"/></a:accent6>
<a:hlink><a:srgbClr val="0000FF"/></a:hlink><a:folHlink><a:srgbClr val="800080"/></a:folHlink></a:clrScheme>
<a:fontScheme name="Office"><a:majorFont><a:latin typeface="Calibri"/><a:ea typeface=""/><a:cs typeface=""/>
</a:majorFont>
<a:minorFont><a:latin typeface="Calibri"/><a:ea typeface=""/><a:cs typeface=""/></a:minorFont></a:fontScheme>
<a:fmtScheme name="Office"><a:fillStyleLst><a:solidFill><a:schemeClr val="phClr"/></a:solidFill>
<a:solidFill><a:schemeClr val="phClr"/></a:solidFill><a:solidFill><a:schemeClr val="phClr"/></a:solidFill>
</a:fillStyleLst>
<a:lnStyleLst><a:ln w="9525"><a:solidFill><a:schemeClr val="phClr"/></a:solidFill></a:ln>
<a:ln w="9525"><a:solidFill><a:schemeClr val="phClr"/></a:solidFill></a:ln>
<a:ln w="9525"><a:solidFill><a:schemeClr val="phClr"/></a:solidFill></a:ln></a:lnStyleLst>
<a:effectStyleLst><a:effectStyle><a:effectLst/></a:effectStyle><a:effectStyle><a:effectLst/></a:effectStyle>
<a:effectStyle><a:effectLst/></a:effectStyle></a:effectStyleLst>
<a:bgFillStyleLst><a:solidFill><a:schemeClr val="phClr"/></a:solidFill><a:solidFill><a:schemeClr val="phClr"/>
</a:solidFill>
<a:solidFill><a:schemeClr val="phClr"/></a:solidFill></a:bgFillStyleLst></a:fmtScheme>
</a:themeElements></a:theme>"""
EMPTY_TREE = (
    '<p:cSld><p:spTree><p:nvGrpSpPr><p:cNvPr id="1" name=""/><p:cNvGrpSpPr/><p:nvPr/></p:nvGrpSpPr>'
    "<p:grpSpPr/>{}</p:spTree></p:cSld>"
)


def pptx() -> bytes:
    pml = OFFICE_CT + "presentationml."
    overrides = {
        "/ppt/presentation.xml": PML_MAIN,
        "/ppt/slides/slide1.xml": pml + "slide+xml",
        "/ppt/slideLayouts/slideLayout1.xml": pml + "slideLayout+xml",
        "/ppt/slideMasters/slideMaster1.xml": pml + "slideMaster+xml",
        "/ppt/theme/theme1.xml": OFFICE_CT + "theme+xml",
        "/ppt/commentAuthors.xml": pml + "commentAuthors+xml",
        "/ppt/comments/comment1.xml": pml + "comments+xml",
        "/ppt/presProps.xml": pml + "presProps+xml",
        **PACKAGE_OVERRIDES,
    }
    presentation = (
        f'{DECL}<p:presentation {xmlns("p", "r", "a")} saveSubsetFonts="1">'
        '<p:sldMasterIdLst><p:sldMasterId id="2147483648" r:id="rId1"/></p:sldMasterIdLst>'
        '<p:sldIdLst><p:sldId id="256" r:id="rId2"/></p:sldIdLst>'
        '<p:sldSz cx="9144000" cy="6858000"/><p:notesSz cx="6858000" cy="9144000"/></p:presentation>'
    )
    title = (
        '<p:sp><p:nvSpPr><p:cNvPr id="2" name="Title 1"><a:extLst><a:ext uri="{FF2B5EF4-FFF2-40B4-BE49-F238E27FC236}">'
        '<a16:creationId xmlns:a16="http://schemas.microsoft.com/office/drawing/2014/main" id="{MARKER-CREATIONID}"/>'
        "</a:ext></a:extLst></p:cNvPr><p:cNvSpPr/><p:nvPr/></p:nvSpPr><p:spPr/>"
        "<p:txBody><a:bodyPr/><a:lstStyle/>"
        f'<a:p><a:r><a:rPr lang="ru-RU"/><a:t>{BODY}</a:t></a:r></a:p></p:txBody></p:sp>'
    )
    slide = (
        f"{DECL}<p:sld {xmlns('p', 'r', 'a')}>{EMPTY_TREE.format(title)}"
        "<p:clrMapOvr><a:masterClrMapping/></p:clrMapOvr></p:sld>"
    )
    layout = f'{DECL}<p:sldLayout {xmlns("p", "r", "a")} preserve="1">{EMPTY_TREE.format("")}</p:sldLayout>'
    master = (
        f"{DECL}<p:sldMaster {xmlns('p', 'r', 'a')}>{EMPTY_TREE.format('')}"
        '<p:clrMap bg1="lt1" tx1="dk1" bg2="lt2" tx2="dk2" accent1="accent1" accent2="accent2" accent3="accent3" '
        'accent4="accent4" accent5="accent5" accent6="accent6" hlink="hlink" folHlink="folHlink"/>'
        '<p:sldLayoutIdLst><p:sldLayoutId id="2147483649" r:id="rId1"/></p:sldLayoutIdLst></p:sldMaster>'
    )
    authors = (
        f'{DECL}<p:cmAuthorLst {xmlns("p")}><p:cmAuthor id="0" name="MARKER-PPT-AUTHOR" initials="MP" '
        'lastIdx="1" clrIdx="0"/></p:cmAuthorLst>'
    )
    comment = (
        f'{DECL}<p:cmLst {xmlns("p")}><p:cm authorId="0" dt="2024-09-15T08:30:00.000" idx="1">'
        '<p:pos x="10" y="10"/><p:text>MARKER-PPT-COMMENT</p:text></p:cm></p:cmLst>'
    )
    return build_zip(
        [
            ("[Content_Types].xml", content_types({"rels": office._REL_CT, "xml": "application/xml"}, overrides)),
            ("_rels/.rels", rels(("rId1", "officeDocument", "ppt/presentation.xml"), *PACKAGE_RELS)),
            *PACKAGE_MEMBERS,
            ("ppt/presentation.xml", presentation),
            (
                "ppt/_rels/presentation.xml.rels",
                rels(
                    ("rId1", "slideMaster", "slideMasters/slideMaster1.xml"),
                    ("rId2", "slide", "slides/slide1.xml"),
                    ("rId3", "theme", "theme/theme1.xml"),
                    ("rId4", "commentAuthors", "commentAuthors.xml"),
                    ("rId5", "presProps", "presProps.xml"),
                ),
            ),
            ("ppt/slides/slide1.xml", slide),
            (
                "ppt/slides/_rels/slide1.xml.rels",
                rels(
                    ("rId1", "slideLayout", "../slideLayouts/slideLayout1.xml"),
                    ("rId2", "comments", "../comments/comment1.xml"),
                ),
            ),
            ("ppt/slideLayouts/slideLayout1.xml", layout),
            (
                "ppt/slideLayouts/_rels/slideLayout1.xml.rels",
                rels(("rId1", "slideMaster", "../slideMasters/slideMaster1.xml")),
            ),
            ("ppt/slideMasters/slideMaster1.xml", master),
            (
                "ppt/slideMasters/_rels/slideMaster1.xml.rels",
                rels(
                    ("rId1", "slideLayout", "../slideLayouts/slideLayout1.xml"),
                    ("rId2", "theme", "../theme/theme1.xml"),
                ),
            ),
            ("ppt/theme/theme1.xml", THEME),
            ("ppt/commentAuthors.xml", authors),
            ("ppt/comments/comment1.xml", comment),
            ("ppt/presProps.xml", f"{DECL}<p:presentationPr {xmlns('p', 'r', 'a')}/>"),
        ]
    )


# ---------------------------------------------------------------- ODT and ODS

ODF_ROOT_NS = xmlns("office", "text", "table", "draw", "style", "svg", "xlink", "dc", "officeooo", "fo")


def odf_meta(author: str) -> str:
    return (
        f'{DECL}<office:document-meta {xmlns("office", "meta", "dc", "xlink")} office:version="1.3"><office:meta>'
        f"<meta:initial-creator>{author}</meta:initial-creator><dc:creator>{author}</dc:creator>"
        "<meta:creation-date>2024-09-15T08:30:00</meta:creation-date><dc:date>2024-09-15T09:30:00</dc:date>"
        "<meta:editing-cycles>7</meta:editing-cycles><meta:editing-duration>PT42M</meta:editing-duration>"
        "<meta:generator>MARKER-GENERATOR LibreOffice/7.6</meta:generator>"
        '<meta:user-defined meta:name="Owner">MARKER-USERDEF</meta:user-defined>'
        '<meta:document-statistic meta:page-count="1"/></office:meta></office:document-meta>'
    )


ODF_SETTINGS = (
    f'{DECL}<office:document-settings {xmlns("office", "config")} office:version="1.3"><office:settings>'
    '<config:config-item-set config:name="ooo:configuration-settings">'
    '<config:config-item config:name="PrinterName" config:type="string">MARKER-PRINTER</config:config-item>'
    "</config:config-item-set></office:settings></office:document-settings>"
)

ODT_CONTENT = f"""{DECL}<office:document-content {ODF_ROOT_NS} office:version="1.3">
<office:scripts/>
<office:automatic-styles><style:style style:name="P1" style:family="paragraph">
<style:text-properties officeooo:rsid="00dead42" officeooo:paragraph-rsid="00dead42"/></style:style>
</office:automatic-styles>
<office:body><office:text>
<text:tracked-changes text:track-changes="true">
 <text:changed-region xml:id="ct1" text:id="ct1"><text:deletion><office:change-info>
  <dc:creator>MARKER-ODF-REVISOR</dc:creator><dc:date>2024-09-15T08:30:00</dc:date></office:change-info>
  <text:p>MARKER-ODF-DELETED</text:p></text:deletion></text:changed-region>
 <text:changed-region xml:id="ct2" text:id="ct2"><text:insertion><office:change-info>
  <dc:creator>MARKER-ODF-REVISOR</dc:creator><dc:date>2024-09-15T08:31:00</dc:date></office:change-info>
  </text:insertion></text:changed-region>
</text:tracked-changes>
<text:p text:style-name="P1">{BODY}<office:annotation office:name="c1"><dc:creator>MARKER-ODF-COMMENTER</dc:creator
><dc:date>2024-09-15T08:30:00</dc:date><text:p>MARKER-ODF-COMMENT</text:p></office:annotation
> was read aloud<office:annotation-end office:name="c1"/><text:change text:change-id="ct1"
/>.<text:change-start
 text:change-id="ct2"/> Teachers were sent to the fields.<text:change-end text:change-id="ct2"/> By <text:author-name
 text:fixed="false">MARKER-ODF-FIELD</text:author-name>.</text:p>
<text:p><text:a xlink:type="simple" xlink:href="https://example.org/report">public link</text:a> and <text:a
 xlink:type="simple" xlink:href="file:///C:/Users/MARKER-ODF-FILELINK/x.odt">local link</text:a>.</text:p>
<text:p>
<draw:frame draw:name="Image1" text:anchor-type="as-char" svg:width="1cm" svg:height="1cm">
  <draw:image xlink:href="Pictures/photo.jpg" xlink:type="simple" xlink:show="embed" xlink:actuate="onLoad"/>
  <svg:desc>C:\\Users\\MARKER-ODF-PATH\\photo.jpg</svg:desc></draw:frame>
<draw:frame draw:name="Vector" text:anchor-type="as-char" svg:width="1cm" svg:height="1cm">
  <draw:image xlink:href="Pictures/logo.svg" xlink:type="simple" xlink:show="embed" xlink:actuate="onLoad"
  /></draw:frame>
<draw:frame draw:name="Inline" text:anchor-type="as-char" svg:width="1cm" svg:height="1cm">
  <draw:image><office:binary-data>{{inline}}</office:binary-data></draw:image></draw:frame>
<draw:frame draw:name="Remote" text:anchor-type="as-char" svg:width="1cm" svg:height="1cm">
  <draw:image xlink:href="https://tracker.example.org/MARKER-ODF-PATH.png" xlink:type="simple"/></draw:frame>
</text:p>
</office:text></office:body></office:document-content>"""

ODT_STYLES = f"""{DECL}<office:document-styles {ODF_ROOT_NS} office:version="1.3"><office:styles/>
<office:automatic-styles><style:page-layout style:name="pm1"/></office:automatic-styles>
<office:master-styles><style:master-page style:name="Standard" style:page-layout-name="pm1"><style:footer>
<text:p><text:file-name text:display="full">C:\\Users\\MARKER-ODF-FOOTER\\x.odt</text:file-name> page <text:page-number
 text:select-page="current">1</text:page-number></text:p>
</style:footer></style:master-page></office:master-styles></office:document-styles>"""


def odf_manifest(mime: str, entries: dict[str, str], extra: str = "") -> str:
    items = "".join(
        f'<manifest:file-entry manifest:full-path="{p}" manifest:media-type="{t}"/>' for p, t in entries.items()
    )
    return (
        f'{DECL}<manifest:manifest {xmlns("manifest")} manifest:version="1.3">'
        f'<manifest:file-entry manifest:full-path="/" manifest:version="1.3" manifest:media-type="{mime}"/>'
        f"{items}{extra}</manifest:manifest>"
    )


def odt(manifest_extra: str = "") -> bytes:
    import base64

    mime = OFFICE_TYPES["odt"]
    entries = {
        "content.xml": "text/xml",
        "styles.xml": "text/xml",
        "meta.xml": "text/xml",
        "settings.xml": "text/xml",
        "manifest.rdf": "application/rdf+xml",
        "Pictures/photo.jpg": "image/jpeg",
        "Pictures/logo.svg": "image/svg+xml",
        "Thumbnails/thumbnail.png": "image/png",
        "Configurations2/": "application/vnd.sun.xml.ui.configuration",
        "Basic/Standard/Module1.xml": "text/xml",
    }
    content = ODT_CONTENT.replace("{inline}", base64.b64encode(exif_jpeg((4, 4))).decode())
    return build_zip(
        [
            ("mimetype", mime),
            ("META-INF/manifest.xml", odf_manifest(mime, entries, manifest_extra)),
            ("content.xml", content),
            ("styles.xml", ODT_STYLES),
            ("meta.xml", odf_meta("MARKER-ODF-AUTHOR")),
            ("settings.xml", ODF_SETTINGS),
            ("manifest.rdf", "<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'>MARKER-RDF</rdf:RDF>"),
            ("Pictures/photo.jpg", exif_jpeg()),
            ("Pictures/logo.svg", '<svg xmlns="http://www.w3.org/2000/svg"><title>MARKER-SVG</title></svg>'),
            ("Thumbnails/thumbnail.png", text_png("MARKER-THUMB")),
            ("Configurations2/accelerator/current.xml", "<x>MARKER-CONFIG</x>"),
            ("Basic/Standard/Module1.xml", "<script>MARKER-MACRO</script>"),
        ]
    )


ODS_CONTENT = f"""{DECL}<office:document-content {ODF_ROOT_NS} office:version="1.3">
<office:body><office:spreadsheet>
<table:tracked-changes><table:cell-content-change table:id="ct1">
<table:cell-address table:column="0" table:row="0" table:table="0"/>
<office:change-info><dc:creator>MARKER-ODF-REVISOR</dc:creator><dc:date>2024-09-15T08:30:00</dc:date></office:change-info>
<table:previous><table:change-track-table-cell><text:p>MARKER-ODF-DELETED</text:p></table:change-track-table-cell></table:previous>
</table:cell-content-change></table:tracked-changes>
<table:table table:name="Sheet1"><table:table-column/>
<table:table-row><table:table-cell office:value-type="string"><office:annotation>
<dc:creator>MARKER-ODF-COMMENTER</dc:creator>
<dc:date>2024-09-15T08:30:00</dc:date><text:p>MARKER-ODF-COMMENT</text:p></office:annotation><text:p>{BODY}</text:p></table:table-cell></table:table-row>
<table:table-row><table:table-cell office:value-type="float" office:value="60"><text:p>60</text:p>
</table:table-cell></table:table-row>
</table:table></office:spreadsheet></office:body></office:document-content>"""


def ods() -> bytes:
    mime = OFFICE_TYPES["ods"]
    entries = {
        "content.xml": "text/xml",
        "meta.xml": "text/xml",
        "settings.xml": "text/xml",
        "Thumbnails/thumbnail.png": "image/png",
    }
    return build_zip(
        [
            ("mimetype", mime),
            ("META-INF/manifest.xml", odf_manifest(mime, entries)),
            ("content.xml", ODS_CONTENT),
            ("meta.xml", odf_meta("MARKER-ODF-AUTHOR")),
            ("settings.xml", ODF_SETTINGS),
            ("Thumbnails/thumbnail.png", text_png("MARKER-THUMB")),
        ]
    )


# ---------------------------------------------------------------- checks on the output


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


def assert_no_markers(data: bytes) -> None:
    found = [m for m in MARKERS if m in data]
    for name, content in members(data).items():
        found += [m + b" in " + name.encode() for m in MARKERS if m in content]
    assert not found, found


def assert_clean_zip(data: bytes, first: str) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        infos = zf.infolist()
        assert zf.comment == b""
        assert infos[0].filename == first
        assert [i.filename for i in infos[1:]] == sorted(i.filename for i in infos[1:])
        for info in infos:
            assert info.date_time == (1980, 1, 1, 0, 0, 0), info.filename
            assert info.extra == b"" and info.comment == b"", info.filename
            expected = zipfile.ZIP_STORED if info.filename == "mimetype" else zipfile.ZIP_DEFLATED
            assert info.compress_type == expected, info.filename
            assert not info.is_dir()
    # the raw bytes too: local headers carry no extra field (zipfile reads it from the central directory)
    pos = 0
    while (pos := data.find(b"PK\x03\x04", pos)) >= 0:
        assert int.from_bytes(data[pos + 28 : pos + 30], "little") == 0
        pos += 4


def parse(data: bytes) -> etree._Element:
    return etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))


def assert_ooxml_package(data: bytes) -> dict[str, bytes]:
    """What Word/Excel/PowerPoint check on open: types for every part, rels targets and r:ids that exist."""
    parts = members(data)
    types = parse(parts["[Content_Types].xml"])
    defaults = {d.get("Extension").lower(): d.get("ContentType") for d in types.iterfind("ct:Default", NS)}
    overrides = {o.get("PartName"): o.get("ContentType") for o in types.iterfind("ct:Override", NS)}
    for part_name in overrides:
        assert unquote(part_name[1:]) in parts, f"override for a missing part {part_name}"
    for name, content in parts.items():
        if name == "[Content_Types].xml":
            continue
        assert "/" + name in overrides or name.rpartition(".")[2].lower() in defaults, f"no content type: {name}"
        if name.endswith((".xml", ".rels")):
            parse(content)
    for name, content in parts.items():
        if name.endswith(".rels") or name == "[Content_Types].xml" or not name.endswith(".xml"):
            continue
        rels_name = posixpath.join(posixpath.dirname(name), "_rels", posixpath.basename(name) + ".rels")
        ids = set()
        if rels_name in parts:
            for rel in parse(parts[rels_name]).iterfind("pr:Relationship", NS):
                ids.add(rel.get("Id"))
                if rel.get("TargetMode") != "External":
                    target = posixpath.normpath(posixpath.join(posixpath.dirname(name), rel.get("Target")))
                    assert unquote(target) in parts, f"{rels_name}: {target} is missing"
        for el in parse(content).iter(etree.Element):
            for attr, value in el.attrib.items():
                if attr.startswith(q("r", "")) or attr == q("o", "relid"):
                    assert not value or value in ids, f"{name}: dangling {attr}={value}"
    root_rels = parse(parts["_rels/.rels"])
    for rel in root_rels.iterfind("pr:Relationship", NS):
        assert rel.get("Target") in parts
    return parts


def sanitize(data: bytes, ext: str) -> CleanFile:
    clean = sanitize_office(data)
    assert clean.mime == OFFICE_TYPES[ext] and clean.extension == ext and clean.kind == "document"
    assert_no_markers(clean.data)
    assert_clean_zip(clean.data, "mimetype" if ext.startswith("od") else "[Content_Types].xml")
    return clean


def xml_text(data: bytes) -> str:
    """The text a reader sees: Word's w:t, DrawingML's a:t, SpreadsheetML's t (not the indentation)."""
    root = parse(data)
    texts = root.iter(q("w", "t"), q("a", "t"), q("s", "t"))
    return "".join(t.text or "" for t in texts)


def reason(data: bytes) -> str:
    with pytest.raises(SanitizeError) as exc:
        sanitize_office(data)
    return exc.value.reason


# ---------------------------------------------------------------- detection


def test_fixtures_really_carry_the_markers():
    everything = b"".join(b"".join(members(f()).values()) for f in (rich_docx, xlsx, pptx, odt, ods))
    missing = [m for m in MARKERS if m not in everything and m != b"MARKER-VBA"]  # VBA: its own test
    assert not missing, missing


@pytest.mark.parametrize(
    ("make", "ext"),
    [(minimal_docx, "docx"), (rich_docx, "docx"), (xlsx, "xlsx"), (pptx, "pptx"), (odt, "odt"), (ods, "ods")],
)
def test_detects_each_type_from_the_zip_structure(make, ext):
    assert detect_office(make()) == OFFICE_TYPES[ext]


def test_detection_refuses_other_content():
    plain = build_zip([("notes.txt", "hello"), ("word/document.xml", "<x/>")])  # no [Content_Types].xml
    jar = build_zip([("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n"), ("a/B.class", b"\xca\xfe\xba\xbe")])
    odf_deflated = build_zip([("mimetype", OFFICE_TYPES["odt"]), ("content.xml", "<x/>")], stored=())
    odp = build_zip([("mimetype", "application/vnd.oasis.opendocument.presentation"), ("content.xml", "<x/>")])
    epub = build_zip([("mimetype", "application/epub+zip"), ("content.opf", "<x/>")])
    for data in (plain, jar, odf_deflated, odp, epub, os.urandom(4096), b"", b"PK\x05\x06" + bytes(18), exif_jpeg()):
        assert detect_office(data) is None
    assert reason(plain) == "unsupported"
    assert reason(jar) == "unsupported"


def test_detection_ignores_names_inside_other_members():
    # an OOXML name only counts as a zip entry, never as text inside another member
    data = build_zip([("[Content_Types].xml.txt", "word/document.xml"), ("readme", "[Content_Types].xml")])
    assert detect_office(data) is None


# ---------------------------------------------------------------- DOCX


def test_minimal_docx_keeps_its_text():
    clean = sanitize(minimal_docx(), "docx")
    parts = assert_ooxml_package(clean.data)
    assert set(parts) == {"[Content_Types].xml", "_rels/.rels", "word/document.xml"}
    assert BODY in xml_text(parts["word/document.xml"])


def test_rich_docx_loses_every_marker_and_keeps_content():
    clean = sanitize(rich_docx(), "docx")
    parts = assert_ooxml_package(clean.data)
    assert sorted(parts) == [
        "[Content_Types].xml",
        "_rels/.rels",
        "docProps/core.xml",
        "word/_rels/document.xml.rels",
        "word/document.xml",
        "word/footer1.xml",
        "word/media/image1.jpeg",
        "word/media/image2.png",
        "word/settings.xml",
        "word/styles.xml",
    ]
    text = xml_text(parts["word/document.xml"])
    assert f"{BODY} {INSERTED}, norma 60 kg." in text  # insertion accepted, deletion and move gone
    assert "public link" in text and "local link" in text and "kept row" in text
    document = parse(parts["word/document.xml"])
    for tag in (
        "ins",
        "del",
        "moveFrom",
        "rPrChange",
        "pPrChange",
        "commentRangeStart",
        "commentReference",
        "permStart",
    ):
        assert document.find(f".//w:{tag}", NS) is None, tag
    assert len(document.findall(".//w:tr", NS)) == 1  # the deleted row went with its acceptance
    assert b"rsid" not in parts["word/document.xml"] and b"paraId" not in parts["word/document.xml"]
    assert b"gfxdata" not in parts["word/document.xml"]
    # the comment-reference run is gone, not left empty
    runs = list(document.iter(q("w", "r")))
    assert all(any(child.tag != q("w", "rPr") for child in run) for run in runs)

    # links: the web one stays, the local file loses its target but keeps its text
    document_rels = parts["word/_rels/document.xml.rels"].decode()
    assert "https://example.org/report" in document_rels and "file:" not in document_rels
    links = document.findall(".//w:hyperlink", NS)
    assert [link.get(q("r", "id")) for link in links] == ["rId11", None]

    # core.xml is empty; app.xml, custom.xml and the thumbnail are gone with their rels and types
    core = parse(parts["docProps/core.xml"])
    assert core.tag.endswith("coreProperties") and len(core) == 0
    package_rels = parts["_rels/.rels"].decode()
    for gone in ("app.xml", "custom.xml", "thumbnail", "extended-properties"):
        assert gone not in package_rels and gone not in parts["[Content_Types].xml"].decode()

    # settings
    settings = parse(parts["word/settings.xml"])
    for tag in ("w:rsids", "w:docVars", "w:attachedTemplate", "w14:docId", "w15:docId"):
        assert settings.find(tag, NS) is None, tag
    assert settings.find("w:zoom", NS) is not None and settings.find("w:defaultTabStop", NS) is not None

    # footer: metadata fields lose their shown value, PAGE stays a field
    footer = parts["word/footer1.xml"]
    assert b"PAGE" in footer and b"FILENAME" not in footer and b"AUTHOR" not in footer
    assert "Page 1" in xml_text(footer)

    # the picture's path-like alt text is gone, the picture stays
    doc_pr = document.find(".//wp:docPr", NS)
    assert doc_pr.get("descr") is None and doc_pr.get("name") == "Picture 1"
    assert document.find(".//pic:cNvPr", NS).get("name") == "Picture"
    assert document.find(".//a:blip", NS).get(q("r", "embed")) == "rId8"

    # the OLE object lost its embedding but keeps a (blank) preview: EMF became a 1x1 PNG
    assert document.find(".//o:OLEObject", NS).get(q("r", "id")) is None
    assert document.find(".//v:imagedata", NS).get(q("r", "id")) == "rId14"
    assert 'Target="media/image2.png"' in document_rels
    with Image.open(io.BytesIO(parts["word/media/image2.png"])) as preview:
        assert preview.size == (1, 1)


def test_docx_image_is_rebuilt_without_exif():
    parts = members(sanitize(rich_docx(), "docx").data)
    data = parts["word/media/image1.jpeg"]
    assert data.startswith(b"\xff\xd8") and b"Exif" not in data
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "JPEG" and im.size == (32, 24)
        assert not im.getexif() and "exif" not in im.info


def test_output_is_deterministic_and_can_be_sanitized_again():
    first = sanitize_office(rich_docx()).data
    assert sanitize_office(rich_docx()).data == first
    again = sanitize(first, "docx")
    assert_ooxml_package(again.data)
    assert BODY in xml_text(members(again.data)["word/document.xml"])


def test_webp_image_becomes_jpeg_with_a_matching_name():
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (10, 200, 10)).save(buf, "WEBP")
    body = (
        '<w:p><w:r><w:drawing><wp:inline><wp:extent cx="1" cy="1"/><wp:docPr id="1" name="p"/><a:graphic>'
        '<a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/picture"><pic:pic><pic:nvPicPr>'
        '<pic:cNvPr id="0" name="p"/><pic:cNvPicPr/></pic:nvPicPr><pic:blipFill><a:blip r:embed="rId1"/>'
        "</pic:blipFill><pic:spPr/></pic:pic></a:graphicData></a:graphic></wp:inline></w:drawing></w:r></w:p>"
    )
    data = build_zip(
        [
            (
                "[Content_Types].xml",
                content_types({"rels": office._REL_CT, "webp": "image/webp"}, {"/word/document.xml": WML_MAIN}),
            ),
            ("_rels/.rels", rels(("rId1", "officeDocument", "word/document.xml"))),
            (
                "word/document.xml",
                f"{DECL}<w:document {xmlns('w', 'r', 'wp', 'a', 'pic')}><w:body>{body}</w:body></w:document>",
            ),
            ("word/_rels/document.xml.rels", rels(("rId1", "image", "media/image1.webp"))),
            ("word/media/image1.webp", buf.getvalue()),
        ]
    )
    parts = assert_ooxml_package(sanitize(data, "docx").data)
    assert "word/media/image1.jpeg" in parts and "word/media/image1.webp" not in parts
    assert parts["word/media/image1.jpeg"].startswith(b"\xff\xd8")
    assert b'Extension="jpeg" ContentType="image/jpeg"' in parts["[Content_Types].xml"]


def test_macro_enabled_docx_loses_its_macros_and_becomes_a_docx():
    macro_type = "application/vnd.ms-word.document.macroEnabled.main+xml"
    data = rich_docx(
        main_type=macro_type,
        extra=[("word/vbaProject.bin", b"MARKER-VBA Sub AutoOpen()"), ("word/vbaData.xml", "<x>MARKER-VBA</x>")],
        extra_rels=(("rId20", "http://schemas.microsoft.com/office/2006/relationships/vbaProject", "vbaProject.bin"),),
    )
    parts = assert_ooxml_package(sanitize(data, "docx").data)
    assert not any("vba" in name.lower() for name in parts)
    types = parts["[Content_Types].xml"].decode()
    assert WML_MAIN in types and "macroEnabled" not in types


def test_excel4_macro_sheets_are_refused():
    macrosheet = (
        "rId9",
        "http://schemas.microsoft.com/office/2006/relationships/xlMacrosheet",
        "macrosheets/sheet1.xml",
    )
    assert reason(xlsx(workbook_rels_extra=(macrosheet,))) == "unsupported"


def test_word_fields_rows_and_alternate_content():
    include = (
        '<w:p><w:r><w:fldChar w:fldCharType="begin"/></w:r>'
        '<w:r><w:instrText xml:space="preserve"> INCLUDETEXT "C:\\\\Users\\\\MARKER-FIELD\\\\a.docx" '
        "</w:instrText></w:r>"
        '<w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>included text</w:t></w:r>'
        '<w:r><w:fldChar w:fldCharType="end"/></w:r></w:p>'
    )
    nested_table = (
        "<w:tbl><w:tr><w:tc><w:tbl><w:tr><w:trPr>"
        '<w:del w:id="1" w:author="MARKER-REVISOR" w:date="2024-09-15T08:30:00Z"/></w:trPr>'
        "<w:tc><w:p><w:r><w:t>MARKER-DELETED-CELL</w:t></w:r></w:p></w:tc></w:tr></w:tbl></w:tc></w:tr></w:tbl>"
    )
    alternate = (
        '<w:p><w:r><mc:AlternateContent><mc:Choice Requires="w14"><w:object><w:control r:id="rId7"/></w:object>'
        "</mc:Choice><mc:Fallback><w:t>fallback text</w:t></mc:Fallback></mc:AlternateContent></w:r></w:p>"
    )
    data = build_zip(
        [
            *[
                (n, c)
                for n, c in members(minimal_docx(body=include + nested_table + alternate)).items()
                if n != "word/document.xml"
            ],
            (
                "word/document.xml",
                f"{DECL}<w:document {xmlns('w', 'r', 'mc')}><w:body>{include}{nested_table}{alternate}"
                "</w:body></w:document>",
            ),
            ("word/_rels/document.xml.rels", rels(("rId7", "control", "activeX/activeX1.xml"))),
            ("word/activeX/activeX1.xml", "<ax>MARKER-OLE</ax>"),
        ]
    )
    parts = assert_ooxml_package(sanitize(data, "docx").data)
    document = parse(parts["word/document.xml"])
    assert xml_text(parts["word/document.xml"]) == "included textfallback text"
    assert document.find(".//w:instrText", NS) is None and document.find(".//w:fldChar", NS) is None
    inner_cell = document.find("w:body/w:tbl/w:tr/w:tc", NS)
    assert [child.tag for child in inner_cell] == [q("w", "p")]  # the emptied cell still ends with a paragraph
    assert document.find(".//mc:AlternateContent", NS) is None and document.find(".//w:object", NS) is None


def test_links_to_other_workbooks_keep_only_the_file_name():
    link_path = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/externalLinkPath"
    extra = (("rId9", "externalLink", "externalLinks/externalLink1.xml"),)
    data = xlsx(workbook_rels_extra=extra)
    parts = members(data)
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
        b"</Types>",
        b'<Override PartName="/xl/externalLinks/externalLink1.xml" '
        b'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.externalLink+xml"/></Types>',
    )
    parts["xl/workbook.xml"] = parts["xl/workbook.xml"].replace(
        b"</sheets>", b'</sheets><externalReferences><externalReference r:id="rId9"/></externalReferences>'
    )
    parts["xl/externalLinks/externalLink1.xml"] = (
        f'{DECL}<externalLink xmlns="{NS["s"]}" {xmlns("r")}><externalBook r:id="rId1"/></externalLink>'
    ).encode()
    parts["xl/externalLinks/_rels/externalLink1.xml.rels"] = rels(
        ("rId1", link_path, "file:///C:/Users/MARKER-PATHUSER/Documents/Budget%202024.xlsx", "External")
    ).encode()
    out = assert_ooxml_package(sanitize(build_zip(list(parts.items())), "xlsx").data)
    assert b'Target="Budget%202024.xlsx" TargetMode="External"' in out["xl/externalLinks/_rels/externalLink1.xml.rels"]
    assert b'<externalReference r:id="rId9"/>' in out["xl/workbook.xml"]


def test_chart_keeps_its_cached_values_but_not_the_embedded_workbook():
    chart_ns = "http://schemas.openxmlformats.org/drawingml/2006/chart"
    body = (
        '<w:p><w:r><w:drawing><wp:inline><wp:extent cx="1" cy="1"/><wp:docPr id="1" name="Chart 1"/><a:graphic>'
        f'<a:graphicData uri="{chart_ns}"><c:chart xmlns:c="{chart_ns}" r:id="rId1"/></a:graphicData>'
        "</a:graphic></wp:inline></w:drawing></w:r></w:p>"
    )
    chart = (
        f'{DECL}<c:chartSpace xmlns:c="{chart_ns}" {xmlns("a", "r")}><c:chart><c:plotArea><c:layout/>'
        "</c:plotArea></c:chart>"
        '<c:externalData r:id="rId1"><c:autoUpdate val="0"/></c:externalData></c:chartSpace>'
    )
    overrides = {"/word/document.xml": WML_MAIN, "/word/charts/chart1.xml": OFFICE_CT + "drawingml.chart+xml"}
    defaults = {"rels": office._REL_CT, "xml": "application/xml", "xlsx": OFFICE_TYPES["xlsx"]}
    data = build_zip(
        [
            ("[Content_Types].xml", content_types(defaults, overrides)),
            ("_rels/.rels", rels(("rId1", "officeDocument", "word/document.xml"))),
            (
                "word/document.xml",
                f"{DECL}<w:document {xmlns('w', 'r', 'wp', 'a')}><w:body>{body}</w:body></w:document>",
            ),
            ("word/_rels/document.xml.rels", rels(("rId1", "chart", "charts/chart1.xml"))),
            ("word/charts/chart1.xml", chart),
            ("word/charts/_rels/chart1.xml.rels", rels(("rId1", "package", "../embeddings/Workbook1.xlsx"))),
            ("word/embeddings/Workbook1.xlsx", xlsx()),  # a nested zip full of markers: never opened
        ]
    )
    parts = assert_ooxml_package(sanitize(data, "docx").data)
    assert sorted(parts) == [
        "[Content_Types].xml",
        "_rels/.rels",
        "word/_rels/document.xml.rels",
        "word/charts/chart1.xml",
        "word/document.xml",
    ]
    assert b"externalData" not in parts["word/charts/chart1.xml"]
    assert b"plotArea" in parts["word/charts/chart1.xml"]


# ---------------------------------------------------------------- XLSX and PPTX


def test_xlsx_loses_comments_authors_and_paths():
    clean = sanitize(xlsx(), "xlsx")
    parts = assert_ooxml_package(clean.data)
    assert sorted(parts) == [
        "[Content_Types].xml",
        "_rels/.rels",
        "docProps/core.xml",
        "xl/_rels/workbook.xml.rels",
        "xl/drawings/_rels/drawing1.xml.rels",
        "xl/drawings/drawing1.xml",
        "xl/media/image1.png",
        "xl/sharedStrings.xml",
        "xl/styles.xml",
        "xl/workbook.xml",
        "xl/worksheets/_rels/sheet1.xml.rels",
        "xl/worksheets/sheet1.xml",
    ]
    assert BODY in xml_text(parts["xl/sharedStrings.xml"])
    workbook = parse(parts["xl/workbook.xml"])
    for tag in ("s:fileVersion", "s:fileSharing", "s:customWorkbookViews", "mc:AlternateContent"):
        assert workbook.find(tag, NS) is None, tag
    assert workbook.find("s:workbookPr", NS).get("codeName") is None
    assert workbook.find("s:sheets/s:sheet", NS).get(q("r", "id")) == "rId1"
    sheet = parse(parts["xl/worksheets/sheet1.xml"])
    assert sheet.find("s:legacyDrawing", NS) is None and sheet.find("s:protectedRanges", NS) is None
    assert sheet.find("s:drawing", NS) is not None and sheet.find("s:pageSetup", NS).get("orientation") == "portrait"
    assert b"<v>60</v>" in parts["xl/worksheets/sheet1.xml"]
    with Image.open(io.BytesIO(parts["xl/media/image1.png"])) as im:
        assert im.format == "PNG" and not im.info


def test_xlsx_opens_in_openpyxl():
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.load_workbook(io.BytesIO(sanitize_office(xlsx()).data))
    assert book.active["A1"].value == BODY and book.active["A2"].value == 60


def test_pptx_loses_comment_authors():
    parts = assert_ooxml_package(sanitize(pptx(), "pptx").data)
    assert not any("comment" in name.lower() for name in parts)
    assert b"commentAuthors" not in parts["ppt/_rels/presentation.xml.rels"]
    assert BODY in xml_text(parts["ppt/slides/slide1.xml"])
    slide = parse(parts["ppt/slides/slide1.xml"])
    assert slide.find(".//a:extLst", NS) is None  # emptied by the creationId removal, then pruned
    assert "ppt/theme/theme1.xml" in parts and "ppt/presProps.xml" in parts


def test_strict_relationship_namespaces_are_followed():
    strict = "http://purl.oclc.org/ooxml/officeDocument/relationships/"
    data = build_zip(
        [
            (
                "[Content_Types].xml",
                content_types({"rels": office._REL_CT, "xml": "application/xml"}, {"/word/document.xml": WML_MAIN}),
            ),
            ("_rels/.rels", rels(("rId1", strict + "officeDocument", "/word/document.xml"))),
            (
                "word/document.xml",
                f"{DECL}<w:document {xmlns('w')}><w:body><w:p><w:r><w:t>{BODY}</w:t></w:r></w:p></w:body></w:document>",
            ),
        ]
    )
    assert BODY in xml_text(members(sanitize(data, "docx").data)["word/document.xml"])


# ---------------------------------------------------------------- ODT and ODS


def test_odt_loses_every_marker_and_keeps_content():
    clean = sanitize(odt(), "odt")
    parts = members(clean.data)
    assert parts["mimetype"] == OFFICE_TYPES["odt"].encode()
    assert sorted(parts) == [
        "META-INF/manifest.xml",
        "Pictures/photo.jpg",
        "content.xml",
        "meta.xml",
        "mimetype",
        "settings.xml",
        "styles.xml",
    ]
    content = parse(parts["content.xml"])
    text = "".join(content.find(".//office:text", NS).itertext())
    assert f"{BODY} was read aloud. Teachers were sent to the fields. By ." in text
    assert "public link and local link." in text
    for tag in ("office:annotation", "text:tracked-changes", "text:change", "text:change-start", "dc:creator"):
        assert content.find(f".//{tag}", NS) is None, tag
    links = content.findall(".//text:a", NS)
    assert [a.get(q("xlink", "href")) for a in links] == ["https://example.org/report"]
    assert b"rsid" not in parts["content.xml"]
    # the JPEG is rebuilt; the SVG and the remote image are dropped with their frames; inline data is rebuilt
    frames = [f.get(q("draw", "name")) for f in content.iter(q("draw", "frame"))]
    assert frames == ["Image1", "Inline"]
    with Image.open(io.BytesIO(parts["Pictures/photo.jpg"])) as im:
        assert im.format == "JPEG" and not im.getexif() and "exif" not in im.info
    # meta and settings are empty shells
    meta = parse(parts["meta.xml"])
    assert meta.find("office:meta", NS) is not None and len(meta.find("office:meta", NS)) == 0
    assert len(parse(parts["settings.xml"])) == 0
    # manifest lists exactly what is there
    manifest = parse(parts["META-INF/manifest.xml"])
    listed = {e.get(q("manifest", "full-path")): e.get(q("manifest", "media-type")) for e in manifest}
    assert listed == {
        "/": OFFICE_TYPES["odt"],
        "Pictures/photo.jpg": "image/jpeg",
        "content.xml": "text/xml",
        "meta.xml": "text/xml",
        "settings.xml": "text/xml",
        "styles.xml": "text/xml",
    }
    styles = parts["styles.xml"]
    assert b"text:page-number" in styles and b"text:file-name" not in styles


def test_ods_loses_every_marker_and_keeps_content():
    parts = members(sanitize(ods(), "ods").data)
    assert sorted(parts) == ["META-INF/manifest.xml", "content.xml", "meta.xml", "mimetype", "settings.xml"]
    content = parse(parts["content.xml"])
    assert content.find(".//table:tracked-changes", NS) is None
    assert content.find(".//office:annotation", NS) is None
    cells = ["".join(c.itertext()).strip() for c in content.iter(q("table", "table-cell"))]
    assert cells == [BODY, "60"]


def test_odf_embedded_chart_is_kept_and_ole_objects_are_dropped():
    mime = OFFICE_TYPES["odt"]
    chart_mime = "application/vnd.oasis.opendocument.chart"
    frames = (
        '<text:p><draw:frame draw:name="Chart"><draw:object xlink:href="./Object 1"/>'
        '<draw:image xlink:href="./ObjectReplacements/Object 1"/></draw:frame>'
        '<draw:frame draw:name="Ole"><draw:object-ole xlink:href="./Object 2"/>'
        '<draw:image xlink:href="./ObjectReplacements/Object 2"/></draw:frame></text:p>'
    )
    content = (
        f'{DECL}<office:document-content {ODF_ROOT_NS} office:version="1.3"><office:body><office:text>'
        f"<text:p>{BODY}</text:p>{frames}</office:text></office:body></office:document-content>"
    )
    chart = (
        f'{DECL}<office:document-content {ODF_ROOT_NS} office:version="1.3"><office:body><office:chart/>'
        "</office:body></office:document-content>"
    )
    entries = {
        "content.xml": "text/xml",
        "Object 1/": chart_mime,
        "Object 1/content.xml": "text/xml",
        "Object 1/meta.xml": "text/xml",
        "Object 2": "application/vnd.sun.star.oleobject",
        "ObjectReplacements/Object 1": "application/x-openoffice-gdimetafile",
        "ObjectReplacements/Object 2": "application/x-openoffice-gdimetafile",
    }
    data = build_zip(
        [
            ("mimetype", mime),
            ("META-INF/manifest.xml", odf_manifest(mime, entries)),
            ("content.xml", content),
            ("Object 1/content.xml", chart),
            ("Object 1/meta.xml", odf_meta("MARKER-ODF-AUTHOR")),
            ("Object 2", b"\xd0\xcf\x11\xe0 MARKER-OLE"),
            ("ObjectReplacements/Object 1", b"VCLMTF MARKER-EMF"),
            ("ObjectReplacements/Object 2", b"VCLMTF MARKER-EMF"),
        ]
    )
    parts = members(sanitize(data, "odt").data)
    assert sorted(parts) == [
        "META-INF/manifest.xml",
        "Object 1/content.xml",
        "Object 1/meta.xml",
        "content.xml",
        "mimetype",
    ]
    root = parse(parts["content.xml"])
    assert [f.get(q("draw", "name")) for f in root.iter(q("draw", "frame"))] == ["Chart"]
    assert [child.tag for child in root.find(".//draw:frame", NS)] == [q("draw", "object")]
    manifest = parse(parts["META-INF/manifest.xml"])
    listed = {e.get(q("manifest", "full-path")): e.get(q("manifest", "media-type")) for e in manifest}
    assert listed["Object 1/"] == chart_mime and "Object 2" not in listed


def test_encrypted_odf_is_refused():
    encryption = (
        '<manifest:file-entry manifest:full-path="secret.xml" manifest:media-type="text/xml">'
        '<manifest:encryption-data manifest:checksum-type="SHA1/1K" manifest:checksum="AAAA"/></manifest:file-entry>'
    )
    assert reason(odt(manifest_extra=encryption)) == "malformed"


# ---------------------------------------------------------------- hostile input


def test_zip_bomb_that_really_inflates_past_the_limit_is_too_large():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, content in members(minimal_docx()).items():
            zf.writestr(name, content)
        info = zipfile.ZipInfo("word/media/zeros.bin")
        info.compress_type = zipfile.ZIP_DEFLATED
        with zf.open(info, "w") as member:
            block = bytes(1024 * 1024)
            for _ in range(300):  # 300 MB of zeros: about 300 kB compressed
                member.write(block)
    data = buf.getvalue()
    assert len(data) < 2_000_000
    start = time.monotonic()
    assert reason(data) == "too_large"
    assert time.monotonic() - start < 5


def test_single_member_with_a_huge_ratio_is_too_large():
    data = minimal_docx(extra=[("word/media/zeros.bin", bytes(20 * 1024 * 1024))])
    start = time.monotonic()
    assert reason(data) == "too_large"
    assert time.monotonic() - start < 5


def _patch_sizes(data: bytes, name: bytes, size: int) -> bytes:
    """Rewrite the declared uncompressed size of `name` in its local header and central record."""
    out = bytearray(data)
    pos = 0
    while (pos := out.find(b"PK\x03\x04", pos)) >= 0:
        name_len = int.from_bytes(out[pos + 26 : pos + 28], "little")
        if bytes(out[pos + 30 : pos + 30 + name_len]) == name:
            out[pos + 22 : pos + 26] = size.to_bytes(4, "little")
        pos += 4
    pos = 0
    while (pos := out.find(b"PK\x01\x02", pos)) >= 0:
        name_len = int.from_bytes(out[pos + 28 : pos + 30], "little")
        if bytes(out[pos + 46 : pos + 46 + name_len]) == name:
            out[pos + 24 : pos + 28] = size.to_bytes(4, "little")
        pos += 4
    return bytes(out)


def test_declared_sizes_are_not_trusted():
    # word/document.xml claims 300 MB: refused from the directory alone, nothing decompressed
    assert reason(_patch_sizes(minimal_docx(), b"word/document.xml", 300_000_000)) == "too_large"
    # a member that claims 1 kB but inflates to 40 MB: reading stops at the claim
    body = "<w:p><w:r><w:t>" + " " * 40_000_000 + "</w:t></w:r></w:p>"
    start = time.monotonic()
    assert reason(_patch_sizes(minimal_docx(body), b"word/document.xml", 1000)) in ("malformed", "too_large")
    assert time.monotonic() - start < 5


def test_reads_stop_at_the_part_limit(monkeypatch):
    monkeypatch.setattr(office, "MAX_XML_PART", 500)
    assert reason(minimal_docx(body="<w:p/>" * 200)) == "too_large"


def test_too_many_entries_is_too_large():
    extra = [(f"word/media/x{i}.bin", b"") for i in range(office.MAX_ENTRIES)]
    start = time.monotonic()
    assert reason(minimal_docx(extra=extra)) == "too_large"
    assert time.monotonic() - start < 5


def test_input_over_50_mb_is_too_large():
    assert reason(minimal_docx() + bytes(office.MAX_INPUT_BYTES)) == "too_large"


@pytest.mark.parametrize(
    "name", ["../evil.xml", "/abs/evil.xml", "word/../../evil.xml", "word\\..\\evil.xml", "C:/evil.xml", "word//x.xml"]
)
def test_path_traversal_names_are_malformed(name):
    assert reason(minimal_docx(extra=[(name, "<x/>")])) == "malformed"


@pytest.mark.parametrize("name", ["word/document.xml", "WORD/Document.xml"])
def test_duplicate_names_are_malformed(name):
    assert reason(minimal_docx(extra=[(name, "<x/>")])) == "malformed"


def test_entities_and_doctypes_are_malformed():
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE w:document [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
        f"<w:document {xmlns('w')}><w:body><w:p><w:r><w:t>&c;</w:t></w:r></w:p></w:body></w:document>"
    )
    external = f'<?xml version="1.0"?><!DOCTYPE x SYSTEM "file:///etc/passwd"><w:document {xmlns("w")}/>'
    for document in (laughs, external):
        data = minimal_docx()
        data = build_zip([(n, document if n == "word/document.xml" else c) for n, c in members(data).items()])
        assert reason(data) == "malformed"


def test_broken_xml_is_malformed():
    data = build_zip(
        [(n, "<w:document" if n == "word/document.xml" else c) for n, c in members(minimal_docx()).items()]
    )
    assert reason(data) == "malformed"


def test_not_a_zip_is_malformed():
    assert reason(os.urandom(1000)) == "malformed"


async def test_runs_in_the_sandbox():
    """In the bot's child process (1 GiB address space): same result, and a bomb is still "too_large"."""
    sandbox = Sandbox(workers=1)
    try:
        assert await sandbox.run(sanitize_office, rich_docx()) == sanitize_office(rich_docx())
        with pytest.raises(SanitizeError) as exc:
            await sandbox.run(sanitize_office, minimal_docx(extra=[("word/media/z.bin", bytes(20 * 1024 * 1024))]))
        assert exc.value.reason == "too_large"
    finally:
        await sandbox.close()


# ---------------------------------------------------------------- external tools


EXIFTOOL = shutil.which("exiftool")
LIBREOFFICE = shutil.which("soffice") or shutil.which("libreoffice")


def exiftool_json(path: Path) -> dict:
    out = subprocess.run(
        [EXIFTOOL, "-j", "-a", "-G1", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    return json.loads(out.stdout)[0]


def document_properties(tags: dict) -> list[str]:
    return [key for key in tags if key.startswith(("XML:", "XMP"))]


@pytest.mark.skipif(EXIFTOOL is None, reason="exiftool is not installed (Debian: libimage-exiftool-perl)")
@pytest.mark.parametrize(("make", "ext"), [(rich_docx, "docx"), (xlsx, "xlsx"), (pptx, "pptx"), (odt, "odt")])
def test_exiftool_sees_no_document_properties(tmp_path, make, ext):
    original = tmp_path / f"original.{ext}"
    original.write_bytes(make())
    before = exiftool_json(original)
    if not document_properties(before):
        pytest.skip(f"this exiftool reads no {ext} properties (libarchive-zip-perl missing?): {before}")
    cleaned = tmp_path / f"clean.{ext}"
    cleaned.write_bytes(sanitize_office(make()).data)
    after = exiftool_json(cleaned)
    assert not document_properties(after), json.dumps(after, indent=1)
    assert not [value for value in map(str, after.values()) if "MARKER" in value], json.dumps(after, indent=1)


@pytest.mark.skipif(LIBREOFFICE is None, reason="LibreOffice is not installed; it would check the files really open")
@pytest.mark.parametrize(
    ("make", "ext"), [(rich_docx, "docx"), (xlsx, "xlsx"), (pptx, "pptx"), (odt, "odt"), (ods, "ods")]
)
def test_libreoffice_opens_the_output(tmp_path, make, ext):
    path = tmp_path / f"clean.{ext}"
    path.write_bytes(sanitize_office(make()).data)
    profile = (tmp_path / "profile").as_uri()
    subprocess.run(
        [
            LIBREOFFICE,
            f"-env:UserInstallation={profile}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path),
            str(path),
        ],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert (tmp_path / "clean.pdf").stat().st_size > 0
