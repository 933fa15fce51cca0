"""Comment triage: what the inbox does with a comment as it arrives, one small step at a time.

Triage.run passes a comment through STEPS, in this order:

1. links      evidence: links to hosts of a counted kind, more than max_links ("link")
2. ad_words   evidence: an advertising phrase of spam.txt ("ad")
3. contact    evidence: a contact-me pattern, such as 加微信 or a QQ number ("contact")
4. repeat     evidence: few distinct characters, or the author's same text again; a hard rule
              for one character over and over, or a third copy ("repeat")
5. flood      a hard rule: its author sent too many comments in the window ("flood")
6. spam       spam on a hard rule or on enough different weak evidence (moderation.spam)
7. abuse      hidden when it has a 辱骂 word of abuse.txt ("abuse"); the status stays open:
              a person must still look at it
8. mask       personal data masked (moderation.rules.privacy) ("personal_data"); an office's
              address (gov.cn, official_email_domains) is not personal data
9. category   咨询, 建议, 投诉, 求助, 表扬, 信访类 or 其他: the trained model's prediction
              (moderation.classifier, set with set_classifier), else keyword scores
              (categories.txt); a 信访 keyword always means 信访类. A prediction below
              category_min_confidence is flagged "category_unsure" (待确认)
10. petition  信访类 goes its own statutory way: status "petition", no reply clock ("petition");
              not on an unsure prediction
11. knowledge the knowledge base's best answer as a suggestion; a 咨询 comment with a good
              enough hit is a simple question
12. route     the office that issued the linked item, else by keywords (offices.txt), else the
              default office
13. deadline  the due moment in working days (moderation.deadlines) ("calendar_unknown"); for
              an unsure prediction the shortest clock of its likely categories

Spam is kept, hidden, with status "spam", flagged with every signal found; every step still
runs on it (except the knowledge search), so a person who decides it is not spam finds it
masked, categorised, routed and with its due time. Word lists are data files in
moderation/dictionaries/ (spam.txt, abuse.txt, reporting.txt, categories.txt, offices.txt) that
config can extend; they go into one Aho-Corasick automaton run once over the normalized text
(moderation.normalize). A word of plain letters and digits (sb, nmsl) counts only where the
original text has no letter or digit, nor a character of a link or address, either side of it.

The repeat and flood memory (who wrote what, when) lives in the Triage object: it is per
process. With several worker processes an author spreading comments over them is counted by
each separately; keep one Triage per process and feed it comments in arrival order.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from functools import cache

from ahocorasick_rs import AhoCorasick, MatchKind

from moderation.classifier import Classifier, Prediction
from moderation.deadlines import PETITION, WorkCalendar, deadline_days
from moderation.knowledge import KnowledgeBase
from moderation.normalize import Normalized, fold, normalize
from moderation.rules.privacy import mask_personal_data
from moderation.rules.wording import DictionaryError
from moderation.settings import InboxSettings, TriageConfig
from moderation.spam import Evidence, LinkJudge, contact_me
from moderation.wordlists import rows as _rows
from moderation.wordlists import words as _words

__all__ = ["CATEGORIES", "STEPS", "UNSURE", "Triage", "TriageInput", "TriageResult"]

log = logging.getLogger(__name__)

CATEGORIES = ("咨询", "建议", "投诉", "求助", "表扬", "信访类", "其他")
# Who wins a tie of keyword scores: the category that asks most of the office first.
_TIE_ORDER = ("信访类", "投诉", "求助", "建议", "咨询", "表扬")
QUESTION = "咨询"
UNSURE = "category_unsure"  # the flag of a category the model is not sure of (待确认)
OTHER = "其他"
QUESTION_MARK_WEIGHT = 1
_REPEAT_MEMORY = 20  # texts remembered per author for the same-text check
_DISTINCT_SAMPLE = 200  # characters looked at for self-repetition

# A question mark ends a question, not a URL's path ("reg?id=1").
_QUESTION_MARK = re.compile(r"[?？](?![A-Za-z0-9=&_%])")
_BLATANT_COPIES = 2  # earlier copies of the same text within the window that make it hard spam
# Word lists whose plain letters-and-digits entries must stand apart in the original text
_BOUNDED_KINDS = frozenset({"ad", "abuse", "report"})
# ... and the characters they must not touch: letters, digits, and those of links and addresses
_WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789/=?&@_%#~")


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
    evidence: Evidence = field(default_factory=Evidence)
    unlinked: str = ""  # folded, without its links: what self-repetition is measured on
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
    prediction: Prediction | None = None  # the category model's, when one is set
    clock_categories: tuple[str, ...] = ()  # an unsure prediction's likely categories

    def spam(self, reasons: tuple[str, ...]) -> None:
        self.status = "spam"
        self.hidden = True
        self.flags.extend(reasons)


@dataclass(frozen=True)
class _Words:
    """What the automaton found in one comment."""

    ad: bool
    abuse: bool
    report: bool  # a word of a citizen reporting a wrong (reporting.txt)
    categories: dict[str, float]
    offices: dict[str, int]


@dataclass
class _Trail:
    """An author's recent comments: arrival times (flood) and texts (repeat)."""

    times: deque[float]
    texts: deque[tuple[float, str]]


