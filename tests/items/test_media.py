"""The media store (bot/items/media.py) on a real directory: types decided by bytes, images stored
without their metadata (EXIF GPS, PNG text) and otherwise unchanged, content-addressed names
(one file for the same content), size limits that leave nothing behind, Office/OFD containers
told apart, safe display names and Markdown snippets.

The file builders at the top (png, png_claiming, jpeg_claiming, jpeg_with_exif, cfb, zip_file)
are shared with tests/web/public/test_media.py."""

from __future__ import annotations

import base64
import io
import struct
import zipfile
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from pydantic import ValidationError

from bot.config import MediaConfig
from bot.items.media import (
    MediaInvalid,
    MediaRefused,
    MediaStore,
    MediaTooLarge,
    MediaTooManyPixels,
    display_name,
    media_names,
)
from bot.items.media_formats import FormatError, clean_jpeg, clean_png, orientation_segment

# A 16x16 baseline JPEG (CPython's Lib/test/imghdrdata/python.jpg): SOI, APP0 (JFIF), tables,
# SOF0, SOS, entropy-coded data, EOI.
JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQEAAQABAAD/2wBDAAMCAgICAgMCAgIDAwMDBAYEBAQEBAgGBgUGCQgKCgkICQkKDA8MCgsOCwkJDREN"
    "Dg8QEBEQCgwSExIQEw8QEBD/2wBDAQMDAwQDBAgEBAgQCwkLEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ"
    "EBAQEBAQEBAQEBAQEBD/wAARCAAQABADASIAAhEBAxEB/8QAFgABAQEAAAAAAAAAAAAAAAAABwQF/8QAJBAAAQQBBAICAwAA"
    "AAAAAAAAAQIDBAYFBwgSExEiABQJMTL/xAAVAQEBAAAAAAAAAAAAAAAAAAAABv/EACMRAAECBQMFAAAAAAAAAAAAAAECEQME"
    "BQYhABIxFRZhgeH/2gAMAwEAAhEDEQA/ABSm0mobc8HmExLUlRzzEWPkJWW+ulrsaUVAseUgslSlH9LKuPryIKuWPZdskzXm"
    "m3fX5m2nF4GlVxx/HOpx4ks51+MiU/Iaad7UcUo4tILoS4kqcWkezS0hO/HvuRp0rO6hWnWO1UisZVuFi4GFeyEpmGepa5S5"
    "SWVPuciFKRFLgSrwetnyPIB+Vb4N9mKhQMzo5po9XLdDs9d6ZVix2VEhiL9kuNPxw2gEKcDQ/rs8AuA8VAe0vdl7VOYn+27f"
    "lGAUgmITjbhSmCg3BYlyeWDkMolvw4KOp1KM6iCNvngZHwetf//Z"
)
APP0_END = 20  # SOI (2) + APP0 segment (18)
GPS_TEXT = b"GPS 31.2304N 121.4737E"


def chunk(kind: bytes, data: bytes) -> bytes:
    crc = struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return struct.pack(">I", len(data)) + kind + data + crc


def png(width: int = 8, height: int = 8, extra: bytes = b"", pad: int = 0) -> bytes:
    """A valid RGB PNG; `extra` chunks go before IDAT, `pad` adds an ancillary chunk of junk."""
    raw = (b"\x00" + b"\x10\x20\x30" * width) * height
    head = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    padding = chunk(b"prVt", bytes(pad)) if pad else b""
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", head)
        + extra
        + padding
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def png_claiming(width: int, height: int) -> bytes:
    """A small, well-formed PNG whose IHDR claims width x height pixels while its IDAT holds
    one row: the shape of a decompression bomb without its gigabytes."""
    head = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", head)
        + chunk(b"IDAT", zlib.compress(b"\x00" + bytes(3 * min(width, 64))))
        + chunk(b"IEND", b"")
    )


