"""Uploaded images and attachments on disk: typed by their bytes, images stripped of their
metadata and refused above [web.media] max_image_pixels (read from the header), stored once
under a content-addressed name (sha256 prefix + extension), written atomically, with a small
JSON sidecar keeping the original file name for display.

Layout of the directory ([web.media] dir): `<32 hex>.<ext>` (the file, served at /media/…) and
`<32 hex>.<ext>.json` (display name, type, size, pixel size). Uploads in progress are
`.upload-*.part` files; a crash can leave one behind, never a half-written stored file.
Stored files are public to anyone holding the link: the names are not listed anywhere and
cannot be guessed (128 bits), but nothing checks an item's status before serving one.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from bot.config import MediaConfig
from bot.errors import Refusal
from bot.items.media_formats import (
    HEAD_BYTES,
    TYPES,
    FileType,
    FormatError,
    attachment_type,
    clean_image,
    refused_label,
    sniff,
)
from moderation.rules.privacy import mask_personal_data

NAME_CHARS = 32  # hex digits of sha256 in a name: 128 bits, no collision in practice
NAME = re.compile(rf"[0-9a-f]{{{NAME_CHARS}}}\.(?:{'|'.join(sorted(TYPES))})")
URL_PREFIX = "/media/"
_REFERENCE = re.compile(rf"/media/({NAME.pattern})(?![0-9A-Za-z])")
_CHUNK = 256 * 1024
_NAME_MAX = 80
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>&])")
_UNSAFE_IN_NAME = re.compile(r'[<>:"/\\|?*]')
# What a file of a family we do not take (as configured) is, for the message.
_FAMILY_LABELS = {
    **{ext: t.label for ext, t in TYPES.items()},
    "cfb": "旧版 Office 文档（doc、xls 等）",
    "zip": "ZIP 格式的文件（docx、xlsx、ofd 等）",
}
# How people name the types in file names (a ".jpeg" stays as it was).
_SUFFIXES = {"jpg": ("jpg", "jpeg"), "png": ("png",)}


class MediaError(Refusal):
    """An upload refused; the message (Chinese) names the file."""

    status_code = 400
    code = "media_refused"


class MediaTooLarge(MediaError):
    status_code = 413


class MediaTooManyPixels(MediaTooLarge):
    """An image whose header claims more pixels than [web.media] max_image_pixels: a small
    file can decode to gigabytes in a browser or at WeChat (a decompression bomb)."""


class MediaRefused(MediaError):
    """Not a type we accept (by its bytes)."""


class MediaInvalid(MediaError):
    """The type is accepted but the file is damaged, incomplete or carries macros."""


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} 字节"
    if round(size / 1024, 1) < 1024:  # 1,048,575 bytes reads "1.0 MB", not "1024.0 KB"
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def pixels_label(pixels: int) -> str:
    """A pixel count as people read it, exactly: "16 亿像素", "4000 万像素", "12,345,678 像素"."""
    for unit, name in ((100_000_000, "亿"), (10_000, "万")):
        if pixels >= unit and pixels % unit == 0:
            return f"{pixels // unit} {name}像素"
    return f"{pixels:,} 像素"


def display_name(raw: str, ext: str) -> str:
    """The uploader's file name made safe to show and to put in a download header: no path,
    no control characters, personal data (ID, phone numbers) masked, the true extension."""
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    name = unicodedata.normalize("NFC", name)
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = " ".join(_UNSAFE_IN_NAME.sub("", name).split()).strip(" .")
    name = mask_personal_data(name)
    stem, dot, suffix = name.rpartition(".")
    if not dot or suffix.lower() not in _SUFFIXES.get(ext, (ext,)):
        stem, suffix = name, ext
    stem = stem[:_NAME_MAX].strip(" .") or ("图片" if TYPES[ext].image else "附件")
    return f"{stem}.{suffix}"


def markdown_text(text: str) -> str:
    """text as literal Markdown inline text (link text, image description)."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def media_names(body: str) -> list[str]:
    """The stored files a Markdown body refers to (/media/<name>, relative or absolute), in
    order, each once."""
    return list(dict.fromkeys(m.group(1) for m in _REFERENCE.finditer(body or "")))


