"""Chinese word segmentation for the knowledge base: jieba's dictionary with the domain words of
dictionaries/kb_words.txt, and jieba's search-engine segmentation without HMM, computed in one
tight pass per block instead of through jieba's chain of generators.

The result is token for token what `jieba.Tokenizer.lcut_for_search(text, HMM=False)` gives
(same dictionary, same scores, same tie-breaks; tests/moderation/test_segment.py compares the
two on generated text), at about a third of the cost: the callback's passive auto-reply
segments every follower's message inside the request, and triage every comment.
"""

from __future__ import annotations

import logging
from functools import cache
from importlib import resources
from math import log

import jieba

from moderation.normalize import fold

__all__ = ["cut_for_search", "tokenizer"]

# What jieba cuts with its dictionary (Chinese, ASCII letters and digits, a few joiners) and
# what it splits the rest on; jieba's own patterns, so blocks are cut where jieba cuts them.
_HAN = jieba.re_han_default
_SKIP = jieba.re_skip_default
# Single characters jieba glues together after the cut (its re_eng, one character at a time).
_ASCII_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


@cache
def tokenizer() -> jieba.Tokenizer:
    """jieba with the domain words of dictionaries/kb_words.txt, loaded once per process and
    quietly (jieba logs to stderr on first use). A private Tokenizer, so adding words does not
    change jieba's default one for anyone else in the process."""
    jieba.setLogLevel(logging.WARNING)
    tok = jieba.Tokenizer()
    tok.initialize()
    text = resources.files("moderation").joinpath("dictionaries", "kb_words.txt")
    for line in text.read_text("utf-8").splitlines():
        word = line.strip(" \t\r\ufeff")
        if word and not word.startswith("#"):
            tok.add_word(fold(word))
    return tok


def cut_for_search(text: str) -> list[str]:
    """jieba's search-engine segmentation of `text` without HMM: each word of the most probable
    cut, preceded by the dictionary words of two and three characters inside it."""
    tok = tokenizer()
    freq: dict[str, int] = tok.FREQ
    logtotal = log(tok.total)  # read per call, as jieba does: add_word changes the total
    out: list[str] = []
    for block in _HAN.split(text):
        if not block:
            continue
        if _HAN.match(block):
            words = _cut_block(block, freq, logtotal)
        else:  # whitespace runs stay whole, anything else goes one character at a time
            words = []
            for part in _SKIP.split(block):
                if _SKIP.match(part):
                    words.append(part)
                else:
                    words.extend(part)
        for word in words:
            size = len(word)
            if size > 2:
                for i in range(size - 1):
                    gram = word[i : i + 2]
                    if freq.get(gram):
                        out.append(gram)
            if size > 3:
                for i in range(size - 2):
                    gram = word[i : i + 3]
                    if freq.get(gram):
                        out.append(gram)
            out.append(word)
    return out


def _cut_block(block: str, freq: dict[str, int], logtotal: float) -> list[str]:
    """jieba's most probable cut of one block (its get_DAG, calc and __cut_DAG_NO_HMM).

    FREQ holds every dictionary word with its count and every prefix of one with 0, so walking
    prefixes from a position until one is missing finds every word that starts there. The
    best cut from each position backwards is the highest log-probability sum, computed with
    the same operations in the same order as jieba's, so the floats are equal; on a tie the
    longer word wins, as in jieba's max over (score, end) tuples."""
    n = len(block)
    score = [0.0] * (n + 1)
    ends = [0] * n  # the end (exclusive) of the best word starting at each position
    for k in range(n - 1, -1, -1):
        best: float | None = None
        end = k + 1
        i = k + 1
        count = freq.get(block[k])
        while count is not None:
            if count:
                s = log(count) - logtotal + score[i]
                if best is None or s >= best:  # ends ascend: >= keeps the longest on a tie
                    best, end = s, i
            if i >= n:
                break
            i += 1
            count = freq.get(block[k:i])
        if best is None:  # no word starts here: the character alone
            best = log(freq.get(block[k]) or 1) - logtotal + score[k + 1]
        score[k] = best
        ends[k] = end
    words: list[str] = []
    glued = ""  # single ASCII letters and digits in a row make one word, as in jieba
    x = 0
    while x < n:
        y = ends[x]
        word = block[x:y]
        if y - x == 1 and word in _ASCII_ALNUM:
            glued += word
        else:
            if glued:
                words.append(glued)
                glued = ""
            words.append(word)
        x = y
    if glued:
        words.append(glued)
    return words
