"""SQLite engine for tortoise that starts every transaction with BEGIN IMMEDIATE.

tortoise's deferred BEGIN lets a transaction read first and try to take the write lock later;
with several processes on one file that upgrade fails at once with "database is locked"
(busy_timeout does not apply to it). Taking the write lock up front makes writers queue on
busy_timeout instead. The module name contains "sqlite" so that tortoise's migration executor
picks its SQLite schema editor for this engine.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from tortoise.backends.sqlite.client import (
    SqliteClient,
    SqliteTransactionContext,
    SqliteTransactionWrapper,
)
from tortoise.exceptions import TransactionManagementError


class ImmediateTransactionWrapper(SqliteTransactionWrapper):
    async def begin(self) -> None:
        try:
            await self._connection.commit()
            await self._connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise TransactionManagementError(exc) from exc


class ImmediateSqliteClient(SqliteClient):
    def _in_transaction(self) -> Any:
        return SqliteTransactionContext(ImmediateTransactionWrapper(self), self._lock)


client_class = ImmediateSqliteClient
