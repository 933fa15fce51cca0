"""一网通答: the one best answer to a visitor's question, shown above the search results — an
FAQ answer, a 选登 answer, or the passage of a published item that covers the question best —
with how sure the match is.

How sure is the inbox knowledge base's confidence (moderation/knowledge.py KnowledgeBase: the
idf-weighted share of the question's words that the answer covers), computed over what would
be shown: the engine's top CANDIDATES documents, each as its question and answer (FAQ, 选登)
or its title and best passage (an item). A question whose words the answers do not use, or
cover only in part, is not answered; the search results still are.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

from markupsafe import Markup

from bot import db
from bot.models import SearchDoc, SearchDocKind
from bot.search import engine
from bot.search.engine import Filters, Mode
from bot.search.find import marked
from bot.search.query import Query
from moderation.knowledge import KbDoc, KnowledgeBase, tokens

CANDIDATES = 20  # of the engine's best documents, the ones weighed as answers
PASSAGE_CHARS = 300  # of an item's paragraph, shown as its answer
ANSWER_CHARS = 1000  # of an FAQ or 选登 answer, shown (the source link has all of it)
HIGH = 0.8  # from here the match is 高; below, down to [search] answer_min_confidence, 中
# Which answer is preferred when two cover the question equally: one written as an answer.
_PREFERRED = {SearchDocKind.FAQ.value: 2, SearchDocKind.QA.value: 1}


@dataclass(frozen=True)
class Answer:
    doc: SearchDoc
    text: Markup  # the answer or passage, the question's words marked
    confidence: float  # 0..1
    passage: bool  # an item's passage, not an answer written as one

    @property
    def level(self) -> str:
        return "高" if self.confidence >= HIGH else "中"


def _pattern(words: tuple[str, ...]) -> re.Pattern[str] | None:
    usable = sorted({w for w in words if w}, key=len, reverse=True)
    return re.compile("|".join(map(re.escape, usable)), re.IGNORECASE) if usable else None


def passage(text: str, words: tuple[str, ...], title: str = "", size: int = PASSAGE_CHARS) -> str:
    """The paragraph of `text` that holds most of `words` (the first of equals), cut to about
    `size` characters around its first word. A word inside a longer one found counts once
    (jieba gives 小微企业 and 小微, 企业); a word of the title counts a quarter: the title
    says what the document is about, the passage should answer what it does not."""
    paragraphs = [p.strip() for p in text.split("\n") if p.strip()]
    if not paragraphs:
        return ""
    folded = sorted({w.casefold() for w in words if w}, key=len, reverse=True)
    titled = title.casefold()

    def covered(paragraph: str) -> float:
        lower = paragraph.casefold()
        hits: list[str] = []
        for w in folded:
            if w in lower and not any(w in h for h in hits):
                hits.append(w)
        return sum(0.25 if w in titled else 1.0 for w in hits)

    best = max(paragraphs, key=covered)  # max keeps the first of equals
    if len(best) <= size:
        return best
    lower = best.casefold()
    first = min((lower.find(w) for w in folded if w in lower), default=0)
    start = max(0, first - size // 3)
    piece = best[start : start + size]
    return ("…" if start else "") + piece + ("…" if start + size < len(best) else "")


def _as_kb(doc: SearchDoc, words: tuple[str, ...]) -> KbDoc:
    if doc.kind == SearchDocKind.ITEM.value:
        text = passage(doc.text, words, doc.title)
        return KbDoc(str(doc.id), doc.title, text, "", url=doc.url)
    text = doc.answer or doc.text
    return KbDoc(str(doc.id), doc.title, text[:ANSWER_CHARS], text, url=doc.url)


def _asks(query: Query, doc: SearchDoc) -> bool:
    """Whether words that are not a question still ask what the entry's question asks: they
    hold at least half of its words (「担保费率」 asks 「担保费率是多少？」; 「公开」 asks
    nothing in particular, however many questions hold it)."""
    asked = set(tokens(doc.title))
    return bool(asked) and len(asked & set(query.tokens)) >= len(asked) / 2


def _best(query: Query, docs: list[SearchDoc]) -> tuple[SearchDoc, KbDoc, float] | None:
    by_id = {str(d.id): d for d in docs}
    kb = KnowledgeBase.build(_as_kb(d, query.tokens) for d in docs)
    hits = kb.search(query.text, limit=3)
    if not hits:
        return None
    hit = max(
        hits,
        key=lambda h: (
            round(h.confidence, 6),
            _PREFERRED.get(by_id[h.doc.source].kind, 0),
            h.score,
        ),
    )
    return by_id[hit.doc.source], hit.doc, hit.confidence


async def best_answer(
    query: Query, filters: Filters, mode: Mode, min_confidence: float
) -> Answer | None:
    """The answer shown first, or None: when the query is worded as a question, or when its
    best answer is an FAQ or 选登 entry matched HIGH whose question the words ask (_asks); in
    both cases only from `min_confidence` on. `mode` is the one the results were found with
    ("any" when no document had every word)."""
    if not query.tokens:
        return None
    matched = await engine.match(db.connection(), query.tokens, mode, filters, CANDIDATES, 0)
    if not matched.ids:
        return None
    docs = await SearchDoc.filter(id__in=matched.ids, removed_at__isnull=True)
    if not docs:
        return None
    # Segmenting twenty short texts takes milliseconds, still CPU work: off the event loop.
    best = await asyncio.to_thread(_best, query, docs)
    if best is None:
        return None
    doc, kb_doc, confidence = best
    written = doc.kind in _PREFERRED
    if confidence < min_confidence:
        return None
    if not query.question and not (written and confidence >= HIGH and _asks(query, doc)):
        return None
    pattern = _pattern(query.tokens)
    if written:
        text = kb_doc.answer
        shown = text[:ANSWER_CHARS] + ("…" if len(text) > ANSWER_CHARS else "")
        return Answer(doc, marked(shown, pattern), confidence, passage=False)
    return Answer(doc, marked(kb_doc.text, pattern), confidence, passage=True)
