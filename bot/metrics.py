"""Prometheus metrics: one `Metrics` object per process (or per app), each with its own
prometheus-client CollectorRegistry — nothing is registered in the library's global registry.

Two kinds of figures:
- Read from the database at scrape time (`DatabaseCollector`): deliveries by channel, action
  and status (dead letters included), each channel's last successful delivery, comments by
  status, SLA breaches (open comments past their due time), due backlog and live workers.
  Every process reports the same shared truth, whichever one Prometheus scrapes.
- Observed in the process (histograms and counters): dispatch delay (due time → outcome),
  attempt duration (claim → outcome), retries and dead letters as they happen here, and the
  handling time of channel callbacks. Prometheus sums these over the scraped processes.

prometheus-client collectors are synchronous, so the database figures are read by
`await metrics.refresh()` just before the registry is rendered (bot/web/ops/metrics.py does both
under one lock).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from tortoise.functions import Count, Max

from bot.config import Config
from bot.models import (
    Comment,
    CommentStatus,
    Delivery,
    DeliveryAction,
    DeliveryStatus,
    WorkerHeartbeat,
)

log = logging.getLogger(__name__)

__all__ = ["DatabaseCollector", "DbSnapshot", "Metrics"]


@dataclass
class DbSnapshot:
    """The database figures of one scrape."""

    ok: bool = False
    deliveries: dict[tuple[str, str, str], int] = field(default_factory=dict)
    last_success: dict[str, float] = field(default_factory=dict)
    comments: dict[str, int] = field(default_factory=dict)
    sla_breaches: dict[str, int] = field(default_factory=dict)
    due_backlog: int = 0
    workers_alive: int = 0
    read_seconds: float = 0.0


def _timestamp(value: Any) -> float:
    if isinstance(value, str):  # SQLite hands back text for an aggregate
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return float(value.timestamp())


class DatabaseCollector(Collector):
    """Yields the figures of the last `refresh()`; `gongkai_database_up` says whether it
    succeeded (when it did not, the other database families are left out, not zeroed)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.snapshot = DbSnapshot()

    async def refresh(self, now: datetime | None = None) -> DbSnapshot:
        now = now or datetime.now(UTC)
        started = time.perf_counter()
        snap = DbSnapshot()
        try:
            await self._read(snap, now)
        except Exception as exc:  # any driver error: report the database down, keep serving
            log.warning("metrics: reading the database failed: %s", exc)
            snap = DbSnapshot(ok=False)
        else:
            snap.ok = True
        snap.read_seconds = time.perf_counter() - started
        self.snapshot = snap
        return snap

    async def _read(self, snap: DbSnapshot, now: datetime) -> None:
        channels = self.config.channels.enabled_names()
        # Every enabled channel with every status, so a series exists (at 0) before it happens.
        for channel in channels:
            for action in DeliveryAction:
                for status in DeliveryStatus:
                    snap.deliveries[(channel, action.value, status.value)] = 0
        rows = (
            await Delivery.annotate(n=Count("id"))
            .group_by("channel", "action", "status")
            .values("channel", "action", "status", "n")
        )
        for r in rows:
            snap.deliveries[(r["channel"], r["action"], r["status"])] = int(r["n"])
        rows = (
            await Delivery.filter(status=DeliveryStatus.DONE.value)
            .annotate(last=Max("finished_at"))
            .group_by("channel")
            .values("channel", "last")
        )
        snap.last_success = {r["channel"]: _timestamp(r["last"]) for r in rows if r["last"]}
        snap.comments = {s.value: 0 for s in CommentStatus}
        rows = await Comment.annotate(n=Count("id")).group_by("status").values("status", "n")
        for r in rows:
            snap.comments[r["status"]] = int(r["n"])
        rows = (
            await Comment.filter(status=CommentStatus.OPEN.value, due_at__lt=now)
            .annotate(n=Count("id"))
            .group_by("channel")
            .values("channel", "n")
        )
        snap.sla_breaches = {r["channel"]: int(r["n"]) for r in rows}
        snap.due_backlog = await Delivery.filter(
            status=DeliveryStatus.PENDING.value, next_attempt_at__lte=now
        ).count()
        cutoff = now - timedelta(seconds=self.config.dispatcher.health_stale_seconds)
        alive = WorkerHeartbeat.filter(role="worker", beat_at__gte=cutoff)
        snap.workers_alive = await alive.count()

    def describe(self) -> Iterable[Metric]:
        return list(self._families(DbSnapshot(ok=True)))

    def collect(self) -> Iterable[Metric]:
        return list(self._families(self.snapshot))

    @staticmethod
    def _families(snap: DbSnapshot) -> Iterator[Metric]:
        up = GaugeMetricFamily("gongkai_database_up", "1 if the last scrape read the database")
        up.add_metric([], 1.0 if snap.ok else 0.0)
        yield up
        read = GaugeMetricFamily(
            "gongkai_database_read_seconds", "Time the last scrape spent reading the database"
        )
        read.add_metric([], snap.read_seconds)
        yield read
        if not snap.ok:
            return
        deliveries = GaugeMetricFamily(
            "gongkai_deliveries",
            "Deliveries by channel, action and status (dead = dead letters), all processes",
            labels=["channel", "action", "status"],
        )
        for (channel, action, status), n in sorted(snap.deliveries.items()):
            deliveries.add_metric([channel, action, status], n)
        yield deliveries
        last = GaugeMetricFamily(
            "gongkai_channel_last_success_timestamp_seconds",
            "When each channel last completed a delivery (Unix time)",
            labels=["channel"],
        )
        for channel, ts in sorted(snap.last_success.items()):
            last.add_metric([channel], ts)
        yield last
        comments = GaugeMetricFamily(
            "gongkai_comments", "Comments by status, all channels", labels=["status"]
        )
        for status, n in sorted(snap.comments.items()):
            comments.add_metric([status], n)
        yield comments
        breaches = GaugeMetricFamily(
            "gongkai_comment_sla_breaches",
            "Open comments past their due time (reply deadline missed), by channel",
            labels=["channel"],
        )
        for channel, n in sorted(snap.sla_breaches.items()):
            breaches.add_metric([channel], n)
        yield breaches
        backlog = GaugeMetricFamily(
            "gongkai_outbox_due", "Pending deliveries whose attempt time has come"
        )
        backlog.add_metric([], snap.due_backlog)
        yield backlog
        alive = GaugeMetricFamily(
            "gongkai_workers_alive", "Workers whose heartbeat is fresher than health_stale_seconds"
        )
        alive.add_metric([], snap.workers_alive)
        yield alive


