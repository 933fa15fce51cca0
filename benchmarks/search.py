"""Search benchmark (一网通查, issue 24): --items generated published items (benchmarks/
search_corpus.py: a financial regulator's Chinese, Zipf-like word frequencies) segmented with
bot.search.documents.item_doc across processes (cached), written through bot.search.index.store
in batched transactions on a migrated SQLite file and on a throwaway PostgreSQL database, then:

- search: a fixed, seeded query mix (a third common terms that match more than 10 % of the
  items, the rest rarer terms and 2–4 word queries; half of all with a filter: kind, year,
  validity) through bot.search.find.search, the path the /search page takes; p50/p95/max and
  queries/s (one client). Beside each query, in the same run and alternating which goes first,
  a bare baseline: the very statements our layer sent (recorded in a warm-up pass) replayed
  through the raw driver (sqlite3 / asyncpg), no ORM, no parsing, no snippets. Target p95 <
  50 ms.
- publish: the index update one publish makes, `index.store` of one document in its own
  transaction with the items present, new items and new versions of existing ones, p50/p95;
  the segmentation of one document (item_doc) timed apart. Target < 100 ms.
- why: for the common terms, the layer's statements one by one against cheaper variants (the
  bare match count, the top ten without ranking, FTS5's ranking without the join) and, on
  PostgreSQL, EXPLAIN ANALYZE of the ranked page and of the counts.

Run: python benchmarks/search.py --items 100000 --queries 300 [--backend sqlite|postgres|both]
     (see benchmarks/README.md)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import statistics
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import search_corpus
from dispatch import database, percentile
from search_diagnose import Bare, Statement, diagnose
from tortoise.transactions import in_transaction

from bot import db
from bot.config import parse_config
from bot.search import index
from bot.search.documents import item_doc
from bot.search.engine import Filters
from bot.search.find import Results, search
from bot.search.query import parse

COMMON_SHARE = 0.10  # a common term matches more than this share of the items
KIND_NAMES = [k for k, _ in search_corpus.KINDS]


@dataclass
class Query:
    text: str
    group: str  # "common", "rare", "words"
    filters: Filters
    statements: list[Statement] = field(default_factory=list)  # as the layer sent them
    total: int = 0  # what it found
    mode: str = "all"  # "any": nothing had every word (find.search then looks for any)


@dataclass
class Timings:
    layer: dict[str, list[float]] = field(default_factory=dict)  # group → seconds
    bare: dict[str, list[float]] = field(default_factory=dict)
    publish: dict[str, list[float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


# -- the query mix ---------------------------------------------------------------------------
def query_mix(
    corpus: search_corpus.Corpus, n: int, seed: int
) -> tuple[list[Query], dict[str, float]]:
    """n queries: a third common terms, half the rest rarer terms, the others 2–4 words; a
    filter on half of them (picked at random across the groups). Also each common term's
    share of the items, from the documents' tokens."""
    rng = random.Random(seed)
    found = search_corpus.shares(corpus, search_corpus.candidates())
    common = sorted(w for w, s in found.items() if s > COMMON_SHARE)
    rare = sorted(w for w, s in found.items() if 0 < s < 0.02)
    if not common or not rare:
        raise SystemExit("the corpus has no common or no rare terms: more --items")
    texts: list[tuple[str, str]] = [("common", rng.choice(common)) for _ in range(n // 3)]
    # A rare term, or a company's name (what one looks for in enforcement notices).
    texts += [
        ("rare", rng.choice(rare) if k % 3 else search_corpus.company(rng))
        for k in range((n - n // 3) // 2)
    ]
    while len(texts) < n:
        words = [search_corpus.TOPIC(rng) for _ in range(rng.randint(1, 3))]
        shape = rng.random()
        if shape < 0.4:  # a phrase with an organisation, no spaces: jieba splits it
            text = search_corpus.ORG(rng) + "".join(words)
        elif shape < 0.7:
            text = " ".join([search_corpus.ORG(rng), *words])
        else:  # a question, as a visitor asks it
            text = f"{search_corpus.ORG(rng)}如何办理{words[0]}？"
        texts.append(("words", text))
    filtered = set(rng.sample(range(n), n // 2))
    queries = []
    for i, (group, text) in enumerate(texts):
        filters = Filters()
        if i in filtered:
            pick = rng.randrange(4)
            year = rng.randint(search_corpus.FIRST_YEAR, search_corpus.LAST_YEAR)
            filters = [
                Filters(item_kind=rng.choice(KIND_NAMES)),
                Filters(year=year),
                Filters(validity=rng.choice(["valid", "repealed", "expired"])),
                Filters(item_kind=rng.choice(KIND_NAMES), year=year),
            ][pick]
        queries.append(Query(text, group, filters))
    rng.shuffle(queries)
    return queries, {w: found[w] for w in common}


@contextlib.contextmanager
def recording(into: list[Statement]) -> Iterator[None]:
    """Every statement the ORM client sends, with its arguments, appended to `into`."""
    cls = type(db.connection())
    names = ("execute_query", "execute_query_dict")
    own = {name: cls.__dict__.get(name) for name in names}

    def wrap(inner: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def recorded(self: Any, query: str, values: list[Any] | None = None) -> Any:
            into.append((query, list(values or [])))
            return await inner(self, query, values)

        return recorded

    for name in names:
        setattr(cls, name, wrap(getattr(cls, name)))
    try:
        yield
    finally:
        for name, original in own.items():
            if original is None:
                delattr(cls, name)
            else:
                setattr(cls, name, original)


# -- one backend -----------------------------------------------------------------------------
async def load(corpus: search_corpus.Corpus, batch: int) -> float:
    """Every document through index.store, `batch` a transaction; seconds taken."""
    start = time.perf_counter()
    docs = corpus.docs
    for k, i in enumerate(range(0, len(docs), batch), 1):
        async with in_transaction() as conn:
            await index.store(conn, docs[i : i + batch])
        if k % max(1, len(docs) // batch // 10) == 0:
            print(f"  stored {min(len(docs), i + batch):,} ({time.perf_counter() - start:.0f} s)")
    return time.perf_counter() - start


async def run_search(query: Query, size: int) -> tuple[float, Results]:
    start = time.perf_counter()
    results = await search(parse(query.text, 100), query.filters, 1, size)
    return time.perf_counter() - start, results


async def searches(queries: list[Query], bare: Bare, size: int, timings: Timings) -> None:
    # Warm-up and recording pass: the statements each query makes, replayed by the baseline,
    # which runs them once here too, so that both connections have prepared each statement as
    # often (PostgreSQL may switch a prepared statement to a generic plan after five runs).
    for q in queries:
        with recording(q.statements):
            _, results = await run_search(q, size)
        q.total, q.mode = results.total, results.mode
        await bare.timed(q.statements)
    for n, q in enumerate(queries):
        groups = [q.group, "filter" if q.filters != Filters() else "no filter", "all"]
        if q.mode == "any":
            groups.append("any word")
        for first_layer in [True, False] if n % 2 else [False, True]:
            if first_layer:
                took, _ = await run_search(q, size)
                into = timings.layer
            else:
                took = await bare.timed(q.statements)
                into = timings.bare
            for g in groups:
                into.setdefault(g, []).append(took)


async def publishes(args: argparse.Namespace, n: int, timings: Timings) -> None:
    """New items past the corpus, then new versions of existing ones: one store each, in
    its own transaction; the segmentation (item_doc) timed apart."""
    rng = random.Random(args.seed + 1)
    jobs = [(n + 1 + k, 1) for k in range(args.publishes)]
    jobs += [(rng.randint(1, n), 2) for _ in range(args.publishes // 2)]
    for item_id, version in jobs:
        snap, validity, published = search_corpus.snapshot(args.seed, item_id, version)
        start = time.perf_counter()
        doc = item_doc(item_id, snap, version=version, validity=validity, published_at=published)
        segmented = time.perf_counter()
        async with in_transaction() as conn:
            await index.store(conn, [doc])
        stored = time.perf_counter()
        timings.publish.setdefault("segment one item (item_doc)", []).append(segmented - start)
        kind = "store, new item" if version == 1 else "store, new version"
        timings.publish.setdefault(kind, []).append(stored - segmented)


async def why(queries: list[Query], shares: dict[str, float], bare: Bare) -> list[str]:
    """Where the time of common terms goes (search_diagnose.py), for up to four of them
    searched without a filter, from the most common down."""
    unfiltered = {q.text: q for q in queries if q.group == "common" and q.filters == Filters()}
    ordered = sorted(unfiltered.values(), key=lambda q: shares[q.text], reverse=True)
    picked = ordered[:: max(1, len(ordered) // 3)][:4]
    return await diagnose(bare, [(q.text, shares[q.text], q.statements) for q in picked])


async def run_backend(
    kind: str,
    corpus: search_corpus.Corpus,
    queries: list[Query],
    shares: dict[str, float],
    args: Any,
) -> Timings:
    timings = Timings()
    async with database(kind, args.pg_url) as url:
        await db.init(parse_config({"database": {"url": url}}, "bench"), check_schema=False)
        bare = Bare(url)
        try:
            await db.upgrade()
            print(f"\n{kind}: storing {len(corpus.docs):,} documents, {args.batch} a transaction")
            took = await load(corpus, args.batch)
            timings.notes.append(
                f"load through index.store: {took:.0f} s, {len(corpus.docs) / took:,.0f} docs/s"
            )
            if kind == "postgres":  # what autovacuum does after a load: statistics, GIN list
                start = time.perf_counter()
                await db.connection().execute_script("VACUUM ANALYZE gk_search_doc")
                timings.notes.append(f"VACUUM ANALYZE: {time.perf_counter() - start:.1f} s")
            await bare.open()
            for q in queries:
                q.statements = []
            print(f"{kind}: {len(queries)} searches")
            await searches(queries, bare, args.page_size, timings)
            seen = {}
            for q in queries:
                if q.group == "common" and q.filters == Filters() and q.text not in seen:
                    _, results = await run_search(q, args.page_size)
                    seen[q.text] = results.total / len(corpus.docs)
            timings.notes.append(
                "common terms, share of the items the engine matched (tokens said): "
                + ", ".join(f"{t} {s:.1%} ({shares[t]:.1%})" for t, s in sorted(seen.items()))
            )
            print(f"{kind}: {args.publishes} publishes and {args.publishes // 2} new versions")
            await publishes(args, len(corpus.docs), timings)
            if args.why:
                timings.notes += await why(queries, shares, bare)
        finally:
            await bare.close()
            await db.close()
    return timings


# -- report ----------------------------------------------------------------------------------
def row(values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return (
        f"{statistics.median(ms):7.1f} {percentile(ms, 95):7.1f} {max(ms):7.1f}"
        f" {len(values) / sum(values):9.1f}"
    )


def report(results: dict[str, Timings], queries: list[Query]) -> None:
    counts = {g: sum(1 for q in queries if q.group == g) for g in ("common", "rare", "words")}
    print("\nquery mix (found, as the last backend answered):")
    for g in counts:
        totals = [q.total for q in queries if q.group == g]
        narrowed = sum(1 for q in queries if q.group == g and q.filters != Filters())
        print(
            f"  {g}: {counts[g]} queries, {narrowed} with a filter; "
            f"found median {statistics.median(totals):,.0f}, "
            f"max {max(totals):,}, nothing {sum(1 for t in totals if t == 0)}; "
            f"{sum(1 for q in queries if q.group == g and q.mode == 'any')} found no item with "
            "every word and fell back to any word"
        )
    counts["filter"] = sum(1 for q in queries if q.filters != Filters())
    counts["no filter"] = len(queries) - counts["filter"]
    counts["all"] = len(queries)
    counts["any word"] = sum(1 for q in queries if q.mode == "any")
    for kind, t in results.items():
        print(f"\n== {kind} ==")
        for note in t.notes:
            print(f"  {note}")
        print(f"  {'search, ms':<34}{'p50':>7} {'p95':>7} {'max':>7} {'queries/s':>9}")
        for g in ("all", "common", "rare", "words", "filter", "no filter", "any word"):
            if g not in t.layer:
                continue
            label = f"{g} ({counts[g]})"
            print(f"  {label + ', find.search':<34}{row(t.layer[g])}")
            print(f"  {label + ', bare driver':<34}{row(t.bare[g])}")
        print(f"  {'publish, ms':<34}{'p50':>7} {'p95':>7} {'max':>7} {'per s':>9}")
        for name, values in t.publish.items():
            print(f"  {name:<34}{row(values)}")
    if results:
        print("\ntargets: search p95 < 50 ms; index update < 100 ms per publish")
        for kind, t in results.items():
            p95 = percentile(t.layer["all"], 95) * 1000
            store = max(percentile(v, 95) for k, v in t.publish.items() if k.startswith("store"))
            print(
                f"  {kind}: search p95 {p95:.1f} ms ({'met' if p95 < 50 else 'NOT met'}), "
                f"store p95 {store * 1000:.1f} ms ({'met' if store < 0.1 else 'NOT met'})"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--seed", type=int, default=24)
    parser.add_argument("--processes", type=int, default=2, help="for the segmentation")
    parser.add_argument("--batch", type=int, default=500, help="documents a load transaction")
    parser.add_argument("--publishes", type=int, default=100)
    parser.add_argument("--page-size", type=int, default=10)
    parser.add_argument("--no-cache", action="store_true", help="segment again, keep nothing")
    parser.add_argument("--no-why", dest="why", action="store_false")
    args = parser.parse_args()

    cache = search_corpus.cache_path(args.items, args.seed)
    print(f"corpus: {args.items:,} items, seed {args.seed} ({cache})")
    corpus, cached = search_corpus.build(args.items, args.seed, args.processes, not args.no_cache)
    n = len(corpus.docs)
    print(
        f"  {'from the cache; ' if cached else ''}segmented {n:,} items, "
        f"{corpus.chars / n:,.0f} characters each on average, with {corpus.processes} processes "
        f"in {corpus.wall_seconds:.0f} s: {n / corpus.wall_seconds:,.0f} items/s; per process "
        f"{corpus.segment_seconds / n * 1000:.2f} ms CPU an item, "
        f"{corpus.chars / corpus.segment_seconds / 1000:,.0f} k characters/s "
        f"(generating them {corpus.generate_seconds / n * 1000:.2f} ms)"
    )
    queries, shares = query_mix(corpus, args.queries, args.seed)
    print(
        f"  query mix: {len(queries)} queries; common terms (share of the items): "
        + ", ".join(f"{w} {s:.0%}" for w, s in sorted(shares.items(), key=lambda x: -x[1]))
    )
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    results = {}
    for kind in backends:
        results[kind] = asyncio.run(run_backend(kind, corpus, queries, shares, args))
    report(results, queries)


if __name__ == "__main__":
    main()
