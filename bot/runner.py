"""Run Gongkai: the web server, the worker (dispatcher, reply sender, scheduled jobs), or both,
until SIGTERM or SIGINT.

On a signal the web server stops accepting, the dispatcher stops claiming and lets in-flight
deliveries finish within the grace period, gives back the rest, and the process exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from aiohttp import web

from bot import audit, db
from bot.config import Config
from bot.logs import configure as configure_logging
from bot.metrics import Metrics
from bot.outbox.channel_set import build_channels
from bot.outbox.dispatcher import Dispatcher
from bot.outbox.wakeup import Wakeup, listen_postgres, watch_sqlite_files
from scheduler.worker import InboxWorker

log = logging.getLogger(__name__)
ROLES = ("web", "worker", "all")


SANDBOX_PREFIX = "[SANDBOX] "
WEB_SHUTDOWN_SECONDS = 5.0


async def _push_menu(config: Config, channels: dict[str, Any], owner: str) -> None:
    """The configured WeChat menu, pushed when it changed (once for the deployment: the
    first worker to take its row). A refusal is logged; the worker runs on."""
    from bot.wechat import menu
    from channels.wechat.channel import WechatChannel

    channel = channels.get("wechat")
    if not isinstance(channel, WechatChannel):
        return
    try:
        pushed = await menu.push_if_changed(config, channel.api, owner)
    except Exception as exc:  # WeChat or a bad menu must not stop the worker
        log.error("ALERT wechat menu not pushed: %s", exc)
        return
    if pushed:
        log.info("wechat menu %s pushed by %s", pushed, owner)


async def serve(
    config: Config,
    role: str = "all",
    ready: asyncio.Event | None = None,
    companion: Callable[[], Coroutine[Any, Any, None]] | None = None,
) -> None:
    """Serve until SIGTERM / SIGINT. `companion` (the sandbox's demo loop) runs beside the
    bot once it is ready and is cancelled first on the way out, while the database is open."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")
    configure_logging(config.log, prefix=SANDBOX_PREFIX if config.app.sandbox else "")
    channels = build_channels(config)  # a missing secret fails here, before the database
    config.audit_key()  # and so does a missing audit key
    metrics = Metrics(config)  # one per process: the dispatcher records, /metrics reports
    await db.init(config)
    await audit.ensure_keyed()  # a new or rotated key starts its segment of the chain now
    wakeup = Wakeup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    dispatcher: Dispatcher | None = None
    inbox_worker: InboxWorker | None = None
    runner: web.AppRunner | None = None
    async with contextlib.AsyncExitStack() as stack:
        if role in ("worker", "all"):
            params = db.listen_params(config)
            if params is not None:
                await stack.enter_async_context(listen_postgres(wakeup, params))
            else:
                path = Path(
                    db.tortoise_config(config)["connections"]["default"]["credentials"]["file_path"]
                )
                watcher = asyncio.create_task(watch_sqlite_files(wakeup, path))
                stack.callback(watcher.cancel)
            dispatcher = Dispatcher(config, channels, wakeup, metrics=metrics)
            await dispatcher.start()
            log.info("dispatcher %s started on channels %s", dispatcher.owner, list(channels))
            # After the dispatcher: it starts the channels the reply sender uses.
            inbox_worker = InboxWorker(config, channels, owner=dispatcher.owner)
            await inbox_worker.start()
            await _push_menu(config, channels, dispatcher.owner)
        if role in ("web", "all"):
            from bot.web.app import SERVER_LIMITS, create_app

            app = create_app(config, wakeup, metrics)
            # Requests in progress get a few seconds at shutdown (aiohttp's default is 60):
            # the deliveries' grace period comes after, within the service's stop timeout.
            runner = web.AppRunner(
                app, access_log=None, shutdown_timeout=WEB_SHUTDOWN_SECONDS, **SERVER_LIMITS
            )
            await runner.setup()
            site = web.TCPSite(runner, config.web.host, config.web.port, backlog=config.web.backlog)
            await site.start()
            log.info("web server on http://%s:%s", config.web.host, config.web.port)
        elif config.metrics.worker_port:  # a worker alone still answers /metrics and /healthz
            from bot.web.app import create_worker_app

            runner = web.AppRunner(create_worker_app(config, metrics), access_log=None)
            await runner.setup()
            await web.TCPSite(runner, config.web.host, config.metrics.worker_port).start()
        if ready is not None:
            ready.set()
        side = asyncio.create_task(companion()) if companion is not None else None
        await stop.wait()
        log.info("stopping")
        if dispatcher is not None:  # no new work from here on; the grace is for what runs
            dispatcher.stop_claiming()
        if side is not None:
            side.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await side
        # Each step runs even if an earlier one failed: the dispatcher's last is to give back
        # what it still holds. Job runs and deliveries in flight share one grace period (the
        # deliveries go on while the jobs are waited for), so the whole stop stays within it.
        grace = config.dispatcher.shutdown_grace_seconds
        until = asyncio.get_running_loop().time() + grace
        try:
            if runner is not None:
                await runner.cleanup()
        finally:
            try:
                if inbox_worker is not None:
                    await inbox_worker.stop(grace)
            finally:
                if dispatcher is not None:
                    left = until - asyncio.get_running_loop().time()
                    await dispatcher.stop(grace=max(0.0, left))
    await db.close()
