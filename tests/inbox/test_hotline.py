"""12345 hotline import (bot/inbox/hotline.py) from CSV (UTF-8 and GBK) and XLSX: columns found by
header name in any order, a bad row reported with its line and field while the good rows are
imported, the operator's classification kept, phone numbers never stored, and a re-import
creating nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook

from bot.config import Config
from bot.inbox.hotline import HotlineFileError, import_hotline
from bot.inbox.ingest import Inbox
from bot.models import AuditEvent, Comment

HEADER = ["诉求类型", "工单编号", "受理时间", "诉求内容", "来电号码"]
ROWS = [
    ["咨询", "GD2025001", "2025-03-03 10:00", "咨询小额贷款公司设立需要哪些条件", "13800001111"],
    ["举报", "GD2025002", "2025/3/3 11:30", "某公司未经许可从事放贷业务", "13800002222"],
    ["建议", "GD2025003", "明天上午", "建议公开更多政策解读", ""],
    ["求助", "", "2025-03-03 12:00", "工单编号缺失的一行", ""],
    ["表扬", "GD2025005", "2025-03-04 09:00", "感谢窗口工作人员耐心解答", ""],
]


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8-sig") -> Path:
    lines = [",".join(HEADER)] + [",".join(r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding=encoding)
    return path


async def test_a_bad_row_is_reported_by_line_and_field_and_good_rows_are_imported(
    config: Config, tmp_path: Path
) -> None:
    result = await import_hotline(
        write_csv(tmp_path / "orders.csv", ROWS), Inbox(config), "user:mia"
    )
    assert result.rows == 5 and result.created == 3 and result.duplicates == 0
    assert [str(e) for e in result.errors] == [
        "第 4 行「受理时间」：时间「明天上午」无法识别，应写成 2024-03-01 09:30",
        "第 5 行「工单编号」：不能为空",
    ]
    stored = {c.remote_id: c for c in await Comment.all()}
    assert set(stored) == {"12345:GD2025001", "12345:GD2025002", "12345:GD2025005"}
    report = stored["12345:GD2025002"]
    assert report.channel == "hotline" and report.kind == "hotline"
    assert report.category == "投诉"  # 举报 is our 投诉; the operator's type wins
    assert report.received_at == datetime(2025, 3, 3, 3, 30, tzinfo=UTC)  # Shanghai 11:30
    assert report.original_text == "某公司未经许可从事放贷业务"
    assert stored["12345:GD2025005"].category == "表扬"
    for c in stored.values():  # the caller's number is never stored, only an opaque reference
        assert "1380000" not in c.author_ref and "1380000" not in str(c.reply_ref)
    assert stored["12345:GD2025001"].author_ref.startswith("hotline:")
    event = await AuditEvent.get(action="hotline.import")
    assert event.actor == "user:mia" and event.details["created"] == 3
    assert len(event.details["errors"]) == 2


async def test_importing_the_same_file_again_creates_nothing(
    config: Config, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "orders.csv", ROWS)
    await import_hotline(path, Inbox(config), "user:mia")
    again = await import_hotline(path, Inbox(config), "user:mia")
    assert again.created == 0 and again.duplicates == 3
    assert await Comment.all().count() == 3


async def test_gbk_csv_and_xlsx_exports_are_read_by_header_name(
    config: Config, tmp_path: Path
) -> None:
    await import_hotline(write_csv(tmp_path / "gbk.csv", ROWS[:1], "gbk"), Inbox(config), "u")
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["受理时间", "诉求内容", "工单编号", "承办单位"])
    sheet.append([datetime(2025, 3, 5, 9, 15), "咨询执法公示的查询方式", 20250099, "法规处"])
    sheet.append([datetime(2025, 3, 5, 9, 20), "", "GD-X", ""])
    book.save(tmp_path / "orders.xlsx")
    result = await import_hotline(tmp_path / "orders.xlsx", Inbox(config), "u")
    assert result.created == 1
    assert [str(e) for e in result.errors] == ["第 3 行「诉求内容」：不能为空"]
    row = await Comment.get(remote_id="12345:20250099")
    assert row.office == "法规处"
    assert row.received_at == datetime(2025, 3, 5, 1, 15, tzinfo=UTC)
    assert await Comment.filter(remote_id="12345:GD2025001").exists()


async def test_a_file_without_the_required_columns_is_refused_whole(
    config: Config, tmp_path: Path
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("编号,内容\n1,文字\n", encoding="utf-8")
    with pytest.raises(HotlineFileError, match="缺少必需的列：工单编号、受理时间、诉求内容"):
        await import_hotline(path, Inbox(config), "u")
    with pytest.raises(HotlineFileError, match=r"只支持 \.csv 和 \.xlsx"):
        await import_hotline(tmp_path / "orders.txt", Inbox(config), "u")
    assert await Comment.all().count() == 0


async def test_an_unknown_type_and_a_repeated_order_number_are_row_errors(
    config: Config, tmp_path: Path
) -> None:
    rows = [
        ["其它问题", "GD1", "2025-03-03 10:00", "内容一", ""],
        ["咨询", "GD2", "2025-03-03 10:00", "内容二", ""],
        ["咨询", "GD2", "2025-03-03 10:05", "内容二重复", ""],
    ]
    result = await import_hotline(write_csv(tmp_path / "o.csv", rows), Inbox(config), "u")
    assert result.created == 1
    assert "第 2 行「诉求类型」" in str(result.errors[0])
    assert str(result.errors[1]) == "第 4 行「工单编号」：与第 3 行重复：GD2"
