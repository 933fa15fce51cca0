"""What the multi-process scale tests share: the remote services (the webhook receiver and the
WeChat simulator, served from the test process so their ledgers can be read directly) with
random faults injected in front of them, a config file for `gongkai run --role worker`, worker
processes, and outbox rows written in bulk.

Faults: each request is answered 5xx, or times out (held past the client's timeout, either
never processed or processed with the answer lost), with the given probabilities. Requests
whose body carries REJECT are refused for good (webhook HTTP 422, WeChat errcode 45003), so
some deliveries end dead with a known reason.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.models import Delivery, User
from channels.sandbox import webhook
from channels.sandbox.wechat import Callback, WechatSimulator
from tests.seeding import approved_notice, next_item_id, store_approved

ROOT = Path(__file__).resolve().parents[2]
REJECT = "退回"  # in a title: the remote refuses the item permanently
APP_ID = "wx-scale"
ENV = {
    "GONGKAI_SCALE_WEBHOOK_SECRET": "scale-webhook-secret",
    "GONGKAI_SCALE_WECHAT_SECRET": "scale-wechat-secret",
    "GONGKAI_AUTHOR_KEY": "scale-author-key",
    "GONGKAI_AUDIT_KEY": "scale-audit-key-0123456789abcdefghijklmn",
    "PYTHONUNBUFFERED": "1",
}
WEBHOOK_SECRET = ENV["GONGKAI_SCALE_WEBHOOK_SECRET"]


@dataclass
class Chaos:
    """Random faults in front of a remote service's handlers."""

    error_rate: float = 0.22  # answered 503 at once
    drop_rate: float = 0.04  # held past the client's timeout, never processed
    lose_rate: float = 0.04  # processed, but the answer comes after the client gave up
    hold_seconds: float = 1.2
    exempt: Callable[[web.Request], bool] = lambda request: False
    seed: int = 0
    counts: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def middleware(self) -> Callable[..., Awaitable[web.StreamResponse]]:
        @web.middleware
        async def faults(
            request: web.Request,
            handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
        ) -> web.StreamResponse:
            if self.exempt(request):
                return await handler(request)
            draw = self.rng.random()
            if draw < self.error_rate:
                self.counts["5xx"] += 1
                return web.Response(status=503, text="injected")
            if draw < self.error_rate + self.drop_rate:
                self.counts["dropped"] += 1
                await asyncio.sleep(self.hold_seconds)
                return web.Response(status=504, text="injected")
            if draw < self.error_rate + self.drop_rate + self.lose_rate:
                self.counts["lost"] += 1
                response = await handler(request)
                await asyncio.sleep(self.hold_seconds)
                return response
            return await handler(request)

        return faults


