"""Retention (scheduler/retention.py, job retention): an enforcement notice whose display
period (days from publication, per 执法类别 when configured) has passed is retracted through
the lifecycle with the reason 公示期满 — audited, a retraction queued for the website — and
one still within its period is left alone; a second run changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from bot.config import Config
from bot.models import AuditEvent, Delivery, Item, JobSlot
from scheduler.jobs import run_job
from tests.conftest import Staff, create_staff
from tests.scheduler.support import config_on, context, publish, running_robot, spec

SH = ZoneInfo("Asia/Shanghai")


async def notice(config: Config, staff: Staff, title: str, category: str, age_days: int) -> Item:
    today = datetime.now(UTC).astimezone(SH).date()
    enforcement: dict[str, Any] = {
        "authority": "市地方金融管理局",
        "target": "上海某某投资管理有限公司",
        "target_type": "legal_person",
        "category": category,
        "facts": "未按规定报送经营数据",
        "basis": "《上海市地方金融监督管理条例》第三十九条",
        "decision": "警告",
        "decision_date": today.isoformat(),
        "document_number": f"沪金罚〔2025〕{age_days}号",
    }
    item = await publish(
        config,
        staff,
        kind="enforcement",
        title=title,
        body="行政处罚决定书全文见附件。",
        enforcement=enforcement,
    )
    assert item.status == "published", item.status
    published = datetime.now(UTC) - timedelta(days=age_days)
    await Item.filter(id=item.id).update(published_at=published)
    return item


async def test_notices_past_their_display_period_are_retracted_and_others_kept(
    any_config: Config,
) -> None:
    staff = await create_staff()
    old = await notice(any_config, staff, "某公司行政处罚决定公示（三年前）", "行政处罚", 1096)
    recent = await notice(any_config, staff, "某公司行政处罚决定公示（近期）", "行政处罚", 400)
    permit = await notice(any_config, staff, "某公司行政许可决定公示", "行政许可", 40)
    async with running_robot() as robot, aiohttp.ClientSession() as session:
        config = config_on(
            any_config,
            robot,
            scheduler={"enforcement_display_days_by_category": {"行政许可": 30}},
        )
        job = spec(config, "retention")
        now = datetime.now(UTC).astimezone(SH).replace(hour=3, minute=10).astimezone(UTC)
        result = await run_job(job, context(config, "p1", session), now)
        assert result is not None
        assert sorted(result["retracted"]) == sorted([old.id, permit.id])
        for gone in (old, permit):
            row = await Item.get(id=gone.id)
            assert (row.status, row.retraction_reason) == ("retracted", "公示期满")
            event = await AuditEvent.get(
                target_type="item", target_id=str(gone.id), action="item.retract"
            )
            assert event.actor == "system:retention" and event.details["reason"] == "公示期满"
            pulled = await Delivery.get(item_id=gone.id, action="retract")
            assert pulled.channel == "feed"
        kept = await Item.get(id=recent.id)
        assert kept.status == "published"
        assert not await Delivery.filter(item_id=recent.id, action="retract").exists()
        (message,) = robot.messages
        assert "公示期满" in message and f"#{old.id}" in message and f"#{recent.id}" not in message
        # The same day again: not run; the next day: nothing more to retract.
        assert await run_job(job, context(config, "p2", session), now) is None
        again = await run_job(job, context(config, "p2", session), now + timedelta(days=1))
        assert again == {"retracted": [], "cannot_retract": {}}
        assert await AuditEvent.filter(action="item.retract").count() == 2


async def test_a_failing_run_is_logged_with_the_job_name_and_recorded_not_raised(
    any_config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    staff = await create_staff()
    await notice(any_config, staff, "某公司行政处罚决定公示（过期）", "行政处罚", 1096)
    # The webhook channel enabled without its secret: building the channels fails.
    config = config_on(any_config, channels={"webhook": {"enabled": True, "secret_env": "NONE"}})
    now = datetime.now(UTC).astimezone(SH).replace(hour=3, minute=10).astimezone(UTC)
    assert await run_job(spec(config, "retention"), context(config), now) is None
    assert "job retention failed" in caplog.text
    slot = await JobSlot.get(job="retention")
    assert "ConfigError" in slot.result["error"] and slot.finished_at is not None
