"""GET /metrics in the Prometheus text format, from the app's own `Metrics` (bot/metrics.py).

`setup(app)` gives the app a Metrics object under the METRICS key unless one was put there
already, so a process running the dispatcher and the web app together can share one (see
`use_metrics`). Code handling a request observes into it, e.g. a channel callback:

    with request.app[METRICS].time_callback("wechat"):
        ...  # verify, store, build the answer
"""

from __future__ import annotations

import asyncio
import hmac

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot.config import Config
from bot.metrics import Metrics
from bot.web.keys import CONFIG, METRICS, SCRAPE_LOCK

# Renders one at a time: a scrape refreshes the database figures and then renders them.


def use_metrics(app: web.Application, metrics: Metrics) -> None:
    """Make the app report (and its handlers observe into) `metrics`: call before the app
    starts, e.g. with the Metrics object the process's dispatcher records into."""
    app[METRICS] = metrics


def _authorized(request: web.Request, config: Config) -> web.Response | None:
    """None when the request may read /metrics, else the refusal."""
    env = config.metrics.token_env
    if not env:
        return None
    token = config.secret(env)
    if not token:
        return web.Response(
            status=503, text=f"metrics.token_env：环境变量 {env} 未设置，/metrics 已停用。"
        )
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return web.Response(
            status=401,
            text="需要有效的访问令牌（Authorization: Bearer …）。",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return None


async def metrics_view(request: web.Request) -> web.Response:
    refused = _authorized(request, request.app[CONFIG])
    if refused is not None:
        return refused
    metrics = request.app[METRICS]
    async with request.app[SCRAPE_LOCK]:
        await metrics.refresh()
        body = generate_latest(metrics.registry)
    return web.Response(
        body=body,
        headers={"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"},
    )


def setup(app: web.Application) -> None:
    config = app[CONFIG]
    if METRICS not in app:
        app[METRICS] = Metrics(config)
    app[SCRAPE_LOCK] = asyncio.Lock()
    if config.metrics.enabled:
        app.router.add_get("/metrics", metrics_view, name="metrics")
