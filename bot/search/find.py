"""A search answered: the engine's matches (every word, else any word, said so), the documents
loaded in rank order, each with a snippet of its text around the words found, those words
marked, escaped for HTML."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from markupsafe import Markup, escape

from bot import db
from bot.models import SearchDoc
from bot.search import engine
from bot.search.engine import Filters, Mode
from bot.search.query import Query

SNIPPET_CHARS = 120


@dataclass(frozen=True)
class Hit:
    doc: SearchDoc
    title: Markup  # the words found marked
    snippet: Markup


@dataclass
class Results:
    query: Query
    filters: Filters
    hits: list[Hit] = field(default_factory=list)
    total: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    page: int = 1
    size: int = 10
    mode: Mode = "all"  # "any": nothing had every word; these have some of them

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.size))


def _pattern(words: tuple[str, ...]) -> re.Pattern[str] | None:
    usable = sorted({w for w in words if w}, key=len, reverse=True)
    if not usable:
        return None
    return re.compile("|".join(re.escape(w) for w in usable), re.IGNORECASE)


def marked(text: str, pattern: re.Pattern[str] | None) -> Markup:
    """`text` escaped, every match of `pattern` in <mark> (touching matches in one)."""
    if pattern is None:
        return escape(text)
    spans: list[list[int]] = []
    for m in pattern.finditer(text):
        if spans and m.start() <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], m.end())
        else:
            spans.append([m.start(), m.end()])
    out, last = [], 0
    for start, end in spans:
        out.append(escape(text[last:start]))
        out.append(Markup("<mark>{}</mark>").format(text[start:end]))
        last = end
    out.append(escape(text[last:]))
    return Markup("").join(out)


def snippet(text: str, pattern: re.Pattern[str] | None, size: int = SNIPPET_CHARS) -> Markup:
    """About `size` characters of `text` around its first match, the matches marked."""
    flat = " ".join(text.split())
    found = pattern.search(flat) if pattern else None
    start = max(0, (found.start() if found else 0) - size // 3)
    end = min(len(flat), start + size)
    piece = flat[start:end]
    return (
        Markup("…" if start else "")
        + marked(piece, pattern)
        + Markup("…" if end < len(flat) else "")
    )


async def search(query: Query, filters: Filters, page: int = 1, size: int = 10) -> Results:
    results = Results(query, filters, page=max(1, page), size=size)
    if not query.tokens:
        return results
    conn = db.connection()
    offset = (results.page - 1) * size
    matched = await engine.match(conn, query.tokens, "all", filters, size, offset)
    if matched.total == 0 and len(query.tokens) > 1:
        matched = await engine.match(conn, query.tokens, "any", filters, size, offset)
        results.mode = "any"
    docs = {d.id: d for d in await SearchDoc.filter(id__in=matched.ids)}
    pattern = _pattern(query.tokens)
    results.total, results.by_kind = matched.total, matched.by_kind
    results.hits = [
        Hit(docs[i], marked(docs[i].title, pattern), snippet(docs[i].text, pattern))
        for i in matched.ids
        if i in docs
    ]
    return results
