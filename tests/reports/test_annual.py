"""The annual report (`gongkai report`) on a seeded year in a real SQLite database: exact
counts per Shanghai month, normative documents, enforcement timeliness, the 多元化解读率,
comments answered on time, and the Markdown, CSV and SVG files."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from bot.cli.main import main
from bot.config import Config
from bot.items import lifecycle
from bot.models import Comment, Delivery, Item, User
from bot.reports.annual import annual_report, year_bounds
from bot.reports.annual_files import bar_chart_svg, write_report
from tests.conftest import Staff

NOW = datetime(2027, 1, 15, tzinfo=UTC)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


async def item(kind: str, published_at: datetime, **fields: Any) -> Item:
    author = await User.get(username="alice")
    data: dict[str, Any] = {
        "kind": kind,
        "title": f"{kind} {published_at.isoformat()}",
        "column": kind,
        "status": "published",
        "published_at": published_at,
        "author": author,
    }
    data.update(fields)
    return await Item.create(**data)


async def delivered(target: Item, channel: str, finished_at: datetime, version: int = 1) -> None:
    await Delivery.create(
        item=target,
        item_version=version,
        channel=channel,
        status="done",
        due_at=finished_at,
        next_attempt_at=finished_at,
        finished_at=finished_at,
    )


async def comment(n: int, received: datetime, **fields: Any) -> None:
    data: dict[str, Any] = {"category": "咨询", "office": "办公室", "status": "replied"}
    data.update(fields)
    await Comment.create(
        channel="feed", remote_id=f"c{n}", original_text="留言", received_at=received, **data
    )


async def seed(staff: Staff) -> dict[str, Item]:
    items = {
        # 2026-02-01 01:00 in Shanghai: February, although January in UTC
        "a": await item("notice", utc(2026, 1, 31, 17, 0)),
        # 2026-01-31 23:59 in Shanghai: January
        "b": await item("notice", utc(2026, 1, 31, 15, 59)),
        # 2026-01-01 00:30 in Shanghai: in the year, although 2025 in UTC
        "c": await item("notice", utc(2025, 12, 31, 16, 30)),
        # 2027-01-01 00:30 in Shanghai: not in 2026
        "d": await item("notice", utc(2026, 12, 31, 16, 30)),
        "retracted": await item("notice", utc(2026, 3, 1, 2), status="retracted"),
        "p1": await item("policy", utc(2026, 3, 10, 2)),
        "p2": await item("policy", utc(2026, 4, 10, 2)),
        "p3": await item("policy", utc(2025, 6, 1, 2)),
        "p4": await item("policy", utc(2026, 5, 5, 2)),
        "i1": await item(
            "interpretation", utc(2026, 3, 10, 2), interpretation_forms=["文字", "图解"]
        ),
        "i2": await item("interpretation", utc(2026, 4, 10, 2), interpretation_forms=["文字"]),
        "i3": await item("interpretation", utc(2026, 6, 1, 2), interpretation_forms=["视频"]),
    }
    decided = "2026-03-02"  # a Monday: 7 working days end 2026-03-11, 20 end 2026-03-30
    enforcement = {
        "e1": ("行政处罚", decided, utc(2026, 3, 11, 2)),  # on the last day: within
        "e2": ("行政许可", decided, utc(2026, 3, 11, 16, 30)),  # 03-12 in Shanghai: late
        "e3": ("行政强制", decided, utc(2026, 3, 27, 2)),  # within 20 working days
        "e4": ("行政处罚", "", utc(2026, 3, 27, 2)),  # no decision date: not judged
    }
    for key, (category, day, at) in enforcement.items():
        fields = {"category": category, "decision_date": day}
        items[key] = await item("enforcement", at, enforcement=fields)
    await lifecycle.set_validity(items["p2"].id, staff.reviewer, "repealed", "已被新文件替代")
    await lifecycle.set_validity(items["p4"].id, staff.reviewer, "amended", "部分条款修订")
    await delivered(items["a"], "feed", utc(2026, 1, 31, 17, 0, 5))
    await delivered(items["a"], "feed", utc(2026, 5, 1), version=2)  # a new version: same item
    await delivered(items["b"], "feed", utc(2026, 1, 31, 15, 59, 30))
    await delivered(items["a"], "wechat", utc(2026, 2, 3))
    await delivered(items["retracted"], "feed", utc(2026, 3, 1, 2))
    await comment(1, utc(2026, 2, 3), due_at=utc(2026, 2, 10), first_reply_at=utc(2026, 2, 5))
    await comment(
        2,
        utc(2026, 2, 4),
        category="投诉",
        office="银行处",
        due_at=utc(2026, 2, 11),
        first_reply_at=utc(2026, 2, 12),
    )
    await comment(3, utc(2026, 3, 1), status="open", due_at=utc(2026, 3, 6), office="银行处")
    await comment(4, utc(2026, 3, 2), status="spam")
    await comment(
        5, utc(2025, 12, 31, 16, 30), due_at=utc(2026, 1, 5), first_reply_at=utc(2026, 1, 4)
    )
    return items


async def test_year_bounds_are_shanghai_midnights() -> None:
    start, end = year_bounds(2026, "Asia/Shanghai")
    assert (start, end) == (utc(2025, 12, 31, 16), utc(2026, 12, 31, 16))


async def test_report_counts_a_seeded_year_exactly(config: Config, staff: Staff) -> None:
    await seed(staff)
    r = await annual_report(config, 2026, now=NOW)
    months = lambda *pairs: [dict(pairs).get(m, 0) for m in range(1, 13)]  # noqa: E731
    assert r.by_kind["notice"] == months((1, 2), (2, 1))  # b, c in January; a in February
    assert r.by_kind["policy"] == months((3, 1), (4, 1), (5, 1))
    assert r.by_kind["interpretation"] == months((3, 1), (4, 1), (6, 1))
    assert r.by_kind["enforcement"] == months((3, 4))
    assert r.by_column["notice"] == months((1, 2), (2, 1))
    assert r.retracted == 1
    assert r.published_total == 13
    assert r.monthly_totals() == months((1, 2), (2, 1), (3, 6), (4, 2), (5, 1), (6, 1))
    assert r.by_channel["feed"] == months((1, 1), (2, 1))  # b, then a (first success only)
    assert r.by_channel["wechat"] == months((2, 1))
    p = r.policies
    assert (p.issued, p.repealed, p.expired, p.valid, p.amended, p.in_force) == (3, 1, 0, 2, 1, 3)
    e = r.enforcement
    assert (e["行政处罚"].published, e["行政处罚"].within, e["行政处罚"].undated) == (2, 1, 1)
    assert (e["行政许可"].published, e["行政许可"].within, e["行政许可"].late) == (1, 0, 1)
    assert (e["行政强制"].published, e["行政强制"].within) == (1, 1)
    assert r.enforcement_days == {"行政处罚": 7, "行政许可": 7, "行政强制": 20}
    rate = r.interpretation
    assert rate is not None and (rate.interpretations, rate.diversified) == (3, 2)
    assert rate.meets_target is True
    inbox = r.inbox
    assert inbox is not None
    o = inbox.overall
    assert (o.total, o.answered, o.judged, o.on_time, o.overdue_open) == (4, 3, 4, 2, 1)
    assert inbox.spam == 1
    assert {g.key: g.total for g in inbox.by_month} == {"2026-01": 1, "2026-02": 2, "2026-03": 1}
    assert {g.key: (g.total, g.on_time) for g in inbox.by_office} == {
        "办公室": (2, 2),
        "银行处": (2, 0),
    }


async def test_report_rebuilds_validity_at_the_end_of_an_earlier_year(
    config: Config, staff: Staff
) -> None:
    await seed(staff)  # p2 was repealed and p4 amended in 2026 (now), after 2025 ended
    p = (await annual_report(config, 2025, now=NOW)).policies
    assert (p.issued, p.repealed, p.valid, p.amended, p.in_force) == (1, 0, 1, 0, 1)


async def test_report_files_markdown_csv_and_svg_are_written(
    config: Config, staff: Staff, tmp_path: Path
) -> None:
    await seed(staff)
    r = await annual_report(config, 2026, now=NOW)
    written = write_report(r, tmp_path / "out")
    names = {p.name for p in written}
    assert {"report.md", "items_by_kind.csv", "enforcement_timeliness.csv"} <= names
    assert {"items_by_month.svg", "items_by_kind.svg", "comments_by_month.svg"} <= names

    md = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    for heading in (
        "# 2026年政府信息公开工作年度报告（统计数据）",
        "## 一、总体情况",
        "## 二、主动公开政府信息情况",
        "## 三、收到和处理政府信息公开申请情况",
        "## 四、政府信息公开行政复议、行政诉讼情况",
        "## 五、存在的主要问题及改进情况",
        "## 六、其他需要报告的事项",
    ):
        assert heading in md
    assert "| 行政规范性文件 | 3 | 1 | 3 |" in md
    assert "| 行政许可 | 1 |" in md
    assert "有 1 件行政执法决定未在规定期限内公示" in md
    assert "![各月主动公开条目数](items_by_month.svg)" in md

    with (tmp_path / "out" / "items_by_kind.csv").open(encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    assert rows[0][:3] == ["类别", "1月", "2月"] and rows[0][-1] == "合计"
    notice = next(row for row in rows if row[0] == "通知公告")
    assert notice[1:4] == ["2", "1", "0"] and notice[-1] == "3"
    assert rows[-1][0] == "合计" and rows[-1][-1] == "13"
    with (tmp_path / "out" / "comments.csv").open(encoding="utf-8-sig") as fh:
        comments = list(csv.reader(fh))
    assert comments[1][:5] == ["4", "3", "4", "2", "50.0%"]

    svg = ET.parse(tmp_path / "out" / "items_by_month.svg").getroot()
    ns = "{http://www.w3.org/2000/svg}"
    bars = svg.findall(f"{ns}rect")[1:]  # the first is the background
    assert len(bars) == 12
    heights = [float(b.get("height", "0")) for b in bars]
    assert heights[2] == max(heights) and heights[11] == 0  # March has the most, December none


def test_svg_chart_escapes_its_text() -> None:
    svg = bar_chart_svg('<标题> & "引号"', ["<a&b>", "月"], [3, 0], unit="件")
    root = ET.fromstring(svg)  # well-formed despite the markup characters
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert '<标题> & "引号"' in texts and "<a&b>" in texts


def test_cli_report_writes_the_files_for_a_year(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[database]\nurl = "sqlite://{tmp_path / "gk.db"}"\n', encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(main, ["--config", str(config), "db", "upgrade"]).exit_code == 0
    out = tmp_path / "report"
    result = runner.invoke(
        main, ["--config", str(config), "report", "--year", "2026", "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["year"] == 2026 and summary["published"] == 0
    assert (out / "report.md").is_file() and (out / "items_by_kind.csv").is_file()
    assert str(out / "report.md") in summary["files"]
    result = runner.invoke(main, ["--config", str(config), "report", "--year", "1999"])
    assert result.exit_code == 2  # outside the accepted range: a usage error
