"""Comment triage: what the inbox does with a comment as it arrives, one small step at a time.

Triage.run passes a comment through STEPS, in this order:

1. links      spam when it has more than max_links links to hosts not allowed ("link")
2. ad_words   spam when it has an advertising phrase of spam.txt ("ad")
3. repeat     spam when it repeats itself, or its author sent the same text lately ("repeat")
4. flood      spam when its author sent too many comments in the window ("flood")
5. abuse      hidden when it has a 辱骂 word of abuse.txt ("abuse"); the status stays open:
              a person must still look at it
6. mask       personal data masked (moderation.rules.privacy) ("personal_data")
7. category   咨询, 建议, 投诉, 求助, 表扬, 信访类 or 其他 by keyword scores (categories.txt)
8. petition   信访类 goes its own statutory way: status "petition", no reply clock ("petition")
9. knowledge  the knowledge base's best answer as a suggestion; a 咨询 comment with a good
              enough hit is a simple question
10. route     the office that issued the linked item, else by keywords (offices.txt), else the
              default office
11. deadline  the due moment in working days (moderation.deadlines) ("calendar_unknown")

Spam is kept, hidden, with status "spam"; every step still runs on it (except the knowledge
search), so a person who decides it is not spam finds it masked, categorised, routed and with
its due time. Word lists are data files in moderation/dictionaries/ (spam.txt, abuse.txt,
categories.txt, offices.txt) that config can extend; they go into one Aho-Corasick automaton
run once over the normalized text (moderation.normalize).

The repeat and flood memory (who wrote what, when) lives in the Triage object: it is per
process. With several worker processes an author spreading comments over them is counted by
each separately; keep one Triage per process and feed it comments in arrival order.
"""

from __future__ import annotations

import re
import unicodedata
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime
from functools import cache
from importlib import resources

from ahocorasick_rs import AhoCorasick, MatchKind

from moderation.deadlines import PETITION, WorkCalendar, deadline_days
from moderation.knowledge import KnowledgeBase
from moderation.normalize import fold
from moderation.rules.privacy import mask_personal_data
from moderation.rules.wording import DictionaryError
from moderation.settings import InboxSettings, TriageConfig

__all__ = ["CATEGORIES", "STEPS", "Triage", "TriageInput", "TriageResult"]

CATEGORIES = ("咨询", "建议", "投诉", "求助", "表扬", "信访类", "其他")
# Who wins a tie of keyword scores: the category that asks most of the office first.
_TIE_ORDER = ("信访类", "投诉", "求助", "建议", "咨询", "表扬")
QUESTION = "咨询"
OTHER = "其他"
QUESTION_MARK_WEIGHT = 1
_REPEAT_MEMORY = 20  # texts remembered per author for the same-text check
_DISTINCT_SAMPLE = 200  # characters looked at for self-repetition

# Hosts of links: with a scheme or www. any domain or IPv4 address; bare domains only with a
# common top-level domain, so "v1.5" or "第3.2条" are not links. Not inside an e-mail address.
_LINK = re.compile(
    r"(?<![a-z0-9@.\-_])(?P<scheme>(?:https?|ftp)://)?"
    r"(?P<host>(?:[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}|\d{1,3}(?:\.\d{1,3}){3})"
    r"(?![a-z0-9\-@])"
)
# A question mark ends a question, not a URL's path ("reg?id=1").
_QUESTION_MARK = re.compile(r"[?？](?![A-Za-z0-9=&_%])")
_BARE_TLDS = frozenset(
    "com net org cn cc top xyz vip info biz me io co tv club site online shop link wang ltd "
    "app fun icu live pro".split()
)


@dataclass(frozen=True)
class TriageInput:
    text: str
    channel: str
    kind: str
    author_ref: str
    received_at: datetime  # aware
    item_office: str = ""


@dataclass(frozen=True)
class TriageResult:
    status: str  # "open" | "spam" | "petition"
    hidden: bool
    flags: tuple[str, ...]
    masked_text: str
    category: str
    simple: bool
    confidence: float
    suggested_answer: str
    suggested_source: str
    office: str
    due_at: datetime | None
    calendar_known: bool


