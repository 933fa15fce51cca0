"""What an uploaded file is, decided by its bytes (never its name): JPG/PNG images, PDF, Word
and Excel (old binary and OOXML) and OFD attachments; and images rewritten without their
metadata (EXIF with GPS location, PNG text chunks), losslessly, by dropping segments.

No imaging library: the structures read here (JPEG segments, PNG chunks, the compound file
directory of .doc/.xls, a ZIP's name list) are small and documented, and rewriting a JPEG by
its segments keeps every pixel as it was where a decode and re-encode would not.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO


class FormatError(Exception):
    """The bytes are not a sound file of the type they start like (message: Chinese reason)."""


@dataclass(frozen=True)
class FileType:
    ext: str
    content_type: str
    label: str
    image: bool = False


TYPES = {
    t.ext: t
    for t in (
        FileType("jpg", "image/jpeg", "JPG 图片", image=True),
        FileType("png", "image/png", "PNG 图片", image=True),
        FileType("pdf", "application/pdf", "PDF 文档"),
        FileType("doc", "application/msword", "Word 文档"),
        FileType(
            "docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "Word 文档",
        ),
        FileType("xls", "application/vnd.ms-excel", "Excel 表格"),
        FileType(
            "xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "Excel 表格",
        ),
        FileType("ofd", "application/ofd", "OFD 版式文档"),
    )
}
HEAD_BYTES = 32  # enough of the start of a file to tell every family below apart
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CFB_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Families known by their first bytes; "cfb" (doc or xls) and "zip" (docx, xlsx or ofd) are
# told apart once the whole file is there.
_MAGIC = (
    (b"\xff\xd8\xff", "jpg"),
    (PNG_SIGNATURE, "png"),
    (b"%PDF-", "pdf"),
    (CFB_SIGNATURE, "cfb"),
    (b"PK\x03\x04", "zip"),
)
# Recognised but refused, so that the message can say what the file is.
_REFUSED = (
    (b"GIF87a", "GIF 图片"),
    (b"GIF89a", "GIF 图片"),
    (b"BM", "BMP 图片"),
    (b"II*\x00", "TIFF 图片"),
    (b"MM\x00*", "TIFF 图片"),
    (b"MZ", "可执行程序"),
    (b"\x7fELF", "可执行程序"),
    (b"Rar!", "RAR 压缩包"),
    (b"7z\xbc\xaf\x27\x1c", "7z 压缩包"),
    (b"\x1f\x8b", "gzip 压缩包"),
)


def sniff(head: bytes) -> str | None:
    """The family of a file from its first bytes: an extension, "cfb" or "zip"; None if
    unknown or refused (refused_label says what it is)."""
    for magic, family in _MAGIC:
        if head.startswith(magic):
            return family
    return None


def refused_label(head: bytes) -> str:
    """What a file we do not accept looks like, for the message ("" when unknown)."""
    for magic, label in _REFUSED:
        if head.startswith(magic):
            return label
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP 图片"
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"avif"):
        return "HEIC/AVIF 图片"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<!doctype", b"<html", b"<svg", b"<?xml", b"<")):
        return "HTML/XML 文本"
    return ""


# ---- images ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CleanImage:
    data: bytes
    width: int
    height: int


def clean_image(data: bytes, ext: str) -> CleanImage:
    return clean_png(data) if ext == "png" else clean_jpeg(data)


# Kept ancillary PNG chunks: how the pixels look (colour, transparency, density, animation).
# Dropped: eXIf, tEXt, zTXt, iTXt, tIME and private chunks (where metadata lives).
_PNG_CRITICAL = frozenset({b"IHDR", b"PLTE", b"IDAT", b"IEND"})
_PNG_KEEP = frozenset(
    {b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT", b"pHYs", b"bKGD", b"hIST", b"sPLT"}
    | {b"acTL", b"fcTL", b"fdAT"}
)


def clean_png(data: bytes) -> CleanImage:
    if not data.startswith(PNG_SIGNATURE):
        raise FormatError("不是 PNG 图片")
    out = [PNG_SIGNATURE]
    pos, size, idat, end_seen = len(PNG_SIGNATURE), None, False, False
    while pos + 12 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > len(data):
            break
        body = data[pos + 8 : end - 4]
        if zlib.crc32(kind + body) != struct.unpack(">I", data[end - 4 : end])[0]:
            raise FormatError("PNG 数据校验失败，文件已损坏")
        if size is None:
            if kind != b"IHDR" or length != 13:
                raise FormatError("PNG 文件头不正确")
            size = struct.unpack(">II", body[:8])
            if 0 in size:
                raise FormatError("PNG 文件头不正确（图片宽度或高度为 0）")
        if kind[0] & 0x20 == 0 and kind not in _PNG_CRITICAL:
            raise FormatError(f"PNG 含有无法识别的关键数据块 {kind.decode('latin-1')!r}")
        if kind in _PNG_CRITICAL or kind in _PNG_KEEP:
            out.append(data[pos:end])
        idat = idat or kind == b"IDAT"
        pos = end
        if kind == b"IEND":
            end_seen = True
            break  # anything after IEND is not part of the image
    if size is None or not idat or not end_seen:
        raise FormatError("PNG 文件不完整")
    return CleanImage(b"".join(out), size[0], size[1])


_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # frame headers (not DHT/JPG/DAC)
_APP0, _APP1, _APP2, _APP14, _SOS, _EOI, _COM = 0xE0, 0xE1, 0xE2, 0xEE, 0xDA, 0xD9, 0xFE


def _keep_jpeg_segment(marker: int, payload: bytes) -> bool:
    """JFIF (APP0), the ICC colour profile (APP2) and Adobe's colour transform (APP14) change
    how the pixels look; every other APPn and comments are metadata (EXIF, XMP, IPTC...)."""
    if marker == _COM:
        return False
    if 0xE0 <= marker <= 0xEF:
        return marker in (_APP0, _APP14) or (
            marker == _APP2 and payload.startswith(b"ICC_PROFILE\x00")
        )
    return True


def exif_orientation(tiff: bytes) -> int:
    """The Orientation tag (1..8) of an EXIF block's first IFD; 1 when absent or unreadable."""
    order = {b"II": "<", b"MM": ">"}.get(tiff[:2])
    if order is None or len(tiff) < 8:
        return 1
    magic, ifd = struct.unpack(order + "HI", tiff[2:8])
    if magic != 42 or ifd + 2 > len(tiff):
        return 1
    (count,) = struct.unpack(order + "H", tiff[ifd : ifd + 2])
    for k in range(min(count, 512)):
        at = ifd + 2 + 12 * k
        if at + 12 > len(tiff):
            break
        tag, kind, n = struct.unpack(order + "HHI", tiff[at : at + 8])
        if tag == 0x0112 and kind == 3 and n == 1:
            (value,) = struct.unpack(order + "H", tiff[at + 8 : at + 10])
            return value if 1 <= value <= 8 else 1
    return 1


