"""Three `gongkai run --role worker` processes over one PostgreSQL database, each with its own
scheduler ticking the weekly 专项回应 scan (matters.tasks) every half second: twelve seeded
12345 orders on one matter open exactly one task, run in one process's slot; the task then
cannot close without a published response item."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot import db
from bot.config import Config
from bot.items import lifecycle
from bot.items.schemas import ItemCreate
from bot.matters.tasks import ResponseNotPublished, close_task
from bot.models import JobSlot, MatterTask, MatterTaskComment
from tests.conftest import Staff, create_staff
from tests.matters.support import MATTERS, import_orders, matters_config, moderator, orders_csv
from tests.processes import gongkai
from tests.scheduler.support import publish
from tests.waiting import wait_until

SHANGHAI = ZoneInfo("Asia/Shanghai")


def worker_config(path: Path, db_url: str) -> Path:
    """A worker whose weekly scan is due from Monday 00:00, so this week's is due now; daily
    and weekly jobs tick every half second; nothing else that is slow or remote runs."""
    matters = "\n".join(
        f"[[matters]]\nkey = {json.dumps(m['key'])}\nname = {json.dumps(m['name'])}\n"
        f"office = {json.dumps(m['office'])}\n"
        f"keywords = {json.dumps(m['keywords'], ensure_ascii=False)}\n"
        for m in MATTERS
    )
    path.write_text(
        f"""
[database]
url = "{db_url}"

[review]
check_links = false

[inbox.classifier]
retrain_time = ""

[scheduler]
daily_tick_seconds = 0.5

[hot_matters]
assign_minutes = 1440

[hot_matters.tasks]
weekday = 1
time = "00:00"

{matters}
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
async def pg_db(migrated_pg_url: str) -> AsyncIterator[tuple[Config, Staff]]:
    base = matters_config(Config.model_validate({"database": {"url": migrated_pg_url}}))
    await db.init(base, check_schema=False)
    try:
        yield base, await create_staff()
    finally:
        await db.close()


@pytest.mark.postgres
@pytest.mark.slow
async def test_three_scheduler_processes_open_one_task_for_twelve_orders_on_one_matter(
    pg_db: tuple[Config, Staff], migrated_pg_url: str, tmp_path: Path
) -> None:
    config, staff = pg_db
    await moderator()
    start = (datetime.now(UTC) - timedelta(days=13)).astimezone(SHANGHAI).replace(tzinfo=None)
    assert await import_orders(config, orders_csv(tmp_path / "o.csv", 12, start)) == 12
    config_file = worker_config(tmp_path / "worker.toml", migrated_pg_url)
    logs = [tmp_path / f"w{n}.log" for n in range(3)]
    procs = [await gongkai(config_file, log, "run", "--role", "worker") for log in logs]
    try:

        async def ran() -> JobSlot | None:
            return await JobSlot.filter(job="matters.tasks", finished_at__not_isnull=True).first()

        slot = await wait_until(ran, 90, "the weekly scan to run in one process")
        await asyncio.sleep(2)  # every process ticks a few more times meanwhile
        for proc, log in zip(procs, logs, strict=True):
            assert proc.returncode is None, log.read_text()
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.terminate()
        for proc in procs:
            await asyncio.wait_for(proc.wait(), 30)

    for log in logs:  # each process's scheduler ticked the scan, and found the week taken
        assert log.read_text().count('Running job "matters.tasks') >= 2
        assert "Traceback" not in log.read_text()
    assert await JobSlot.filter(job="matters.tasks").count() == 1
    assert slot.result["opened"] and "error" not in slot.result
    [task] = await MatterTask.all()
    assert task.matter == "kaiban" and task.opened_by == "system:matters"
    assert task.reasons == ["complaints"] and task.figures["complaints"] == 12
    assert await MatterTaskComment.filter(task_id=task.id).count() == 12

    draft = await lifecycle.create_item(
        ItemCreate.model_validate(
            {"kind": "notice", "title": "关于企业开办提速的专项回应", "body": "正文"}
        ),
        staff.editor,
        config,
    )
    with pytest.raises(ResponseNotPublished):
        await close_task(task.id, staff.editor, item_id=draft.id, note="一次告知")
    assert (await MatterTask.get(id=task.id)).status == "open"
    item = await publish(config, staff, title="关于企业开办一次告知的专项回应")
    closed = await close_task(task.id, staff.editor, item_id=item.id, note="一次告知")
    assert closed.status == "closed" and closed.response_item_id == item.id