@dataclass
class _Draft:
    """One comment on its way through the steps."""

    item: TriageInput
    folded: str  # normalized, separators dropped: what the word lists match
    words: _Words
    status: str = "open"
    hidden: bool = False
    flags: list[str] = field(default_factory=list)
    masked_text: str = ""
    category: str = OTHER
    simple: bool = False
    confidence: float = 0.0
    suggested_answer: str = ""
    suggested_source: str = ""
    office: str = ""
    due_at: datetime | None = None
    calendar_known: bool = True

    def spam(self, reason: str) -> None:
        self.status = "spam"
        self.hidden = True
        self.flags.append(reason)


@dataclass(frozen=True)
class _Words:
    """What the automaton found in one comment."""

    ad: bool
    abuse: bool
    categories: dict[str, float]
    offices: dict[str, int]


@dataclass
class _Trail:
    """An author's recent comments: arrival times (flood) and texts (repeat)."""

    times: deque[float]
    texts: deque[tuple[float, str]]


# --- word lists ------------------------------------------------------------------------------


def _rows(name: str, shape: str, widths: tuple[int, ...]) -> list[list[str]]:
    """The TAB-separated rows of a dictionary file (blank and # lines skipped); a row with a
    number of columns not in widths, or an empty column, is a DictionaryError naming it."""
    path = resources.files("moderation").joinpath("dictionaries", name)
    rows = []
    for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        line = line.strip(" \r\ufeff")
        if line and not line.startswith("#"):
            cols = [c.strip() for c in line.split("\t")]
            if len(cols) not in widths or not all(cols):
                raise DictionaryError(f"词表 {name} 第 {number} 行格式不对：应为「{shape}」。")
            rows.append(cols)
    return rows


def _words(name: str) -> tuple[list[str], list[str]]:
    """(words, allowed longer terms written "!词语") of spam.txt or abuse.txt."""
    words = [cols[0] for cols in _rows(name, "词语", (1,))]
    return [w for w in words if not w.startswith("!")], [w[1:] for w in words if w[0] == "!"]


@cache
def _shipped_categories() -> tuple[tuple[str, str, float], ...]:
    rows = _rows("categories.txt", "类别<TAB>关键词<TAB>权重", (2, 3))
    for cols in rows:
        if cols[0] not in CATEGORIES or not cols[-1].replace(".", "", 1).isdigit():
            raise DictionaryError(
                f"词表 categories.txt「{chr(9).join(cols)}」：类别应为 {'、'.join(CATEGORIES)} "
                "之一，权重应为数字。"
            )
    return tuple((c[0], c[1], float(c[2]) if len(c) == 3 else 1.0) for c in rows)


@cache
def _shipped_offices() -> tuple[tuple[str, str], ...]:
    return tuple((c[0], c[1]) for c in _rows("offices.txt", "处室<TAB>关键词", (2,)))


