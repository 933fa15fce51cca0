"""The knowledge base for comment triage and WeChat's auto-reply: published items, 选登 exchanges
and FAQ entries (the application builds the documents from its search index), searched with
jieba tokens and BM25 to find a suggested answer and say how sure the match is.

BM25 is a small inverted index here rather than rank-bm25 or bm25s: rank-bm25 scores every
document for every query (numpy over the whole corpus, per query term), and bm25s brings
numpy and scipy for sparse matrices; triage runs once per comment at thousands per second, and
with an inverted index a query only touches the postings of its own few terms, with each
posting's BM25 weight computed once at build time.

Confidence (0..1) is the share of the question the best document covers, weighted by idf:
each query term contributes its BM25 weight in the document, capped at its own idf (what it
weighs once in a document of average length), and the sum is divided by the query's
self-score, the sum of the idf of its distinct terms (a term the index does not know counts
like one found in a single document). So 1.0 means every word of the question is in a
document of ordinary length; words the knowledge base never uses, a match on common words
only, or a match buried in a very long document all lower it. Ranking uses plain BM25.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from operator import itemgetter

from moderation.normalize import normalize
from moderation.segment import cut_for_search

__all__ = ["KbDoc", "KbHit", "KnowledgeBase", "tokens"]

K1 = 1.2
B = 0.75
TITLE_WEIGHT = 2  # a title's words are counted this many times: a question's title is its gist
MAX_DOC_CHARS = 4000  # of a document's text indexed; long bodies say what they are about early
# A term in more than this share of the documents (and more than COMMON_MIN_DF of them) is
# common: see KnowledgeBase.search.
COMMON_SHARE = 0.05
COMMON_MIN_DF = 8

# Words that say nothing about what is asked (greetings, question words, pronouns, particles).
STOPWORDS = frozenset(
    "的 了 吗 呢 吧 啊 呀 嘛 么 是 在 有 和 与 及 或 也 都 就 还 又 把 被 让 给 对 向 从 "
    "我 你 您 他 她 它 我们 你们 他们 贵 请问 请 问 想 想问 一下 一个 这个 那个 这 那 哪 "
    "什么 怎么 怎么样 如何 怎样 为什么 是否 能否 可以 可否 能 会 要 需要 应该 哪些 哪里 "
    "多少 几 谢谢 感谢 您好 你好 好 麻烦 咨询 问题 相关 情况 有关 关于 以及 如果 但是 "
    "因为 所以 已经 现在 目前 没有 不 很 非常 比较 之 其 该 等 等等 上 下 中 时候 什么时候 "
    "某 各 应 于 我要 在 被 给 到 吗 啥 咋 呗 哦 嗯".split()
)


def tokens(text: str) -> list[str]:
    """Search tokens of a text: width and case folded, jieba's search-engine segmentation
    (compound words and their parts), without punctuation, spaces and stopwords."""
    folded = normalize(text, drop_separators=False).text
    return [
        t
        for t in cut_for_search(folded)
        # Bare numbers (dates, amounts, what is left of a masked phone number) say little
        # about the topic and would make every question with a number look less covered.
        if t not in STOPWORDS and any(c.isalnum() for c in t) and not t.isdigit()
    ]


@dataclass(frozen=True)
class KbDoc:
    """One answerable thing: an item ("item:12"), a 选登 exchange ("qa:3") or an FAQ entry
    ("faq:2")."""

    source: str
    title: str
    text: str
    answer: str
    office: str = ""
    url: str = ""


@dataclass(frozen=True)
class KbHit:
    doc: KbDoc
    score: float
    confidence: float  # 0..1, see the module docstring


class KnowledgeBase:
    """An immutable BM25 index over KbDocs; build a new one to change it."""

    def __init__(
        self,
        docs: tuple[KbDoc, ...],
        weights: tuple[dict[str, float], ...],
        postings: dict[str, dict[int, float]],
        idf: dict[str, float],
    ) -> None:
        self._docs = docs
        self._weights = weights  # per document: term -> BM25 weight
        self._postings = postings  # per term: document -> BM25 weight
        self._idf = idf
        n = len(docs)
        # A word no document uses weighs like the rarest word that is used (df = 1).
        self._unknown_idf = math.log(1 + (n - 0.5) / 1.5)
        self._common_df = max(COMMON_MIN_DF, int(n * COMMON_SHARE))

    @classmethod
    def build(cls, docs: Iterable[KbDoc]) -> KnowledgeBase:
        kept = tuple(docs)
        counts: list[Counter[str]] = []
        for doc in kept:
            terms = Counter(tokens(doc.text[:MAX_DOC_CHARS]))
            for term in tokens(doc.title):
                terms[term] += TITLE_WEIGHT
            counts.append(terms)
        n = len(counts)
        lengths = [sum(c.values()) for c in counts]
        average = (sum(lengths) / n) if n and sum(lengths) else 1.0
        df: Counter[str] = Counter()
        for c in counts:
            df.update(c.keys())
        # Lucene's idf: never negative, so a word in most documents still counts a little.
        idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}
        weights: list[dict[str, float]] = []
        postings: dict[str, dict[int, float]] = {}
        for i, c in enumerate(counts):
            norm = K1 * (1 - B + B * lengths[i] / average)
            own = {t: idf[t] * tf * (K1 + 1) / (tf + norm) for t, tf in c.items()}
            weights.append(own)
            for term, weight in own.items():
                postings.setdefault(term, {})[i] = weight
        return cls(kept, tuple(weights), postings, idf)

    def __len__(self) -> int:
        return len(self._docs)

    def _df(self, term: str) -> int:
        return len(self._postings[term])

    def search(self, text: str, limit: int = 3) -> list[KbHit]:
        """The best `limit` documents for a question, best first; [] when nothing matches.

        Terms in many documents (more than COMMON_SHARE of them) only add to the scores of
        documents a rarer term of the query already found (the rarest term when all are
        common), instead of walking their long posting lists: a document sharing only common
        words with the question is not its answer, and a query stays at a few dozen
        dictionary operations however large the knowledge base.
        """
        if not self._docs or limit < 1:
            return []
        query = set(tokens(text))
        if not query:
            return []
        known = sorted((t for t in query if t in self._postings), key=self._df)
        # Rare terms are walked in full; so is the rarest term when all are common.
        rare = [t for i, t in enumerate(known) if i == 0 or self._df(t) <= self._common_df]
        common = known[len(rare) :]
        scores: dict[int, float] = {}
        for term in rare:
            for doc, weight in self._postings[term].items():
                scores[doc] = scores.get(doc, 0.0) + weight
        for term in common:
            posting = self._postings[term]
            for doc in scores:
                scores[doc] += posting.get(doc, 0.0)
        if not scores:
            return []
        self_score = sum(self._idf.get(t, self._unknown_idf) for t in query)
        hits = []
        for i, score in heapq.nlargest(limit, scores.items(), key=itemgetter(1)):
            own = self._weights[i]
            covered = sum(min(own.get(t, 0.0), self._idf[t]) for t in known)
            hits.append(KbHit(self._docs[i], score, min(1.0, covered / self_score)))
        return hits
