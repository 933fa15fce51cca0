"""A visitor's search text made safe for the engine: characters that cannot be text dropped,
cut to the configured length (the page says so), segmented with the same jieba tokens the
documents were indexed with, and handed on as a list of tokens the engine quotes one by one
(bot/search/engine.py). `"`, `*`, `NEAR(`, `AND`, `OR` are words like any other."""

from __future__ import annotations

import re
from dataclasses import dataclass

from moderation.knowledge import tokens

# More distinct words than this say nothing more about what is looked for.
MAX_TOKENS = 24
_NOT_TEXT = re.compile(r"[\ud800-\udfff\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_QUESTION = re.compile(r"[?？]|^(请问|如何|怎么|怎样|为什么|是否|能否|可以|哪里|多久|什么)|吗$|呢$")


@dataclass(frozen=True)
class Query:
    text: str  # what the visitor asked, as shown back (cut, cleaned)
    cut: bool  # longer than allowed: only the first `max_chars` were used
    tokens: tuple[str, ...]

    @property
    def question(self) -> bool:
        """Worded as a question (一网通答 answers it first)."""
        return bool(_QUESTION.search(self.text.strip()))


def parse(raw: str, max_chars: int) -> Query:
    text = " ".join(_NOT_TEXT.sub("", raw).split())
    cut = len(text) > max_chars
    text = text[:max_chars]
    found: list[str] = []
    for token in tokens(text):
        token = token.strip()
        if token and token not in found:
            found.append(token)
        if len(found) == MAX_TOKENS:
            break
    return Query(text, cut, tuple(found))
