"""What the public handlers' error guard (bot/web/public/errors.py: guard) costs on the cached
path: a handler that answers a built page from the site cache (a hit, as every request after
the first), called bare and behind guard() in alternating rounds of the same run, in process
(no HTTP: the difference is a fraction of a microsecond, far below what wrk can tell apart on
this machine's two shared cores).

Run: .venv/bin/python benchmarks/public_guard.py [--rounds 12] [--requests 50000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import make_mocked_request

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import parse_config  # noqa: E402
from bot.items.render import Renderer  # noqa: E402
from bot.site.cache import Result, SiteCache  # noqa: E402
from bot.site.serve import PublicSite  # noqa: E402
from bot.web.public.errors import guard  # noqa: E402

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def main(args: argparse.Namespace) -> None:
    config = parse_config({})
    site = PublicSite(config, SiteCache(64 * 1024 * 1024), Renderer(config))
    key = "home:"

    async def build() -> Result:
        return site.page("public/not_found.html", 200), True

    await site.cache.get(key, build)
    request = make_mocked_request("GET", "/", headers={"Accept-Encoding": "gzip, deflate, br"})

    async def bare(request: web.Request) -> web.StreamResponse:
        return await site.serve(request, key)

    handlers: dict[str, Handler] = {"bare": bare, "guard": guard(bare)}
    times: dict[str, list[float]] = {name: [] for name in handlers}
    for _ in range(args.rounds):
        for name, handler in handlers.items():
            start = time.perf_counter()
            for _ in range(args.requests):
                await handler(request)
            times[name].append((time.perf_counter() - start) / args.requests * 1e6)
    print(f"{args.rounds} rounds of {args.requests} cached answers each, alternating")
    for name, values in times.items():
        print(f"{name:<6} min {min(values):6.2f} µs  median {statistics.median(values):6.2f} µs")
    extra = min(times["guard"]) - min(times["bare"])
    print(f"guard adds {extra:+.2f} µs per request (min against min)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--requests", type=int, default=50_000)
    asyncio.run(main(parser.parse_args()))
