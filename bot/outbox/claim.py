"""The one claim statement: take up to n due rows of a leased work table in one statement, for
the outbox's deliveries and the reply sender's replies alike, and the owner name a process
writes into the leases it holds.

On PostgreSQL the locked pick is a CTE (`WITH picked AS (SELECT … FOR UPDATE SKIP LOCKED LIMIT
n) UPDATE …`) so it runs exactly once: as a plain `WHERE id IN (SELECT …)` subquery a generic
plan of the prepared statement may re-run it per row, and then LIMIT no longer bounds the claim
(one worker took 2,000 rows with LIMIT 8). On SQLite, which runs one writer at a time, the
UPDATE whose WHERE repeats the claimable condition is itself the compare-and-set.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot import db
from bot.db import sql


@dataclass(frozen=True)
class Claim:
    """What to claim: rows of `table` matching `claimable` (with its parameters), oldest
    `order` first, set to `claimed` (an SQL SET list, with its parameters)."""

    table: str
    claimable: str
    claimable_params: Sequence[Any]
    claimed: str
    claimed_params: Sequence[Any]
    order: str = "next_attempt_at, id"
    returning: str = "*"

    def statement(self, limit: int) -> tuple[str, list[Any]]:
        lock = " FOR UPDATE SKIP LOCKED" if db.is_postgres() else ""
        query = sql(
            f"WITH picked AS (SELECT id FROM {self.table} WHERE {self.claimable} "
            f"ORDER BY {self.order} LIMIT ?{lock}) "
            f"UPDATE {self.table} SET {self.claimed} "
            f"WHERE id IN (SELECT id FROM picked) AND {self.claimable} "
            f"RETURNING {self.returning}"
        )
        params = [
            *self.claimable_params,
            limit,
            *self.claimed_params,
            *self.claimable_params,
        ]
        return query, params

    async def take(self, limit: int) -> list[dict[str, Any]]:
        """Claim up to `limit` rows; the claimed rows as the statement returned them."""
        query, params = self.statement(limit)
        return list(await db.connection().execute_query_dict(query, params))


def lease_owner(role: str = "") -> str:
    """The name this process writes into the leases and heartbeats it holds: host, pid and
    what holds it (e.g. "replies"), so an operator can tell whose a lease is."""
    base = f"{socket.gethostname()}:{os.getpid()}"
    return f"{base}:{role}" if role else base
