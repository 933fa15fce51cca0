"""Several `gongkai run --role worker` processes on one PostgreSQL database, against remote
services that fail: deliveries end exactly once (or dead with their reason) and the remotes'
ledgers agree with the database; a worker killed with SIGKILL has its work finished by the
others; SIGTERM finishes or gives back in-flight work; a once-per-slot job runs once per slot.

Every test runs twice: with the shared WeChat token (and the rate limits) in the database, and
in Redis ([redis] url set). The remotes are served from the test process (their ledgers are
read directly); the workers are real processes.
"""

from __future__ import annotations

import contextlib
import itertools
import signal
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis

from bot import audit, db
from bot.config import load_config
from bot.models import AuditEvent, ChannelState, Delivery, Item, JobSlot, WorkerHeartbeat
from channels.wechat.token import TOKEN_KEY
from tests.scale import harness as h
from tests.scale.redis_support import REDIS_URL, delete_prefix, require_redis

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@dataclass
class Shared:
    """Where the workers keep shared state in this run."""

    mode: str  # "database" | "redis"
    prefix: str

    @property
    def redis_url(self) -> str:
        return REDIS_URL if self.mode == "redis" else ""

    def redis_keys(self) -> list[str]:
        client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
        try:
            return sorted(client.scan_iter(match=f"{self.prefix}*"))
        finally:
            client.close()


@pytest.fixture(params=["database", "redis"])
def shared(request: pytest.FixtureRequest) -> Iterator[Shared]:
    # Redis must answer in both modes: the database run checks it left nothing there.
    require_redis()
    prefix = f"gk-scale-{uuid.uuid4().hex[:10]}:"
    yield Shared(request.param, prefix)
    delete_prefix(prefix)


@dataclass
class Cluster:
    config_path: Path
    remotes: h.Remotes
    tmp: Path

    def start(self, n: int) -> list[h.subprocess.Popen[bytes]]:
        return [h.start_worker(self.config_path, self.tmp / f"worker{i}.log") for i in range(n)]

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:] for p in self.tmp.glob("*.log"))


@contextlib.asynccontextmanager
async def cluster(
    tmp_path: Path, pg_url: str, shared: Shared, chaos: bool = True, **options: float
) -> AsyncIterator[Cluster]:
    remotes = await h.start_remotes(chaos=chaos)
    try:
        config_path = h.write_config(
            tmp_path / "config.toml",
            pg_url,
            remotes,
            redis_url=shared.redis_url,
            redis_prefix=shared.prefix,
            **options,  # type: ignore[arg-type]
        )
        # The database is migrated already (migrated_pg_url): init refuses it otherwise.
        await db.init(load_config(config_path, environ=h.env()))
        try:
            yield Cluster(config_path, remotes, tmp_path)
        finally:
            await db.close()
    finally:
        await remotes.close()


async def all_up(workers: list[h.subprocess.Popen[bytes]]) -> None:
    ids = [h.worker_id(w) for w in workers]

    async def up() -> bool:
        return await WorkerHeartbeat.filter(worker_id__in=ids).count() == len(ids)

    await h.wait_for(up, 60, "every worker's first heartbeat", tuple(workers))


async def stop_all(workers: list[h.subprocess.Popen[bytes]], logs: str = "") -> None:
    for w in workers:
        await h.stop_process(w)
    for w in workers:
        assert w.returncode == 0, f"worker {w.pid} exited {w.returncode}\n{logs}"


async def check_remote_ledgers(remotes: h.Remotes) -> None:
    """Every done webhook and WeChat delivery is on the remote exactly once, under the remote
    id the database holds; nothing else is (a dead delivery never reached it)."""
    rows = await Delivery.filter(channel__in=["webhook", "wechat"]).values(
        "item_id", "channel", "status", "remote_id"
    )
    done = {
        h.key_of(r["item_id"], r["channel"]): r["remote_id"] for r in rows if r["status"] == "done"
    }

    received = remotes.webhook_ledger().received
    hooks = Counter(r["key"] for r in received)
    assert {k: c for k, c in hooks.items() if c > 1} == {}
    assert set(hooks) == {k for k in done if k.endswith("-webhook-publish")}
    assert all(done[r["key"]] == r["id"] for r in received)

    articles = remotes.sim.ledger.articles
    published = Counter(
        h.marker_key(a["articles"][0]["content_source_url"]) for a in articles.values()
    )
    assert {k: c for k, c in published.items() if c > 1} == {}
    assert set(published) == {k for k in done if k.endswith("-wechat-publish")}
    for article_id, article in articles.items():
        assert done[h.marker_key(article["articles"][0]["content_source_url"])] == article_id


