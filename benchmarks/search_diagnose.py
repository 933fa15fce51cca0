"""For benchmarks/search.py: the bare driver (sqlite3 / asyncpg, the baseline the search layer
is compared with) and the diagnosis of where a common term's time goes: each statement the
layer sent, timed alone, against cheaper variants of it, and on PostgreSQL the plans."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from typing import Any

import asyncpg

Statement = tuple[str, list[Any]]
BEST_OF = 3
NEWEST = 5000  # the matches a capped ranking would rank


class Bare:
    """Statements through sqlite3 or asyncpg directly: no ORM, no parsing, no snippets."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sqlite: sqlite3.Connection | None = None
        self.pg: asyncpg.Connection | None = None

    async def open(self) -> None:
        if self.url.startswith("sqlite://"):
            self.sqlite = sqlite3.connect(self.url.removeprefix("sqlite://"))
        else:
            self.pg = await asyncpg.connect(self.url.replace("postgres://", "postgresql://", 1))

    async def close(self) -> None:
        if self.sqlite:
            self.sqlite.close()
        if self.pg:
            await self.pg.close()

    async def fetch(self, sql: str, args: Sequence[Any]) -> list[Any]:
        if self.sqlite:
            return self.sqlite.execute(sql, list(args)).fetchall()
        assert self.pg is not None
        return list(await self.pg.fetch(sql, *args))

    async def timed(self, statements: list[Statement], repeat: int = 1) -> float:
        """Seconds the statements take one after the other (the best of `repeat` runs)."""
        best = float("inf")
        for _ in range(repeat):
            start = time.perf_counter()
            for sql, args in statements:
                await self.fetch(sql, args)
            best = min(best, time.perf_counter() - start)
        return best


SQLITE_VARIANTS = {
    "FTS5 match count alone": "SELECT count(*) FROM gk_search_fts WHERE gk_search_fts MATCH ?",
    "FTS5 bm25 top 10 alone (no join)": (
        "SELECT rowid FROM gk_search_fts WHERE gk_search_fts MATCH ? "
        "ORDER BY bm25(gk_search_fts, 3.0, 1.0) LIMIT 10"
    ),
    "FTS5 newest 10 (no ranking)": (
        "SELECT rowid FROM gk_search_fts WHERE gk_search_fts MATCH ? ORDER BY rowid DESC LIMIT 10"
    ),
    # Titles matched, newest first: a ranking that reads ten rows (then fill from the body).
    "FTS5 title matches, newest 10": (
        "SELECT rowid FROM gk_search_fts WHERE gk_search_fts MATCH 'title_tokens : (' || ? || ')' "
        "ORDER BY rowid DESC LIMIT 10"
    ),
    # What a count by kind would cost with the kind in the index (one more term to intersect).
    "FTS5 count of it AND one more term": (
        "SELECT count(*) FROM gk_search_fts WHERE gk_search_fts MATCH '(' || ? || ') AND \"监管\"'"
    ),
    f"FTS5 bm25 over the newest {NEWEST:,} matches": (
        "SELECT rowid FROM gk_search_fts WHERE gk_search_fts MATCH ?1 AND rowid >= "
        "(SELECT rowid FROM gk_search_fts WHERE gk_search_fts MATCH ?1 "
        f"ORDER BY rowid DESC LIMIT 1 OFFSET {NEWEST - 1}) "
        "ORDER BY bm25(gk_search_fts, 3.0, 1.0) LIMIT 10"
    ),
}
SQLITE_COVERING = (
    "CREATE INDEX bench_doc_filters ON gk_search_doc "
    '(id, removed_at, kind, item_kind, "column", year, validity)'
)
PG_MATCH = "d.tsv @@ $1::tsquery AND d.removed_at IS NULL"
PG_VARIANTS = {
    "match count alone": f"SELECT count(*) FROM gk_search_doc d WHERE {PG_MATCH}",
    "newest 10 (no ranking)": (
        f"SELECT d.id FROM gk_search_doc d WHERE {PG_MATCH} ORDER BY d.id DESC LIMIT 10"
    ),
    # What a title-first ranking costs when the rows come from the GIN index (no tsvector read
    # from TOAST): the title's tokens are a short column.
    "title first, then newest (GIN, title tokens)": (
        f"SELECT d.id FROM gk_search_doc d WHERE {PG_MATCH} ORDER BY "
        "array_to_tsvector(string_to_array(d.title_tokens, ' ')) @@ $1::tsquery DESC, "
        "d.id DESC LIMIT 10"
    ),
}
# An index for the experiment below: the title's tokens alone, as a GIN expression index.
TITLE_TSV = "array_to_tsvector(string_to_array(d.title_tokens, ' '))"
PG_TITLE_INDEX = (
    "CREATE INDEX bench_title_tsv ON gk_search_doc "
    "USING GIN ((array_to_tsvector(string_to_array(title_tokens, ' '))))"
)
PG_VARIANTS["title matches, newest 10 (GIN index on the title's tokens)"] = (
    f"SELECT d.id FROM gk_search_doc d WHERE {TITLE_TSV} @@ $1::tsquery "
    "AND d.removed_at IS NULL ORDER BY d.id DESC LIMIT 10"
)
# Run with enable_seqscan off: the plan the GIN index gives.
PG_FORCED = {"title first, then newest (GIN, title tokens)"}


