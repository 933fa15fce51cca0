"""Normalize text for matching, keeping a map back to the original characters.

Evasions that must not hide a word: full-width letters and digits, zero-width and other
invisible characters, combining marks, and spaces, punctuation or symbols inserted between
characters. Every normalized character remembers the offset of the original character it came
from, so a match found in normalized text is reported on the original text.

Folding is per character (NFKC, then lower case), done in C with ``str.translate``; the map back
to the original is kept as a short list of segments (one per dropped run or expanded
character), not one integer per character, so a 10 MB body normalizes in a fraction of a second.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from functools import cache

# Planes 0-3 hold every assigned character that folds or is dropped, apart from the tag and
# variation-selector block of plane 14; the rest is unassigned or private use (always dropped).
_SCANNED = (range(0, 0x40000), range(0xE0000, 0xE1000))
_UNSCANNED_DROP = ((0x40000, 0xDFFFF), (0xE1000, sys.maxunicode))
_KEEP_CONTROLS = "\n\t"


def _invisible(ch: str) -> bool:
    """Characters a reader does not see: format, control, surrogate, private, unassigned, and
    variation selectors."""
    cat = unicodedata.category(ch)
    if cat in ("Cf", "Cs", "Co", "Cn"):
        return True
    if cat == "Cc":
        return ch not in _KEEP_CONTROLS
    return "VARIATION SELECTOR" in unicodedata.name(ch, "")


def _separator(ch: str) -> bool:
    """Characters that can be slipped between two others without changing how a word reads:
    whitespace, punctuation, symbols and combining marks (but not currency signs)."""
    cat = unicodedata.category(ch)
    return cat[0] in "ZPC" or cat in ("Sm", "Sk", "So", "Mn", "Me") or ch.isspace()


def _fold(ch: str, drop_separators: bool) -> str:
    if _invisible(ch):
        return ""
    folded = unicodedata.normalize("NFKC", ch).lower()
    if drop_separators:
        return "".join(c for c in folded if not _separator(c) and not _invisible(c))
    return "".join(c for c in folded if not _invisible(c))


def _char_class(codepoints: list[int], extra: tuple[tuple[int, int], ...] = ()) -> str:
    """A regex character class body for a sorted list of code points (as ranges)."""
    ranges: list[tuple[int, int]] = []
    for cp in codepoints:
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1] = (ranges[-1][0], cp)
        else:
            ranges.append((cp, cp))
    ranges.extend(extra)
    return "".join(
        re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}"
        for a, b in ranges
    )


_DROPPED = "\0"  # stands for a dropped character in the marked text
_EXPANDS = "\1"  # stands for a character whose fold is longer than one character
_EVENTS = re.compile(f"(?P<d>{_DROPPED}+)|(?P<m>{_EXPANDS})")
_UNSCANNED = re.compile(f"[{_char_class([], _UNSCANNED_DROP)}]")


@dataclass(frozen=True)
class _Tables:
    marks: dict[int, str]  # str.translate table keeping length: folds, or a marker
    expansions: dict[int, str]  # the folds of the characters marked _EXPANDS


@cache
def _tables(drop_separators: bool) -> _Tables:
    marks: dict[int, str] = {}
    expansions: dict[int, str] = {}
    for block in _SCANNED:
        for cp in block:
            ch = chr(cp)
            folded = _fold(ch, drop_separators)
            if folded == ch and ch not in (_DROPPED, _EXPANDS):
                continue
            if len(folded) == 1:
                marks[cp] = folded
            elif not folded:
                marks[cp] = _DROPPED
            else:
                marks[cp] = _EXPANDS
                expansions[cp] = folded
    return _Tables(marks, expansions)


_CHUNK = 256  # original characters per entry of the drop-only map


class _DropMap:
    """The way back when characters were only dropped: kept-character counts per chunk of the
    marked text, then a short walk inside one chunk."""

    def __init__(self, marked: str) -> None:
        self.marked = marked
        kept = 0
        before: list[int] = []
        for a in range(0, len(marked), _CHUNK):
            before.append(kept)
            kept += min(_CHUNK, len(marked) - a) - marked.count(_DROPPED, a, a + _CHUNK)
        self.before = before

    def origin(self, i: int) -> int:
        # The last chunk with at most i kept characters before it holds character i (a chunk
        # after it of only dropped characters would have the same count, so it is not last).
        k = bisect_right(self.before, i) - 1
        left = i - self.before[k]
        pos = k * _CHUNK
        marked = self.marked
        while True:
            if marked[pos] != _DROPPED:
                if left == 0:
                    return pos
                left -= 1
            pos += 1


class _SegmentMap:
    """The way back in general: segment k starts at normalized offset starts[k] and original
    offset origins[k]; within a linear segment offsets advance together, within an expansion
    every normalized character comes from the one original character."""

    def __init__(self, starts: list[int], origins: list[int], linear: list[bool]) -> None:
        self.starts = starts
        self.origins = origins
        self.linear = linear

    def origin(self, i: int) -> int:
        k = bisect_right(self.starts, i) - 1
        if self.linear[k]:
            return self.origins[k] + (i - self.starts[k])
        return self.origins[k]


class Normalized:
    """Normalized text, and the offset in the original text of each of its characters."""

    __slots__ = ("_map", "_marked", "_original", "_tables", "text")

    def __init__(self, text: str, marked: str, original: str, tables: _Tables) -> None:
        self.text = text
        self._marked = marked
        self._original = original
        self._tables = tables
        self._map: _DropMap | _SegmentMap | None = None

    def _way_back(self) -> _DropMap | _SegmentMap:
        if self._map is None:
            if self._tables.expansions and _EXPANDS in self._marked:
                self._map = _segments(self._marked, self._original, self._tables)[1]
            else:
                self._map = _DropMap(self._marked)
        return self._map

    @property
    def original(self) -> str:
        """The text as it was given."""
        return self._original

    def origin(self, i: int) -> int:
        """Offset in the original text of normalized character i (0 <= i < len(text))."""
        if not 0 <= i < len(self.text):
            raise IndexError(f"normalized offset {i} outside 0..{len(self.text) - 1}")
        return self._way_back().origin(i)

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original-text span of normalized characters [start, end) (end > start)."""
        return self.origin(start), self.origin(end - 1) + 1

    @property
    def index(self) -> tuple[int, ...]:
        """index[i]: offset in the original text of normalized character i (one integer per
        character: for small texts and tests; use origin() or span() on large ones)."""
        return tuple(self.origin(i) for i in range(len(self.text)))


