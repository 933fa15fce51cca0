"""Public read path benchmark: an item page, a feed and the home page, 200 and 304, from Gongkai as
`gongkai run` starts it (web and worker in one process, every middleware in place) and from a
bare aiohttp handler that answers the same bytes and headers, in the same run.

Load generator: wrk (Debian package `wrk`, C, one thread; it is not the bottleneck: the bare
server it drives saturates its own core first). Every request carries the Accept-Encoding a
browser sends (gzip, deflate, br), so both servers send the brotli body; the 304 runs send the
ETag of that body in If-None-Match.

Before measuring, the benchmark checks that the bare server's answers are byte- and
header-identical to Gongkai's (Date and Server aside).

Run: .venv/bin/python benchmarks/public.py [--db sqlite|postgres] (see benchmarks/README.md)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dispatch import database, free_port  # noqa: E402  (benchmarks/dispatch.py, next to it)

from bot import db, users  # noqa: E402
from bot.config import parse_config  # noqa: E402
from bot.items import lifecycle  # noqa: E402
from bot.items.schemas import ItemCreate  # noqa: E402
from bot.outbox.channel_set import build_channels  # noqa: E402
from bot.outbox.dispatcher import Dispatcher  # noqa: E402
from bot.outbox.wakeup import Wakeup  # noqa: E402

ENCODING = "gzip, deflate, br"
IGNORED = {"date", "server"}
BODY = "\n\n".join(
    f"## 第{n}条\n\n为深入贯彻落实政务公开工作要求，进一步提高政务公开质量，"
    "现就有关事项通知如下。各单位要高度重视，按照**工作要点**抓好落实，"
    "确保各项任务按时完成。详见[附件](/media/attachment.pdf)。"
    for n in range(1, 25)
)

BARE = """
import json, sys
from aiohttp import web
spec = json.load(open(sys.argv[1]))
def handler(s):
    body = bytes.fromhex(s["body"]); headers = s["headers"]; etag = s["etag"]
    not_modified = {k: v for k, v in headers.items() if k in s["not_modified"]}
    async def h(request):
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers=not_modified)
        return web.Response(body=body, headers=headers)
    return h
app = web.Application()
for path, s in spec.items():
    app.router.add_get(path, handler(s))
web.run_app(app, host="127.0.0.1", port=int(sys.argv[2]), access_log=None, print=None)
"""


def config_text(db_url: str, port: int) -> str:
    return f"""
[database]
url = "{db_url}"

[web]
port = {port}

[review]
check_links = false
"""


async def seed(db_url: str, items: int) -> int:
    """Publish `items` notices through the lifecycle and the dispatcher; the last one's id."""
    config = parse_config(
        {"database": {"url": db_url}, "review": {"check_links": False}},
        "bench",
        environ={"GONGKAI_AUTHOR_KEY": "bench"},
    )
    await db.init(config, check_schema=False)
    await db.upgrade()
    policy = config.staff.password  # no passwords: they act through the lifecycle only
    await users.add_user("ed", ["editor"], None, "system:bench", policy=policy, must_change=False)
    await users.add_user(
        "rev", ["reviewer"], None, "system:bench", policy=policy, must_change=False
    )
    editor, reviewer = await users.actor_for_user("ed"), await users.actor_for_user("rev")
    last = 0
    for n in range(items):
        data = ItemCreate.model_validate(
            {
                "kind": "notice",
                "title": f"关于开展第{n + 1}期政务公开工作的通知",
                "body": BODY,
                "office": "办公室",
                "summary": "政务公开工作安排",
            }
        )
        item = await lifecycle.create_item(data, editor, config)
        await lifecycle.submit(item.id, editor, config)
        await lifecycle.approve(item.id, reviewer, config)
        last = item.id
    await Dispatcher(config, build_channels(config), Wakeup()).run_until_idle()
    await db.close()
    return last


async def capture(base: str, paths: list[str]) -> dict[str, dict[str, Any]]:
    """Gongkai's answer to each path as a browser asks: body and headers as sent."""
    out = {}
    async with aiohttp.ClientSession(auto_decompress=False) as http:
        for path in paths:
            async with http.get(base + path, headers={"Accept-Encoding": ENCODING}) as resp:
                assert resp.status == 200, (path, resp.status)
                headers = {k: v for k, v in resp.headers.items() if k.lower() not in IGNORED}
                headers.pop("Content-Length", None)
                etag = resp.headers["ETag"]
            async with http.get(
                base + path, headers={"Accept-Encoding": ENCODING, "If-None-Match": etag}
            ) as resp:
                assert resp.status == 304, (path, resp.status)
                kept = [k for k in resp.headers if k.lower() not in IGNORED]
            out[path] = {
                "body": (await _body(http, base + path)).hex(),
                "headers": headers,
                "etag": etag,
                "not_modified": kept,
            }
    return out


