"""Pre-review benchmark: how fast the wording rule (and the privacy rule, when it exists) reads
a large body, and how long a full review of an ordinary item takes.

- wording: 10 MB of generated Chinese text against the shipped dictionaries plus a generated
  20,000-term dictionary, through the rule's public scan (normalization, automaton, spans back
  to the original); prints MB/s, and the same search done by a naive `for word in words` loop
  in the same run, with the ratio (targets: >= 10 MB/s, >= 50x the naive loop);
- engines: the two Aho-Corasick packages compared on the same normalized text (pyahocorasick
  only if it is installed: it is not a dependency);
- review: moderation.review.review on a 20,000-character item with a minimal ReviewContext
  (target: < 50 ms).

Run: python benchmarks/review.py   (see benchmarks/README.md)
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import random
import statistics
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

from ahocorasick_rs import AhoCorasick

from moderation import review as review_module
from moderation.findings import ReviewContext, ReviewSettings
from moderation.normalize import normalize
from moderation.rules import wording

# About 3,000 of the most common CJK unified ideographs sit in this block's first part; the
# generated text and terms draw on the same characters, so terms do turn up by chance.
CHARS = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]
PUNCT = "，，，。。、；：！？“”（）\n"


def generate_terms(rng: random.Random, n: int) -> list[str]:
    terms: set[str] = set()
    while len(terms) < n:
        terms.add("".join(rng.choices(CHARS, k=rng.randint(2, 6))))
    return sorted(terms)


def generate_text(rng: random.Random, megabytes: float, terms: list[str]) -> str:
    """Sentences of random characters with punctuation; one sentence in 50 carries a term, one
    in 200 a term with a zero-width space or a blank slipped inside it."""
    target = int(megabytes * 1_000_000)
    parts: list[str] = []
    size = 0
    while size < target:
        sentence = "".join(rng.choices(CHARS, k=rng.randint(8, 30)))
        roll = rng.random()
        if roll < 0.02:
            sentence += rng.choice(terms)
        elif roll < 0.025:
            term = rng.choice(terms)
            sentence += term[0] + rng.choice(["\u200b", " ", "·"]) + term[1:]
        sentence += rng.choice(PUNCT)
        parts.append(sentence)
        size += len(sentence.encode())
    return "".join(parts)


def timed(fn: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    best = float("inf")
    result = None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
    return best, result


def naive(text: str, words: list[str]) -> int:
    """The loop the automaton replaces: every word searched for on its own."""
    found = 0
    for word in words:
        start = text.find(word)
        while start != -1:
            found += 1
            start = text.find(word, start + 1)
    return found


def optional_rule(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(f"moderation.rules.{name}")
    except ModuleNotFoundError:
        return None


def minimal_context(review_settings: ReviewSettings) -> ReviewContext:
    return ReviewContext(
        channels=("website",),
        public_channels=frozenset({"website"}),
        columns={"news": ("notice",)},
        settings=review_settings,
    )


def item(body: str) -> dict[str, Any]:
    return {
        "id": 1,
        "kind": "notice",
        "title": "关于进一步优化政务服务提升行政效能的通知",
        "summary": "为深入贯彻落实党中央、国务院决策部署，现将有关事项通知如下。",
        "body": body,
        "column": "news",
        "disclosure": "proactive",
        "office": "办公室",
        "doc_number": "某府办发〔2025〕1号",
        "enforcement": {},
        "related_id": None,
    }


def bench_wording(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    terms = generate_terms(rng, args.terms)
    text = generate_text(rng, args.megabytes, terms)
    megabytes = len(text.encode()) / 1_000_000
    print(f"text: {megabytes:.1f} MB ({len(text):,} characters); dictionary: {len(terms):,} terms")

    build_s, words = timed(lambda: wording.dictionary(tuple(terms)))
    print(f"automaton build (once per dictionary set): {build_s * 1000:.0f} ms")
    norm_s, normalized = timed(lambda: normalize(text), args.repeat)
    scan_s, hits = timed(lambda: wording.scan(text, words), args.repeat)
    print(f"normalize alone: {norm_s:.2f} s ({megabytes / norm_s:.1f} MB/s)")
    print(
        f"wording scan (normalize + match + spans): {scan_s:.2f} s "
        f"= {megabytes / scan_s:.1f} MB/s, {len(hits):,} hits"
    )

    sample = terms if args.naive_words <= 0 else rng.sample(terms, args.naive_words)
    naive_s, found = timed(lambda: naive(normalized.text, sample))
    naive_full = naive_s * len(terms) / len(sample)
    note = "" if len(sample) == len(terms) else f" (measured on {len(sample):,}, scaled)"
    print(
        f"naive `for word in words` loop on the normalized text: {naive_full:.1f} s{note} "
        f"= {megabytes / naive_full:.2f} MB/s, {found:,} hits in the words tried"
    )
    print(f"ratio: wording scan is {naive_full / scan_s:.0f}x the naive loop")

    privacy = optional_rule("privacy")
    if privacy is None:
        print("privacy rule: moderation/rules/privacy.py not present, skipped")
    else:
        ctx = minimal_context(ReviewSettings())
        privacy_s, found = timed(lambda: list(privacy.check(item(text), ctx)), args.repeat)
        print(f"privacy rule: {privacy_s:.2f} s = {megabytes / privacy_s:.1f} MB/s, {len(found)}")

    print("engines, matching only (overlapping, on the normalized text):")
    automaton = AhoCorasick(terms)
    rs_s, rs_hits = timed(
        lambda: automaton.find_matches_as_indexes(normalized.text, overlapping=True), args.repeat
    )
    print(f"  ahocorasick-rs: {rs_s:.2f} s = {megabytes / rs_s:.1f} MB/s, {len(rs_hits):,}")
    try:
        import ahocorasick
    except ModuleNotFoundError:
        print("  pyahocorasick: not installed (pip install pyahocorasick==2.3.1 to compare)")
    else:
        machine = ahocorasick.Automaton()
        for i, term in enumerate(terms):
            machine.add_word(term, (i, len(term)))
        machine.make_automaton()
        py_s, py_hits = timed(
            lambda: [(v[0], e - v[1] + 1, e + 1) for e, v in machine.iter(normalized.text)],
            args.repeat,
        )
        print(f"  pyahocorasick: {py_s:.2f} s = {megabytes / py_s:.1f} MB/s, {len(py_hits):,}")


def bench_review(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed + 1)
    text = generate_text(rng, 1, ["援交", "帐号", "十八大三中全会", "某某内部代号"])[:20_000]
    ctx = minimal_context(ReviewSettings(sensitive_words=("某某内部代号",)))
    snapshot = item(text)
    wired = wording.check in review_module.RULES
    asyncio.run(review_module.review(snapshot, ctx))  # builds the automaton, loads tables

    async def once() -> float:
        t = time.perf_counter()
        findings = await review_module.review(snapshot, ctx)
        if not wired:
            findings += list(wording.check(snapshot, ctx))
        return time.perf_counter() - t

    async def many() -> list[float]:
        return [await once() for _ in range(args.review_runs)]

    runs = sorted(asyncio.run(many()))
    names = ", ".join(f"{r.__module__.rsplit('.', 1)[-1]}" for r in review_module.RULES)
    extra = "" if wired else " + wording (not yet in RULES, run after review)"
    print(f"full review of a {len(text):,}-character item: rules {names}{extra}")
    print(
        f"  median {statistics.median(runs) * 1000:.1f} ms, "
        f"p95 {runs[int(len(runs) * 0.95) - 1] * 1000:.1f} ms, max {runs[-1] * 1000:.1f} ms "
        f"over {len(runs)} runs (target < 50 ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=10.0)
    parser.add_argument("--terms", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3, help="best of N for the fast paths")
    parser.add_argument(
        "--naive-words", type=int, default=0, help="time the naive loop on N words (0: all)"
    )
    parser.add_argument("--review-runs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--mode", choices=["wording", "review", "both"], default="both")
    args = parser.parse_args()
    if args.mode in ("wording", "both"):
        bench_wording(args)
    if args.mode in ("review", "both"):
        bench_review(args)


if __name__ == "__main__":
    main()
