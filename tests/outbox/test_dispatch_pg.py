"""Two dispatcher processes racing over one outbox: every delivery reaches the receiver exactly
once, and both workers take part. PostgreSQL (FOR UPDATE SKIP LOCKED) with 1,000 deliveries;
SQLite (compare-and-set UPDATE) with 200.

The receiver is the webhook simulator in its own process; duplicates and losses are counted on
the receiving side (its ledger), not by asking the dispatcher. The process helpers here are
also used by tests/outbox/test_crash.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot import audit, db
from bot.config import Config, load_config
from bot.models import AuditEvent, Delivery, Item, User, WorkerHeartbeat
from channels.sandbox import webhook
from tests.conftest import AUDIT_KEY, free_port
from tests.seeding import approved_notice, next_item_id, store_approved

ROOT = Path(__file__).resolve().parents[2]
SECRET_ENV = "GONGKAI_TEST_RACE_WEBHOOK_SECRET"
SECRET = "race-secret"


# -- processes -------------------------------------------------------------------------------
def _env() -> dict[str, str]:
    env = dict(os.environ)
    env[SECRET_ENV] = SECRET
    env["PYTHONUNBUFFERED"] = "1"
    env["GONGKAI_AUDIT_KEY"] = AUDIT_KEY
    return env


class Receiver:
    """The webhook simulator (channels/sandbox/webhook.py) in its own process."""

    def __init__(self, log_dir: Path, latency_ms: int = 20) -> None:
        self.port = free_port()
        self.log = (log_dir / "receiver.log").open("wb")
        try:
            self.proc = webhook.start_process(
                self.port, latency_ms, SECRET, output=self.log, env=_env()
            )
        except RuntimeError:
            self.log.close()
            raise

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/push"

    def ledger(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/_ledger", timeout=5) as resp:
            return list(json.load(resp)["received"])

    def stop(self) -> None:
        stop_process(self.proc)
        self.log.close()


def stop_process(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def receiver(log_dir: Path, latency_ms: int = 20) -> Iterator[Receiver]:
    r = Receiver(log_dir, latency_ms)
    try:
        yield r
    finally:
        r.stop()


def write_config(
    path: Path,
    db_url: str,
    webhook_url: str,
    *,
    lease_seconds: float = 60,
    concurrency: int = 8,
    rate_per_second: float = 100000,
) -> Path:
    """A config.toml with only the webhook channel, short sleeps and a fast heartbeat."""
    path.write_text(
        f"""
[database]
url = "{db_url}"

[dispatcher]
lease_seconds = {lease_seconds}
sweep_interval_seconds = 1
heartbeat_seconds = 0.2
shutdown_grace_seconds = 5
backoff_base_seconds = 0.2
backoff_max_seconds = 1

[channels.feed]
enabled = false

[channels.webhook]
enabled = true
url = "{webhook_url}"
secret_env = "{SECRET_ENV}"
concurrency = {concurrency}
rate_per_second = {rate_per_second}
""",
        encoding="utf-8",
    )
    return path


def gongkai(config_path: Path, *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "bot.cli.main", "--config", str(config_path), *args],
        cwd=ROOT,
        env=_env(),
        check=True,
        capture_output=True,
        timeout=120,
    )


def start_worker(config_path: Path, log: Path) -> subprocess.Popen[bytes]:
    """`gongkai --config FILE run --role worker` as its own process."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bot.cli.main",
                "--config",
                str(config_path),
                "run",
                "--role",
                "worker",
            ],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=_env(),
        )


def worker_id(proc: subprocess.Popen[bytes]) -> str:
    return f"{socket.gethostname()}:{proc.pid}"


def load_test_config(config_path: Path) -> Config:
    return load_config(config_path, environ={SECRET_ENV: SECRET, "GONGKAI_AUDIT_KEY": AUDIT_KEY})


