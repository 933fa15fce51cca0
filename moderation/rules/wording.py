"""Wording (错敏词): sensitive words, non-standard forms of official and political terms, and
common typos, found in the title, summary, body and enforcement fields.

Every list (the shipped dictionaries in moderation/dictionaries/ plus the office's additions
from ReviewSettings) goes into one Aho-Corasick automaton, built once per set of additions.
Matching runs on normalized text (moderation.normalize), so full-width forms, invisible
characters and separators slipped between characters do not hide a word; spans are reported on
the original text. A hit lying wholly inside a longer allowed term (an allowed.txt entry, or the
correct form of a wrong term or typo) is not reported: 「支援交流」 does not contain 「援交」.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import Enum
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from ahocorasick_rs import AhoCorasick, MatchKind

from moderation.findings import FindingData, ReviewContext
from moderation.normalize import fold, normalize

TEXT_FIELDS = ("title", "summary", "body")
MAX_PER_FIELD = 100  # findings listed one by one in a field; the rest are counted in one more
MIN_LENGTH = 2  # normalized characters; a one-character entry would flag ordinary text
OFFICE = "本单位词表"


class DictionaryError(ValueError):
    """A shipped dictionary file has a line that cannot be read."""


class Kind(Enum):
    SENSITIVE = "sensitive"
    WRONG = "wrong_term"
    TYPO = "typo"


@dataclass(frozen=True)
class Entry:
    kind: Kind
    word: str  # as listed
    correct: str = ""  # for wrong terms and typos
    category: str = ""  # for sensitive words


@dataclass(frozen=True)
class Pattern:
    """One normalized string of the automaton and what it means (it may mean several things,
    e.g. a correct form that is also listed as allowed)."""

    entries: tuple[Entry, ...]
    allowed: bool


@dataclass(frozen=True)
class Hit:
    entry: Entry
    span: tuple[int, int]  # in the original text


@dataclass(frozen=True)
class Dictionary:
    automaton: AhoCorasick | None  # None: nothing to look for
    patterns: tuple[Pattern, ...]  # by automaton pattern index
    skipped: tuple[str, ...]  # entries too short, or indistinguishable from their correct form


def _lines(name: str) -> Iterator[tuple[int, list[str]]]:
    text = resources.files("moderation").joinpath("dictionaries", name).read_text("utf-8")
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip(" \r\ufeff")
        if line and not line.startswith("#"):
            yield number, line.split("\t")


def _pairs(name: str) -> tuple[tuple[str, str], ...]:
    pairs = []
    for number, cols in _lines(name):
        if len(cols) != 2 or not cols[0].strip() or not cols[1].strip():
            raise DictionaryError(
                f"词表 {name} 第 {number} 行格式不对：应为「错误写法<TAB>正确写法」。"
            )
        pairs.append((cols[0].strip(), cols[1].strip()))
    return tuple(pairs)


@cache
def shipped() -> tuple[tuple[Entry, ...], tuple[str, ...]]:
    """The shipped dictionaries: (entries, allowed terms)."""
    entries: list[Entry] = []
    for number, cols in _lines("sensitive.txt"):
        if len(cols) > 2 or not cols[0].strip():
            raise DictionaryError(
                f"词表 sensitive.txt 第 {number} 行格式不对：应为「词语」或「词语<TAB>类别」。"
            )
        category = cols[1].strip() if len(cols) == 2 else ""
        entries.append(Entry(Kind.SENSITIVE, cols[0].strip(), category=category))
    entries += [Entry(Kind.WRONG, w, correct=c) for w, c in _pairs("wrong_terms.txt")]
    entries += [Entry(Kind.TYPO, w, correct=c) for w, c in _pairs("typos.txt")]
    allowed = tuple(cols[0].strip() for _, cols in _lines("allowed.txt"))
    return tuple(entries), allowed


def build(entries: Iterable[Entry], allowed: Iterable[str]) -> Dictionary:
    """An automaton over the entries and allowed terms (the first entry of a kind for a given
    normalized string wins)."""
    by_key: dict[str, tuple[list[Entry], list[bool]]] = {}
    skipped: list[str] = []

    def slot(key: str) -> tuple[list[Entry], list[bool]]:
        return by_key.setdefault(key, ([], [False]))

    for entry in entries:
        key = fold(entry.word)
        if len(key) < MIN_LENGTH or (entry.correct and fold(entry.correct) == key):
            skipped.append(entry.word)
            continue
        listed, _ = slot(key)
        if all(e.kind is not entry.kind for e in listed):
            listed.append(entry)
        if entry.correct:
            slot(fold(entry.correct))[1][0] = True
    for term in allowed:
        if fold(term):
            slot(fold(term))[1][0] = True
    keys = list(by_key)
    patterns = tuple(Pattern(tuple(by_key[k][0]), by_key[k][1][0]) for k in keys)
    automaton = AhoCorasick(keys, matchkind=MatchKind.Standard) if keys else None
    return Dictionary(automaton, patterns, tuple(skipped))


@lru_cache(maxsize=16)
def dictionary(
    sensitive: tuple[str, ...] = (),
    wrong_terms: tuple[tuple[str, str], ...] = (),
    typos: tuple[tuple[str, str], ...] = (),
    allowed_words: tuple[str, ...] = (),
) -> Dictionary:
    """The shipped dictionaries plus an office's additions, built once per set of additions."""
    entries, allowed = shipped()
    allowed = (*allowed, *allowed_words)
    office = [Entry(Kind.SENSITIVE, w, category=OFFICE) for w in sensitive]
    office += [Entry(Kind.WRONG, w, correct=c) for w, c in wrong_terms]
    office += [Entry(Kind.TYPO, w, correct=c) for w, c in typos]
    return build([*entries, *office], allowed)


