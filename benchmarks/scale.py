"""Scale-out benchmark: several `gongkai run --role worker` processes on one PostgreSQL outbox,
each channel call taking 50 ms (the webhook receiver in its own process, --latency-ms).

- throughput: for 1, 2 and 4 worker processes, N deliveries written at once, drained; prints
  deliveries/s and the speed-up over one worker (target from 1 to 4: ≥ 2.5×, the work being
  waiting, not computing);
- steady: items approved through bot.items.lifecycle in this process at 200/s (as the web process
  would) while the workers run; prints the approve→published percentiles.

Run: python benchmarks/scale.py --pg-url postgres://postgres@127.0.0.1:5432/postgres
     [--redis-url redis://127.0.0.1:6379/0]   (see benchmarks/README.md)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from dispatch import (
    SECRET,
    SECRET_ENV,
    cpu_seconds,
    database,
    latency_lines,
    make_staff,
    percentile,
    received_count,
    receiver,
    report,
    submitted_items,
    wait_drained,
)

from bot import db, users
from bot.config import Config, load_config
from bot.items import lifecycle
from bot.models import Delivery, ItemVersion, User, WorkerHeartbeat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.seeding import approved_notice, next_item_id, store_approved  # noqa: E402

GONGKAI = [sys.executable, "-m", "bot.cli.main"]


def env() -> dict[str, str]:
    return {
        **os.environ,
        SECRET_ENV: SECRET,
        "GONGKAI_AUTHOR_KEY": "bench-author-key",
        "GONGKAI_AUDIT_KEY": "bench-audit-key-0123456789abcdefghijklmn",
    }


def write_config(path: Path, db_url: str, push_url: str, args: argparse.Namespace) -> Path:
    redis = ""
    if args.redis_url:
        prefix = f"gk-bench-{uuid.uuid4().hex[:8]}:"
        redis = f'[redis]\nurl = "{args.redis_url}"\nkey_prefix = "{prefix}"\n'
    path.write_text(
        f"""
[database]
url = "{db_url}"

[log]
level = "WARNING"

[review]
check_links = false

[dispatcher]
sweep_interval_seconds = 1
heartbeat_seconds = 0.5
batch_size = {args.batch_size}

[channels.feed]
enabled = false

[channels.webhook]
enabled = true
url = "{push_url}"
secret_env = "{SECRET_ENV}"
concurrency = {args.concurrency}
rate_per_second = 100000

