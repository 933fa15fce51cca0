"""Reading a table exported by another system (the 12345 hotline's work orders, the 政务服务
好差评 ratings): a CSV in UTF-8 or GBK, or the first sheet of an XLSX, row by row with the line
number the file shows, the header found as the first row with any text, and cells read as
text or as a time. What a file as a whole gets wrong is raised as the caller's own error."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.errors import Refusal


@dataclass(frozen=True)
class RowError:
    """A row the import could not take: its line as the file shows it, the column, why."""

    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"第 {self.line} 行「{self.field}」：{self.message}"


TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M")


def rows(path: Path, error: type[Refusal]) -> Iterator[tuple[int, list[Any]]]:
    """(line number as the file shows it, cells) for every row, the header included; `error`
    (a Refusal taking the message) when the file cannot be read."""
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        from openpyxl import load_workbook

        try:
            book = load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:
            raise error(f"{path.name}：无法读取 Excel 文件：{exc}") from exc
        try:
            sheet = book.worksheets[0]
            for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
                yield number, list(row)
        finally:
            book.close()
        return
    if suffix != ".csv":
        raise error(f"{path.name}：只支持 .csv 和 .xlsx 文件。")
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):  # exports of these systems are often in GBK
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise error(f"{path.name}：文件编码无法识别（应为 UTF-8 或 GBK）。")
    reader = csv.reader(io.StringIO(text, newline=""))
    start = 1
    try:
        for row in reader:
            yield start, row
            start = reader.line_num + 1
    except csv.Error as exc:
        raise error(f"{path.name}：第 {start} 行不是有效的 CSV：{exc}") from exc


def header(cells: Iterator[tuple[int, list[Any]]]) -> dict[str, int]:
    """The column of each header name: the first row with any text (consumed from `cells`)."""
    for _, row in cells:
        if any(text(c) for c in row):
            return {text(c): i for i, c in enumerate(row) if text(c)}
    return {}


def text(value: Any) -> str:
    """A cell as text: empty for an empty cell, a whole number Excel stored as a float
    without its ".0" (a work order number), surrounding spaces dropped."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def moment(value: Any, zone: ZoneInfo) -> datetime:
    """A cell as an aware time (`zone` when the cell names none); ValueError says, in
    Chinese, what was written and how to write it."""
    if isinstance(value, datetime):
        found = value
    elif isinstance(value, date):
        found = datetime(value.year, value.month, value.day)
    else:
        written = text(value)
        for fmt in TIME_FORMATS:
            try:
                found = datetime.strptime(written, fmt)
                break
            except ValueError:
                continue
        else:
            try:
                found = datetime.fromisoformat(written)
            except ValueError as exc:
                raise ValueError(f"时间「{written}」无法识别，应写成 2024-03-01 09:30") from exc
    return found if found.tzinfo else found.replace(tzinfo=zone)