# --- word lists ------------------------------------------------------------------------------


def _apart(norm: Normalized, start: int, end: int) -> bool:
    """Whether normalized characters [start, end) have, in the original text, no letter or
    digit, nor a character of a link or address, right before or after them."""
    original = norm.original
    first, last = norm.span(start, end)
    before = original[first - 1] if first else ""
    after = original[last] if last < len(original) else ""
    return not any(
        unicodedata.normalize("NFKC", ch)[:1].lower() in _WORD_CHARS for ch in (before, after) if ch
    )


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
        reporting, _ = _words("reporting.txt")
        meanings: dict[str, list[tuple[str, str, float]]] = {}

        def add(word: str, kind: str, value: str = "", weight: float = 1.0) -> None:
            key = fold(word)
            if key and (len(key) >= 2 or kind == "category"):
                meanings.setdefault(key, []).append((kind, value, weight))

        for word in (*ads, *cfg.spam_words):
            add(word, "ad")
        for word in (*abuse, *cfg.abuse_words):
            add(word, "abuse")
        for word in reporting:
            add(word, "report")
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
        self.bounded = [
            k.isascii() and k.isalnum() and any(m[0] in _BOUNDED_KINDS for m in meanings[k])
            for k in self.keys
        ]
        self.automaton = AhoCorasick(self.keys, matchkind=MatchKind.Standard) if self.keys else None

    def scan(self, norm: Normalized) -> _Words:
        folded = norm.text
        categories: dict[str, float] = {}
        offices: dict[str, int] = {}
        if self.automaton is None or not folded:
            return _Words(False, False, False, categories, offices)
        matches = self.automaton.find_matches_as_indexes(folded, overlapping=True)
        allowed = [
            (s, e) for i, s, e in matches if any(m[0] == "allowed" for m in self.meanings[i])
        ]
        ad = abuse = report = False
        for index, start, end in set(matches):
            inside_allowed = any(a <= start and end <= b for a, b in allowed)
            apart = not self.bounded[index] or _apart(norm, start, end)
            for kind, value, weight in self.meanings[index]:
                if kind == "ad":
                    ad = ad or (apart and not inside_allowed)
                elif kind == "abuse":
                    abuse = abuse or (apart and not inside_allowed)
                elif kind == "report":
                    report = report or apart
                elif kind == "category":
                    categories[value] = categories.get(value, 0.0) + weight
                elif kind == "office":
                    offices[value] = offices.get(value, 0) + 1
        return _Words(ad, abuse, report, categories, offices)


# --- triage ----------------------------------------------------------------------------------