# Which longer hits hide a shorter one they cover: an allowed term hides anything; a longer
# sensitive word hides a shorter one; a wrong term hides wrong terms and typos inside it.
_HIDDEN_BY = {
    Kind.SENSITIVE: (Kind.SENSITIVE,),
    Kind.WRONG: (Kind.WRONG,),
    Kind.TYPO: (Kind.WRONG, Kind.TYPO),
}


def scan(text: str, dictionary: Dictionary) -> list[Hit]:
    """Every hit in text, in order, leaving out those inside a longer term that hides them."""
    if dictionary.automaton is None or not text:
        return []
    normalized = normalize(text)
    if not normalized.text:
        return []
    matches = dictionary.automaton.find_matches_as_indexes(normalized.text, overlapping=True)
    # Longest first at each start: every match before a hit starts no later, so one ending no
    # earlier covers it and is longer.
    matches.sort(key=lambda m: (m[1], -m[2]))
    reach = dict.fromkeys(Kind, -1)  # furthest end of the matches seen so far, by kind
    allowed_reach = -1
    hits: list[Hit] = []
    for index, start, end in matches:
        pattern = dictionary.patterns[index]
        for entry in pattern.entries:
            covered = allowed_reach >= end or any(reach[k] >= end for k in _HIDDEN_BY[entry.kind])
            if not covered:
                hits.append(Hit(entry, normalized.span(start, end)))
        for entry in pattern.entries:
            reach[entry.kind] = max(reach[entry.kind], end)
        if pattern.allowed:
            allowed_reach = max(allowed_reach, end)
    return hits


def _finding(hit: Hit, field: str) -> FindingData:
    entry = hit.entry
    if entry.kind is Kind.SENSITIVE:
        category = f"（{entry.category}）" if entry.category else ""
        return FindingData(
            rule="wording.sensitive",
            severity="block",
            field=field,
            span=hit.span,
            message=f"含敏感词「{entry.word}」{category}，请删除或改写后再提交。",
        )
    if entry.kind is Kind.WRONG:
        return FindingData(
            rule="wording.wrong_term",
            severity="block",
            field=field,
            span=hit.span,
            suggestion=entry.correct,
            message=f"「{entry.word}」是不规范的表述，应为「{entry.correct}」。",
        )
    return FindingData(
        rule="wording.typo",
        severity="warn",
        field=field,
        span=hit.span,
        suggestion=entry.correct,
        message=f"疑似错别字：「{entry.word}」应为「{entry.correct}」。",
    )


def _fields(snapshot: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for name in TEXT_FIELDS:
        value = snapshot.get(name)
        if isinstance(value, str):
            yield name, value
    enforcement = snapshot.get("enforcement")
    if isinstance(enforcement, dict):
        for key, value in enforcement.items():
            if isinstance(value, str):
                yield f"enforcement.{key}", value


def check(snapshot: dict[str, Any], context: ReviewContext) -> Iterator[FindingData]:
    settings = context.settings
    words = dictionary(
        tuple(settings.sensitive_words),
        tuple((w, c) for w, c in settings.wrong_terms),
        tuple((w, c) for w, c in settings.typos),
        tuple(settings.allowed_words),
    )
    for field, text in _fields(snapshot):
        hits = scan(text, words)
        for hit in hits[:MAX_PER_FIELD]:
            yield _finding(hit, field)
        rest = hits[MAX_PER_FIELD:]
        if rest:
            blocking = any(h.entry.kind is not Kind.TYPO for h in rest)
            yield FindingData(
                rule="wording.more",
                severity="block" if blocking else "warn",
                field=field,
                message=f"另有 {len(rest)} 处用词问题未逐一列出，请先修改已列出的问题后重新检查。",
            )
