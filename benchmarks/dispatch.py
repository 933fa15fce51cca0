"""Dispatch benchmark: how fast approved items reach every channel.

Two measurements, both with items approved through bot.items.lifecycle and delivered to the feed
channel and to the webhook channel, which points at the sandbox receiver (its own process,
20 ms latency per push):

- throughput: N items approved first, then a dispatcher drains the outbox; prints deliveries/s
  and the approve→published latency (which here is mostly queueing time);
- steady: a dispatcher running while items are approved at a steady rate (100/s by default);
  prints the approve→published latency percentiles (target: p99 < 1 s).

Run: python benchmarks/dispatch.py --db sqlite --items 2000   (see benchmarks/README.md)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import socket
import tempfile
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from bot import db, users
from bot.actors import Actor
from bot.config import Config, PasswordConfig, parse_config
from bot.items import lifecycle
from bot.items.schemas import ItemCreate
from bot.models import Delivery, ItemVersion
from bot.outbox.channel_set import build_channels
from bot.outbox.dispatcher import Dispatcher
from bot.outbox.wakeup import Wakeup
from channels.sandbox import webhook

SECRET_ENV = "GONGKAI_BENCH_WEBHOOK_SECRET"
SECRET = "bench-secret"


@dataclass
class Staff:
    editor: Actor
    reviewer: Actor


# -- setup -----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc); 0 once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def receiver(latency_ms: float) -> Iterator[str]:
    """The webhook sandbox receiver in its own process; yields its push URL."""
    port = free_port()
    try:
        proc = webhook.start_process(port, latency_ms, SECRET)
    except RuntimeError as exc:
        raise SystemExit(str(exc)) from None
    try:
        yield f"http://127.0.0.1:{port}/push"
    finally:
        proc.terminate()
        proc.wait(10)


def received_count(push_url: str) -> int:
    with urllib.request.urlopen(push_url.removesuffix("/push") + "/_ledger", timeout=10) as r:
        return len(json.load(r)["received"])


@contextlib.asynccontextmanager
async def database(kind: str, pg_url: str) -> AsyncIterator[str]:
    """A fresh database URL: a SQLite file in a temporary folder, or a throwaway PostgreSQL
    database created next to the one pg_url names."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="gk-bench-") as tmp:
            yield f"sqlite://{tmp}/bench.db"
        return
    name = f"gk_bench_{uuid.uuid4().hex[:10]}"
    admin_url = pg_url.replace("postgres://", "postgresql://", 1)
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield urlunsplit(urlsplit(pg_url)._replace(path=f"/{name}"))
    finally:
        admin = await asyncpg.connect(admin_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


AUDIT = "bench-audit-key-0123456789abcdefghijklmn"


def bench_config(db_url: str, push_url: str, args: argparse.Namespace) -> Config:
    return parse_config(
        {
            "database": {"url": db_url},
            "dispatcher": {
                "batch_size": args.batch_size,
                "sweep_interval_seconds": 1,
                "heartbeat_seconds": 5,
            },
            "channels": {
                "feed": {"enabled": True, "concurrency": args.feed_concurrency},
                "webhook": {
                    "enabled": True,
                    "url": push_url,
                    "secret_env": SECRET_ENV,
                    "concurrency": args.webhook_concurrency,
                    "rate_per_second": 100000,
                },
            },
        },
        "benchmark",
        # The audit chain keyed, as `gongkai run` requires (--unkeyed-audit: as before keying)
        environ={
            SECRET_ENV: SECRET,
            **({} if args.unkeyed_audit else {"GONGKAI_AUDIT_KEY": AUDIT}),
        },
    )


NO_LOGIN = {"policy": PasswordConfig(), "must_change": False}


async def make_staff() -> Staff:
    # No passwords: these accounts act through the lifecycle and never log in.
    await users.add_user(
        "bench-editor", ["editor"], None, "system:bench", office="办公室", **NO_LOGIN
    )
    await users.add_user("bench-reviewer", ["reviewer"], None, "system:bench", **NO_LOGIN)
    return Staff(
        await users.actor_for_user("bench-editor"), await users.actor_for_user("bench-reviewer")
    )


async def submitted_items(config: Config, staff: Staff, n: int, tag: str) -> list[int]:
    """n notices created and submitted (pre-review passed), waiting for approval."""
    ids = []
    for i in range(n):
        data = ItemCreate.model_validate(
            {
                "kind": "notice",
                "title": f"关于{tag}第{i + 1}号事项的通知",
                "office": "办公室",
                "summary": "基准测试用通知。",
                "body": f"第{i + 1}号事项：办事大厅周六上午开放。",
            }
        )
        item = await lifecycle.create_item(data, staff.editor, config)
        outcome = await lifecycle.submit(item.id, staff.editor, config)
        if outcome.item.status != "in_review":
            raise SystemExit(f"item {item.id} did not pass pre-review: {outcome.findings}")
        ids.append(item.id)
    return ids


# -- measuring -------------------------------------------------------------------------------
def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


async def open_count(ids: list[int]) -> int:
    return await Delivery.filter(item_id__in=ids, status__in=["pending", "running"]).count()


async def wait_drained(ids: list[int], limit_s: float) -> datetime:
    """Wait until none of the items' deliveries is pending or running; returns when the last
    one finished. The poll is cheap and slow (a count every 0.25 s) so the benchmark takes
    little of the CPU it measures, and the time comes from the rows, not from the poll."""
    deadline = time.monotonic() + limit_s
    while await Delivery.filter(status__in=["pending", "running"]).exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"not drained after {limit_s}s: {await open_count(ids)} open")
        await asyncio.sleep(0.25)
    if await open_count(ids):
        raise SystemExit("deliveries of the run are still open")
    last = await Delivery.filter(item_id__in=ids).order_by("-finished_at").first()
    assert last is not None and last.finished_at is not None
    return last.finished_at


