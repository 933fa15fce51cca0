"""Images of a WeChat article: find them in the rendered HTML, fetch them from our public site,
check them against WeChat's limits (JPG/PNG, size) before uploading, and rewrite their URLs.

Which images are accepted: URLs on our public site (app.public_base_url) or paths starting with
"/" on it. WeChat filters images from other hosts out of articles, and fetching arbitrary hosts
from the worker would be a liability, so anything else is refused with the file named.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import aiohttp

from channels.base import PermanentError, TransientError
from channels.wechat.api import Upload

_IMG_SRC = re.compile(r'(<img\b[^>]*?\bsrc=")([^"]*)(")', re.IGNORECASE)
_TYPES = {b"\xff\xd8\xff": ("image/jpeg", ".jpg"), b"\x89PNG\r\n\x1a\n": ("image/png", ".png")}


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


def file_name(src: str, ext: str) -> str:
    name = Path(urlsplit(src).path).name or "image"
    return name if name.lower().endswith((".jpg", ".jpeg", ".png")) else name + ext


class ImageFetcher:
    def __init__(self, site_url: str, max_bytes: int) -> None:
        self.site_url = site_url.rstrip("/")
        self.max_bytes = max_bytes

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
        """The image at src, checked: JPG or PNG, at most `limit` (default: max_bytes) bytes."""
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
        return check_image(src, bytes(data), limit)


def check_image(name: str, data: bytes, limit: int) -> Upload:
    kind = sniff(data)
    if kind is None:
        raise PermanentError(f"图片「{name}」不是 JPG 或 PNG 格式，微信不接受。")
    if len(data) > limit:
        raise PermanentError(
            f"图片「{name}」超过 {-(-limit // 1024)} KB，微信不接受：请压缩后重新上传。"
        )
    return Upload(file_name(name, kind[1]), data, kind[0])


def load_cover(path: Path, limit: int) -> Upload:
    """The configured default cover file, checked like any image."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PermanentError(f"默认封面图片「{path}」无法读取：{exc}") from exc
    return check_image(str(path), data, limit)
