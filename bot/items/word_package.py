"""A .docx as a file, before anything reads its text: named .docx (.doc and .wps: save as
.docx), within [web.media.word] max_bytes, a sound ZIP whose entry count and unpacked size,
read from its directory before anything is unpacked, stay within max_entries and
max_uncompressed_bytes (a zip bomb), with a Word main part declared in [Content_Types].xml, no
macros, and no part declaring a DTD (which would make an XML parser expand entities: billion
laughs). Every refusal is a WordFileError whose message (Chinese) names the file and the
problem. bot/items/wordfile.py reads what passes.
"""

from __future__ import annotations

import io
import struct
import unicodedata
import zipfile
import zlib
from pathlib import Path
from xml.etree import ElementTree

from bot.config import WordConfig
from bot.errors import Refusal
from bot.items.media import human_size
from bot.items.media_formats import CFB_SIGNATURE, HEAD_BYTES, TYPES, cfb_names, sniff

SUFFIX = ".docx"
SAVE_AS = "请另存为 .docx 后上传"
# Formats people keep Word text in, which only their own program reads: named in the refusal.
OTHER_FORMATS = {
    ".doc": "旧版 Word 文档（.doc）",
    ".wps": "WPS 文字文档（.wps）",
    ".dot": "旧版 Word 模板（.dot）",
    ".wpt": "WPS 文字模板（.wpt）",
    ".docm": "含宏的 Word 文档（.docm）",
    ".dotx": "Word 模板（.dotx）",
    ".rtf": "RTF 文档（.rtf）",
    ".odt": "OpenDocument 文本（.odt）",
}
_CONTENT_TYPES = "[Content_Types].xml"
_CT = "{http://schemas.openxmlformats.org/package/2006/content-types}"
_WORD_MAIN = (
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml",
)
_NOT_WORD = {  # a main part of another kind: what the file is
    "spreadsheetml": "Excel 表格（.xlsx）",
    "presentationml": "PowerPoint 演示文稿（.pptx）",
    "macroEnabled": "含宏的 Word 文档（.docm）",
}
_MACROS = "含有宏，不能公开发布：请在 Word 或 WPS 中另存为不含宏的 .docx 后再导入"
# A DTD makes an XML parser expand entities (billion laughs) or fetch files; Word and WPS
# never write one, so a part that declares one was made to attack the reader.
_DTD = tuple(
    marker.encode(coding)
    for marker in ("<!DOCTYPE", "<!ENTITY")
    for coding in ("utf-8", "utf-16-le", "utf-16-be")
)
_EOCD = b"PK\x05\x06"


class WordFileError(Refusal):
    """A Word document that cannot be read as an item; str() names the file and the problem."""

    status_code = 422
    code = "invalid_word_file"


class WordFileTooLarge(WordFileError):
    """Over a [web.media.word] size limit: the file, or what its entries add up to unpacked."""

    status_code = 413


def is_word_name(name: str) -> bool:
    """Whether a file name says Word text: .docx, or a format to be saved as .docx first."""
    suffix = Path(name).suffix.lower()
    return suffix == SUFFIX or suffix in OTHER_FORMATS


def file_name(raw: str) -> str:
    """A sent file's name as messages and the title show it: no folder, no control characters."""
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    return name[:200] or "未命名.docx"


def check_name(source: str) -> None:
    """Refuse by its name a file that is not a .docx (.doc and .wps: save as .docx)."""
    source = file_name(source)
    suffix = Path(source).suffix.lower()
    if suffix == SUFFIX:
        return
    if suffix in OTHER_FORMATS:
        raise WordFileError(
            f"「{source}」是{OTHER_FORMATS[suffix]}，无法直接导入：{SAVE_AS}（在 Word 或 WPS "
            "中选择“另存为”，文件类型选 Word 文档 *.docx）。"
        )
    raise WordFileError(f"「{source}」不是 Word 文档：只能导入 .docx 文件。")


def check_package(data: bytes, source: str, limits: WordConfig) -> None:
    """Refuse a file that is not a sound .docx within the limits; `source` is its name."""
    check_name(source)
    if len(data) > limits.max_bytes:
        raise too_large(source, len(data), limits)
    if not data:
        raise WordFileError(f"「{source}」是空文件。")
    _check_signature(data, source)
    _check_declared_entries(data, source, limits)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, struct.error) as exc:
        raise damaged(source) from exc
    with archive:
        _check_entries(archive, source, limits)
        _check_parts(archive, source)


def too_large(source: str, size: int, limits: WordConfig) -> WordFileTooLarge:
    return WordFileTooLarge(
        f"「{source}」大小为 {human_size(size)}，超过 Word 文档大小上限 "
        f"{human_size(limits.max_bytes)}（[web.media.word] max_bytes），未导入：请压缩其中的"
        "图片或拆分文档后重试。"
    )


def damaged(source: str, what: str = "") -> WordFileError:
    return WordFileError(
        f"「{source}」已损坏或不完整{what}，无法读取：请在 Word 或 WPS 中打开并重新另存为 .docx "
        "后再导入。"
    )