async def latencies(ids: list[int]) -> list[float]:
    """Seconds from approval to the item's last channel finishing, per item."""
    approved: dict[int, datetime] = {
        r["item_id"]: r["approved_at"]
        for r in await ItemVersion.filter(item_id__in=ids).values("item_id", "approved_at")
    }
    finished: dict[int, datetime] = {}
    rows = await Delivery.filter(item_id__in=ids).values("item_id", "status", "finished_at")
    bad = [r for r in rows if r["status"] != "done"]
    if bad:
        raise SystemExit(f"{len(bad)} deliveries did not finish done, e.g. {bad[0]}")
    for r in rows:
        at = r["finished_at"]
        finished[r["item_id"]] = max(at, finished.get(r["item_id"], at))
    return [(finished[i] - approved[i]).total_seconds() for i in ids]


def report(title: str, lines: dict[str, str]) -> None:
    print(f"\n{title}")
    for key, value in lines.items():
        print(f"  {key:<28}{value}")


def latency_lines(lat: list[float]) -> dict[str, str]:
    return {
        "approve→published p50": f"{percentile(lat, 50) * 1000:.0f} ms",
        "approve→published p99": f"{percentile(lat, 99) * 1000:.0f} ms",
        "approve→published max": f"{max(lat) * 1000:.0f} ms",
    }


async def outcome_lines(
    ids: list[int], push_url: str, before: int
) -> tuple[list[float], dict[str, str]]:
    """What every run reports once drained: the pushes the receiver counted since `before`,
    and the approve→published latencies (returned too, for a run's own verdict)."""
    lat = await latencies(ids)
    return lat, {
        "webhook pushes received": str(received_count(push_url) - before),
        **latency_lines(lat),
    }


@contextlib.asynccontextmanager
async def dispatching(config: Config, wakeup: Wakeup, owner: str) -> AsyncIterator[None]:
    """A dispatcher running in this process for the body of the with block."""
    dispatcher = Dispatcher(config, build_channels(config), wakeup, owner=owner)
    await dispatcher.start()
    try:
        yield
    finally:
        await dispatcher.stop(grace=5)