def _wechat_rejects() -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def rejects(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.path.endswith("/draft/add") and REJECT in (await request.text()):
            return web.json_response({"errcode": 45003, "errmsg": "title size out of limit"})
        return await handler(request)

    return rejects


def _webhook_rejects() -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def rejects(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.method == "POST" and REJECT in (await request.text()):
            return web.json_response({"error": "refused"}, status=422)
        return await handler(request)

    return rejects


@dataclass
class Remotes:
    webhook: TestServer
    wechat: TestServer
    sim: WechatSimulator
    webhook_chaos: Chaos
    wechat_chaos: Chaos

    @property
    def webhook_url(self) -> str:
        return str(self.webhook.make_url("/push"))

    @property
    def wechat_url(self) -> str:
        return str(self.wechat.make_url("")).rstrip("/")

    def webhook_ledger(self) -> webhook.Ledger:
        return self.webhook.app[webhook.LEDGER]

    async def close(self) -> None:
        await self.webhook.close()
        await self.wechat.close()


async def start_remotes(chaos: bool = True, webhook_latency_ms: float = 0) -> Remotes:
    """The webhook receiver and the WeChat simulator on free ports of 127.0.0.1, faults on."""
    hook_app = webhook.create_app(WEBHOOK_SECRET, webhook_latency_ms)
    hook_chaos = Chaos(seed=1) if chaos else Chaos(0, 0, 0)
    # Our own ledger reads (GET /_ledger) are not the bot's calls.
    hook_chaos.exempt = lambda request: request.path.startswith("/_")
    hook_app.middlewares.extend([hook_chaos.middleware(), _webhook_rejects()])
    sim = WechatSimulator(APP_ID, ENV["GONGKAI_SCALE_WECHAT_SECRET"], Callback(app_id=APP_ID))
    # Quotas far above what the run needs (the defaults are a real account's daily limits).
    sim.quotas.daily = {name: 1_000_000 for name in sim.quotas.daily}
    wx_chaos = Chaos(seed=2) if chaos else Chaos(0, 0, 0)
    # The token endpoint is spared so each invalidation's single refresh can be counted.
    wx_chaos.exempt = lambda request: request.path.endswith("/stable_token")
    sim.app.middlewares.extend([wx_chaos.middleware(), _wechat_rejects()])
    hook = TestServer(hook_app, host="127.0.0.1")
    await hook.start_server()
    wx = TestServer(sim.app, host="127.0.0.1")
    await wx.start_server()
    return Remotes(hook, wx, sim, hook_chaos, wx_chaos)


# -- configuration and processes -------------------------------------------------------------
def write_config(
    path: Path,
    db_url: str,
    remotes: Remotes,
    *,
    redis_url: str = "",
    redis_prefix: str = "gongkai:",
    lease_seconds: float = 10,
    grace_seconds: float = 5,
    concurrency: int = 8,
    wechat_concurrency: int = 2,
    sla_seconds: float = 3600,
) -> Path:
    """The worker configuration: feed, webhook and WeChat against the remotes. WeChat keeps
    its default concurrency (2 per process): an account publishes a few articles a day, and
    the channel finds a lost publication among the newest 100 only."""
    redis = f'[redis]\nurl = "{redis_url}"\nkey_prefix = "{redis_prefix}"\n' if redis_url else ""
    path.write_text(
        f"""
[database]
url = "{db_url}"

[log]
level = "WARNING"

[review]
check_links = false

# Many attempts: with 30 % of calls failing, a WeChat publish whose submit was lost needs a
# five-page lookup (freepublish/batchget) and a new submit all to succeed in one attempt.
[dispatcher]
lease_seconds = {lease_seconds}
max_attempts = 100
sweep_interval_seconds = 0.5
heartbeat_seconds = 0.3
shutdown_grace_seconds = {grace_seconds}
backoff_base_seconds = 0.05
backoff_max_seconds = 0.5
batch_size = 50

[inbox]
sla_interval_minutes = {sla_seconds / 60}
poll_interval_seconds = 86400

[channels.feed]
enabled = true
concurrency = {concurrency}

[channels.webhook]
enabled = true
url = "{remotes.webhook_url}"
secret_env = "GONGKAI_SCALE_WEBHOOK_SECRET"
timeout_seconds = 0.5
concurrency = {concurrency}
rate_per_second = 100000

[channels.wechat]
enabled = true
app_id = "{APP_ID}"
app_secret_env = "GONGKAI_SCALE_WECHAT_SECRET"
api_base_url = "{remotes.wechat_url}"
fallback_base_urls = []
timeout_seconds = 0.5
concurrency = {wechat_concurrency}
rate_per_second = 100000
publish_wait_seconds = 3
publish_poll_minutes = 0

{redis}""",
        encoding="utf-8",
    )
    return path


def env() -> dict[str, str]:
    return {**os.environ, **ENV}


def gongkai(config_path: Path, *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "bot.cli.main", "--config", str(config_path), *args],
        cwd=ROOT,
        env=env(),
        check=True,
        capture_output=True,
        timeout=120,
    )


def start_worker(config_path: Path, log: Path) -> subprocess.Popen[bytes]:
    """`gongkai --config FILE run --role worker` in its own process."""
    command = [sys.executable, "-m", "bot.cli.main", "--config", str(config_path)]
    with log.open("ab") as out:
        return subprocess.Popen(
            [*command, "run", "--role", "worker"],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env(),
        )


def worker_id(proc: subprocess.Popen[bytes]) -> str:
    return f"{socket.gethostname()}:{proc.pid}"


async def stop_process(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Signal the process and wait for it without blocking the event loop (the remotes the
    worker is talking to are served by this loop)."""
    if proc.poll() is None:
        proc.send_signal(sig)
    deadline = time.monotonic() + 30
    while proc.poll() is None:
        if time.monotonic() > deadline:
            proc.kill()
        await asyncio.sleep(0.05)


async def wait_for(
    predicate: Callable[[], Awaitable[bool]],
    limit_s: float,
    what: str,
    procs: tuple[subprocess.Popen[bytes], ...] = (),
) -> None:
    deadline = time.monotonic() + limit_s
    while not await predicate():
        for p in procs:
            if p.poll() is not None:
                raise AssertionError(f"worker {p.pid} exited ({p.returncode}) waiting for {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {limit_s}s waiting for {what}")
        await asyncio.sleep(0.1)


async def all_finished() -> bool:
    return not await Delivery.filter(status__in=["pending", "running"]).exists()


# -- outbox rows -----------------------------------------------------------------------------
async def seed(channels_of: list[list[str]], reject_every: int = 0) -> None:
    """One approved notice per entry of channels_of, with a pending publish delivery for each
    of its channels; every reject_every-th item carries REJECT in its title."""
    now = datetime.now(UTC)
    author = await User.create(username=f"scale-{time.monotonic_ns()}", roles=["editor"])
    start = await next_item_id()
    items = []
    for n, channels in enumerate(channels_of):
        i = start + n
        refused = reject_every and i % reject_every == 0
        title = f"关于第{i}号事项的通知" + (f"（{REJECT}）" if refused else "")
        body = f"第{i}号事项的正文：办事大厅周六上午开放。"
        summary = f"第{i}号事项。"
        items.append(
            approved_notice(i, author, channels, now, title=title, summary=summary, body=body)
        )
    await store_approved(items, now)


def key_of(item_id: int, channel: str) -> str:
    return f"gongkai-{item_id}-v1-{channel}-publish"


def marker_key(marker: str) -> str:
    """The idempotency key in a WeChat article's content_source_url (…?gk=KEY)."""
    return marker.rsplit("gk=", 1)[1]


def dump(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1, default=str))
