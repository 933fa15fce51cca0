"""政务服务好差评 import (bot/matters/ratings.py) from CSV in UTF-8 and GBK and from XLSX: columns
found by header name, a bad row named by line and field while the good rows are kept, personal
data in 评价内容 masked as the inbox masks it, each rating given its listed matter, and a second
import of the same file adding nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook

from bot.config import Config
from bot.matters.ratings import RatingFileError, import_ratings, read_ratings
from bot.models import AuditEvent, ServiceRating
from tests.matters.support import matters_config, moderator

NOW = datetime(2025, 6, 30, 8, 0, tzinfo=UTC)
HEADER = ["渠道", "事项名称", "评价等级", "评价内容", "时间"]
ROWS = [
    [
        "随申办APP",
        "企业开办一窗通",
        "非常不满意",
        "营业执照等了一个月，电话13912345678没人接",
        "2025-06-01 10:00",
    ],
    ["窗口", "公积金提取", "满意", "办得很快", "2025/6/2 11:30"],
    ["一网通办PC端", "企业开办", "很好", "等级写错的一行", "2025-06-03 09:00"],
    ["窗口", "社保卡补办", "基本满意", "", "2025-06-04 15:00"],
    ["随申办APP", "交通违法处理", "2", "罚单缴纳页面打不开", "昨天"],
]


def write_csv(path: Path, encoding: str) -> Path:
    lines = [",".join(HEADER)] + [",".join(r) for r in ROWS]
    path.write_text("\n".join(lines) + "\n", encoding=encoding)
    return path


def write_xlsx(path: Path) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER)
    for row in ROWS:
        sheet.append(row)
    book.save(path)
    return path


WRITERS: dict[str, Callable[[Path], Path]] = {
    "csv-utf8": lambda d: write_csv(d / "ratings.csv", "utf-8-sig"),
    "csv-gbk": lambda d: write_csv(d / "ratings.csv", "gbk"),
    "xlsx": lambda d: write_xlsx(d / "ratings.xlsx"),
}


@pytest.mark.parametrize("kind", sorted(WRITERS))
async def test_a_file_with_bad_rows_keeps_the_good_ones_names_the_bad_and_imports_once(
    any_config: Config, tmp_path: Path, kind: str
) -> None:
    config = matters_config(any_config)
    mia = await moderator()
    path = WRITERS[kind](tmp_path)
    result = await import_ratings(path, config, mia, now=NOW)
    assert (result.rows, result.created, result.duplicates) == (5, 3, 0)
    assert [str(e) for e in result.errors] == [
        "第 4 行「评价等级」：「很好」无法识别，"
        "可选：非常满意、满意、基本满意、不满意、非常不满意，或 1 至 5",
        "第 6 行「时间」：时间「昨天」无法识别，应写成 2024-03-01 09:30",
    ]
    stored = {r.service: r for r in await ServiceRating.all()}
    assert set(stored) == {"企业开办一窗通", "公积金提取", "社保卡补办"}
    kaiban = stored["企业开办一窗通"]
    assert kaiban.grade == 1 and kaiban.channel == "随申办APP"
    assert kaiban.matter == "kaiban" and kaiban.match_method == "name"  # an alias
    assert "13912345678" not in kaiban.text and "139****5678" in kaiban.text
    assert kaiban.rated_at == datetime(2025, 6, 1, 2, 0, tzinfo=UTC)  # Shanghai 10:00
    assert stored["公积金提取"].matter == "gongjijin"  # by keyword
    assert stored["社保卡补办"].matter == ""  # no listed matter fits
    assert result.matched == 2

    again = await import_ratings(path, config, mia, now=NOW)
    assert (again.created, again.duplicates, len(again.errors)) == (0, 3, 2)
    assert await ServiceRating.all().count() == 3
    events = await AuditEvent.filter(action="rating.import").order_by("id")
    assert [e.details["created"] for e in events] == [3, 0]
    assert events[0].actor == "user:mia" and events[0].target_id == path.name


async def test_a_rating_number_is_the_key_and_a_repeated_number_is_named(
    config: Config, tmp_path: Path
) -> None:
    path = tmp_path / "numbered.csv"
    path.write_text(
        "评价编号,事项名称,评价等级,时间\n"
        "PJ001,企业开办,满意,2025-06-01 10:00\n"
        "PJ002,企业开办,满意,2025-06-01 10:00\n"
        "PJ001,企业开办,不满意,2025-06-02 10:00\n",
        encoding="utf-8",
    )
    ratings, errors, rows, repeated = read_ratings(path, matters_config(config), NOW)
    assert [r.key for r in ratings] == ["no:PJ001", "no:PJ002"] and (rows, repeated) == (3, 0)
    assert [str(e) for e in errors] == ["第 4 行「评价编号」：与第 2 行重复：PJ001"]


async def test_a_file_without_a_required_column_or_of_another_kind_is_refused(
    config: Config, tmp_path: Path
) -> None:
    missing = tmp_path / "missing.csv"
    missing.write_text("事项名称,评价内容\n企业开办,很好\n", encoding="utf-8")
    with pytest.raises(RatingFileError, match="缺少必需的列：评价等级、时间"):
        read_ratings(missing, config, NOW)
    other = tmp_path / "ratings.txt"
    other.write_text("x", encoding="utf-8")
    with pytest.raises(RatingFileError, match=r"只支持 \.csv 和 \.xlsx"):
        read_ratings(other, config, NOW)
    future = tmp_path / "future.csv"
    future.write_text("事项名称,评价等级,时间\n企业开办,满意,2025-08-01 10:00\n", encoding="utf-8")
    _, errors, _, _ = read_ratings(future, config, NOW)
    assert [str(e) for e in errors] == ["第 2 行「时间」：「2025-08-01 10:00」晚于今天，请核对"]


async def test_only_a_moderator_imports_ratings(config: Config, tmp_path: Path) -> None:
    from bot.errors import NotPermitted
    from tests.conftest import create_staff

    staff = await create_staff()
    with pytest.raises(NotPermitted):
        await import_ratings(write_csv(tmp_path / "r.csv", "utf-8"), config, staff.editor)
