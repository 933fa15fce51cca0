"""The search documents as a knowledge base reads them — a question, its answer and the
absolute address of its source — for the readers outside the website's own search: the city's
platform (the export, bot/search/export.py) and the inbox's in-memory index (triage's
simple-question detection and WeChat's auto-reply, bot/inbox/ingest.py). Both read the rows the
public search indexes, so what a citizen finds on the site is what WeChat answers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tortoise.expressions import RawSQL

from bot.models import SearchDoc, SearchDocKind
from moderation.knowledge import MAX_DOC_CHARS, KbDoc

# An item without a summary is answered by its first passage, cut to about this many characters.
PASSAGE_CHARS = 300


def head(chars: int) -> RawSQL:
    """The first `chars` characters of a document's text, cut in the database (a policy's text
    may be 60,000 characters; no reader here needs more than its beginning)."""
    return RawSQL(f'substr("text", 1, {int(chars)})')


def public_url(base_url: str, path: str) -> str:
    """A document's address on the public site, absolute."""
    return base_url.rstrip("/") + path


def first_passage(text: str, size: int = PASSAGE_CHARS) -> str:
    for paragraph in text.split("\n"):
        paragraph = paragraph.strip()
        if paragraph:
            return paragraph if len(paragraph) <= size else paragraph[: size - 1] + "…"
    return ""


def answer_of(kind: str, answer: str, text: str) -> str:
    """What answers the document's question: the answer of an FAQ or 选登 entry; an item's
    summary, else its first passage (`text` may be only the beginning of the document)."""
    if kind != SearchDocKind.ITEM.value:
        return answer or text
    return answer or first_passage(text)


def _kb_doc(row: Mapping[str, Any], base_url: str) -> KbDoc:
    kind, text = str(row["kind"]), str(row["head"] or "")
    if kind == SearchDocKind.FAQ.value:
        # An FAQ is matched on its question and keywords (the title tokens), as it always was:
        # the words of its answer ("请到政务服务中心窗口办理") would make it the answer to any
        # question that happens to use them.
        text = str(row["title_tokens"] or "")
    return KbDoc(
        source=str(row["key"]),
        title=str(row["title"]),
        text=text,
        answer=answer_of(kind, str(row["answer"] or ""), str(row["head"] or "")),
        office=str(row["office"] or ""),
        url=public_url(base_url, str(row["url"])),
    )


async def kb_docs(base_url: str) -> list[KbDoc]:
    """Every public document (published items, 选登, active FAQ; tombstones left out) as the
    inbox's knowledge base indexes it."""
    rows = (
        await SearchDoc.filter(removed_at__isnull=True)
        .annotate(head=head(MAX_DOC_CHARS))
        .order_by("id")
        .values("key", "kind", "title", "head", "answer", "url", "office", "title_tokens")
    )
    return [_kb_doc(row, base_url) for row in rows]