def jpeg_claiming(width: int, height: int) -> bytes:
    """JPEG with its frame header (SOF0) claiming width x height; the data stays 16x16."""
    at = JPEG.index(b"\xff\xc0\x00\x11\x08")
    return JPEG[: at + 5] + struct.pack(">HH", height, width) + JPEG[at + 9 :]


def exif_segment(orientation: int = 6) -> bytes:
    """APP1 EXIF: IFD0 with Orientation and a GPS IFD pointer; the GPS IFD with a latitude
    reference, followed by GPS_TEXT so a test can look for it."""
    gps_at = 8 + 2 + 2 * 12 + 4
    ifd0 = (
        struct.pack(">H", 2)
        + struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0)
        + struct.pack(">HHII", 0x8825, 4, 1, gps_at)
        + bytes(4)
    )
    gps = struct.pack(">H", 1) + struct.pack(">HHI4s", 1, 2, 2, b"N\x00\x00\x00") + bytes(4)
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8) + ifd0 + gps + GPS_TEXT
    payload = b"Exif\x00\x00" + tiff
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def jpeg_with_exif(orientation: int = 6) -> bytes:
    """JPEG with EXIF (GPS), an XMP packet and a comment, and data after its end."""
    xmp = b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta>" + GPS_TEXT + b"</x:xmpmeta>"
    xmp_segment = b"\xff\xe1" + struct.pack(">H", len(xmp) + 2) + xmp
    comment = b"\xff\xfe" + struct.pack(">H", len(GPS_TEXT) + 2) + GPS_TEXT
    return (
        JPEG[:APP0_END]
        + exif_segment(orientation)
        + xmp_segment
        + comment
        + JPEG[APP0_END:]
        + GPS_TEXT  # trailing data after EOI
    )