async def check_database_consistent() -> None:
    """Each finished delivery has one audit event; items are settled; the audit chain holds."""
    rows = await Delivery.all().values("id", "status", "item_id")
    finished = Counter(
        await AuditEvent.filter(action__in=["delivery.done", "delivery.dead"]).values_list(
            "target_id", flat=True
        )
    )
    assert set(finished.values()) == {1} and len(finished) == len(rows)
    statuses: dict[int, set[str]] = {}
    for r in rows:
        statuses.setdefault(r["item_id"], set()).add(r["status"])
    items = dict(await Item.all().values_list("id", "status"))
    for item_id, seen in statuses.items():
        expected = "published" if seen == {"done"} else "partly_published"
        assert items[item_id] == expected, (item_id, seen)
    assert (await audit.verify()).ok


async def check_token_home(shared: Shared) -> None:
    """The WeChat token lives where the configuration says, and only there."""
    in_db = await ChannelState.filter(key=TOKEN_KEY).exists()
    keys = shared.redis_keys()
    if shared.mode == "redis":
        assert not in_db
        assert f"{shared.prefix}{{{TOKEN_KEY}}}:token" in keys
    else:
        assert in_db and keys == []


N_ITEMS = 1455  # × (feed, webhook), and the first WECHAT of them on WeChat too: 3,000
# Under 100: the WeChat channel looks a lost publication up among the newest 100 articles
# (five pages of freepublish/batchget), a window a real account (a few a day) never leaves.
WECHAT = 90
# 300 items: 60 of them on WeChat and the webhook, the rest on the webhook alone.
SMALL_MIX = [["webhook", "wechat"]] * 60 + [["webhook"]] * 240
REJECT_EVERY = 97  # these items' webhook and WeChat deliveries are refused for good


async def test_three_workers_deliver_3000_through_faults_and_token_loss_exactly_once(
    tmp_path: Path, migrated_pg_url: str, shared: Shared
) -> None:
    async with cluster(tmp_path, migrated_pg_url, shared) as c:
        workers = c.start(3)
        try:
            await all_up(workers)
            channels = [["feed", "webhook", "wechat"]] * WECHAT
            channels += [["feed", "webhook"]] * (N_ITEMS - WECHAT)
            await h.seed(channels, reject_every=REJECT_EVERY)
            # WeChat invalidates the token three times while the workers publish.
            invalidated = 0
            wechat_total = await Delivery.filter(channel="wechat").count()

            async def finished_invalidating() -> bool:
                nonlocal invalidated
                left = await Delivery.filter(
                    channel="wechat", status__in=["pending", "running"]
                ).count()
                if invalidated < 3 and left <= wechat_total * (3 - invalidated) / 4:
                    c.remotes.sim.invalidate_tokens()
                    invalidated += 1
                seen_keys.update(shared.redis_keys())
                return await h.all_finished()

            seen_keys: set[str] = set()
            await h.wait_for(finished_invalidating, 110, "every delivery to end", tuple(workers))
            ids = [h.worker_id(w) for w in workers]
            consumed = await WorkerHeartbeat.filter(
                worker_id__in=ids, consumed_at__isnull=False
            ).count()
        finally:
            await stop_all(workers, c.logs())
        assert consumed == 3  # all three took part
        assert invalidated == 3

        rows = await Delivery.all().values(
            "item_id", "channel", "status", "attempts", "last_error", "error_class"
        )
        assert len(rows) == 3000
        refused = {i for i in range(1, N_ITEMS + 1) if i % REJECT_EVERY == 0}
        for r in rows:
            if r["item_id"] in refused and r["channel"] != "feed":
                assert r["status"] == "dead", r
                assert ("HTTP 422" if r["channel"] == "webhook" else "45003") in r["last_error"]
            else:
                assert r["status"] == "done", r
        # The faults really happened, and were retried.
        for chaos in (c.remotes.webhook_chaos, c.remotes.wechat_chaos):
            assert min(chaos.counts[k] for k in ("5xx", "dropped", "lost")) > 0, chaos.counts
        assert sum(r["attempts"] > 1 for r in rows) > 300
        # Each invalidation was healed (every delivery above ended). A process forces a refresh
        # at most once per 30 s (stable_token's documented spacing) and otherwise asks for the
        # current token, so the three invalidations of this short run cost each of the three
        # processes one or two forced calls at most, not one per refused token.
        ledger = c.remotes.sim.ledger
        assert 1 <= ledger.force_refreshes and ledger.force_refreshes + ledger.force_refused <= 6

        await check_remote_ledgers(c.remotes)
        await check_database_consistent()
        await check_token_home(shared)
        # The rate limits were Redis's (its keys expire soon after their last use).
        rate_keys = {f"{shared.prefix}rate:{n}" for n in ("feed", "webhook", "wechat")}
        assert rate_keys <= seen_keys if shared.mode == "redis" else not seen_keys


