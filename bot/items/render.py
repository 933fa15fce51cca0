"""Render an item version for a channel from templates/: Markdown body to safe HTML, then the
channel's template for the item's kind (templates/<channel>/<kind>.html, else item.html)."""

from __future__ import annotations

import html as htmllib
import re
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

import jinja2
from markdown_it import MarkdownIt

from bot.config import Config
from bot.models import DISCLOSURE_LABELS, KIND_LABELS, Disclosure, Kind
from channels.base import Content

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
# A link or image reference in the HTML markdown-it writes (attributes always double-quoted).
_REFERENCE = re.compile(r'(\s(?:href|src)=")([^"]*)(")')
_FIRST_IMAGE = re.compile(r'<img src="([^"]*)"')


def channel_title(snap: dict[str, Any], channel: str) -> str:
    """The title a channel shows: WeChat's own 微信标题 when one is set (its limit is shorter
    than our titles), else the title. Snapshots older than the field have no such key."""
    if channel == "wechat":
        own = snap.get("wechat_title") or ""
        if own.strip():
            return str(own.strip())
    return str(snap["title"])


def first_image(html: str) -> str:
    """The address of the first image in HTML this module wrote (absolute http(s), as
    body_html makes it), or "": an item's picture on share cards (og:image)."""
    match = _FIRST_IMAGE.search(html)
    src = htmllib.unescape(match.group(1)) if match else ""
    return src if src.startswith(("https://", "http://")) else ""


class Renderer:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.tz = ZoneInfo(config.app.timezone)
        # html=False: raw HTML in a body is shown as text, never injected into pages.
        self.markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES),
            autoescape=jinja2.select_autoescape(["html", "xml"]),
            undefined=jinja2.StrictUndefined,
        )
        self.env.filters["local"] = self.local_time
        self.env.filters["iso"] = self.iso_time
        self.env.filters["first_image"] = first_image

    def local_time(self, value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        return value.astimezone(self.tz).strftime(fmt) if value else ""

    def iso_time(self, value: datetime) -> str:
        """A <time datetime> value: local time to the second (HTML allows at most three
        fractional digits; we show none)."""
        return value.astimezone(self.tz).isoformat(timespec="seconds")

    def item_url(self, item_id: int) -> str:
        return f"{self.config.app.public_base_url}/items/{item_id}"

    def body_html(self, body: str, base: str = "") -> str:
        """The Markdown body as HTML with every link and image absolute: feed readers, the
        随申办 app and WeChat's fetch cannot resolve a path such as /media/x.png or ../items/2.
        Relative references are resolved against `base` (the item's page; default the site)."""
        html = self.markdown.render(body or "")
        root = base or self.config.app.public_base_url.rstrip("/") + "/"

        def absolute(m: re.Match[str]) -> str:
            ref = htmllib.unescape(m.group(2))
            return m.group(1) + htmllib.escape(urljoin(root, ref), quote=True) + m.group(3)

        return _REFERENCE.sub(absolute, html)

    def template(self, channel: str, kind: str) -> jinja2.Template:
        return self.env.select_template([f"{channel}/{kind}.html", f"{channel}/item.html"])

    def render(
        self, snap: dict[str, Any], channel: str, approved_at: datetime | None = None
    ) -> Content:
        kind = Kind(snap["kind"])
        body_html = self.body_html(snap.get("body", ""), self.item_url(snap["id"]))
        column = self.config.columns.get(snap.get("column", ""))
        context = {
            "item": snap,
            "body_html": body_html,
            "kind_label": KIND_LABELS[kind],
            "column_label": column.name if column else snap.get("column", ""),
            "disclosure_label": DISCLOSURE_LABELS.get(Disclosure(snap["disclosure"]), ""),
            "url": self.item_url(snap["id"]),
            "approved_at": approved_at,
        }
        html = self.template(channel, kind.value).render(context)
        return Content(
            item_id=snap["id"],
            version=snap["version"],
            kind=kind.value,
            kind_label=KIND_LABELS[kind],
            column=snap.get("column", ""),
            title=channel_title(snap, channel),
            summary=snap.get("summary") or "",
            html=html,
            text=snap.get("body", ""),
            url=self.item_url(snap["id"]),
            doc_number=snap.get("doc_number", ""),
            office=snap.get("office", ""),
            approved_at=approved_at,
        )

    def page(self, name: str, **context: Any) -> str:
        return self.env.get_template(name).render(config=self.config, **context)
