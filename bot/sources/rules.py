"""How one entry of an upstream feed (a parsed feedparser entry) becomes item fields: its
dedupe key and content hash, the source's ordered rules choosing kind, column and office (the
first matching rule wins), and the body as sanitized Markdown (bot/sources/html.py)."""

from __future__ import annotations

import hashlib
import html
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from bot.config import SourceConfig, SourceRuleConfig
from bot.errors import Refusal
from bot.sources.html import escape, plain_text, to_markdown

MAX_KEY = 500  # SourceEntry.entry_key
MAX_SUMMARY = 2000  # ItemFields.summary


class EntryError(Refusal):
    """An upstream entry that cannot become an item; str() says why (Chinese)."""

    status_code = 422
    code = "invalid_entry"


@dataclass(frozen=True)
class UpstreamEntry:
    """What we take from one feed entry, before any mapping."""

    key: str  # the guid (id), else the link
    link: str  # http(s) link of the document, or ""
    title: str  # plain text
    summary_html: str
    content_html: str
    content_is_html: bool
    categories: tuple[str, ...]  # terms and labels
    published: datetime | None
    updated: datetime | None

    @property
    def label(self) -> str:
        """How staff recognise the entry in a report: its title and where it lives."""
        where = self.link or self.key
        return f"「{self.title}」（{where}）" if self.title else where

    @property
    def content_hash(self) -> str:
        """Changes when the upstream changes what it says, not when our rules change."""
        canonical = json.dumps(
            [self.title, self.link, self.summary_html, self.content_html, self.categories],
            ensure_ascii=False,
            separators=(",", ":"),
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Mapping:
    kind: str
    column: str
    office: str
    rule: int  # 1-based number of the rule that matched, 0 for the source's defaults


def _when(raw: Any, name: str) -> datetime | None:
    # dict.get, not FeedParserDict's: that maps a missing updated to published, with a warning
    parsed = dict.get(raw, f"{name}_parsed")
    if not parsed:
        return None
    try:  # feedparser normalises dates to UTC struct_time
        year, month, day, hour, minute, second = (int(v) for v in parsed[:6])
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def _http(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    return url if parts.scheme in ("http", "https") and parts.netloc else ""


def entry_name(raw: Any) -> str:
    """A name for an entry that could not be read, for the failure report."""
    title = plain_text(str(raw.get("title") or ""))
    where = str(raw.get("link") or raw.get("id") or "")
    if title and where:
        return f"「{title}」（{where}）"
    return f"「{title}」" if title else where or "（无标题、无链接的条目）"


def read_entry(raw: Any) -> UpstreamEntry:
    """Take an entry from feedparser's result; EntryError when it cannot become an item."""
    link = _http(str(raw.get("link") or ""))
    key = str(raw.get("id") or "").strip() or link
    if not key:
        raise EntryError("条目既没有 guid（id）也没有链接，无法识别与去重。")
    if len(key) > MAX_KEY:  # a key is an identity, not text: a digest keeps it unique
        key = "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    detail = raw.get("title_detail") or {}
    title_raw = str(raw.get("title") or "")
    is_html_title = "html" in str(detail.get("type", ""))
    title = plain_text(title_raw) if is_html_title else " ".join(title_raw.split())
    if not title:
        raise EntryError("条目缺少标题（title）。")
    contents = raw.get("content") or []
    content = next((c for c in contents if "html" in str(c.get("type", ""))), None)
    content = content or (contents[0] if contents else None)
    summary = str(raw.get("summary") or "")
    if content is not None:
        content_html, content_is_html = (
            str(content.get("value") or ""),
            "html" in str(content.get("type", "text/html")),
        )
    else:  # RSS: the description is the body
        summary_type = str((raw.get("summary_detail") or {}).get("type", "text/html"))
        content_html, content_is_html, summary = summary, "html" in summary_type, ""
    categories: list[str] = []
    for tag in raw.get("tags") or []:
        for value in (tag.get("term"), tag.get("label")):
            if value and str(value).strip() not in categories:
                categories.append(str(value).strip())
    return UpstreamEntry(
        key=key,
        link=link,
        title=title,
        summary_html=summary,
        content_html=content_html,
        content_is_html=content_is_html,
        categories=tuple(categories),
        published=_when(raw, "published"),
        updated=_when(raw, "updated"),
    )


def _matches(rule: SourceRuleConfig, entry: UpstreamEntry) -> bool:
    if rule.category and rule.category.casefold() not in {c.casefold() for c in entry.categories}:
        return False
    if rule.title and not re.search(rule.title, entry.title):
        return False
    return not (rule.link and not re.search(rule.link, entry.link or entry.key))


def match(source: SourceConfig, entry: UpstreamEntry) -> Mapping:
    """The kind, column and office of an entry: the first rule whose conditions all hold."""
    for number, rule in enumerate(source.rules, 1):
        if _matches(rule, entry):
            kind = rule.kind or source.kind
            column = rule.column or source.column or kind
            office = source.office if rule.office is None else rule.office
            return Mapping(kind, column, office, number)
    return Mapping(source.kind, source.column or source.kind, source.office, 0)


def body_markdown(source: SourceConfig, entry: UpstreamEntry) -> str:
    if entry.content_is_html:
        return to_markdown(entry.content_html, frozenset(source.allowed_tags))
    # Plain text: keep its paragraphs, escape everything that Markdown would read as markup
    paragraphs = re.split(r"\n\s*\n", html.unescape(entry.content_html))
    return "\n\n".join(escape(" ".join(p.split())) for p in paragraphs if p.strip())


def summary_text(entry: UpstreamEntry) -> str:
    text = plain_text(entry.summary_html)
    if len(text) > MAX_SUMMARY:
        text = text[: MAX_SUMMARY - 1] + "…"
    return text


def item_fields(source: SourceConfig, entry: UpstreamEntry) -> dict[str, Any]:
    """The fields of a new item made from the entry (validated later as
    bot.items.schemas.ItemCreate)."""
    mapping = match(source, entry)
    body = body_markdown(source, entry)
    summary = summary_text(entry)
    if summary and summary == plain_text(entry.content_html):
        summary = ""  # an Atom summary that repeats the content says nothing more
    return {
        "kind": mapping.kind,
        "column": mapping.column,
        "office": mapping.office,
        "title": entry.title,
        "summary": summary,
        "body": body,
    }
