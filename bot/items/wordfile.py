"""Word documents (.docx, and WPS documents saved as .docx) read as an item: the title, 文号 and
成文日期 from the document's head (bot/items/word_head.py), the body as Markdown (headings,
numbered and bulleted lists, tables, pictures) through mammoth and bot.sources.html, and the
pictures handed back to be stored as uploads (bot/items/wordimport.py). Nothing is written here.

mammoth reads only a file bot/items/word_package.py has let through: a sound .docx within the
[web.media.word] limits, its ZIP's directory checked before anything is unpacked. Every
refusal is a WordFileError whose message (Chinese) names the file and the problem.
"""

from __future__ import annotations

import io
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import mammoth
from mammoth import documents as word_model

from bot.config import WordConfig
from bot.items.media_formats import HEAD_BYTES, TYPES, sniff
from bot.items.word_head import DocumentHead, Line, read_head
from bot.items.word_package import (
    SAVE_AS,
    WordFileError,
    WordFileTooLarge,
    check_name,
    check_package,
    damaged,
    file_name,
    is_word_name,
    too_large,
)
from bot.sources.html import to_markdown

__all__ = [
    "SAVE_AS",
    "WordFileError",
    "WordFileTooLarge",
    "WordImage",
    "WordItem",
    "check_name",
    "is_word_name",
    "read_word",
    "read_word_file",
]