async def _body(http: aiohttp.ClientSession, url: str) -> bytes:
    async with http.get(url, headers={"Accept-Encoding": ENCODING}) as resp:
        return await resp.read()


async def same_answers(gongkai: str, bare: str, paths: list[str]) -> None:
    """Byte- and header-identical answers, 200 and 304 (Date, Server aside)."""
    async with aiohttp.ClientSession(auto_decompress=False) as http:
        for path in paths:
            seen = []
            for base in (gongkai, bare):
                async with http.get(base + path, headers={"Accept-Encoding": ENCODING}) as resp:
                    body = await resp.read()
                    headers = sorted(
                        (k, v) for k, v in resp.headers.items() if k.lower() not in IGNORED
                    )
                    etag = resp.headers["ETag"]
                async with http.get(
                    base + path, headers={"Accept-Encoding": ENCODING, "If-None-Match": etag}
                ) as resp:
                    nm = (
                        resp.status,
                        sorted((k, v) for k, v in resp.headers.items() if k.lower() not in IGNORED),
                    )
                seen.append((body, headers, nm))
            assert seen[0] == seen[1], f"{path}: the bare server does not answer as Gongkai does"


async def wrk(url: str, seconds: int, connections: int, etag: str | None) -> float:
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "-H",
        f"Accept-Encoding: {ENCODING}",
    ]
    if etag:
        command += ["-H", f"If-None-Match: {etag}"]
    proc = await asyncio.create_subprocess_exec(*command, url, stdout=subprocess.PIPE)
    out = (await proc.communicate())[0].decode()
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise SystemExit(f"{url}: {errors.group(1)} error answers\n{out}")
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if rate is None:
        raise SystemExit(f"wrk said nothing of its rate:\n{out}")
    return float(rate.group(1))


async def wait_up(url: str) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            try:
                async with http.get(url) as resp:
                    if resp.status < 500:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


async def main(args: argparse.Namespace) -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    async with database(args.db, args.pg_url) as db_url:
        last = await seed(db_url, args.items)
        paths = [f"/items/{last}", "/feeds/all.atom", "/"]
        with tempfile.TemporaryDirectory(prefix="gk-public-") as tmp:
            gk_port, bare_port = free_port(), free_port()
            config_file = Path(tmp) / "config.toml"
            config_file.write_text(config_text(db_url, gk_port), encoding="utf-8")
            log = (Path(tmp) / "gongkai.log").open("wb")
            env = {**os.environ, "GONGKAI_AUTHOR_KEY": "bench", "PYTHONUNBUFFERED": "1"}
            env["GONGKAI_AUDIT_KEY"] = "bench-audit-key-0123456789abcdefghijkl"
            gongkai = await asyncio.create_subprocess_exec(
                *[
                    sys.executable,
                    "-m",
                    "bot.cli.main",
                    "--config",
                    str(config_file),
                    "run",
                    "--role",
                    args.role,
                ],
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
            bare: asyncio.subprocess.Process | None = None
            try:
                gk = f"http://127.0.0.1:{gk_port}"
                await wait_up(gk + "/feeds/all.atom")
                spec = await capture(gk, paths)
                spec_file = Path(tmp) / "bare.json"
                spec_file.write_text(json.dumps(spec), encoding="utf-8")
                (Path(tmp) / "bare.py").write_text(BARE, encoding="utf-8")
                bare = await asyncio.create_subprocess_exec(
                    sys.executable, str(Path(tmp) / "bare.py"), str(spec_file), str(bare_port)
                )
                bare_url = f"http://127.0.0.1:{bare_port}"
                await wait_up(bare_url + paths[0])
                await same_answers(gk, bare_url, paths)
                print(
                    f"database: {args.db}; gongkai run --role {args.role}; {args.items} items; "
                    f"wrk -t1 -c{args.connections} "
                    f"-d{args.seconds}s; Accept-Encoding: {ENCODING}"
                )
                print(f"{'request':<34}{'bare req/s':>12}{'Gongkai req/s':>15}{'ratio':>8}")
                for path in paths:
                    for conditional in (False, True):
                        etag = spec[path]["etag"] if conditional else None
                        rates = []
                        for base in (bare_url, gk):
                            await asyncio.sleep(1)
                            rates.append(
                                await wrk(base + path, args.seconds, args.connections, etag)
                            )
                        label = f"{path} ({'304' if conditional else '200'})"
                        ratio = rates[1] / rates[0]
                        print(f"{label:<34}{rates[0]:>12,.0f}{rates[1]:>15,.0f}{ratio:>8.2f}")
            finally:
                for proc in (bare, gongkai):
                    if proc is not None:
                        proc.terminate()
                        await asyncio.wait_for(proc.wait(), 20)
                log.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--items", type=int, default=60)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument(
        "--role", choices=["all", "web"], default="all", help="gongkai run --role (default: all)"
    )
    asyncio.run(main(parser.parse_args()))