class _Matcher:
    """One automaton for every word list; each normalized key knows what it stands for."""

    def __init__(self, cfg: TriageConfig) -> None:
        ads, ad_allowed = _words("spam.txt")
        abuse, abuse_allowed = _words("abuse.txt")
        meanings: dict[str, list[tuple[str, str, float]]] = {}

        def add(word: str, kind: str, value: str = "", weight: float = 1.0) -> None:
            key = fold(word)
            if key and (len(key) >= 2 or kind == "category"):
                meanings.setdefault(key, []).append((kind, value, weight))

        for word in (*ads, *cfg.spam_words):
            add(word, "ad")
        for word in (*abuse, *cfg.abuse_words):
            add(word, "abuse")
        for word in (*ad_allowed, *abuse_allowed):
            add(word, "allowed")
        # Config wins: a keyword config lists decides its category / office on its own.
        categories: dict[str, tuple[str, float]] = {}
        if cfg.shipped_category_keywords:
            categories = {fold(w): (c, weight) for c, w, weight in _shipped_categories()}
        for listed, words in cfg.category_keywords.items():
            categories.update({fold(w): (str(listed), 1.0) for w in words})
        for key, (category, weight) in categories.items():
            add(key, "category", category, weight)
        offices = {fold(w): o for o, w in _shipped_offices()}
        for office, words in cfg.office_keywords.items():
            offices.update({fold(w): office for w in words})
        for key, office in offices.items():
            add(key, "office", office)
        # Offices in the order that breaks ties: config's first, then the file's.
        order = [*cfg.office_keywords, *(o for o, _ in _shipped_offices())]
        self.office_rank = {o: i for i, o in reversed(list(enumerate(order)))}
        self.keys = list(meanings)
        self.meanings = [tuple(meanings[k]) for k in self.keys]
        self.automaton = AhoCorasick(self.keys, matchkind=MatchKind.Standard) if self.keys else None

    def scan(self, folded: str) -> _Words:
        categories: dict[str, float] = {}
        offices: dict[str, int] = {}
        if self.automaton is None or not folded:
            return _Words(False, False, categories, offices)
        matches = self.automaton.find_matches_as_indexes(folded, overlapping=True)
        allowed = [
            (s, e) for i, s, e in matches if any(m[0] == "allowed" for m in self.meanings[i])
        ]
        ad = abuse = False
        for index, start, end in set(matches):
            inside_allowed = any(a <= start and end <= b for a, b in allowed)
            for kind, value, weight in self.meanings[index]:
                if kind == "ad":
                    ad = ad or not inside_allowed
                elif kind == "abuse":
                    abuse = abuse or not inside_allowed
                elif kind == "category":
                    categories[value] = categories.get(value, 0.0) + weight
                elif kind == "office":
                    offices[value] = offices.get(value, 0) + 1
        return _Words(ad, abuse, categories, offices)


# --- triage ----------------------------------------------------------------------------------