@dataclass(frozen=True)
class StoredMedia:
    name: str
    type: FileType
    size: int
    filename: str  # for display: the first uploader's name, sanitized
    width: int | None = None
    height: int | None = None
    created: bool = True  # False: this content was stored before (deduplicated)

    @property
    def url(self) -> str:
        return URL_PREFIX + self.name

    def snippet(self, description: str = "") -> str:
        """The Markdown to put in a body: an image, or a link to the attachment."""
        if self.type.image:
            alt = description.strip() or self.filename.rsplit(".", 1)[0]
            return f"![{markdown_text(alt)}]({self.url})"
        return f"[{markdown_text(self.filename)}]({self.url})"

    def sidecar(self) -> dict[str, Any]:
        return {
            "filename": self.filename,
            "type": self.type.ext,
            "size": self.size,
            "width": self.width,
            "height": self.height,
            "stored_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }


class MediaStore:
    """The media directory. Cheap to make; creates the directory on the first upload."""

    def __init__(self, cfg: MediaConfig) -> None:
        self.cfg = cfg
        self.root = Path(cfg.dir)

    def limit_for(self, family: str) -> int:
        return (
            self.cfg.max_image_bytes if family in ("jpg", "png") else self.cfg.max_attachment_bytes
        )

    def allowed_label(self) -> str:
        return "、".join(self.cfg.allowed_types).upper()

    def path(self, name: str) -> Path | None:
        """The file of a stored name; None for anything that is not a well-formed name."""
        return self.root / name if NAME.fullmatch(name) else None

    def info(self, name: str) -> StoredMedia | None:
        """What is stored under a name (None if nothing is)."""
        path = self.path(name)
        if path is None:
            return None
        try:
            size = path.stat().st_size
        except OSError:
            return None
        ext = name.rsplit(".", 1)[1]
        try:
            meta = json.loads(path.with_name(name + ".json").read_text("utf-8"))
        except (OSError, ValueError):
            meta = {}
        return StoredMedia(
            name,
            TYPES[ext],
            size,
            str(meta.get("filename") or name),
            meta.get("width"),
            meta.get("height"),
            created=False,
        )

    def begin(self, filename: str) -> Upload:
        return Upload(self, filename)

    def save(self, filename: str, data: bytes) -> StoredMedia:
        """Store a whole file at once (the upload path, for callers that hold the bytes)."""
        upload = self.begin(filename)
        try:
            for at in range(0, len(data), _CHUNK):
                upload.write(data[at : at + _CHUNK])
            return upload.finish()
        finally:
            upload.abort()

    def discard(self, stored: StoredMedia) -> None:
        """Undo a save whose item was then refused: remove the file and its sidecar if that
        save created them; a file stored before (the same content) is left as it was."""
        if stored.created:
            for name in (stored.name, stored.name + ".json"):
                (self.root / name).unlink(missing_ok=True)

    def write_atomically(self, name: str, data: bytes) -> bool:
        """Write a file under its final name via a temporary one; False if it already exists
        (content-addressed: the same name is the same content)."""
        final = self.root / name
        if final.exists():
            return False
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".upload-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, final)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _sync_dir(self.root)
        return True


class Upload:
    """One file arriving in chunks: refused as soon as its first bytes show a type we do not
    take, or as soon as it passes its type's size limit; stored by finish()."""

    def __init__(self, store: MediaStore, filename: str) -> None:
        self.store = store
        self.filename = (filename or "未命名文件")[:200]  # as sent; shown only escaped
        self.head = bytearray()  # images are kept whole in memory (they are small)
        self.family: str | None = None
        self.size = 0
        self.digest = hashlib.sha256()
        self.tmp: Path | None = None
        self.file: IO[bytes] | None = None

    def _refuse(self, family: str | None) -> MediaError:
        label = _FAMILY_LABELS.get(family or "") or refused_label(bytes(self.head[:HEAD_BYTES]))
        what = f"是{label}，" if label else "的类型无法识别或不受支持，"
        return MediaRefused(
            f"文件「{self.filename}」{what}只能上传：{self.store.allowed_label()}。"
        )

    def _decide(self) -> None:
        family = sniff(bytes(self.head[:HEAD_BYTES]))
        allowed = set(self.store.cfg.allowed_types)
        possible = {"cfb": {"doc", "xls"}, "zip": {"docx", "xlsx", "ofd"}}.get(
            family or "", {family}
        )
        if family is None or not possible & allowed:
            self.abort()
            raise self._refuse(family)
        self.family = family
        if family not in ("jpg", "png"):
            self.store.root.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.store.root, prefix=".upload-", suffix=".part")
            self.tmp, self.file = Path(tmp), os.fdopen(fd, "wb")
            self.file.write(self.head)
            self.digest.update(self.head)
            self.head = bytearray()

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.family is None:
            self.head += chunk
            if len(self.head) >= HEAD_BYTES:
                self._decide()  # an attachment's head moves to its temporary file here
                self._check_size()
            return
        self._check_size()
        if self.file is not None:
            self.file.write(chunk)
            self.digest.update(chunk)
        else:
            self.head += chunk

    def _check_size(self) -> None:
        assert self.family is not None
        limit = self.store.limit_for(self.family)
        if self.size > limit:
            self.abort()
            kind = "图片" if self.family in ("jpg", "png") else "附件"
            raise MediaTooLarge(
                f"文件「{self.filename}」超过{kind}大小上限 {human_size(limit)}，未保存。"
            )

    def finish(self) -> StoredMedia:
        if self.family is None:
            if not self.head:
                raise MediaRefused(f"文件「{self.filename}」是空文件。")
            self._decide()
        try:
            stored = self._store_image() if self.file is None else self._store_attachment()
        except FormatError as exc:
            raise MediaInvalid(f"文件「{self.filename}」{exc}。") from exc
        finally:
            self.abort()
        if stored.created or not self.store.root.joinpath(stored.name + ".json").exists():
            sidecar = json.dumps(stored.sidecar(), ensure_ascii=False).encode()
            self.store.write_atomically(stored.name + ".json", sidecar)
        return stored

    def _store_image(self) -> StoredMedia:
        assert self.family is not None
        image = clean_image(bytes(self.head), self.family)
        self._check_pixels(image.width, image.height)
        name = f"{hashlib.sha256(image.data).hexdigest()[:NAME_CHARS]}.{self.family}"
        self.store.root.mkdir(parents=True, exist_ok=True)
        created = self.store.write_atomically(name, image.data)
        return StoredMedia(
            name,
            TYPES[self.family],
            len(image.data),
            display_name(self.filename, self.family),
            image.width,
            image.height,
            created,
        )

    def _check_pixels(self, width: int, height: int) -> None:
        """Refuse an image whose header claims more pixels than allowed; the dimensions come
        from the header (clean_image), no pixel is decoded."""
        limit = self.store.cfg.max_image_pixels
        if width * height > limit:
            raise MediaTooManyPixels(
                f"图片「{self.filename}」尺寸为 {width} × {height} 像素"
                f"（{pixels_label(width * height)}），超过图片像素上限 {pixels_label(limit)}，"
                "未保存：请缩小尺寸后重新上传。"
            )

    def _store_attachment(self) -> StoredMedia:
        assert self.file is not None and self.tmp is not None and self.family is not None
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        self.file = None
        ext = attachment_type(self.tmp, self.family)
        if ext not in self.store.cfg.allowed_types:
            raise MediaRefused(
                f"文件「{self.filename}」是{TYPES[ext].label}（{ext}），"
                f"只能上传：{self.store.allowed_label()}。"
            )
        name = f"{self.digest.hexdigest()[:NAME_CHARS]}.{ext}"
        final = self.store.root / name
        created = not final.exists()
        if created:
            os.replace(self.tmp, final)
            self.tmp = None
            _sync_dir(self.store.root)
        return StoredMedia(
            name, TYPES[ext], self.size, display_name(self.filename, ext), None, None, created
        )

    def abort(self) -> None:
        """Drop whatever was received (safe to call more than once)."""
        if self.file is not None:
            self.file.close()
            self.file = None
        if self.tmp is not None:
            self.tmp.unlink(missing_ok=True)
            self.tmp = None


def _sync_dir(path: Path) -> None:
    """Make a rename durable (POSIX: the directory entry is data of the directory)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