def orientation_segment(value: int) -> bytes:
    """An APP1 EXIF segment holding nothing but the Orientation tag: a phone photo taken
    upright stays upright once the rest of its EXIF (GPS, camera, times) is gone."""
    entry = struct.pack(">HHIHH", 0x0112, 3, 1, value, 0)
    payload = b"Exif\x00\x00" + b"MM\x00\x2a\x00\x00\x00\x08" + b"\x00\x01" + entry + bytes(4)
    return bytes([0xFF, _APP1]) + struct.pack(">H", len(payload) + 2) + payload


def _scan_end(data: bytes, pos: int) -> int:
    """Where the entropy-coded data that starts at pos ends: the next real marker (a 0xFF not
    followed by a stuffed 0x00 or a restart marker)."""
    while True:
        j = data.find(b"\xff", pos)
        if j < 0 or j + 1 >= len(data):
            raise FormatError("JPG 文件不完整")
        nxt = data[j + 1]
        if nxt == 0x00 or 0xD0 <= nxt <= 0xD7:
            pos = j + 2
        elif nxt == 0xFF:
            pos = j + 1  # fill byte before a marker
        else:
            return j


def clean_jpeg(data: bytes) -> CleanImage:
    if not data.startswith(b"\xff\xd8"):
        raise FormatError("不是 JPG 图片")
    out: list[bytes] = [b"\xff\xd8"]
    pos, size, orientation, scanned = 2, None, 1, False
    while True:
        if pos >= len(data) or data[pos] != 0xFF:
            raise FormatError("JPG 文件结构不正确或不完整")
        while pos < len(data) and data[pos] == 0xFF:
            pos += 1
        if pos >= len(data):
            raise FormatError("JPG 文件不完整")
        marker = data[pos]
        pos += 1
        if marker == _EOI:
            break  # anything after the end of the image is dropped with it
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            out.append(bytes([0xFF, marker]))
            continue
        if pos + 2 > len(data):
            raise FormatError("JPG 文件不完整")
        (length,) = struct.unpack(">H", data[pos : pos + 2])
        if length < 2 or pos + length > len(data):
            raise FormatError("JPG 文件不完整")
        payload = data[pos + 2 : pos + length]
        segment = bytes([0xFF, marker]) + data[pos : pos + length]
        pos += length
        if marker == _APP1 and payload.startswith(b"Exif\x00\x00"):
            orientation = exif_orientation(payload[6:])
        if _keep_jpeg_segment(marker, payload):
            out.append(segment)
        if marker in _SOF and len(payload) >= 5:
            height, width = struct.unpack(">HH", payload[1:5])
            size = (width, height)
        if marker == _SOS:
            end = _scan_end(data, pos)
            out.append(data[pos:end])
            pos, scanned = end, True
    if size is None or not scanned or 0 in size:
        raise FormatError("JPG 文件不完整（缺少图像数据）")
    out.append(b"\xff\xd9")
    if orientation != 1:
        at = 2 if len(out) > 1 and out[1][:2] == bytes([0xFF, _APP0]) else 1
        out.insert(at, orientation_segment(orientation))
    width, height = size if orientation < 5 else (size[1], size[0])  # 5..8 turn the picture
    return CleanImage(b"".join(out), width, height)