class Metrics:
    """The registry of one process or app and the metric objects code observes into."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.registry = CollectorRegistry()
        buckets = sorted(set(config.metrics.dispatch_buckets))
        self.dispatch_delay = Histogram(
            "gongkai_dispatch_delay_seconds",
            "From a delivery's due time to its final outcome (done, dead, ...), this process",
            ["channel", "action", "status"],
            buckets=buckets,
            registry=self.registry,
        )
        self.attempt_duration = Histogram(
            "gongkai_dispatch_attempt_seconds",
            "From claiming a delivery to its outcome being written, each attempt, this process",
            ["channel", "outcome"],
            buckets=buckets,
            registry=self.registry,
        )
        self.retries = Counter(
            "gongkai_delivery_retries",
            "Attempts that ended in a retry later, this process",
            ["channel", "error_class"],
            registry=self.registry,
        )
        self.dead_letters = Counter(
            "gongkai_delivery_dead_letters",
            "Deliveries that became dead (permanent failure or attempts exhausted), this process",
            ["channel", "error_class"],
            registry=self.registry,
        )
        self.console_logins = Counter(
            "gongkai_console_logins",
            "Console login attempts by outcome (ok, failed, throttled), this process",
            ["outcome"],
            registry=self.registry,
        )
        self.callback_latency = Histogram(
            "gongkai_callback_latency_seconds",
            "Time to answer a channel's callback request (WeChat wants 5 s at most)",
            ["channel", "outcome"],
            buckets=sorted(set(config.metrics.callback_buckets)),
            registry=self.registry,
        )
        self.database = DatabaseCollector(config)
        self.registry.register(self.database)

    async def refresh(self, now: datetime | None = None) -> DbSnapshot:
        """Read the database figures for the next render of the registry."""
        return await self.database.refresh(now)

    def delivery_finished(
        self,
        channel: str,
        action: str,
        status: str,
        error_class: str,
        due_at: datetime,
        attempt_seconds: float,
        now: datetime | None = None,
    ) -> None:
        """Record one attempt whose outcome was written; `status` pending means a retry."""
        now = now or datetime.now(UTC)
        retry = status == DeliveryStatus.PENDING.value
        self.attempt_duration.labels(channel, "retry" if retry else status).observe(
            max(0.0, attempt_seconds)
        )
        if retry:
            self.retries.labels(channel, error_class or "unknown").inc()
            return
        if status == DeliveryStatus.DEAD.value:
            self.dead_letters.labels(channel, error_class or "unknown").inc()
        delay = max(0.0, (now - due_at).total_seconds())
        self.dispatch_delay.labels(channel, action, status).observe(delay)

    def observe_callback(self, channel: str, seconds: float, outcome: str = "ok") -> None:
        """Record how long answering one callback request took."""
        self.callback_latency.labels(channel, outcome).observe(max(0.0, seconds))

    @contextmanager
    def time_callback(self, channel: str) -> Iterator[None]:
        """Time a callback handler: outcome "ok", or "error" when the block raises."""
        started = time.perf_counter()
        outcome = "ok"
        try:
            yield
        except BaseException:
            outcome = "error"
            raise
        finally:
            self.observe_callback(channel, time.perf_counter() - started, outcome)
