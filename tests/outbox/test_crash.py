"""Crash safety: a dispatcher worker killed with SIGKILL at random moments and restarted, ten
times, still delivers every item exactly once, counted on the receiving side.

The receiver runs in its own process with 20 ms latency, and the worker is rate limited, so
kills land while deliveries are claimed, checkpointed, in flight or being finished. Leases are
short (2 s) so each restarted worker takes over what the killed one held.
"""

from __future__ import annotations

import asyncio
import random
import signal
from collections import Counter
from pathlib import Path

import pytest

from bot import db
from bot.models import Delivery, WorkerHeartbeat
from tests.outbox.test_dispatch_pg import (
    all_finished,
    gongkai,
    load_test_config,
    receiver,
    seed_deliveries,
    start_worker,
    stop_process,
    wait_for,
    worker_id,
    write_config,
)

N = 200
KILLS = 10


@pytest.mark.slow
async def test_worker_killed_ten_times_still_delivers_each_item_exactly_once(
    tmp_path: Path,
) -> None:
    rng = random.Random()
    log = tmp_path / "worker.log"
    with receiver(tmp_path, latency_ms=20) as recv:
        # 4 at a time, 10 a second (a fresh worker starts with a burst of 10): about 20 s of
        # work, so all ten kills land mid-stream.
        config_path = write_config(
            tmp_path / "config.toml",
            f"sqlite://{tmp_path}/crash.db",
            recv.url,
            lease_seconds=2,
            concurrency=4,
            rate_per_second=10,
        )
        gongkai(config_path, "db", "upgrade")
        await db.init(load_test_config(config_path))
        try:
            keys = await seed_deliveries(N)
            for _ in range(KILLS):
                worker = start_worker(config_path, log)
                try:
                    wid = worker_id(worker)

                    async def holding(wid: str = wid) -> bool:
                        return await Delivery.filter(status="running", lease_owner=wid).exists()

                    await wait_for(holding, 30, "the worker to claim a delivery", (worker,))
                    await asyncio.sleep(rng.uniform(0.0, 0.6))
                finally:
                    stop_process(worker, signal.SIGKILL)
                assert worker.returncode == -signal.SIGKILL

            taken_over = await Delivery.filter(status__in=["pending", "running"]).count()
            assert taken_over > 0, "every delivery finished before the last kill"
            final = start_worker(config_path, log)
            try:
                await wait_for(all_finished, 60, "every delivery to finish", (final,))
            finally:
                stop_process(final, signal.SIGTERM)
            assert final.returncode == 0, log.read_text(errors="replace")[-3000:]

            received = Counter(r["key"] for r in recv.ledger())
            assert {k: c for k, c in received.items() if c > 1} == {}
            assert set(received) == keys
            rows = await Delivery.all().values("status", "attempts")
            assert Counter(r["status"] for r in rows) == {"done": N}
            # Leases held by killed workers were taken over (a takeover is a second claim).
            assert any(r["attempts"] > 1 for r in rows)
            assert await WorkerHeartbeat.all().count() == KILLS + 1
        finally:
            await db.close()
