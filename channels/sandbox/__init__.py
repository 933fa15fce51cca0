"""Local simulators of the remote services (WeChat, 随申办, a webhook receiver), speaking their
documented HTTP APIs; tests and sandbox mode point the channels at them."""

from __future__ import annotations

from aiohttp import web


async def serve(app: web.Application, host: str = "127.0.0.1", port: int = 0) -> web.AppRunner:
    """Serve a simulator's app on host:port (0: any free port; see simulator_url)."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


def simulator_url(runner: web.AppRunner) -> str:
    host, port = runner.addresses[0][:2]
    return f"http://{host}:{port}"