class Triage:
    """Runs STEPS on each comment. Keep one per process: it holds the automaton, the work
    calendar, the knowledge base and the per-author memory of the repeat and flood steps."""

    def __init__(
        self,
        config: InboxSettings,
        knowledge: KnowledgeBase | None = None,
        official_email_domains: Iterable[str] = (),
    ) -> None:
        self.config = config
        # Besides gov.cn ([review] official_email_domains): addresses masking leaves alone.
        self.official_email_domains = tuple(official_email_domains)
        self.cfg = config.triage
        self.calendar = WorkCalendar.from_config(config.deadlines)
        self.knowledge = knowledge if knowledge is not None else KnowledgeBase.build(())
        self._matcher = _Matcher(self.cfg)
        self._links = LinkJudge(self.cfg.link_allowed_hosts)
        self.classifier: Classifier | None = None
        self._trails: dict[str, _Trail] = {}
        self._latest = float("-inf")
        self._prune_at = 4096

    def set_knowledge(self, kb: KnowledgeBase) -> None:
        self.knowledge = kb

    def set_classifier(self, classifier: Classifier | None) -> None:
        """The trained category model to use from now on; None: the keyword scores."""
        self.classifier = classifier

    def run(self, item: TriageInput) -> TriageResult:
        return self.run_many([item])[0]

    def run_many(self, items: Sequence[TriageInput]) -> list[TriageResult]:
        """Triage a batch, in arrival order: the steps before the category on each comment,
        then the category model once for the whole batch (when one is set), then the rest."""
        drafts = []
        for item in items:
            norm = normalize(item.text)
            draft = _Draft(item, norm.text, self._matcher.scan(norm))
            draft.evidence.reporting = draft.words.report
            drafts.append(draft)
        split = STEPS.index(Triage.category)
        for draft in drafts:
            for step in STEPS[:split]:
                step(self, draft)
        self._predict(drafts)
        for draft in drafts:
            for step in STEPS[split:]:
                step(self, draft)
        out = []
        for draft in drafts:
            values = {f.name: getattr(draft, f.name) for f in fields(TriageResult)}
            out.append(TriageResult(**{**values, "flags": tuple(draft.flags)}))
        return out

    def _predict(self, drafts: list[_Draft]) -> None:
        """The model's predictions, on the masked texts (what it was trained on). A model that
        fails leaves the batch to the keyword scores."""
        classifier = self.classifier
        if classifier is None or not drafts:
            return
        try:
            predictions = classifier.predict([d.masked_text for d in drafts])
        except Exception:
            log.exception("category model failed on %d comments: keyword scores used", len(drafts))
            return
        for draft, prediction in zip(drafts, predictions, strict=True):
            draft.prediction = prediction

    # The steps, in the order of STEPS below.

    def links(self, d: _Draft) -> None:
        links = self._links.judge(d.item.text)
        if links.counted > self.cfg.max_links:
            d.evidence.weak.add("link")
        d.unlinked = d.folded if links.rest is d.item.text else fold(links.rest)

    def ad_words(self, d: _Draft) -> None:
        if d.words.ad:
            d.evidence.weak.add("ad")

    def contact(self, d: _Draft) -> None:
        if contact_me(d.folded):
            d.evidence.weak.add("contact")

    def repeat(self, d: _Draft) -> None:
        if len(d.folded) < self.cfg.repeat_min_chars:
            return
        sample = d.unlinked[:_DISTINCT_SAMPLE]
        if len(sample) >= self.cfg.repeat_min_chars:
            if len(set(sample)) == 1:
                d.evidence.hard.add("repeat")  # nothing can be said with one character
                return
            if len(set(sample)) < self.cfg.repeat_max_distinct_share * len(sample):
                d.evidence.weak.add("repeat")
        trail = self._trail(d.item.author_ref)
        if trail is None:
            return
        now = d.item.received_at.timestamp()
        window = self.cfg.repeat_window_seconds
        copies = sum(1 for t, text in trail.texts if abs(now - t) <= window and text == d.folded)
        if copies >= _BLATANT_COPIES:
            d.evidence.hard.add("repeat")
        elif copies:
            d.evidence.weak.add("repeat")
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
            d.evidence.hard.add("flood")
        trail.times.append(now)
        self._latest = max(self._latest, now)

    def spam(self, d: _Draft) -> None:
        reasons = d.evidence.verdict()
        if reasons:
            d.spam(reasons)

    def abuse(self, d: _Draft) -> None:
        if d.words.abuse:
            d.hidden = True
            d.flags.append("abuse")

    def mask(self, d: _Draft) -> None:
        d.masked_text = mask_personal_data(
            d.item.text,
            self.calendar.local_date(d.item.received_at),
            self.official_email_domains,
        )
        if d.masked_text != d.item.text:
            d.flags.append("personal_data")

    def category(self, d: _Draft) -> None:
        scores = dict(d.words.categories)
        # The trained model decides, except where a 信访 pattern of categories.txt matched (a
        # hard rule). Below category_min_confidence it is a guess: 待确认, and the reply clock
        # is the strictest of the likely categories' (never 信访类's none).
        if d.prediction is not None and PETITION not in scores:
            d.category = d.prediction.category
            if d.prediction.confidence < self.cfg.category_min_confidence:
                d.flags.append(UNSURE)
                likely = d.prediction.likely(self.cfg.category_likely_probability)
                d.clock_categories = tuple(c for c in likely if c != PETITION) or ("",)
            return
        if _QUESTION_MARK.search(d.item.text):
            scores[QUESTION] = scores.get(QUESTION, 0.0) + QUESTION_MARK_WEIGHT
        if scores:
            d.category = max(
                scores, key=lambda c: (scores[c], -_TIE_ORDER.index(c) if c in _TIE_ORDER else -99)
            )

    def petition(self, d: _Draft) -> None:
        if d.category == PETITION and not d.clock_categories:
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
        # clock_categories: the likely categories of an unsure prediction; the shortest wins.
        clocks = [
            deadline_days(self.config.deadlines, c, d.item.channel, d.simple)
            for c in d.clock_categories or (d.category,)
        ]
        if None in clocks:
            return
        days = min(c for c in clocks if c is not None)
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
    Triage.contact,
    Triage.repeat,
    Triage.flood,
    Triage.spam,
    Triage.abuse,
    Triage.mask,
    Triage.category,
    Triage.petition,
    Triage.knowledge_search,
    Triage.route,
    Triage.deadline,
)
