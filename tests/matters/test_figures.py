"""The figures (bot/matters/figures.py) and where they are read: a matter's messages of the last
30 days against the 30 days before, by day, praise and spam left out, its 好差评; messages no
listed matter fits grouped into a suggested new matter; the annual report counting the tasks
and the matters; the 数据看板's panel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.config import Config
from bot.inbox import ops as inbox_ops
from bot.inbox.ingest import Inbox
from bot.matters.assign import place_comments
from bot.matters.figures import dashboard_panel, hot_matters, suggestions
from bot.matters.ratings import import_ratings
from bot.matters.tasks import close_task, scan
from bot.reports.annual import annual_report
from bot.reports.annual_files import report_markdown, report_tables
from channels.base import IncomingComment
from tests.conftest import create_staff
from tests.matters.support import import_orders, matters_config, moderator
from tests.scheduler.support import publish

NOW = datetime(2025, 6, 30, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai


def orders(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    """(受理时间, 诉求内容, 诉求类型) rows as a 12345 export."""
    lines = ["工单编号,受理时间,诉求内容,诉求类型"]
    lines += [f"GD{i},{at},{text},{kind}" for i, (at, text, kind) in enumerate(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def test_a_matter_counts_its_last_30_days_against_the_30_before(
    any_config: Config, tmp_path: Path
) -> None:
    cfg = matters_config(any_config)
    mia = await moderator()
    rows = [(f"2025-06-{d:02d} 10:00", f"营业执照第{d}号问题", "投诉") for d in (2, 20, 20, 29)]
    rows += [("2025-05-20 10:00", "营业执照五月的问题", "咨询")]  # the 30 days before
    rows += [("2025-06-21 10:00", "营业执照窗口服务很好，感谢", "表扬")]  # praise: not counted
    await import_orders(cfg, orders(tmp_path / "o.csv", rows))
    spam = await Inbox(cfg).ingest(
        IncomingComment("feed", "s1", "营业执照代办加微信", NOW - timedelta(days=1), "form")
    )
    await inbox_ops.mark_spam(spam.comment.id, mia)
    ratings = tmp_path / "r.csv"
    ratings.write_text(
        "事项名称,评价等级,时间\n"
        "企业开办,不满意,2025-06-10 10:00\n企业开办,满意,2025-06-11 10:00\n",
        encoding="utf-8",
    )
    await import_ratings(ratings, cfg, mia, now=NOW)
    await place_comments(cfg, NOW)

    [kaiban] = [f for f in await hot_matters(cfg, NOW) if f.matter.key == "kaiban"]
    assert (kaiban.count, kaiban.previous, kaiban.hotline, kaiban.trend) == (4, 1, 4, "上升")
    # The trend's 30 days end today (30 June, Shanghai): index 0 is 1 June.
    assert kaiban.daily[1] == 1 and kaiban.daily[19] == 2 and kaiban.daily[28] == 1
    assert sum(kaiban.daily) == 4
    assert (kaiban.ratings.count, kaiban.ratings.average, kaiban.ratings.low) == (2, 3.0, 1)


async def test_alike_messages_no_matter_fits_are_a_suggested_new_matter(
    any_config: Config,
) -> None:
    cfg = matters_config(any_config, group_min=3, group_similarity=0.2)
    texts = [
        "小区门口道路施工噪音太大，晚上睡不着",
        "道路施工噪音扰民，夜里还在施工",
        "夜间施工噪音扰民严重，请管一管",
        "公积金提取要多久",  # placed in a listed matter: not grouped
        "社保卡怎么补办",  # alone: no group
    ]
    await Inbox(cfg).ingest_many(
        [
            IncomingComment("feed", f"c{i}", t, NOW - timedelta(days=1), "form")
            for i, t in enumerate(texts)
        ]
    )
    await place_comments(cfg, NOW)
    [group] = await suggestions(cfg, NOW)
    assert group.size == 3 and {"噪音", "施工"} <= set(group.words)
    assert all("噪音" in s for s in group.samples)


async def test_the_annual_report_and_the_dashboard_count_the_tasks(
    any_config: Config, tmp_path: Path
) -> None:
    cfg = matters_config(any_config, tasks={"complaints": 3})
    await moderator()
    staff = await create_staff()
    rows = [(f"2025-06-{d:02d} 10:00", f"营业执照第{d}号问题", "投诉") for d in (10, 11, 12)]
    await import_orders(cfg, orders(tmp_path / "o.csv", rows))
    [task_id] = (await scan(cfg, NOW)).opened
    item = await publish(cfg, staff, title="关于营业执照办理提速的专项回应")
    late = NOW + timedelta(days=40)  # after the due day (21 July)
    await close_task(task_id, staff.editor, item_id=item.id, note="一次告知", now=late)

    report = await annual_report(cfg, 2025, now=late)
    assert report.matters is not None
    t = report.matters.tasks
    assert (t.opened, t.closed, t.on_time, t.late, t.on_time_rate) == (1, 1, 0, 1, 0.0)
    assert report.matters.matters[0].name == "企业开办" and report.matters.matters[0].tasks == 1
    tables = {table.name: table for table in report_tables(report)}
    assert tables["special_responses"].rows[0][:3] == [1, 0, 1]
    text = report_markdown(report)
    assert "专项回应任务办理情况" in text and "有 1 项逾期办结" in text

    panel = await dashboard_panel(cfg, NOW + timedelta(days=1))
    assert panel.configured and [f.matter.key for f in panel.hot] == ["kaiban"]
