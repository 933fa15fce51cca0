"""Images of a WeChat article: find them in the rendered HTML, fetch them from our public site,
check them against WeChat's limits (JPG/PNG, size) and ours (pixels, read from the header)
before uploading, and rewrite their URLs.

Which images are accepted: URLs on our public site (app.public_base_url) or paths starting with
"/" on it. WeChat filters images from other hosts out of articles, and fetching arbitrary hosts
from the worker would be a liability, so anything else is refused with the file named.
"""

from __future__ import annotations

import html
import re
import struct
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import aiohttp

from channels.base import PermanentError, TransientError
from channels.wechat.api import Upload

_IMG_SRC = re.compile(r'(<img\b[^>]*?\bsrc=")([^"]*)(")', re.IGNORECASE)
_TYPES = {b"\xff\xd8\xff": ("image/jpeg", ".jpg"), b"\x89PNG\r\n\x1a\n": ("image/png", ".png")}
# JPEG frame headers (SOF0..SOF15 but DHT, JPG and DAC), which carry the picture's size.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_SOS, _JPEG_EOI = 0xDA, 0xD9


def image_sources(rendered: str) -> list[str]:
    """The distinct image URLs of rendered HTML, in order (HTML entities decoded)."""
    return list(dict.fromkeys(html.unescape(m.group(2)) for m in _IMG_SRC.finditer(rendered)))


def rewrite_images(rendered: str, mapping: dict[str, str]) -> str:
    """Rendered HTML with each image URL replaced by its uploaded WeChat URL."""

    def swap(m: re.Match[str]) -> str:
        src = html.unescape(m.group(2))
        new = mapping.get(src)
        return m.group(1) + (html.escape(new, quote=True) if new else m.group(2)) + m.group(3)

    return _IMG_SRC.sub(swap, rendered)


def sniff(data: bytes) -> tuple[str, str] | None:
    """(content type, extension) of a JPG or PNG, else None."""
    for magic, kind in _TYPES.items():
        if data.startswith(magic):
            return kind
    return None


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG (its IHDR) or a JPEG (its frame header), read from the header
    without decoding a pixel; None when the header is missing, damaged or says 0."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        if data[8:16] != b"\x00\x00\x00\x0dIHDR" or len(data) < 24:
            return None
        width, height = struct.unpack(">II", data[16:24])
        return (width, height) if width and height else None
    if not data.startswith(b"\xff\xd8"):
        return None
    pos = 2
    while pos < len(data) and data[pos] == 0xFF:
        while pos < len(data) and data[pos] == 0xFF:  # fill bytes before a marker
            pos += 1
        if pos >= len(data):
            return None
        marker = data[pos]
        pos += 1
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            continue  # no length
        if marker in (_JPEG_SOS, _JPEG_EOI) or pos + 2 > len(data):
            return None  # the frame header comes before any scan
        (length,) = struct.unpack(">H", data[pos : pos + 2])
        if length < 2:
            return None
        if marker in _JPEG_SOF:
            if length < 7 or pos + 7 > len(data):
                return None
            height, width = struct.unpack(">HH", data[pos + 3 : pos + 7])
            return (width, height) if width and height else None
        pos += length
    return None


def pixels_label(pixels: int) -> str:
    """A pixel count as people read it, exactly: "16 亿像素", "4000 万像素", "12,345,678 像素"."""
    for unit, name in ((100_000_000, "亿"), (10_000, "万")):
        if pixels >= unit and pixels % unit == 0:
            return f"{pixels // unit} {name}像素"
    return f"{pixels:,} 像素"


def file_name(src: str, ext: str) -> str:
    name = Path(urlsplit(src).path).name or "image"
    return name if name.lower().endswith((".jpg", ".jpeg", ".png")) else name + ext


class ImageFetcher:
    def __init__(self, site_url: str, max_bytes: int, max_pixels: int) -> None:
        self.site_url = site_url.rstrip("/")
        self.max_bytes = max_bytes
        self.max_pixels = max_pixels

    def resolve(self, src: str) -> str:
        """The absolute URL of an image on our site; PermanentError naming it otherwise."""
        if src.startswith("/") and not src.startswith("//"):
            return urljoin(self.site_url + "/", src.lstrip("/"))
        if src.startswith(self.site_url + "/"):
            return src
        raise PermanentError(
            f"正文图片「{src}」不在本站（{self.site_url}）：请先把图片上传到本站再引用。"
        )

    async def fetch(self, session: aiohttp.ClientSession, src: str, limit: int = 0) -> Upload:
        """The image at src, checked: JPG or PNG, at most `limit` (default: max_bytes) bytes
        and max_pixels pixels."""
        url = self.resolve(src)
        limit = limit or self.max_bytes
        try:
            async with session.get(url) as resp:
                if resp.status == 404:
                    raise PermanentError(f"正文图片「{src}」不存在（HTTP 404）。")
                if resp.status >= 500:
                    raise TransientError(f"获取正文图片「{src}」失败（HTTP {resp.status}）。")
                if resp.status != 200:
                    raise PermanentError(f"无法获取正文图片「{src}」（HTTP {resp.status}）。")
                data = bytearray()
                async for chunk in resp.content.iter_chunked(64 * 1024):
                    data += chunk
                    if len(data) > limit:  # enough to refuse it; read no further
                        break
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientError(f"获取正文图片「{src}」失败：{exc}") from exc
        return check_image(src, bytes(data), limit, max_pixels=self.max_pixels)


def check_image(name: str, data: bytes, limit: int, *, max_pixels: int) -> Upload:
    """data as an upload if it is a JPG or PNG of at most `limit` bytes whose header claims at
    most max_pixels pixels; PermanentError naming the image otherwise."""
    kind = sniff(data)
    if kind is None:
        raise PermanentError(f"图片「{name}」不是 JPG 或 PNG 格式，微信不接受。")
    if len(data) > limit:
        raise PermanentError(
            f"图片「{name}」超过 {-(-limit // 1024)} KB，微信不接受：请压缩后重新上传。"
        )
    size = image_size(data)
    if size is None:
        raise PermanentError(
            f"图片「{name}」无法读取尺寸（文件头不完整或已损坏），不是有效的 JPG/PNG 图片。"
        )
    width, height = size
    if width * height > max_pixels:
        raise PermanentError(
            f"图片「{name}」尺寸为 {width} × {height} 像素（{pixels_label(width * height)}），"
            f"超过图片像素上限 {pixels_label(max_pixels)}：请缩小尺寸后重新上传。"
        )
    return Upload(file_name(name, kind[1]), data, kind[0])


def load_cover(path: Path, limit: int, *, max_pixels: int) -> Upload:
    """The configured default cover file, checked like any image."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PermanentError(f"默认封面图片「{path}」无法读取：{exc}") from exc
    return check_image(str(path), data, limit, max_pixels=max_pixels)
