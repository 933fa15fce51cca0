"""GET /healthz: whether this deployment is actually publishing, not merely running.

Healthy means the database answers, some worker has beaten recently, and deliveries that came
due a while ago are being consumed; with `[metrics] check_scheduler = true` also that the
cluster's once-per-slot scheduled jobs keep starting (their JobSlot rows are recent). Each
channel's last successful delivery is reported for information.

A process serving only the web (no worker) is reported as a failing workers check on purpose:
without a worker nothing is sent (the Postiz #1748 lesson — health said OK while nothing went
out).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from tortoise.functions import Max

from bot import db
from bot.config import Config
from bot.models import Delivery, DeliveryStatus, JobSlot, WorkerHeartbeat
from bot.timeutil import aware
from bot.web.keys import CONFIG

log = logging.getLogger(__name__)

OK = "ok"
FAIL = "fail"


@dataclass
class Check:
    status: str
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == OK

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status}
        if self.message:
            out["message"] = self.message
        out.update(self.details)
        return out


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


async def check_database() -> Check:
    try:
        await db.connection().execute_query("SELECT 1")
    except Exception as exc:  # any driver error means the same to an operator: unreachable
        log.warning("healthz: database check failed: %s", exc)
        return Check(FAIL, f"数据库无法访问：{type(exc).__name__}: {exc}")
    return Check(OK)


async def check_workers(config: Config, now: datetime) -> Check:
    stale_seconds = config.dispatcher.health_stale_seconds
    cutoff = now - timedelta(seconds=stale_seconds)
    beats = await WorkerHeartbeat.filter(role="worker").order_by("-beat_at")
    alive = [b for b in beats if b.beat_at >= cutoff]
    consuming = [b for b in alive if b.consumed_at is not None and b.consumed_at >= cutoff]
    # Deliveries that have been claimable for longer than the stale window: a live worker
    # would have taken them by now.
    overdue = await Delivery.filter(
        status=DeliveryStatus.PENDING.value, next_attempt_at__lte=cutoff
    ).count()
    details: dict[str, Any] = {
        "stale_after_seconds": stale_seconds,
        "alive": len(alive),
        "overdue_deliveries": overdue,
        "last_beat_at": _iso(beats[0].beat_at) if beats else None,
        "last_consumed_at": _iso(
            max((b.consumed_at for b in beats if b.consumed_at), default=None)
        ),
        "workers": [
            {
                "worker_id": b.worker_id,
                "host": b.host,
                "pid": b.pid,
                "beat_at": _iso(b.beat_at),
                "consumed_at": _iso(b.consumed_at),
                "backlog": b.backlog,
            }
            for b in beats[:20]
        ],
    }
    if not alive:
        if beats:
            message = (
                f"工作进程已超过 {stale_seconds:g} 秒没有心跳，投递不会被发送；"
                "请检查工作进程（--role worker）是否仍在运行。"
            )
        else:
            message = (
                "没有任何工作进程的心跳：本进程若只提供网页（--role web），"
                "请另行启动工作进程（--role worker 或 all），否则投递不会被发送。"
            )
        return Check(FAIL, message, details)
    if overdue and not consuming:
        return Check(
            FAIL,
            f"有 {overdue} 条投递已到期超过 {stale_seconds:g} 秒，但工作进程在此期间"
            "没有处理任何投递：工作进程可能卡住了。",
            details,
        )
    return Check(OK, "", details)


async def channel_successes(config: Config) -> Check:
    """Informational: when each channel last completed a delivery."""
    rows = (
        await Delivery.filter(status=DeliveryStatus.DONE.value)
        .annotate(last=Max("finished_at"))
        .group_by("channel")
        .values("channel", "last")
    )
    last = {r["channel"]: r["last"] for r in rows}
    names = sorted(set(config.channels.enabled_names()) | set(last))
    return Check(OK, "", {"last_success": {n: _iso(last.get(n)) for n in names}})


async def check_scheduler(config: Config, now: datetime) -> Check:
    """The scheduler runs in the workers; a once-per-slot job leaves a JobSlot row each time
    some process starts it, so a recent row per job proves the cluster's scheduler ticks.
    A job is late when neither its last start nor the start of the longest-running live
    worker is within twice its interval (plus health_stale_seconds)."""
    from scheduler.jobs import job_specs  # the job list, defined once, with its intervals

    grace = config.dispatcher.health_stale_seconds
    starts = await WorkerHeartbeat.filter(
        role="worker", beat_at__gte=now - timedelta(seconds=grace)
    ).values_list("started_at", flat=True)
    if not starts:
        return Check(FAIL, "没有存活的工作进程，定时任务（提醒、督办、留言拉取）不会运行。")
    running_since = min(aware(s) for s in starts)
    specs = [spec for spec in job_specs(config) if spec.once_per_slot]
    rows = (
        await JobSlot.filter(job__in=[spec.name for spec in specs])
        .annotate(last=Max("started_at"))
        .group_by("job")
        .values("job", "last")
    )
    last = {r["job"]: aware(r["last"]) for r in rows if r["last"]}
    jobs: dict[str, Any] = {}
    late = []
    for spec in specs:
        seen = last.get(spec.name)
        reference = max(seen, running_since) if seen else running_since
        limit = timedelta(seconds=2 * spec.seconds + grace)
        jobs[spec.name] = {"interval_seconds": spec.seconds, "last_started_at": _iso(seen)}
        if now - reference > limit:
            late.append(spec.name)
    details = {"running_since": _iso(running_since), "jobs": jobs}
    if late:
        return Check(
            FAIL,
            f"定时任务 {'、'.join(late)} 已超过两个周期没有运行：请检查工作进程的调度器。",
            details,
        )
    return Check(OK, "", details)


async def health_report(config: Config) -> dict[str, Any]:
    now = datetime.now(UTC)
    checks: dict[str, Check] = {"database": await check_database()}
    if checks["database"].ok:
        checks["workers"] = await check_workers(config, now)
        checks["channels"] = await channel_successes(config)
        if config.metrics.check_scheduler:
            checks["scheduler"] = await check_scheduler(config, now)
    else:
        checks["workers"] = Check(FAIL, "数据库无法访问，无法检查工作进程。")
        checks["channels"] = Check(FAIL, "数据库无法访问，无法读取各渠道的发送记录。")
    healthy = all(c.ok for c in checks.values())
    return {
        "status": OK if healthy else FAIL,
        "checked_at": now.isoformat(),
        "checks": {name: c.as_json() for name, c in checks.items()},
    }


async def healthz(request: web.Request) -> web.Response:
    report = await health_report(request.app[CONFIG])
    return web.json_response(
        report,
        status=200 if report["status"] == OK else 503,
        headers={"Cache-Control": "no-store"},
        dumps=_dumps,
    )


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def setup(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz, name="health")