def _segments(marked: str, original: str, tables: _Tables) -> tuple[str, _SegmentMap]:
    """The normalized text and its segment map, when some character expands."""
    starts = [0]
    origins = [0]
    linear = [True]
    pieces: list[str] = []
    last = 0
    shift = 0  # normalized offset minus original offset, for linear characters
    for m in _EVENTS.finditer(marked):
        s, e = m.span()
        pieces.append(marked[last:s])
        last = e
        if m.lastgroup == "d":
            shift -= e - s
        else:
            expansion = tables.expansions[ord(original[s])]
            pieces.append(expansion)
            starts.append(s + shift)
            origins.append(s)
            linear.append(False)
            shift += len(expansion) - 1
        starts.append(e + shift)
        origins.append(e)
        linear.append(True)
    pieces.append(marked[last:])
    return "".join(pieces), _SegmentMap(starts, origins, linear)


def normalize(text: str, *, drop_separators: bool = True) -> Normalized:
    """Fold width and case (NFKC, lower case), drop invisible characters and, unless told
    otherwise, whitespace, punctuation and symbols, so that "敏 感", "敏.感" and "敏\u200b感"
    all read as "敏感"."""
    tables = _tables(drop_separators)
    # Same length as the original, so offsets in it are original offsets.
    marked = _UNSCANNED.sub(_DROPPED, text).translate(tables.marks)
    if tables.expansions and _EXPANDS in marked:
        folded, way_back = _segments(marked, text, tables)
        result = Normalized(folded, marked, text, tables)
        result._map = way_back
        return result
    return Normalized(marked.replace(_DROPPED, ""), marked, text, tables)


def fold(text: str) -> str:
    """Just the normalized text (for dictionary entries and comparisons)."""
    return normalize(text).text