def _check_signature(data: bytes, source: str) -> None:
    head = data[:HEAD_BYTES]
    if head.startswith(CFB_SIGNATURE):  # the old binary container (.doc, .wps, .xls)
        try:
            names = cfb_names(io.BytesIO(data))
        except (ValueError, struct.error) as exc:
            raise damaged(source) from exc
        if "EncryptedPackage" in names:
            raise WordFileError(
                f"「{source}」设置了打开密码（已加密），无法读取：请取消密码后另存为 .docx 再导入。"
            )
        raise WordFileError(
            f"「{source}」实际是旧版 Word 或 WPS 文档（.doc / .wps 格式），"
            f"无法直接导入：{SAVE_AS}。"
        )
    if not head.startswith(b"PK\x03\x04"):
        family = sniff(head)
        what = f"是{TYPES[family].label}" if family in TYPES else "的内容不是 Word 文档"
        raise WordFileError(f"「{source}」{what}，不是 .docx 文件，无法导入。")


def _check_declared_entries(data: bytes, source: str, limits: WordConfig) -> None:
    """The entry count the ZIP's end record declares, read before zipfile builds an object
    for every entry of a directory that may list millions."""
    at = data.rfind(_EOCD, max(0, len(data) - 65_557))
    if at < 0 or at + 22 > len(data):
        raise damaged(source, "（找不到 ZIP 目录，文件可能被截断）")
    (entries,) = struct.unpack("<H", data[at + 10 : at + 12])
    if entries != 0xFFFF and entries > limits.max_entries:  # 0xFFFF: ZIP64, counted below
        raise _too_many(source, entries, limits)


def _too_many(source: str, entries: int, limits: WordConfig) -> WordFileError:
    return WordFileError(
        f"「{source}」包含 {entries} 个压缩条目，超过上限 {limits.max_entries} 个"
        "（[web.media.word] max_entries），未导入：这不像正常的 Word 文档。"
    )


def _check_entries(archive: zipfile.ZipFile, source: str, limits: WordConfig) -> None:
    infos = archive.infolist()
    if len(infos) > limits.max_entries:
        raise _too_many(source, len(infos), limits)
    # zipfile stops unpacking an entry at the size the directory declares, so these sums
    # bound what reading the document can ever unpack.
    unpacked = sum(info.file_size for info in infos)
    if unpacked > limits.max_uncompressed_bytes:
        raise WordFileTooLarge(
            f"「{source}」解压后共 {human_size(unpacked)}，超过解压后大小上限 "
            f"{human_size(limits.max_uncompressed_bytes)}（[web.media.word] "
            "max_uncompressed_bytes），未导入：文件可能是恶意构造的压缩炸弹，或其中图片过多过大。"
        )
    if any(info.flag_bits & 0x1 for info in infos):
        raise WordFileError(f"「{source}」含有加密的内容，无法读取：请取消密码后另存为 .docx。")


def _check_parts(archive: zipfile.ZipFile, source: str) -> None:
    """A Word document's main part, declared as one in [Content_Types].xml; no macros, no DTD."""
    names = set(archive.namelist())
    try:
        if any(name.lower().endswith("vbaproject.bin") for name in names):
            raise WordFileError(f"「{source}」{_MACROS}。")
        for name in names:
            if name.lower().endswith((".xml", ".rels")):
                part = archive.read(name)
                if any(marker in part for marker in _DTD):
                    raise WordFileError(
                        f"「{source}」的组成部分 {name} 含有 XML 文档类型声明（DOCTYPE/ENTITY），"
                        "Word 与 WPS 保存的文档从不含有它，可能是恶意构造的文件，未导入。"
                    )
        if _CONTENT_TYPES not in names:
            what = _not_word(names)
            raise WordFileError(f"「{source}」{what}，不是 Word 文档（.docx），无法导入。")
        root = ElementTree.fromstring(archive.read(_CONTENT_TYPES))
    except (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError, RuntimeError) as exc:
        raise damaged(source) from exc
    except ElementTree.ParseError as exc:
        raise damaged(source, "（[Content_Types].xml 不是有效的 XML）") from exc
    types = {
        (o.get("PartName") or "").lstrip("/"): o.get("ContentType") or ""
        for o in root.iter(f"{_CT}Override")
    }
    if not any(t in _WORD_MAIN and part in names for part, t in types.items()):
        found = next(
            (label for key, label in _NOT_WORD.items() if any(key in t for t in types.values())),
            "",
        )
        if found == _NOT_WORD["macroEnabled"]:
            raise WordFileError(f"「{source}」{_MACROS}。")
        what = f"是{found}" if found else _not_word(names)
        raise WordFileError(f"「{source}」{what}，不是 Word 文档（.docx），无法导入。")


def _not_word(names: set[str]) -> str:
    if "OFD.xml" in names:
        return "是 OFD 版式文档"
    if "xl/workbook.xml" in names:
        return "是 Excel 表格（.xlsx）"
    return "是 ZIP 压缩包或其他格式的文件（缺少 Word 正文 word/document.xml）"
