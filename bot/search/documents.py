"""The documents of the search index: a published item (the version the site shows), a 选登
exchange and an FAQ entry, each with its plain text and its tokens, segmented here (before
any transaction opens: jieba takes milliseconds on a long policy)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from markdown_it import MarkdownIt

from bot.models import Faq, QaEntry, SearchDocKind
from bot.sources.html import plain_text as html_text
from moderation.knowledge import tokens

# Of a document's text, what is segmented: a policy of 100,000 characters says what it is about
# long before its end, and PostgreSQL bounds a tsvector (1 MB).
MAX_TOKEN_CHARS = 30_000
# Of a document's text, what is kept for snippets and answers.
MAX_TEXT_CHARS = 60_000
_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")
_BLOCK_END = re.compile(r"</(p|h[1-6]|li|tr|blockquote|pre)>")
_INLINE_BREAK = re.compile(r"<br\s*/?>|</t[dh]>")


@dataclass(frozen=True)
class Prepared:
    """A document ready to be written: every column of gk_search_doc but the times."""

    key: str
    kind: SearchDocKind
    title: str
    text: str
    url: str
    title_tokens: str
    body_tokens: str
    answer: str = ""
    item_kind: str = ""
    column: str = ""
    year: int | None = None
    validity: str = ""
    version: int = 0
    office: str = ""
    published_at: datetime | None = None

    @property
    def item_id(self) -> int | None:
        kind, _, raw = self.key.partition(":")
        return int(raw) if kind == SearchDocKind.ITEM.value else None


def plain_text(markdown: str) -> str:
    """What a reader sees of a Markdown body, as text: each block on its own line (the tags
    removed and entities decoded by the sources' sanitizer, bot/sources/html.py)."""
    rendered = _MARKDOWN.render(markdown or "").replace("\n", " ")  # the renderer's own breaks
    rendered = _BLOCK_END.sub("\n", rendered)
    rendered = _INLINE_BREAK.sub(" ", rendered)
    lines = (html_text(line) for line in rendered.split("\n"))
    return "\n".join(line for line in lines if line)


def token_text(text: str) -> str:
    """The search tokens of a text, space-separated (what the engine indexes)."""
    return " ".join(t.replace(" ", "") for t in tokens(text[:MAX_TOKEN_CHARS]))


def item_key(item_id: int) -> str:
    return f"{SearchDocKind.ITEM.value}:{item_id}"


def qa_key(entry_id: int) -> str:
    return f"{SearchDocKind.QA.value}:{entry_id}"


def faq_key(faq_id: int) -> str:
    return f"{SearchDocKind.FAQ.value}:{faq_id}"


def item_doc(
    item_id: int,
    snapshot: dict[str, Any],
    *,
    version: int,
    validity: str,
    published_at: datetime | None,
) -> Prepared:
    """A published item as the site shows it: the snapshot of its published version."""
    body = plain_text(str(snapshot.get("body") or ""))
    summary = str(snapshot.get("summary") or "")
    title = str(snapshot.get("title") or "")
    written = snapshot.get("written_on")
    year = (
        int(str(written)[:4])
        if written and str(written)[:4].isdigit()
        else (published_at.year if published_at else None)
    )
    text = "\n".join(part for part in (summary, body) if part)[:MAX_TEXT_CHARS]
    searchable = " ".join(
        str(snapshot.get(name) or "") for name in ("doc_number", "office", "publisher")
    )
    return Prepared(
        key=item_key(item_id),
        kind=SearchDocKind.ITEM,
        title=title,
        text=text,
        url=f"/items/{item_id}",
        title_tokens=token_text(title),
        body_tokens=token_text(f"{searchable}\n{text}"),
        answer=summary,
        item_kind=str(snapshot.get("kind") or ""),
        column=str(snapshot.get("column") or ""),
        year=year,
        validity=validity,
        version=version,
        office=str(snapshot.get("office") or ""),
        published_at=published_at,
    )


def qa_doc(entry: QaEntry) -> Prepared:
    """A 选登 exchange: its question is the title, its answer the text (both masked)."""
    return Prepared(
        key=qa_key(entry.id),
        kind=SearchDocKind.QA,
        title=entry.question,
        text=entry.answer[:MAX_TEXT_CHARS],
        url=f"/qa/{entry.id}",
        title_tokens=token_text(entry.question),
        body_tokens=token_text(entry.answer),
        answer=entry.answer,
        year=entry.published_at.year if entry.published_at else None,
        office=entry.office,
        published_at=entry.published_at,
    )


def faq_doc(faq: Faq) -> Prepared:
    """An FAQ entry: the question (and its keywords) found, the answer shown."""
    keywords = " ".join(faq.keywords or [])
    return Prepared(
        key=faq_key(faq.id),
        kind=SearchDocKind.FAQ,
        title=faq.question,
        text=faq.answer[:MAX_TEXT_CHARS],
        url=f"/faq#faq-{faq.id}",  # the FAQ page lists every active entry
        title_tokens=token_text(f"{faq.question} {keywords}"),
        body_tokens=token_text(faq.answer),
        answer=faq.answer,
        office=faq.office,
        published_at=faq.created_at,
    )