def cfb(stream: str) -> bytes:
    """A minimal compound file (the container of .doc/.xls) whose directory holds the root
    and one stream named `stream`."""
    end, free, fat_sect = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD
    header = bytearray(512)
    header[:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into("<HHHHH", header, 0x18, 0x3E, 3, 0xFFFE, 9, 6)
    struct.pack_into("<IIIIIIIII", header, 0x28, 0, 1, 1, 0, 4096, end, 0, end, 0)
    struct.pack_into("<109I", header, 0x4C, 0, *([free] * 108))
    fat = struct.pack("<128I", fat_sect, end, *([free] * 126))

    def entry(name: str, kind: int) -> bytes:
        raw = (name + "\x00").encode("utf-16-le")
        e = bytearray(128)
        e[: len(raw)] = raw
        struct.pack_into("<HBB", e, 0x40, len(raw), kind, 1)
        struct.pack_into("<III", e, 0x44, free, free, 1 if kind == 5 else free)
        struct.pack_into("<II", e, 0x74, end, 0)
        return bytes(e)

    directory = entry("Root Entry", 5) + entry(stream, 2) + bytes(256)
    return bytes(header) + fat + directory


def zip_file(names: list[str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name in names:
            z.writestr(name, "<x/>")
    return buf.getvalue()


DOCX = ["[Content_Types].xml", "word/document.xml"]
XLSX = ["[Content_Types].xml", "xl/workbook.xml"]
OFD = ["OFD.xml", "Doc_0/Document.xml"]
PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def store(tmp_path: Path) -> MediaStore:
    return MediaStore(MediaConfig(dir=str(tmp_path / "media"), max_attachment_bytes=200_000))


def stored_files(store: MediaStore) -> list[str]:
    """Every file in the directory (sidecars and leftovers included)."""
    return sorted(p.name for p in store.root.iterdir()) if store.root.exists() else []


def test_png_is_stored_under_its_content_hash_with_its_pixel_size(store: MediaStore) -> None:
    stored = store.save("现场照片.png", png(40, 30))
    assert stored.name.endswith(".png") and len(stored.name) == 36
    assert (stored.width, stored.height, stored.filename) == (40, 30, "现场照片.png")
    assert (store.root / stored.name).read_bytes() == png(40, 30)
    assert stored_files(store) == sorted([stored.name, stored.name + ".json"])
    assert stored.snippet("活动现场") == f"![活动现场](/media/{stored.name})"


def test_the_same_file_uploaded_twice_is_stored_once(store: MediaStore) -> None:
    first = store.save("a.png", png())
    second = store.save("另一个名字.png", png())
    assert first.name == second.name
    assert (first.created, second.created) == (True, False)
    assert stored_files(store) == sorted([first.name, first.name + ".json"])
    # The first uploader's name stays the one shown.
    info = store.info(first.name)
    assert info is not None and info.filename == "a.png" and info.size == len(png())


def test_jpeg_exif_gps_xmp_and_comment_are_removed_and_the_picture_kept(
    store: MediaStore,
) -> None:
    photo = jpeg_with_exif(orientation=6)
    assert photo.count(GPS_TEXT) == 4
    stored = store.save("IMG_0001.jpg", photo)
    data = (store.root / stored.name).read_bytes()
    assert GPS_TEXT not in data and b"xmpmeta" not in data
    # Exactly the original image, plus a minimal EXIF that keeps only its orientation.
    assert data == JPEG[:APP0_END] + orientation_segment(6) + JPEG[APP0_END:]
    # Orientation 6 turns the picture a quarter: shown 16 wide, 16 high (square anyway).
    assert (stored.width, stored.height) == (16, 16)


def test_jpeg_without_metadata_is_stored_byte_for_byte(store: MediaStore) -> None:
    stored = store.save("logo.jpeg", JPEG)
    assert (store.root / stored.name).read_bytes() == JPEG
    assert stored.name.endswith(".jpg") and stored.filename == "logo.jpeg"


def test_png_text_and_exif_chunks_are_removed(store: MediaStore) -> None:
    meta = chunk(b"tEXt", b"Author\x00" + GPS_TEXT) + chunk(b"eXIf", b"MM\x00*" + GPS_TEXT)
    stored = store.save("图.png", png(extra=meta + chunk(b"pHYs", bytes(9))))
    data = (store.root / stored.name).read_bytes()
    assert GPS_TEXT not in data
    assert data == png(extra=chunk(b"pHYs", bytes(9)))


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"<!DOCTYPE html><html><script>alert(1)</script></html>", "HTML"),
        (b"GIF89a" + bytes(40), "GIF 图片"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 " + bytes(40), "WebP 图片"),
        (b"MZ" + bytes(60), "可执行程序"),
        (b"just some text, nothing else at all", "无法识别"),
    ],
)
def test_types_are_decided_by_bytes_and_others_refused_naming_the_file(
    store: MediaStore, data: bytes, words: str
) -> None:
    with pytest.raises(MediaRefused) as caught:
        store.save("picture.png", data)
    message = str(caught.value)
    assert "picture.png" in message and words in message and "JPG、PNG、PDF" in message
    assert stored_files(store) == []


def test_a_pdf_named_png_is_stored_as_a_pdf(store: MediaStore) -> None:
    stored = store.save("报告.png", PDF)
    assert stored.name.endswith(".pdf") and stored.filename == "报告.png.pdf"
    assert stored.snippet() == f"[报告.png.pdf](/media/{stored.name})"


@pytest.mark.parametrize(
    ("data", "ext"),
    [
        (cfb("WordDocument"), "doc"),
        (cfb("Workbook"), "xls"),
        (zip_file(DOCX), "docx"),
        (zip_file(XLSX), "xlsx"),
        (zip_file(OFD), "ofd"),
        (PDF, "pdf"),
    ],
)
def test_attachments_are_told_apart_by_their_containers(
    store: MediaStore, data: bytes, ext: str
) -> None:
    stored = store.save("文件", data)
    assert stored.name.endswith("." + ext) and stored.filename == f"文件.{ext}"
    assert (store.root / stored.name).read_bytes() == data
    assert [n for n in stored_files(store) if n.endswith(".part")] == []


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (zip_file([*DOCX, "word/vbaProject.bin"]), "含有宏"),
        (cfb("Macros"), "含有宏"),
        (cfb("PowerPoint Document"), "PowerPoint"),
        (zip_file(["a.txt"]), "ZIP 压缩包"),
        (b"PK\x03\x04" + bytes(60), "损坏"),
        (png()[:-20], "不完整"),
        (JPEG[:300], "不完整"),
    ],
)
def test_damaged_or_macro_files_are_refused_and_nothing_is_left(
    store: MediaStore, data: bytes, words: str
) -> None:
    with pytest.raises(MediaInvalid) as caught:
        store.save("材料.bin", data)
    assert "材料.bin" in str(caught.value) and words in str(caught.value)
    assert stored_files(store) == []