async def throughput(config: Config, staff: Staff, n: int, push_url: str) -> None:
    t = time.perf_counter()
    ids = await submitted_items(config, staff, n, "吞吐")
    prepared = time.perf_counter() - t
    t = time.perf_counter()
    for item_id in ids:
        await lifecycle.approve(item_id, staff.reviewer, config)
    approving = time.perf_counter() - t
    deliveries = await Delivery.filter(item_id__in=ids).count()
    before = received_count(push_url)
    t = datetime.now(UTC)
    async with dispatching(config, Wakeup(), "bench:throughput"):
        elapsed = (await wait_drained(ids, limit_s=max(120.0, n / 10)) - t).total_seconds()
    _, outcome = await outcome_lines(ids, push_url, before)
    report(
        f"throughput: {n} items × 2 channels (feed + webhook at 20 ms), backlog drained",
        {
            "items created+submitted": f"{n / prepared:.0f} items/s",
            "approvals": f"{n / approving:.0f} approvals/s",
            "deliveries": f"{deliveries} in {elapsed:.2f} s",
            "dispatch rate": f"{deliveries / elapsed:.0f} deliveries/s",
            **outcome,
        },
    )


async def steady(config: Config, staff: Staff, rate: float, seconds: float, push_url: str) -> None:
    n = int(rate * seconds)
    ids = await submitted_items(config, staff, n, "稳态")
    wakeup = Wakeup()
    before = received_count(push_url)
    async with dispatching(config, wakeup, "bench:steady"):
        start = time.perf_counter()
        behind = 0
        for i, item_id in enumerate(ids):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -0.1:
                behind += 1
            await lifecycle.approve(item_id, staff.reviewer, config)
            wakeup.notify()  # what the web app does after an approval in the same process
        approving = time.perf_counter() - start
        await wait_drained(ids, limit_s=120)
    lat, outcome = await outcome_lines(ids, push_url, before)
    report(
        f"steady: {n} approvals at {rate:.0f}/s with the dispatcher running",
        {
            "approvals achieved": f"{n / approving:.0f}/s ({behind} over 100 ms behind schedule)",
            **outcome,
            "target": "p99 < 1000 ms: " + ("met" if percentile(lat, 99) < 1 else "MISSED"),
        },
    )


async def main(args: argparse.Namespace) -> None:
    with receiver(args.latency_ms) as push_url:
        async with database(args.db, args.pg_url) as db_url:
            config = bench_config(db_url, push_url, args)
            await db.init(config, check_schema=False)
            try:
                await db.upgrade()
                staff = await make_staff()
                print(
                    f"database: {args.db}; webhook concurrency {args.webhook_concurrency}, "
                    f"feed concurrency {args.feed_concurrency}, batch {args.batch_size}"
                )
                if args.mode in ("throughput", "both"):
                    await throughput(config, staff, args.items, push_url)
                if args.mode in ("steady", "both"):
                    await steady(config, staff, args.rate, args.seconds, push_url)
            finally:
                await db.close()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--items", type=int, default=1000, help="items in the throughput run")
    parser.add_argument("--mode", choices=["throughput", "steady", "both"], default="both")
    parser.add_argument("--rate", type=float, default=100, help="approvals/s in the steady run")
    parser.add_argument("--seconds", type=float, default=10, help="length of the steady run")
    parser.add_argument("--latency-ms", type=float, default=20, help="receiver latency")
    parser.add_argument("--webhook-concurrency", type=int, default=64)
    parser.add_argument("--feed-concurrency", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument(
        "--unkeyed-audit",
        action="store_true",
        help="write the audit chain without a key (SHA-256; on PostgreSQL the server-side append)",
    )
    parser.add_argument(
        "--pg-url",
        default="postgres://postgres@127.0.0.1:5432/postgres",
        help="a PostgreSQL server to create the throwaway database on",
    )
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
