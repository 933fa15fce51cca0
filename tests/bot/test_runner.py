"""`gongkai run --role worker` as its own process: it wakes when another process approves an
item (PostgreSQL NOTIFY, or the SQLite file watch) instead of polling, and stops cleanly on
SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bot import db, lifecycle
from bot.models import Item, WorkerHeartbeat
from bot.schemas import ItemCreate
from tests.conftest import create_staff, make_config

ROOT = Path(__file__).resolve().parents[2]


def worker_config(path: Path, db_url: str) -> Path:
    # The sweep is an hour: only a wake-up can make the worker publish within the test.
    path.write_text(
        f"""
[database]
url = "{db_url}"

[dispatcher]
sweep_interval_seconds = 3600
heartbeat_seconds = 0.2
shutdown_grace_seconds = 5
""",
        encoding="utf-8",
    )
    return path


@pytest.mark.slow
async def test_worker_process_wakes_on_approval_from_another_process_and_stops_on_sigterm(
    backend_url: str, tmp_path: Path
) -> None:
    config = make_config(backend_url)
    await db.init(config, check_schema=False)
    await db.upgrade()
    staff = await create_staff()
    config_file = worker_config(tmp_path / "c.toml", backend_url)
    log = (tmp_path / "worker.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "--config",
        str(config_file),
        "run",
        "--role",
        "worker",
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        for _ in range(200):  # the worker is up once it has written a heartbeat
            if await WorkerHeartbeat.exists():
                break
            assert proc.returncode is None, (tmp_path / "worker.log").read_text()
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # and has gone to sleep with nothing due
        data = ItemCreate.model_validate(
            {"kind": "notice", "title": "关于网站改版的通知", "body": "正文", "office": "办公室"}
        )
        item = await lifecycle.create_item(data, staff.editor, config)
        await lifecycle.submit(item.id, staff.editor, config)
        await lifecycle.approve(item.id, staff.reviewer, config)
        for _ in range(200):
            if (await Item.get(id=item.id)).status == "published":
                break
            await asyncio.sleep(0.05)
        assert (await Item.get(id=item.id)).status == "published"

        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
        assert "stopping" in (tmp_path / "worker.log").read_text()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        log.close()
        await db.close()
