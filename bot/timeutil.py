"""Time helpers every package shares: datetimes read back from the database made aware (SQLite
hands back naive values, and text for an aggregate such as MAX), in UTC as stored."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def aware(value: Any) -> datetime:
    """A stored time as an aware datetime: text (an SQLite aggregate) parsed, naive taken as
    UTC (how every time is stored)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise TypeError(f"expected a stored time, got {value!r}")
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def aware_or_none(value: Any) -> datetime | None:
    """aware(), with NULL (never happened) kept as None."""
    return None if value is None else aware(value)
