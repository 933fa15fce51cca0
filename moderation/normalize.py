"""Normalize text for matching, keeping a map back to the original characters.

Evasions that must not hide a word: full-width letters and digits, zero-width and other
invisible characters, and spaces or punctuation inserted between characters. Every normalized
character remembers the offset of the original character it came from, so a match found in
normalized text is reported on the original text.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True)
class Normalized:
    text: str
    index: tuple[int, ...]  # index[i]: offset in the original text of normalized character i

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original-text span of normalized characters [start, end)."""
        return self.index[start], self.index[end - 1] + 1


def _separator(ch: str) -> bool:
    cat = unicodedata.category(ch)
    return cat[0] in "ZP" or ch.isspace()


def normalize(text: str, *, drop_separators: bool = True) -> Normalized:
    """Fold width and case (NFKC), drop invisible characters, and, unless told otherwise,
    drop whitespace and punctuation so that "敏 感" and "敏.感" read as "敏感"."""
    out: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        if unicodedata.category(ch) in ("Cf", "Cc", "Cs", "Co", "Cn") and ch not in "\n\t":
            continue
        if drop_separators and _separator(ch):
            continue
        for folded in unicodedata.normalize("NFKC", ch).lower():
            if drop_separators and _separator(folded):
                continue
            out.append(folded)
            index.append(i)
    return Normalized("".join(out), tuple(index))
