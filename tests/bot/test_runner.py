"""`gongkai run --role worker` as its own process: it wakes when another process approves an
item (PostgreSQL NOTIFY, or the SQLite file watch) instead of polling, and stops cleanly on
SIGTERM."""

from __future__ import annotations

import asyncio
import select
import signal
import socket
import time
from pathlib import Path

import pytest

from bot import db
from bot.items import lifecycle
from bot.items.schemas import ItemCreate
from bot.models import Item, WorkerHeartbeat
from tests.conftest import create_staff, free_port, make_config
from tests.processes import gongkai

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
    proc = await gongkai(config_file, tmp_path / "worker.log", "run", "--role", "worker")
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
        await db.close()


def _handshakes_completed(port: int, count: int, wait: float) -> int:
    """Open `count` connections at once and count those the kernel completes within `wait`
    seconds: with the server stopped, only as many as its listen queue holds (a SYN beyond it
    is dropped, and retried by the client only after a second)."""
    pending = []
    for _ in range(count):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        pending.append(s)
    done = 0
    deadline = time.monotonic() + wait
    try:
        while pending and time.monotonic() < deadline:
            _, writable, _ = select.select([], pending, [], max(0.0, deadline - time.monotonic()))
            for s in writable:
                if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                    done += 1
                pending.remove(s)
                s.close()
    finally:
        for s in pending:
            s.close()
    return done


@pytest.mark.slow
async def test_web_process_queues_a_burst_of_new_connections_up_to_web_backlog(
    tmp_path: Path,
) -> None:
    # A burst of WeChat callbacks on new connections while the process is busy: aiohttp's
    # default queue of 128 dropped the rest, and each dropped client waited a second to retry.
    port = free_port()
    db_url = f"sqlite://{tmp_path}/g.db"
    config = make_config(db_url)
    await db.init(config, check_schema=False)
    await db.upgrade()
    await db.close()
    config_file = tmp_path / "c.toml"
    config_file.write_text(
        f'[database]\nurl = "{db_url}"\n\n[web]\nport = {port}\nbacklog = 1024\n',
        encoding="utf-8",
    )
    proc = await gongkai(config_file, tmp_path / "web.log", "run", "--role", "web")
    try:
        for _ in range(300):  # up once it accepts a connection
            assert proc.returncode is None, (tmp_path / "web.log").read_text()
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            await asyncio.sleep(0.05)
        proc.send_signal(signal.SIGSTOP)  # it accepts nothing now: the kernel's queue holds them
        try:
            completed = _handshakes_completed(port, 400, wait=0.5)
        finally:
            proc.send_signal(signal.SIGCONT)
        assert completed == 400
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