# HTML the body keeps; anything else is dropped with its markup (its text stays).
TAGS = frozenset(
    {"p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "table", "tr", "td", "th"}
    | {"strong", "b", "em", "i", "a", "img", "br", "blockquote"}
)
# WPS and a Chinese Word name the heading styles in Chinese; mammoth knows the English names.
STYLE_MAP = "\n".join(f"p[style-name='标题 {n}'] => h{n}:fresh" for n in range(1, 7))
_HEADING = re.compile(r"<(/?)h([1-6])>")
_ANCHOR_LINK = re.compile(r'<a href="#[^"]*"')  # footnote and bookmark links: no target here
_IMAGE_LABELS = {
    "image/x-emf": "EMF 矢量图",
    "image/emf": "EMF 矢量图",
    "image/x-wmf": "WMF 矢量图",
    "image/wmf": "WMF 矢量图",
    "image/gif": "GIF 图片",
    "image/bmp": "BMP 图片",
    "image/tiff": "TIFF 图片",
    "image/svg+xml": "SVG 矢量图",
}


@dataclass(frozen=True)
class WordImage:
    """A picture of the document, to be stored as an upload; the body holds `placeholder`
    where the stored file's address goes."""

    number: int  # 1-based, in the order the pictures appear
    placeholder: str
    data: bytes
    filename: str  # the name the stored file is shown under: <document>-图<n>.<ext>


@dataclass(frozen=True)
class WordItem:
    """What a document gives an item: the fields, and the pictures its body refers to."""

    source: str  # the file's name, as messages show it
    title: str
    title_from: str  # where the title was found (for the person who imported it)
    body: str  # Markdown; pictures at their placeholders until stored
    doc_number: str
    written_on: date | None
    images: tuple[WordImage, ...]

    def body_with(self, urls: dict[str, str]) -> str:
        """The body with each placeholder replaced by its stored picture's address."""
        body = self.body
        for placeholder, url in urls.items():
            body = body.replace(f"]({placeholder})", f"]({url})")
        return body

    def fields(self, urls: dict[str, str]) -> dict[str, Any]:
        fields: dict[str, Any] = {"title": self.title, "body": self.body_with(urls)}
        if self.doc_number:
            fields["doc_number"] = self.doc_number
        if self.written_on is not None:
            fields["written_on"] = self.written_on.isoformat()
        return fields


def read_word_file(path: Path, limits: WordConfig) -> WordItem:
    """Read a .docx from disk (the command line); its size is checked before it is read."""
    source = path.name
    check_name(source)
    try:
        size = path.stat().st_size
        if size > limits.max_bytes:
            raise too_large(source, size, limits)
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise WordFileError(f"「{path}」不存在。") from exc
    except OSError as exc:
        raise WordFileError(f"无法读取「{path}」：{exc.strerror or exc}") from exc
    return read_word(data, source, limits)


def read_word(data: bytes, source: str, limits: WordConfig) -> WordItem:
    """The item a .docx holds. `source` is its file name (for messages and the title when the
    document shows none). Raises WordFileError."""
    source = file_name(source)
    check_package(data, source, limits)
    return _convert(data, source)


class _Pictures:
    """mammoth's image callback: each picture kept for storing, its place in the body marked by
    a placeholder no text of the document can spell (a random nonce)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.stem = Path(source).stem or "Word文档"
        self.nonce = secrets.token_hex(8)
        self.images: list[WordImage] = []

    def __call__(self, image: Any) -> dict[str, str]:
        number = len(self.images) + 1
        try:
            with image.open() as f:
                data = f.read()
        except Exception as exc:  # a picture the document lists but lacks, or whose bytes spoil
            raise WordFileError(
                f"「{self.source}」中的第 {number} 张图片缺失或已损坏，无法读取：请在 Word 或 "
                "WPS 中删除并重新插入该图片后再导入。"
            ) from exc
        family = sniff(data[:HEAD_BYTES])
        if family not in ("jpg", "png"):
            label = _IMAGE_LABELS.get(str(image.content_type).lower(), "")
            label = label or (TYPES[family].label if family in TYPES else "不受支持的格式")
            raise WordFileError(
                f"「{self.source}」中的第 {number} 张图片是{label}，只能使用 JPG 或 PNG 图片：请在 "
                "Word 或 WPS 中将它另存为 PNG 或 JPG 图片后重新插入（或删除它），再导入。"
            )
        placeholder = f"word-image-{self.nonce}-{number}"
        filename = f"{self.stem}-图{number}.{family}"
        self.images.append(WordImage(number, placeholder, data, filename))
        # Word's 替代文字 when the author wrote one; else, as an upload's, the file's name
        return {"src": placeholder, "alt": image.alt_text or filename.rsplit(".", 1)[0]}


def _convert(data: bytes, source: str) -> WordItem:
    pictures = _Pictures(source)
    heads: list[DocumentHead] = []

    def transform(document: Any) -> Any:
        lines = [_line(child) for child in document.children]
        head = read_head(lines)
        heads.append(head)
        kept = [c for k, c in enumerate(document.children) if k not in head.consumed]
        return document.copy(children=kept)

    try:
        result = mammoth.convert_to_html(
            io.BytesIO(data),
            style_map=STYLE_MAP,
            transform_document=transform,
            convert_image=mammoth.images.img_element(pictures),
            include_embedded_style_map=False,  # a map inside the file would be the sender's
            external_file_access=False,  # a picture linked to a file on this machine
        )
    except WordFileError:
        raise
    except Exception as exc:  # mammoth reads an untrusted file: whatever fails is that file's
        # damage (a bad CRC, broken XML, a missing part), for its sender to mend
        raise damaged(source) from exc
    head = heads[0]
    title, title_from = head.title, head.title_from
    if not title:
        title, title_from = Path(source).stem.strip() or source, "文件名"
    return WordItem(
        source=source,
        title=title[:500],
        title_from=title_from,
        body=to_markdown(_body_html(result.value), TAGS),
        doc_number=head.doc_number,
        written_on=head.written_on,
        images=tuple(pictures.images),
    )


def _line(element: Any) -> Line:
    """What the head reader needs of a top-level element of the document."""
    if not isinstance(element, word_model.Paragraph):
        return Line("", block=True)
    text = unicodedata.normalize("NFC", mammoth.extract_raw_text_from_element(element))
    runs = [
        run
        for run in mammoth.transforms.get_descendants_of_type(element, word_model.Run)
        if mammoth.extract_raw_text_from_element(run).strip()
    ]
    return Line(
        text=" ".join(text.split()),
        style=(element.style_name or "").strip().lower(),
        centered=element.alignment == "center",
        bold=bool(runs) and all(run.is_bold for run in runs),
        large=bool(runs) and all((run.font_size or 0) >= 16 for run in runs),
    )


def _body_html(html: str) -> str:
    """The body's headings moved down so that the first level is h2 (the page's h1 is the
    title), and links to anchors that will not exist on the page made plain text."""
    levels = [int(m.group(2)) for m in _HEADING.finditer(html)]
    shift = 2 - min(levels) if levels else 0
    if shift > 0:
        html = _HEADING.sub(lambda m: f"<{m.group(1)}h{min(6, int(m.group(2)) + shift)}>", html)
    return _ANCHOR_LINK.sub("<a", html)
