"""Which listed 办事事项 a message is about, and groups of the messages none fits.

A message is placed by its words in order of how sure that is: a rating whose 事项名称 is a
matter's name or alias (`name`); else the matter with the most distinct keywords found in the
text, width and case folded, by one Aho-Corasick pass (`keyword`; ties go to the longer words,
then to the matter listed first); else the listed matter one of whose phrases (name, aliases,
keywords, the parts of its description) its jieba tokens are most like, by TF-IDF cosine
(scikit-learn, as the category model uses), when that likeness reaches [hot_matters]
similarity (`similar`); else none. Messages that fit none are grouped when they are alike
(star clustering on the same cosine: the message with the most alike neighbours takes them
first), and a group large enough is a suggested new matter, named by its heaviest words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ahocorasick_rs import AhoCorasick, MatchKind

from bot.matters.settings import MatterConfig
from moderation.knowledge import tokens
from moderation.normalize import normalize

NAME = "name"
KEYWORD = "keyword"
SIMILAR = "similar"
NONE = "none"
_PARTS = re.compile(r"[、，,。；;：:\s]+")
METHOD_LABELS = {NAME: "事项名称", KEYWORD: "关键词", SIMILAR: "内容相近", NONE: "未归入"}


@dataclass(frozen=True)
class Match:
    matter: str  # a [[matters]] key; "" when none fits
    method: str  # name | keyword | similar | none
    score: float  # keywords found, or the cosine; 1.0 for a name


NO_MATCH = Match("", NONE, 0.0)


@dataclass(frozen=True)
class Group:
    """Messages that fit no listed matter but are alike: a suggested new matter."""

    words: tuple[str, ...]  # the heaviest words of the group, its suggested name
    members: tuple[int, ...]  # indexes into the texts given, the most connected first


def _fold(text: str) -> str:
    return normalize(text).text


def _vectorizer() -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(analyzer=tokens, sublinear_tf=True, norm="l2")


class Matcher:
    """The listed matters, ready to place messages. Build one per run (cheap)."""

    def __init__(self, matters: Sequence[MatterConfig], similarity: float) -> None:
        self.matters = tuple(matters)
        self.similarity = similarity
        self._names = {_fold(n): m.key for m in self.matters for n in (m.name, *m.aliases)}
        keys: dict[str, list[int]] = {}
        for index, matter in enumerate(self.matters):
            for word in matter.keywords:
                folded = _fold(word)
                if folded and index not in keys.setdefault(folded, []):
                    keys[folded].append(index)
        self._keys = list(keys)
        self._owners = [keys[k] for k in self._keys]
        self._automaton = (
            AhoCorasick(self._keys, matchkind=MatchKind.Standard) if self._keys else None
        )
        # Each matter is described by short phrases (its name, aliases, keywords and the
        # parts of its description): a message is as like the matter as it is like the
        # phrase it is most like, so a long description does not dilute the likeness.
        self._phrases: list[tuple[int, str]] = [
            (index, phrase)
            for index, matter in enumerate(self.matters)
            for phrase in (
                matter.name,
                *matter.aliases,
                *matter.keywords,
                *_PARTS.split(matter.description),
            )
            if phrase.strip()
        ]

    def by_name(self, service: str) -> str:
        """The matter whose name or alias `service` is (a rating's 事项名称); "" if none."""
        return self._names.get(_fold(service), "") if service else ""

    def by_keyword(self, text: str) -> Match | None:
        if self._automaton is None or not text:
            return None
        found: dict[int, set[str]] = {}
        for pattern, _, _ in self._automaton.find_matches_as_indexes(_fold(text), overlapping=True):
            for owner in self._owners[pattern]:
                found.setdefault(owner, set()).add(self._keys[pattern])
        if not found:
            return None
        best = max(found, key=lambda i: (len(found[i]), sum(map(len, found[i])), -i))
        return Match(self.matters[best].key, KEYWORD, float(len(found[best])))

    def match_many(self, texts: Sequence[str], services: Sequence[str] = ()) -> list[Match]:
        """The match of each text (with the 事项名称 of each, for ratings), in order."""
        out: list[Match | None] = []
        for i, text in enumerate(texts):
            service = services[i] if i < len(services) else ""
            named = self.by_name(service)
            if named:
                out.append(Match(named, NAME, 1.0))
            else:
                out.append(self.by_keyword(f"{service} {text}".strip()))
        left = [i for i, m in enumerate(out) if m is None]
        if left and self.matters:
            scores = self._likeness(
                [f"{services[i] if i < len(services) else ''} {texts[i]}" for i in left]
            )
            for row, likeness in enumerate(scores):
                best = max(range(len(self.matters)), key=lambda j: (likeness[j], -j))
                if likeness[best] >= self.similarity:
                    score = round(likeness[best], 4)
                    out[left[row]] = Match(self.matters[best].key, SIMILAR, score)
        return [m if m is not None else NO_MATCH for m in out]

    def _likeness(self, texts: list[str]) -> list[list[float]]:
        """Cosine of each text with each matter's most alike phrase, the IDF learnt from the
        phrases and the texts together."""
        vectorizer = _vectorizer()
        phrases = [p for _, p in self._phrases]
        try:
            matrix = vectorizer.fit_transform([*phrases, *texts])
        except ValueError:  # no text has a single word (only numbers or stopwords)
            return [[0.0] * len(self.matters) for _ in texts]
        cosines = (matrix[len(phrases) :] @ matrix[: len(phrases)].T).toarray()
        out = []
        for row in cosines:
            best = [0.0] * len(self.matters)
            for column, (owner, _) in enumerate(self._phrases):
                best[owner] = max(best[owner], float(row[column]))
            out.append(best)
        return out


def groups(texts: Sequence[str], similarity: float, minimum: int, words: int = 3) -> list[Group]:
    """Groups of at least `minimum` alike texts (cosine ≥ similarity), the largest first."""
    if len(texts) < minimum:
        return []
    vectorizer = _vectorizer()
    try:
        matrix = vectorizer.fit_transform(list(texts))
    except ValueError:
        return []
    alike = (matrix @ matrix.T).toarray() >= similarity
    n = len(texts)
    degree = [int(alike[i].sum()) - 1 for i in range(n)]
    taken = [False] * n
    found: list[Group] = []
    vocabulary = vectorizer.get_feature_names_out()
    for seed in sorted(range(n), key=lambda i: (-degree[i], i)):
        if taken[seed] or degree[seed] + 1 < minimum:
            continue
        members = [seed] + [
            j
            for j in sorted(range(n), key=lambda j: (-degree[j], j))
            if j != seed and not taken[j]
            if alike[seed, j]
        ]
        if len(members) < minimum:
            continue
        for j in members:
            taken[j] = True
        weight = matrix[members].sum(axis=0).A1
        chosen: list[str] = []
        for t in sorted(range(len(weight)), key=lambda t: (-weight[t], str(vocabulary[t]))):
            word = str(vocabulary[t])
            # jieba's search mode gives a compound and its parts: name the group once by each
            if weight[t] > 0 and not any(word in c or c in word for c in chosen):
                chosen.append(word)
            if len(chosen) == words:
                break
        found.append(Group(tuple(chosen), tuple(members)))
    return sorted(found, key=lambda g: (-len(g.members), g.members[0]))
