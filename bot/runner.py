"""Run Gongkai: the web server, the dispatcher, or both, until SIGTERM or SIGINT.

On a signal the web server stops accepting, the dispatcher stops claiming and lets in-flight
deliveries finish within the grace period, gives back the rest, and the process exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from pathlib import Path

from aiohttp import web

from bot import db
from bot.channel_set import build_channels
from bot.config import Config
from bot.dispatcher import Dispatcher
from bot.wakeup import Wakeup, listen_postgres, watch_sqlite_files

log = logging.getLogger(__name__)
ROLES = ("web", "worker", "all")


async def serve(config: Config, role: str = "all", ready: asyncio.Event | None = None) -> None:
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")
    channels = build_channels(config)  # a missing secret fails here, before the database
    await db.init(config)
    wakeup = Wakeup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    dispatcher: Dispatcher | None = None
    runner: web.AppRunner | None = None
    async with contextlib.AsyncExitStack() as stack:
        if role in ("worker", "all"):
            if config.database.is_postgres:
                params = db.tortoise_config(config)["connections"]["default"]["credentials"]
                await stack.enter_async_context(
                    listen_postgres(
                        wakeup,
                        {
                            k: params[k]
                            for k in ("host", "port", "user", "password", "database")
                            if params.get(k) is not None
                        },
                    )
                )
            else:
                path = Path(
                    db.tortoise_config(config)["connections"]["default"]["credentials"]["file_path"]
                )
                watcher = asyncio.create_task(watch_sqlite_files(wakeup, path))
                stack.callback(watcher.cancel)
            dispatcher = Dispatcher(config, channels, wakeup)
            await dispatcher.start()
            log.info("dispatcher %s started on channels %s", dispatcher.owner, list(channels))
        if role in ("web", "all"):
            from bot.web.app import create_app

            runner = web.AppRunner(create_app(config, wakeup), access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, config.web.host, config.web.port)
            await site.start()
            log.info("web server on http://%s:%s", config.web.host, config.web.port)
        if ready is not None:
            ready.set()
        await stop.wait()
        log.info("stopping")
        if runner is not None:
            await runner.cleanup()
        if dispatcher is not None:
            await dispatcher.stop()
    await db.close()