async def diagnose(bare: Bare, picked: list[tuple[str, float, list[Statement]]]) -> list[str]:
    """For each (common term, its share, the statements the layer sent for it unfiltered):
    the layer's ranked page and counts alone, and the variants; lines to print."""
    notes: list[str] = []
    if bare.pg:
        start = time.perf_counter()
        await bare.fetch(PG_TITLE_INDEX, [])
        await bare.fetch("ANALYZE gk_search_doc", [])
        notes.append(
            f"experiment: a GIN index on the titles' tokens built in "
            f"{time.perf_counter() - start:.1f} s (dropped with the database)"
        )
    for n, (text, share, statements) in enumerate(picked):
        page, groups = statements[0], statements[1]
        expr = page[1][0]  # the engine's match expression, as the layer sent it
        timed = {
            "ranked page (layer's)": await bare.timed([page], BEST_OF),
            "counts by kind (layer's)": await bare.timed([groups], BEST_OF),
        }
        variants = PG_VARIANTS if bare.pg else SQLITE_VARIANTS
        for name, sql in variants.items():
            forced = name in PG_FORCED
            if forced:
                await bare.fetch("SET enable_seqscan = off", [])
            timed[name] = await bare.timed([(sql, [expr])], BEST_OF)
            if forced:
                await bare.fetch("RESET enable_seqscan", [])
        if bare.pg:
            await bare.fetch("SET enable_seqscan = off", [])
            timed["counts by kind (layer's), GIN (seq scan off)"] = await bare.timed(
                [groups], BEST_OF
            )
            await bare.fetch("RESET enable_seqscan", [])
        notes.append(f"{text} ({share:.0%} of the items), ms:")
        notes += [f"    {name:<48}{s * 1000:8.1f}" for name, s in timed.items()]
        if bare.pg:
            notes += await _pg_facts(bare, text, expr, page)
            if n == 0:
                notes += await _plans(bare, text, page, groups)
    if bare.sqlite:
        notes += await _sqlite_covering(bare, picked)
    return notes


async def _sqlite_covering(
    bare: Bare, picked: list[tuple[str, float, list[Statement]]]
) -> list[str]:
    """The layer's join reads removed_at, the last column of a wide row (text and tokens in
    overflow pages); an index holding the id and the filter columns covers it."""
    start = time.perf_counter()
    await bare.fetch(SQLITE_COVERING, [])
    await bare.fetch("ANALYZE", [])
    notes = [
        f"experiment: a covering index on (id, removed_at and the filter columns) built in "
        f"{time.perf_counter() - start:.1f} s with ANALYZE; the layer's statements again, ms:"
    ]
    for text, _, statements in picked:
        page, groups = statements[0], statements[1]
        notes.append(
            f"    {text}: ranked page {await bare.timed([page], BEST_OF) * 1000:.1f}, "
            f"counts by kind {await bare.timed([groups], BEST_OF) * 1000:.1f}"
        )
    return notes


async def _pg_facts(bare: Bare, text: str, expr: str, page: Statement) -> list[str]:
    """Whether ts_rank ranks anything here: its distinct values over the matches, and whether
    the layer's page is simply the newest ten."""
    ranks = await bare.fetch(
        "SELECT count(DISTINCT ts_rank(tsv, $1::tsquery)) AS v, count(*) AS n, "
        "min(ts_rank(tsv, $1::tsquery)) AS lo, max(ts_rank(tsv, $1::tsquery)) AS hi "
        f"FROM gk_search_doc d WHERE {PG_MATCH}",
        [expr],
    )
    ranked = [r[0] for r in await bare.fetch(*page)]
    newest = [r[0] for r in await bare.fetch(PG_VARIANTS["newest 10 (no ranking)"], [expr])]
    r = ranks[0]
    return [
        f"    ts_rank over its {r['n']:,} matches: {r['v']} distinct value(s), "
        f"{r['lo']:.3g} … {r['hi']:.3g}; the ranked page is the newest ten: {ranked == newest}"
    ]


async def _plans(bare: Bare, text: str, page: Statement, groups: Statement) -> list[str]:
    notes = []
    for label, (sql, args), forced in (
        ("ranked page", page, False),
        ("counts by kind", groups, False),
        ("counts by kind, seq scan off", groups, True),
    ):
        if forced:
            await bare.fetch("SET enable_seqscan = off", [])
        plan = await bare.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", args)
        if forced:
            await bare.fetch("RESET enable_seqscan", [])
        notes.append(f"EXPLAIN ANALYZE, {label}, {text}:")
        notes += [f"    {row[0]}" for row in plan]
    return notes