class Triage:
    """Runs STEPS on each comment. Keep one per process: it holds the automaton, the work
    calendar, the knowledge base and the per-author memory of the repeat and flood steps."""

    def __init__(self, config: InboxSettings, knowledge: KnowledgeBase | None = None) -> None:
        self.config = config
        self.cfg = config.triage
        self.calendar = WorkCalendar.from_config(config.deadlines)
        self.knowledge = knowledge if knowledge is not None else KnowledgeBase.build(())
        self._matcher = _Matcher(self.cfg)
        self._allowed_hosts = tuple(h.lower().strip(".") for h in self.cfg.link_allowed_hosts)
        self._trails: dict[str, _Trail] = {}
        self._latest = float("-inf")
        self._prune_at = 4096

    def set_knowledge(self, kb: KnowledgeBase) -> None:
        self.knowledge = kb

    def run(self, item: TriageInput) -> TriageResult:
        folded = fold(item.text)
        draft = _Draft(item, folded, self._matcher.scan(folded))
        for step in STEPS:
            step(self, draft)
        values = {f.name: getattr(draft, f.name) for f in fields(TriageResult)}
        return TriageResult(**{**values, "flags": tuple(draft.flags)})

    # The steps, in the order of STEPS below.

    def links(self, d: _Draft) -> None:
        text = unicodedata.normalize("NFKC", d.item.text).lower()
        foreign = 0
        for m in _LINK.finditer(text):
            host = m["host"]
            if (
                not m["scheme"]
                and not host.startswith("www.")
                and host.rsplit(".", 1)[-1] not in _BARE_TLDS
            ):
                continue
            if not any(host == h or host.endswith("." + h) for h in self._allowed_hosts):
                foreign += 1
        if foreign > self.cfg.max_links:
            d.spam("link")

    def ad_words(self, d: _Draft) -> None:
        if d.words.ad:
            d.spam("ad")

    def repeat(self, d: _Draft) -> None:
        if len(d.folded) < self.cfg.repeat_min_chars:
            return
        sample = d.folded[:_DISTINCT_SAMPLE]
        if len(set(sample)) < self.cfg.repeat_max_distinct_share * len(sample):
            d.spam("repeat")
            return
        trail = self._trail(d.item.author_ref)
        if trail is None:
            return
        now = d.item.received_at.timestamp()
        window = self.cfg.repeat_window_seconds
        if any(abs(now - t) <= window and text == d.folded for t, text in trail.texts):
            d.spam("repeat")
        trail.texts.append((now, d.folded))

    def flood(self, d: _Draft) -> None:
        trail = self._trail(d.item.author_ref)
        if trail is None:
            return
        now = d.item.received_at.timestamp()
        window = self.cfg.flood_window_seconds
        # times holds the author's last flood_max_messages arrivals; if all of them fall in
        # the window before this one, this one is one too many.
        recent = sum(1 for t in trail.times if now - window <= t <= now)
        if recent >= self.cfg.flood_max_messages:
            d.spam("flood")
        trail.times.append(now)
        self._latest = max(self._latest, now)

    def abuse(self, d: _Draft) -> None:
        if d.words.abuse:
            d.hidden = True
            d.flags.append("abuse")

    def mask(self, d: _Draft) -> None:
        d.masked_text = mask_personal_data(
            d.item.text, self.calendar.local_date(d.item.received_at)
        )
        if d.masked_text != d.item.text:
            d.flags.append("personal_data")

    def category(self, d: _Draft) -> None:
        scores = dict(d.words.categories)
        if _QUESTION_MARK.search(d.item.text):
            scores[QUESTION] = scores.get(QUESTION, 0.0) + QUESTION_MARK_WEIGHT
        if scores:
            d.category = max(
                scores, key=lambda c: (scores[c], -_TIE_ORDER.index(c) if c in _TIE_ORDER else -99)
            )

    def petition(self, d: _Draft) -> None:
        if d.category == PETITION:
            d.flags.append("petition")
            if d.status != "spam":
                d.status = "petition"

    def knowledge_search(self, d: _Draft) -> None:
        if d.status == "spam" or not len(self.knowledge):
            return
        hits = self.knowledge.search(d.masked_text, limit=1)
        if not hits or hits[0].confidence < self.cfg.suggest_min_confidence:
            return
        best = hits[0]
        d.confidence = round(best.confidence, 4)
        d.suggested_answer = best.doc.answer
        d.suggested_source = best.doc.source
        d.simple = d.category == QUESTION and best.confidence >= self.cfg.simple_min_confidence

    def route(self, d: _Draft) -> None:
        if d.item.item_office:
            d.office = d.item.item_office
            return
        offices = d.words.offices
        if offices:
            rank = self._matcher.office_rank
            d.office = max(offices, key=lambda o: (offices[o], -rank.get(o, len(rank))))
            return
        d.office = self.cfg.default_office

    def deadline(self, d: _Draft) -> None:
        days = deadline_days(self.config.deadlines, d.category, d.item.channel, d.simple)
        if days is None:
            return
        d.due_at, d.calendar_known = self.calendar.due_at(d.item.received_at, days)
        if not d.calendar_known:
            d.flags.append("calendar_unknown")

    # Per-author memory.

    def _trail(self, author: str) -> _Trail | None:
        """The author's trail, created on first sight; None for anonymous comments."""
        if not author:
            return None
        trail = self._trails.get(author)
        if trail is None:
            if len(self._trails) >= self._prune_at:
                self._prune()
            trail = _Trail(deque(maxlen=self.cfg.flood_max_messages), deque(maxlen=_REPEAT_MEMORY))
            self._trails[author] = trail
        return trail

    def _prune(self) -> None:
        """Forget authors with nothing inside either window (memory stays bounded)."""
        horizon = self._latest - max(self.cfg.flood_window_seconds, self.cfg.repeat_window_seconds)
        self._trails = {
            a: t
            for a, t in self._trails.items()
            if any(x >= horizon for x in t.times) or any(x >= horizon for x, _ in t.texts)
        }
        self._prune_at = max(4096, 2 * len(self._trails))


Step = Callable[[Triage, _Draft], None]

STEPS: tuple[Step, ...] = (
    Triage.links,
    Triage.ad_words,
    Triage.repeat,
    Triage.flood,
    Triage.abuse,
    Triage.mask,
    Triage.category,
    Triage.petition,
    Triage.knowledge_search,
    Triage.route,
    Triage.deadline,
)
