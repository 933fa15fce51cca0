"""专项回应 tasks (bot/matters/tasks.py): twelve 12345 orders on one matter open one task, due in
working days, linked to them; a second scan, or three openings at once, open no second one
while it is open (the unique open_matter, AlreadyOpen); the lowest-rated matters open theirs;
a task closes only with a published response item and a note, once; the weekly job runs once
a week from its weekday and time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import Config
from bot.items import lifecycle
from bot.items.schemas import ItemCreate
from bot.matters.ratings import import_ratings
from bot.matters.tasks import (
    AlreadyOpen,
    InvalidTaskInput,
    ResponseNotPublished,
    TaskClosed,
    candidates,
    close_task,
    open_task,
    scan,
)
from bot.models import AuditEvent, JobSlot, MatterTask, MatterTaskComment
from tests.conftest import create_staff
from tests.matters.support import import_orders, matters_config, moderator, orders_csv
from tests.scheduler.support import context, publish, spec

NOW = datetime(2025, 6, 30, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai
FIRST_ORDER = datetime(2025, 6, 10, 10, 0)  # Shanghai time, as the hotline exports it


async def test_twelve_orders_on_one_matter_open_one_task_that_closes_only_with_a_published_item(
    any_config: Config, tmp_path: Path
) -> None:
    config = matters_config(any_config)
    await moderator()
    staff = await create_staff()
    assert await import_orders(config, orders_csv(tmp_path / "o.csv", 12, FIRST_ORDER)) == 12

    first = await scan(config, NOW)
    assert len(first.opened) == 1 and first.placed == 12
    task = await MatterTask.get(id=first.opened[0])
    assert (task.matter, task.office, task.status) == ("kaiban", "企业服务处", "open")
    assert task.reasons == ["complaints"] and task.figures["complaints"] == 12
    # 15 working days from Monday 30 June: Monday 21 July, 17:30 in Shanghai
    assert task.due_at == datetime(2025, 7, 21, 9, 30, tzinfo=UTC) and task.calendar_known
    assert await MatterTaskComment.filter(task_id=task.id).count() == 12

    again = await scan(config, NOW + timedelta(days=1))
    assert again.opened == [] and again.already_open == ["kaiban"]
    assert await MatterTask.all().count() == 1

    draft = await lifecycle.create_item(
        ItemCreate.model_validate(
            {"kind": "notice", "title": "关于优化企业开办流程的专项回应", "body": "答复如下。"}
        ),
        staff.editor,
        config,
    )
    with pytest.raises(ResponseNotPublished, match="当前状态为「草稿」"):
        await close_task(task.id, staff.editor, item_id=draft.id, note="材料清单一次告知")
    with pytest.raises(InvalidTaskInput, match="稿件 #999999 不存在") as missing:
        await close_task(task.id, staff.editor, item_id=999999, note="材料清单一次告知")
    assert missing.value.field == "item_id"
    with pytest.raises(InvalidTaskInput, match="办结说明") as empty:
        await close_task(task.id, staff.editor, item_id=draft.id, note="  ")
    assert empty.value.field == "note"
    assert (await MatterTask.get(id=task.id)).status == "open"

    item = await publish(config, staff, title="关于企业开办“一次告知”的专项回应")
    closed = await close_task(
        task.id,
        staff.editor,
        item_id=item.id,
        note="材料清单一次告知，营业执照三个工作日办结",
        now=NOW + timedelta(days=5),
    )
    assert closed.status == "closed" and closed.on_time and closed.response_item_id == item.id
    stored = await MatterTask.get(id=task.id)
    assert stored.open_matter is None and stored.closed_by == "user:alice"
    with pytest.raises(TaskClosed):
        await close_task(task.id, staff.editor, item_id=item.id, note="再次办结")
    actions = await AuditEvent.filter(target_type="matter_task").values_list("action", flat=True)
    assert list(actions) == ["task.open", "task.close"]

    # Closed, the matter may get a task again when it is still over the threshold.
    later = await scan(config, NOW + timedelta(days=7))
    assert len(later.opened) == 1 and later.opened != first.opened


async def test_three_openings_of_one_matter_at_once_open_one_task(
    any_config: Config, tmp_path: Path
) -> None:
    config = matters_config(any_config)
    await moderator()
    await import_orders(config, orders_csv(tmp_path / "o.csv", 12, FIRST_ORDER))
    await scan(config, NOW - timedelta(days=40))  # places the orders; none in its window yet
    assert await MatterTask.all().count() == 0
    [candidate] = await candidates(config, NOW)
    outcomes = await asyncio.gather(
        *(open_task(candidate, config, f"system:p{i}", NOW) for i in range(3)),
        return_exceptions=True,
    )
    opened = [o for o in outcomes if isinstance(o, MatterTask)]
    refused = [o for o in outcomes if isinstance(o, AlreadyOpen)]
    assert len(opened) == 1 and len(refused) == 2, outcomes
    assert await MatterTask.all().count() == 1
    assert await MatterTaskComment.all().count() == 12


async def test_the_lowest_rated_matters_get_a_task(any_config: Config, tmp_path: Path) -> None:
    config = matters_config(any_config, tasks={"lowest_rated": 1, "min_ratings": 3})
    mia = await moderator()
    rows = ["事项名称,评价等级,评价内容,时间"]
    for day in range(1, 5):
        rows.append(f"住房公积金提取,非常不满意,提取要跑三趟,2025-06-{day:02d} 10:00")
        rows.append(f"交通违法处理,不满意,罚单缴纳慢,2025-06-{day:02d} 11:00")
        rows.append(f"企业开办,非常满意,,2025-06-{day:02d} 12:00")
    path = tmp_path / "ratings.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert (await import_ratings(path, config, mia, now=NOW)).created == 12

    result = await scan(config, NOW)
    [task] = await MatterTask.filter(id__in=result.opened)
    assert task.matter == "gongjijin" and task.reasons == ["low_rating"]
    assert task.figures["average"] == 1.0 and task.figures["rank"] == 1
    assert task.figures["ratings"] == 4


async def test_the_weekly_job_runs_once_a_week_from_its_weekday_and_time(
    any_config: Config, tmp_path: Path
) -> None:
    config = matters_config(any_config, tasks={"weekday": 1, "time": "09:00"})
    await moderator()
    await import_orders(config, orders_csv(tmp_path / "o.csv", 12, FIRST_ORDER))
    job = spec(config, "matters.tasks")
    ctx = context(config)
    from scheduler.jobs import run_job

    assert await run_job(job, ctx, NOW - timedelta(minutes=1)) is None  # 08:59 Monday
    ran = await run_job(job, ctx, NOW + timedelta(minutes=5))
    assert ran is not None and len(ran["opened"]) == 1
    assert await run_job(job, context(config, "p2"), NOW + timedelta(days=3)) is None
    slots = await JobSlot.filter(job="matters.tasks").values_list("slot", flat=True)
    assert list(slots) == ["2025-W27"]
    nextweek = await run_job(job, ctx, NOW + timedelta(days=7))
    assert nextweek == {"placed": 0, "opened": [], "already_open": ["kaiban"]}
