"""The audit log as a CSV file a spreadsheet opens safely: UTF-8 with a BOM (so Excel reads the
Chinese), and every cell that a spreadsheet would take for a formula (one starting with =, +,
-, @, a tab or a carriage return, also after spaces or in full-width form) prefixed with a
single quote, so opening the file runs nothing an item title or a name put there."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from bot.web.console.audit_text import Told

BOM = "\ufeff"
HEADER = ("时间", "操作人", "操作", "对象", "说明")
# What makes Excel, LibreOffice or Google Sheets read a cell as a formula (OWASP's list, and
# the full-width forms an input method types).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")


def spreadsheet_safe(value: str) -> str:
    """The cell as text a spreadsheet shows and does not evaluate."""
    if value.lstrip(" ").startswith(FORMULA_STARTS):
        return "'" + value
    return value


def row(told: Told) -> list[str]:
    cells = (told.at, told.actor, told.action, told.target, _remark(told))
    return [spreadsheet_safe(c) for c in cells]


def _remark(told: Told) -> str:
    """说明: the sentence, then the details."""
    return f"{told.text}。{told.details}" if told.details else told.text


def encode(rows: Iterable[Iterable[str]]) -> bytes:
    """Rows as CSV bytes (RFC 4180 quoting, CRLF line ends)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def head() -> bytes:
    """The start of the file: the BOM and the header row."""
    return BOM.encode("utf-8") + encode([HEADER])