def test_only_the_configured_types_are_accepted(tmp_path: Path) -> None:
    store = MediaStore(MediaConfig(dir=str(tmp_path), allowed_types=("png", "pdf")))
    with pytest.raises(MediaRefused, match="只能上传：PNG、PDF"):
        store.save("a.jpg", JPEG)
    with pytest.raises(MediaRefused, match="是JPG 图片"):
        store.save("a.png", JPEG)
    with pytest.raises(MediaRefused, match="ZIP 格式"):
        store.save("a.docx", zip_file(DOCX))
    assert [p.name for p in tmp_path.iterdir()] == []


def test_an_oversize_image_is_refused_while_streaming_naming_the_file(
    store: MediaStore,
) -> None:
    upload = store.begin("大图.png")
    upload.write(png()[:40])
    with pytest.raises(MediaTooLarge) as caught:
        for _ in range(20):
            upload.write(bytes(64 * 1024))  # refused at the first chunk past 1 MiB
    assert "大图.png" in str(caught.value) and "1.0 MB" in str(caught.value)
    assert upload.size <= 1024 * 1024 + 64 * 1024
    assert stored_files(store) == []


@pytest.mark.parametrize(
    ("filename", "data"),
    [("炸弹.png", png_claiming(40_000, 40_000)), ("炸弹.jpg", jpeg_claiming(40_000, 40_000))],
    ids=["png", "jpeg"],
)
def test_an_image_claiming_more_pixels_than_the_limit_is_refused_naming_its_size(
    store: MediaStore, filename: str, data: bytes
) -> None:
    assert len(data) < 1024  # small on disk, 1.6 billion pixels once decoded
    with pytest.raises(MediaTooManyPixels) as caught:
        store.save(filename, data)
    message = str(caught.value)
    assert filename in message and "40000 × 40000 像素" in message
    assert "上限 4000 万像素" in message  # the default [web.media] max_image_pixels
    assert 400 <= caught.value.status_code < 500
    assert stored_files(store) == []


def test_the_pixel_limit_is_the_configured_one_and_inclusive(tmp_path: Path) -> None:
    store = MediaStore(MediaConfig(dir=str(tmp_path), max_image_pixels=1_000_000))
    stored = store.save("正好.png", png_claiming(1000, 1000))
    assert (stored.width, stored.height) == (1000, 1000)
    with pytest.raises(MediaTooManyPixels, match=r"1001 × 1000 像素.*上限 100 万像素"):
        store.save("多一列.png", png_claiming(1001, 1000))
    with pytest.raises(MediaTooManyPixels, match=r"「横幅\.jpg」"):
        store.save("横幅.jpg", jpeg_claiming(2000, 501))
    # An ordinary photo still passes; the refused ones left nothing behind.
    photo = store.save("照片.jpg", JPEG)
    assert (photo.width, photo.height) == (16, 16)
    assert {p.name for p in tmp_path.iterdir() if not p.name.endswith(".json")} == {
        stored.name,
        photo.name,
    }