# ---- attachments ----------------------------------------------------------------------------


def attachment_type(path: Path, family: str) -> str:
    """The extension of a stored attachment of a family ("pdf", "cfb" or "zip")."""
    if family == "pdf":
        return "pdf"
    try:
        with path.open("rb") as f:
            if family == "cfb":
                return _cfb_type(cfb_names(f))
            with zipfile.ZipFile(f) as archive:
                return _zip_type(archive.namelist())
    except (OSError, zipfile.BadZipFile, struct.error, ValueError) as exc:
        raise FormatError("文件已损坏或不完整") from exc


def _cfb_type(names: set[str]) -> str:
    if names & {"Macros", "_VBA_PROJECT_CUR", "_VBA_PROJECT"}:
        raise FormatError("含有宏，不能公开发布，请另存为不含宏的文档或 PDF")
    if "WordDocument" in names:
        return "doc"
    if names & {"Workbook", "Book"}:
        return "xls"
    raise FormatError("是 Word/Excel 以外的旧版 Office 文件（如 PowerPoint）")


def _zip_type(names: list[str]) -> str:
    if "OFD.xml" in names:
        return "ofd"
    if any(n.lower().endswith("vbaproject.bin") for n in names):
        raise FormatError("含有宏，不能公开发布，请另存为不含宏的文档或 PDF")
    if "[Content_Types].xml" in names:
        if "word/document.xml" in names:
            return "docx"
        if "xl/workbook.xml" in names:
            return "xlsx"
    raise FormatError("是 ZIP 压缩包，不是 Word、Excel 或 OFD 文档")


_FREE = 0xFFFFFFFA  # sector numbers from here up are markers (end of chain, free, FAT...)


def cfb_names(f: BinaryIO) -> set[str]:
    """The names in a compound file's directory (the container of .doc and .xls)."""
    header = f.read(512)
    if len(header) < 512 or not header.startswith(CFB_SIGNATURE):
        raise ValueError("not a compound file")
    (shift,) = struct.unpack("<H", header[0x1E:0x20])
    if shift not in (9, 12):
        raise ValueError("bad sector size")
    sector = 1 << shift
    n_fat, first_dir = struct.unpack("<II", header[0x2C:0x34])
    first_difat, n_difat = struct.unpack("<II", header[0x44:0x4C])

    def read(number: int) -> bytes:
        f.seek((number + 1) * sector)
        block = f.read(sector)
        if len(block) != sector:
            raise ValueError("sector past the end")
        return block

    fat_sectors = [s for s in struct.unpack("<109I", header[0x4C:0x200]) if s < _FREE]
    difat, hops = first_difat, 0
    while difat < _FREE and hops < n_difat and len(fat_sectors) < n_fat:
        entries = struct.unpack(f"<{sector // 4}I", read(difat))
        fat_sectors += [s for s in entries[:-1] if s < _FREE]
        difat, hops = entries[-1], hops + 1
    fat: list[int] = []
    for s in fat_sectors[:n_fat]:
        fat += struct.unpack(f"<{sector // 4}I", read(s))
    names: set[str] = set()
    current, seen = first_dir, set()
    while current < _FREE:
        if current in seen or current >= len(fat):
            raise ValueError("broken directory chain")
        seen.add(current)
        block = read(current)
        for at in range(0, sector, 128):
            entry = block[at : at + 128]
            (length,) = struct.unpack("<H", entry[0x40:0x42])
            if 2 <= length <= 64 and entry[0x42] in (1, 2):  # storage or stream
                names.add(entry[: length - 2].decode("utf-16-le", "replace"))
        current = fat[current]
    return names