# -- outbox rows -----------------------------------------------------------------------------
async def seed_deliveries(n: int, channel: str = "webhook") -> set[str]:
    """n approved notices with one pending publish delivery each, written directly (fast);
    returns the idempotency keys the dispatcher will send."""
    now = datetime.now(UTC)
    author = await User.create(username="race-editor", roles=["editor"])
    start = await next_item_id()
    items = [approved_notice(i, author, [channel], now) for i in range(start, start + n)]
    await store_approved(items, now)
    return {f"gongkai-{it.id}-v1-{channel}-publish" for it in items}


async def wait_for(
    predicate: Any, limit_s: float, what: str, procs: tuple[subprocess.Popen[bytes], ...] = ()
) -> None:
    deadline = time.monotonic() + limit_s
    while not await predicate():
        for p in procs:
            if p.poll() is not None:
                raise AssertionError(
                    f"worker {p.pid} exited with {p.returncode} while waiting for {what}"
                )
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {limit_s}s waiting for {what}")
        await asyncio.sleep(0.1)


async def all_finished() -> bool:
    return not await Delivery.filter(status__in=["pending", "running"]).exists()


# -- the race --------------------------------------------------------------------------------
async def race(tmp_path: Path, db_url: str, n: int) -> None:
    try:
        await _race(tmp_path, db_url, n)
    finally:
        await db.close()


async def _race(tmp_path: Path, db_url: str, n: int) -> None:
    with receiver(tmp_path) as recv:
        config_path = write_config(tmp_path / "config.toml", db_url, recv.url)
        gongkai(config_path, "db", "upgrade")
        await db.init(load_test_config(config_path))
        workers = [start_worker(config_path, tmp_path / f"worker{i}.log") for i in (1, 2)]
        try:
            ids = [worker_id(w) for w in workers]

            async def both_up() -> bool:
                return await WorkerHeartbeat.filter(worker_id__in=ids).count() == 2

            # Both are claiming before the first row appears, so the race is a real one.
            await wait_for(both_up, 60, "both workers' first heartbeat", tuple(workers))
            keys = await seed_deliveries(n)
            await wait_for(all_finished, 120, "every delivery to finish", tuple(workers))

            async def both_consumed() -> bool:
                return (
                    await WorkerHeartbeat.filter(
                        worker_id__in=ids, consumed_at__isnull=False
                    ).count()
                    == 2
                )

            # consumed_at is set only by a worker that ran a delivery it had claimed.
            await wait_for(both_consumed, 10, "both workers to report consuming", tuple(workers))
        finally:
            for w in workers:
                stop_process(w)
        for i, w in enumerate(workers, 1):
            log = (tmp_path / f"worker{i}.log").read_text(errors="replace")
            assert w.returncode == 0, log[-3000:]

        # The receiving side: every key exactly once, none lost, nothing else.
        received = Counter(r["key"] for r in recv.ledger())
        duplicates = {k: c for k, c in received.items() if c > 1}
        assert duplicates == {}
        assert set(received) == keys
        assert sum(received.values()) == n

    # The database: all done, each claimed exactly once (a claim adds one attempt), and each
    # finished once in the audit log, whose hash chain survived two concurrent appenders.
    rows = await Delivery.all().values("id", "status", "attempts", "remote_id")
    assert len(rows) == n
    assert Counter(r["status"] for r in rows) == {"done": n}
    assert sum(r["attempts"] for r in rows) == n
    assert len({r["remote_id"] for r in rows}) == n
    done_events = Counter(
        await AuditEvent.filter(action="delivery.done").values_list("target_id", flat=True)
    )
    assert len(done_events) == n and set(done_events.values()) == {1}
    assert await Item.filter(status="published").count() == n
    assert (await audit.verify()).ok


@pytest.mark.postgres
@pytest.mark.slow
async def test_two_worker_processes_on_postgres_deliver_1000_each_exactly_once(
    tmp_path: Path, migrated_pg_url: str
) -> None:
    await race(tmp_path, migrated_pg_url, 1000)


@pytest.mark.slow
async def test_two_worker_processes_on_sqlite_never_claim_the_same_delivery_twice(
    tmp_path: Path,
) -> None:
    await race(tmp_path, f"sqlite://{tmp_path}/race.db", 200)