async def test_worker_killed_mid_run_has_its_deliveries_finished_by_the_others_exactly_once(
    tmp_path: Path, migrated_pg_url: str, shared: Shared
) -> None:
    async with cluster(tmp_path, migrated_pg_url, shared, lease_seconds=3, concurrency=4) as c:
        workers = c.start(3)
        victim = workers[0]
        try:
            await all_up(workers)
            await h.seed(SMALL_MIX)

            async def victim_busy() -> bool:
                held = Delivery.filter(status="running", lease_owner=h.worker_id(victim))
                return await held.count() >= 4

            await h.wait_for(victim_busy, 60, "the victim to hold deliveries", tuple(workers))
            await h.stop_process(victim, signal.SIGKILL)
            assert victim.returncode == -signal.SIGKILL
            orphaned = await Delivery.filter(
                status="running", lease_owner=h.worker_id(victim)
            ).values_list("id", flat=True)
            assert orphaned, "the victim held nothing when it died"
            await h.wait_for(h.all_finished, 110, "every delivery to end", tuple(workers[1:]))
        finally:
            await stop_all(workers[1:], c.logs())

        rows = await Delivery.filter(id__in=list(orphaned)).values("status", "attempts")
        # Taken over after the lease ran out: a second claim, then done.
        assert all(r["status"] == "done" and r["attempts"] >= 2 for r in rows), rows
        assert Counter(await Delivery.all().values_list("status", flat=True)) == {"done": 360}
        await check_remote_ledgers(c.remotes)
        await check_database_consistent()
        await check_token_home(shared)


async def test_sigterm_finishes_or_gives_back_in_flight_work_and_exits_cleanly(
    tmp_path: Path, migrated_pg_url: str, shared: Shared
) -> None:
    # Answers take up to 1.2 s (the faults' hold) and the grace period is 0.5 s: on SIGTERM
    # some in-flight deliveries finish, the rest are given back unfinished.
    async with cluster(tmp_path, migrated_pg_url, shared, grace_seconds=0.5, concurrency=8) as c:
        workers = c.start(3)
        leaving = workers[0]
        try:
            await all_up(workers)
            await h.seed(SMALL_MIX)

            async def busy() -> bool:
                held = Delivery.filter(status="running", lease_owner=h.worker_id(leaving))
                return await held.count() >= 8

            await h.wait_for(busy, 60, "the leaving worker to be busy", tuple(workers))
            await h.stop_process(leaving, signal.SIGTERM)
            assert leaving.returncode == 0, c.logs()
            # Nothing is left held by the process that left: finished or given back.
            assert not await Delivery.filter(
                status="running", lease_owner=h.worker_id(leaving)
            ).exists()
            await h.wait_for(h.all_finished, 110, "every delivery to end", tuple(workers[1:]))
        finally:
            await stop_all(workers[1:], c.logs())
        assert Counter(await Delivery.all().values_list("status", flat=True)) == {"done": 360}
        await check_remote_ledgers(c.remotes)
        await check_database_consistent()


async def test_once_per_slot_job_scheduled_in_three_processes_runs_once_per_slot(
    tmp_path: Path, migrated_pg_url: str, shared: Shared
) -> None:
    # inbox.sla every second: each worker's scheduler fires it each second.
    async with cluster(tmp_path, migrated_pg_url, shared, chaos=False, sla_seconds=1) as c:
        workers = c.start(3)
        try:
            await all_up(workers)

            async def enough_slots() -> bool:
                return await JobSlot.filter(job="inbox.sla").count() >= 12

            await h.wait_for(enough_slots, 60, "twelve slots of inbox.sla", tuple(workers))
            stopping_at = datetime.now(UTC)
        finally:
            await stop_all(workers, c.logs())
        rows = (
            await JobSlot.filter(job="inbox.sla")
            .order_by("slot")
            .values("slot", "owner", "started_at", "finished_at", "result")
        )
        slots = [r["slot"] for r in rows]
        assert len(slots) == len(set(slots))  # never twice (the unique row decides)
        # None skipped while the three ran: consecutive seconds from the first to the last.
        starts = [datetime.strptime(slot, "%Y-%m-%dT%H:%M:%SZ") for slot in slots]
        assert [(b - a).total_seconds() for a, b in itertools.pairwise(starts)] == [1.0] * (
            len(starts) - 1
        )
        # Each slot's run finished, in one of the three processes, and not always the same.
        ids = {h.worker_id(w) for w in workers}
        # (A run the shutdown itself interrupted may be left unfinished: not counted.)
        ran = [r for r in rows if r["started_at"] < stopping_at]
        assert [r for r in ran if r["finished_at"] is None or "error" in r["result"]] == []
        owners = {r["owner"] for r in rows}
        assert owners <= ids and len(owners) >= 2, owners
