"""The one place that speaks each database's full-text SQL, behind one interface: SQLite FTS5
(the embedded default) and PostgreSQL full-text search over the same pre-segmented tokens
(migration 0013). A query is a list of tokens (bot/search/query.py) that every document must
contain ("all") or any of them ("any"); each token is quoted for its engine, so nothing a
visitor types is ever read as query syntax (FTS5's NEAR, AND, *, or tsquery's operators)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from tortoise.backends.base.client import BaseDBAsyncClient

from bot import db

Mode = Literal["all", "any"]
DOCS = "gk_search_doc"
FTS = "gk_search_fts"


@dataclass(frozen=True)
class Filters:
    """What a search is narrowed to; empty means any."""

    kind: str = ""  # SearchDocKind
    item_kind: str = ""
    column: str = ""
    year: int | None = None
    validity: str = ""  # "" any; "valid" the ones in force; else that validity


@dataclass(frozen=True)
class Matched:
    total: int
    ids: list[int]  # the page asked for, best first
    by_kind: dict[str, int]  # "item:policy", "qa", "faq" → how many


def fts5_phrase(token: str) -> str:
    """A token as an FTS5 string: in double quotes, an inner quote doubled."""
    return '"' + token.replace('"', '""') + '"'


def tsquery_lexeme(token: str) -> str:
    """A token as a tsquery lexeme: in single quotes, a quote doubled and a backslash escaped."""
    return "'" + token.replace("\\", "\\\\").replace("'", "''") + "'"


def _where(filters: Filters, alias: str) -> tuple[str, list[Any]]:
    clauses = [f"{alias}.removed_at IS NULL"]
    args: list[Any] = []
    for column, value in (
        ("kind", filters.kind),
        ("item_kind", filters.item_kind),
        ("column", filters.column),
    ):
        if value:
            clauses.append(f'{alias}."{column}" = ?')
            args.append(value)
    if filters.year is not None:
        clauses.append(f"{alias}.year = ?")
        args.append(filters.year)
    if filters.validity == "valid":
        clauses.append(f"{alias}.validity IN ('', 'amended')")
    elif filters.validity:
        clauses.append(f"{alias}.validity = ?")
        args.append(filters.validity)
    return " AND ".join(clauses), args


async def match(
    conn: BaseDBAsyncClient,
    tokens: Sequence[str],
    mode: Mode,
    filters: Filters,
    limit: int,
    offset: int,
) -> Matched:
    """The documents that contain the tokens, best first, with the total and the counts by
    kind (for the grouped results and the filters)."""
    if not tokens:
        return Matched(0, [], {})
    # The order, the same on both engines: documents whose title has the words first, then
    # the newest. Ranking every match (bm25, ts_rank) cost 150–300 ms for a word in most
    # documents at 100,000 (benchmarks/README.md: search.py), and ts_rank over tokens without
    # positions ranked nothing; a title test through its own index costs well under 1 ms.
    if db.is_postgres():
        lexemes = (" & " if mode == "all" else " | ").join(tsquery_lexeme(t) for t in tokens)
        found = "d.tsv @@ ?::tsquery"
        in_title = "(d.tsv_title @@ ?::tsquery)"
        source = f"{DOCS} d"
        expr: Any = lexemes
        title_expr: Any = lexemes
    else:
        expr = (" " if mode == "all" else " OR ").join(fts5_phrase(t) for t in tokens)
        found = f"{FTS} MATCH ?"
        in_title = f"(d.id IN (SELECT rowid FROM {FTS} WHERE {FTS} MATCH ?))"
        source = f"{FTS} JOIN {DOCS} d ON d.id = {FTS}.rowid"
        title_expr = f"title_tokens : ({expr})"
    where, args = _where(filters, "d")
    rows = await conn.execute_query_dict(
        db.sql(
            f"SELECT d.id FROM {source} WHERE {found} AND {where} "
            f"ORDER BY {in_title} DESC, d.published_at DESC NULLS LAST, d.id DESC "
            "LIMIT ? OFFSET ?"
        ),
        [expr, *args, title_expr, limit, offset],
    )
    # The counts ignore the kind filters, so the page can offer the other groups (column,
    # year and validity narrow them like the results).
    every, every_args = _where(
        Filters(column=filters.column, year=filters.year, validity=filters.validity), "d"
    )
    groups = await conn.execute_query_dict(
        db.sql(
            f"SELECT d.kind, d.item_kind, COUNT(*) AS n FROM {source} "
            f"WHERE {found} AND {every} GROUP BY d.kind, d.item_kind"
        ),
        [expr, *every_args],
    )
    by_kind: dict[str, int] = {}
    for g in groups:
        name = f"{g['kind']}:{g['item_kind']}" if g["item_kind"] else str(g["kind"])
        by_kind[name] = by_kind.get(name, 0) + int(g["n"])
    total = sum(
        n for name, n in by_kind.items() if _in_kinds(name, filters.kind, filters.item_kind)
    )
    return Matched(total, [int(r["id"]) for r in rows], by_kind)


def _in_kinds(name: str, kind: str, item_kind: str) -> bool:
    doc_kind, _, its_item_kind = name.partition(":")
    return (not kind or doc_kind == kind) and (not item_kind or its_item_kind == item_kind)