{redis}""",
        encoding="utf-8",
    )
    return path


def start_workers(config_path: Path, n: int, log_dir: Path) -> list[subprocess.Popen[bytes]]:
    procs = []
    for i in range(n):
        with (log_dir / f"worker{i}.log").open("ab") as out:
            procs.append(
                subprocess.Popen(
                    [*GONGKAI, "--config", str(config_path), "run", "--role", "worker"],
                    cwd=ROOT,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=env(),
                )
            )
    return procs


async def wait_up(procs: list[subprocess.Popen[bytes]]) -> None:
    ids = [f"{socket.gethostname()}:{p.pid}" for p in procs]
    deadline = time.monotonic() + 60
    while await WorkerHeartbeat.filter(worker_id__in=ids).count() < len(ids):
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            raise SystemExit("a worker did not start; see its log")
        await asyncio.sleep(0.1)


async def stop_workers(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        await asyncio.to_thread(p.wait, 30)


async def seed(n: int) -> list[int]:
    """n approved notices with a pending webhook delivery each, written in bulk."""
    now = datetime.now(UTC)
    author = await User.create(username=f"bench-{uuid.uuid4().hex[:8]}", roles=["editor"])
    start = await next_item_id()
    items = [approved_notice(i, author, ["webhook"], now) for i in range(start, start + n)]
    await store_approved(items, now, wake=False)  # the caller times from its own NOTIFY
    return [it.id for it in items]


async def history(n: int) -> None:
    """n finished deliveries and fresh planner statistics, as in a database that has been in
    use. On a never-analyzed, empty outbox PostgreSQL's generic plan for the claim (a prepared
    statement) ignores its LIMIT and one worker claims every row (see README)."""
    ids = await seed(n)
    await Delivery.filter(item_id__in=ids).update(status="done", finished_at=datetime.now(UTC))
    await db.connection().execute_script("ANALYZE")


async def wait_idle(procs: list[subprocess.Popen[bytes]], limit_s: float = 60) -> float:
    """Wait until every worker has finished starting (the heartbeat comes before the inbox
    side loads its dictionaries and knowledge base, a second or more of CPU each): each uses
    under 5% of a core over half a second. Returns the highest share seen in that window."""
    deadline = time.monotonic() + limit_s
    while True:
        before = [cpu_seconds(p.pid) for p in procs]
        await asyncio.sleep(0.5)
        shares = [(cpu_seconds(p.pid) - b) / 0.5 for p, b in zip(procs, before, strict=True)]
        if max(shares) < 0.05:
            return max(shares)
        if time.monotonic() > deadline:
            raise SystemExit(f"the workers did not settle: {shares}")


async def throughput(
    config_path: Path, n_workers: int, n: int, push_url: str, log_dir: Path
) -> float:
    procs = start_workers(config_path, n_workers, log_dir)
    try:
        await wait_up(procs)
        idle = await wait_idle(procs)
        before = received_count(push_url)
        ids = await seed(n)
        cpu_before = sum(cpu_seconds(p.pid) for p in procs)
        t = datetime.now(UTC)
        await db.connection().execute_query("NOTIFY gongkai_outbox")
        elapsed = (await wait_drained(ids, limit_s=600) - t).total_seconds()
        # What the workers spent, a figure that other load on the machine hardly moves
        cpu = sum(cpu_seconds(p.pid) for p in procs) - cpu_before
    finally:
        await stop_workers(procs)
    done = await Delivery.filter(item_id__in=ids, status="done").count()
    if done != n:
        raise SystemExit(f"{n - done} deliveries did not finish done")
    received = received_count(push_url) - before
    rate = n / elapsed
    report(
        f"throughput: {n_workers} worker(s), {n} deliveries at 50 ms each",
        {
            "drained in": f"{elapsed:.2f} s",
            "dispatch rate": f"{rate:.0f} deliveries/s",
            "pushes received": str(received),
            "worker CPU": f"{1000 * cpu / n:.2f} ms per delivery",
            "idle worker CPU before": f"{100 * idle:.1f}% of a core at most",
        },
    )
    return rate


async def steady(
    config: Config, config_path: Path, n_workers: int, args: argparse.Namespace, log_dir: Path
) -> None:
    staff = await make_staff()
    n = int(args.rate * args.seconds)
    ids = await submitted_items(config, staff, n, "稳态")
    procs = start_workers(config_path, n_workers, log_dir)
    try:
        await wait_up(procs)
        await wait_idle(procs)
        # Approvals come from --approvers processes (as from several web processes): one
        # process approving tops out below 200/s on this machine. Each takes every k-th item
        # on the common schedule, open loop: started on time whatever earlier ones do.
        start_at = time.time() + 5  # once every approver has started and connected
        approvers = [
            start_approver(
                config_path,
                ids[k :: args.approvers],
                args.rate / args.approvers,
                start_at + k / args.rate,
            )
            for k in range(args.approvers)
        ]
        outputs = [await asyncio.to_thread(p.communicate) for p in approvers]
        if any(p.returncode for p in approvers):
            raise SystemExit("an approver failed")
        behind = sum(int(out.split()[-1]) for out, _ in outputs)
        await wait_drained(ids, limit_s=300)
    finally:
        await stop_workers(procs)
    approved = {
        r["item_id"]: r["approved_at"]
        for r in await ItemVersion.filter(item_id__in=ids).values("item_id", "approved_at")
    }
    approving = (max(approved.values()) - min(approved.values())).total_seconds()
    rows = await Delivery.filter(item_id__in=ids).values("item_id", "status", "finished_at")
    if any(r["status"] != "done" for r in rows):
        raise SystemExit("some deliveries did not finish done")
    finished: dict[int, datetime] = {}
    for r in rows:
        finished[r["item_id"]] = max(r["finished_at"], finished.get(r["item_id"], r["finished_at"]))
    lat = [(finished[i] - approved[i]).total_seconds() for i in ids]
    report(
        f"steady: {n} approvals at {args.rate:.0f}/s from {args.approvers} processes, "
        f"{n_workers} worker(s), 50 ms per call",
        {
            "approvals achieved": f"{(n - 1) / approving:.0f}/s "
            f"({behind} started over 100 ms late)",
            **latency_lines(lat),
            "p99 < 1000 ms": "met" if percentile(lat, 99) < 1 else "MISSED",
        },
    )


def start_approver(
    config_path: Path, ids: list[int], rate: float, start_at: float
) -> subprocess.Popen[bytes]:
    args = ["--approve", ",".join(map(str, ids)), "--config", str(config_path)]
    args += ["--rate", str(rate), "--start-at", str(start_at)]
    return subprocess.Popen(
        [sys.executable, __file__, *args], cwd=ROOT, env=env(), stdout=subprocess.PIPE
    )


async def approve_share(args: argparse.Namespace) -> None:
    """An approver process: approve these items on schedule (at most 64 at once), then print
    how many started over 100 ms late."""
    config = load_config(Path(args.config), environ=env())
    await db.init(config)
    try:
        reviewer = await users.actor_for_user("bench-reviewer")
        ids = [int(i) for i in args.approve.split(",") if i]
        gate = asyncio.Semaphore(64)

        async def approve(item_id: int) -> None:
            async with gate:
                # Commits the outbox rows and NOTIFYs the workers, as in a web process.
                await lifecycle.approve(item_id, reviewer, config)

        behind, tasks = 0, []
        start = time.perf_counter() + (args.start_at - time.time())
        for i, item_id in enumerate(ids):
            delay = start + i / args.rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -0.1:
                behind += 1
            tasks.append(asyncio.create_task(approve(item_id)))
        await asyncio.gather(*tasks)
        print("behind", behind)
    finally:
        await db.close()


async def main(args: argparse.Namespace) -> None:
    with (
        tempfile.TemporaryDirectory(prefix="gk-scale-") as tmp,
        receiver(args.latency_ms) as push_url,
    ):
        log_dir = Path(tmp)
        async with database("postgres", args.pg_url) as db_url:
            config_path = write_config(log_dir / "config.toml", db_url, push_url, args)
            upgrade = [*GONGKAI, "--config", str(config_path), "db", "upgrade"]
            await asyncio.to_thread(
                subprocess.run, upgrade, cwd=ROOT, env=env(), check=True, capture_output=True
            )
            config = load_config(config_path, environ=env())
            await db.init(config)
            try:
                print(
                    f"PostgreSQL; webhook at 50 ms, concurrency {args.concurrency} per worker, "
                    f"batch {args.batch_size}; shared state: "
                    + ("Redis" if args.redis_url else "database")
                )
                if args.history:
                    await history(args.history)
                rates = {}
                if args.mode in ("throughput", "both"):
                    for n_workers in args.workers:
                        rates[n_workers] = await throughput(
                            config_path, n_workers, args.deliveries, push_url, log_dir
                        )
                    first, last = args.workers[0], args.workers[-1]
                    speedup = rates[last] / rates[first]
                    report(
                        "speed-up",
                        {
                            f"{first} → {last} workers": f"{speedup:.2f}×",
                            "target ≥ 2.5×": "met" if speedup >= 2.5 else "MISSED",
                        },
                    )
                if args.mode in ("steady", "both"):
                    await steady(config, config_path, args.steady_workers, args, log_dir)
            finally:
                await db.close()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis-url", default="", help="share token and limits through Redis")
    parser.add_argument("--mode", choices=["throughput", "steady", "both"], default="both")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8, help="webhook calls per worker")
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--rate", type=float, default=200, help="approvals/s in the steady run")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--latency-ms", type=float, default=50, help="each channel call")
    parser.add_argument("--history", type=int, default=5000, help="finished rows first")
    parser.add_argument("--steady-workers", type=int, default=2)
    parser.add_argument("--approvers", type=int, default=2, help="approving processes")
    # An approver process's own arguments (steady() starts them)
    parser.add_argument("--approve", default="", help=argparse.SUPPRESS)
    parser.add_argument("--config", default="", help=argparse.SUPPRESS)
    parser.add_argument("--start-at", type=float, default=0, help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse_args()
    asyncio.run(approve_share(arguments) if arguments.approve else main(arguments))