@pytest.mark.parametrize("pixels", [0, 999_999, 200_000_001])
def test_the_pixel_limit_is_bounded_in_the_configuration(pixels: int) -> None:
    with pytest.raises(ValidationError, match="max_image_pixels"):
        MediaConfig(max_image_pixels=pixels)


@pytest.mark.parametrize("size", [(0, 8), (8, 0)])
def test_a_png_whose_header_says_zero_pixels_is_refused_as_invalid(
    store: MediaStore, size: tuple[int, int]
) -> None:
    with pytest.raises(MediaInvalid, match=r"「空图\.png」PNG 文件头不正确"):
        store.save("空图.png", png_claiming(*size))
    assert stored_files(store) == []


def test_an_oversize_attachment_leaves_no_temporary_file(store: MediaStore) -> None:
    upload = store.begin("附件.pdf")
    upload.write(PDF)
    assert len(stored_files(store)) == 1  # the temporary .part file
    with pytest.raises(MediaTooLarge, match=r"附件\.pdf"):
        while True:
            upload.write(bytes(50_000))
    assert stored_files(store) == []


def test_an_empty_file_is_refused(store: MediaStore) -> None:
    with pytest.raises(MediaRefused, match="空文件"):
        store.save("空.pdf", b"")


def test_display_names_lose_paths_control_characters_and_personal_data() -> None:
    assert display_name("C:\\Users\\me\\通知.pdf", "pdf") == "通知.pdf"
    assert display_name("../../etc/passwd", "pdf") == "passwd.pdf"
    assert display_name("联系人13800138000.docx", "docx") == "联系人138****8000.docx"
    assert display_name('a\x00b\u202e"<c>.png', "png") == "abc.png"
    assert display_name("", "pdf") == "附件.pdf"
    assert display_name("...", "jpg") == "图片.jpg"


def test_snippets_render_as_the_link_or_image_with_the_name_as_text(
    store: MediaStore,
) -> None:
    # Brackets, emphasis marks, code ticks and entities in a name stay literal text.
    stored = store.save("[草稿]_要点_ `2021` &amp;.pdf", PDF)
    html = MarkdownIt("commonmark").render(stored.snippet())
    text = "[草稿]_要点_ `2021` &amp;amp;.pdf"
    assert html == f'<p><a href="/media/{stored.name}">{text}</a></p>\n'
    image = store.save("图.png", png())
    html = MarkdownIt("commonmark").render(image.snippet("说明](javascript:x)"))
    assert html == (f'<p><img src="/media/{image.name}" alt="说明](javascript:x)" /></p>\n')


def test_media_names_finds_relative_and_absolute_references_once() -> None:
    a, b = "a" * 32 + ".png", "0123456789abcdef" * 2 + ".pdf"
    body = (
        f"![x](/media/{a})\n[文件](https://www.example.gov.cn/media/{b})\n"
        f"![again](/media/{a}) /media/{'f' * 32}.exe /media/{'A' * 32}.png /media/{a}x"
    )
    assert media_names(body) == [a, b]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600), st.sampled_from(["jpg", "png"]))
def test_image_parsers_only_ever_raise_format_error(data: bytes, kind: str) -> None:
    prefix = JPEG[:2] if kind == "jpg" else png()[:8]
    try:
        (clean_jpeg if kind == "jpg" else clean_png)(prefix + data)
    except FormatError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=len(JPEG)), st.binary(min_size=1, max_size=8))
def test_damaged_jpegs_are_refused_or_kept_whole_never_half(cut: int, noise: bytes) -> None:
    data = JPEG[:cut] + noise + JPEG[cut + len(noise) :]
    try:
        image = clean_jpeg(data)
    except FormatError:
        return
    assert image.data.startswith(b"\xff\xd8") and image.data.endswith(b"\xff\xd9")
