"""WeChat callback benchmark: safe-mode (AES) text messages to /wechat/callback, against a bare
aiohttp handler that reads the body and answers "success", in the same run.

Both servers run in their own processes; this process only generates load (aiohttp client,
requests encrypted and signed with wechatpy's WeChatCrypto beforehand, each with its own MsgId).
The bot runs exactly as `gongkai serve` builds the app, on a SQLite file, with FAQ entries in
its knowledge base (one message in ten matches one and gets an encrypted passive reply).

- throughput: a closed loop of --concurrency requests in flight for --seconds against each
  server; the ratio bot / bare (target >= 0.5);
- open loop: --rate requests per second for --seconds, each sent at its scheduled time whatever
  the earlier ones do; latency counted from the scheduled time (no coordinated omission);
  p50 / p99 / max (target: p99 < 100 ms at 300/s).
- capacity: open loops at rising --capacity-rates against each server, 10 s each: the highest
  rate at which every answer came with p99 under 100 ms and, for the bot, its worker kept up
  (the inbox had every message within --keep-up seconds after the step). The bare server's
  capacity shows what the load generator itself can send.

At the end it checks that every message sent to the bot is stored once and waits until the
background step has put each into the inbox.

Run: .venv/bin/python benchmarks/wechat_callback.py   (see benchmarks/README.md)
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dispatch import cpu_seconds, database, free_port  # noqa: E402  (benchmarks/dispatch.py, next to it)

TOKEN = "bench-token"
AES_KEY = base64.b64encode(b"bench-aes-key-0123456789abcdefgh").decode().rstrip("=")
APP_ID = "wxbench000000000"
ENV = {
    "GONGKAI_WECHAT_TOKEN": TOKEN,
    "GONGKAI_WECHAT_AES_KEY": AES_KEY,
    "GONGKAI_AUTHOR_KEY": "bench-author-key",
}
PATH = "/wechat/callback"
FAQ = [
    ("如何申请政府信息公开", "可通过网上申请、信函申请或当面申请提交政府信息公开申请。"),
    ("依申请公开的答复期限是多久", "自收到申请之日起20个工作日内予以答复。"),
    ("行政处罚决定在哪里查询", "请在本网站“行政执法公示”栏目查询。"),
]
QUESTIONS = [
    "请问小额贷款公司的监管政策在哪里可以看到",
    "融资担保公司年审材料什么时候提交",
    "我想举报一家非法集资的公司",
    "地方金融组织的名单能否公布",
    "典当行的经营范围有哪些规定",
    "你们的办公地址在哪里",
    "上周的通知里提到的培训什么时候开始",
    "商业保理公司的统计报表怎么报送",
    "感谢你们的及时答复",
]


def config_data(db_url: str, role: str = "all") -> dict[str, Any]:
    # --role web: the web process only stores and answers, a worker relays (relay_in_workers)
    callback = {"relay_in_workers": role == "web"}
    wechat = {"enabled": True, "app_id": APP_ID, "message_mode": "safe", "callback": callback}
    return {
        "database": {"url": db_url},
        "channels": {"wechat": wechat, "webhook": {"enabled": False}},
        "review": {"check_links": False},
    }


# -- the servers (child processes) ---------------------------------------------------------
async def serve_bot(port: int, db_url: str, role: str) -> None:
    """The web app as `gongkai run` builds it: with role all it also hands the messages to the
    inbox itself; with role web (relay_in_workers) a worker process does (serve_relay)."""
    from bot import db
    from bot.config import parse_config
    from bot.web.app import create_app

    config = parse_config(config_data(db_url, role), "bench", environ=ENV)
    await db.init(config)
    runner = web.AppRunner(create_app(config), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, backlog=config.web.backlog).start()
    await asyncio.Event().wait()


async def serve_relay(db_url: str) -> None:
    """What a `--role worker` process runs for the callback (scheduler/worker.py): its own
    inbox and knowledge base, and the relay polling the stored messages."""
    from bot import db
    from bot.config import parse_config
    from bot.inbox.ingest import Inbox
    from bot.wechat.relay import MessageRelay

    config = parse_config(config_data(db_url), "bench", environ=ENV)
    await db.init(config)
    inbox = Inbox(config)
    await inbox.refresh_knowledge()
    relay = MessageRelay(config, inbox, config.author_key(), beside_callback=False, owner="bench")
    await relay.start()
    await asyncio.Event().wait()


async def serve_bare(port: int) -> None:
    from bot.config import WebConfig

    async def handler(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(text="success")

    app = web.Application()
    app.router.add_post(PATH, handler)
    app.router.add_get(PATH, handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    # The bot's listen queue (web.backlog's default), so that both meet bursts alike.
    await web.TCPSite(runner, "127.0.0.1", port, backlog=WebConfig().backlog).start()
    await asyncio.Event().wait()


def postgres_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


class CpuMeter:
    """CPU time of each process of the run over a slice: where the machine's cores went."""

    def __init__(self, procs: dict[str, int], with_postgres: bool) -> None:
        self.procs = {"load": os.getpid(), **procs}
        self.with_postgres = with_postgres

    def snapshot(self) -> dict[str, float]:
        out = {name: cpu_seconds(pid) for name, pid in self.procs.items()}
        if self.with_postgres:
            out["postgres"] = sum(cpu_seconds(pid) for pid in postgres_pids())
        return out

    @staticmethod
    def per_request(before: dict[str, float], after: dict[str, float], sent: int) -> str:
        used = {k: (after[k] - before[k]) / max(sent, 1) * 1e6 for k in before}
        return ", ".join(f"{k} {v:.0f}" for k, v in used.items() if v >= 1)


def start_server(kind: str, port: int, db_url: str, role: str) -> subprocess.Popen[bytes]:
    args = [sys.executable, __file__, "--serve", kind, "--port", str(port), "--db-url", db_url]
    return subprocess.Popen([*args, "--role", role], cwd=ROOT)


async def wait_up(session: aiohttp.ClientSession, url: str) -> None:
    for _ in range(300):
        try:
            async with session.get(url) as resp:
                await resp.read()
                return
        except aiohttp.ClientConnectionError:
            await asyncio.sleep(0.1)
    raise SystemExit(f"server at {url} did not start")


async def prepare_db(db_url: str, history: int) -> None:
    """A migrated database with the FAQ and `history` earlier messages, stored and in the inbox
    through the bot's own code: an office's database is not empty, and on an empty one
    PostgreSQL plans the first queries for empty tables (sequential scans that the connections
    keep until autovacuum's first ANALYZE, a minute or more later)."""
    from tortoise.transactions import in_transaction

    from bot import db
    from bot.config import parse_config
    from bot.inbox.ingest import Inbox
    from bot.models import ChannelEvent, Faq
    from bot.search import index as search_index
    from bot.search.documents import faq_doc
    from bot.wechat import events
    from channels.wechat.messages import classify

    config = parse_config(config_data(db_url), "bench", environ=ENV)
    await db.init(config, check_schema=False)
    await db.upgrade()
    for question, answer in FAQ:
        faq = await Faq.create(question=question, answer=answer, keywords=[])
        async with in_transaction() as conn:  # the knowledge base reads the search index
            await search_index.store(conn, [faq_doc(faq)])
    inbox = Inbox(config)
    await inbox.refresh_knowledge()
    now, step = int(time.time()) - 365 * 86400, 500
    for start in range(0, history, step):
        if start == step and db.connection().capabilities.dialect == "postgres":
            # What autovacuum would do by now: plans for tables that are no longer empty
            await db.connection().execute_script("ANALYZE")
        batch = []
        for n in range(start, min(start + step, history)):
            fields = {
                "ToUserName": "gh_bench",
                "FromUserName": f"o{n % 5000:06d}",
                "CreateTime": str(now + n * 600),
                "MsgType": "text",
                "Content": f"{QUESTIONS[n % len(QUESTIONS)]}（历史 {n}）",
                "MsgId": str(n + 1),
            }
            batch.append((classify(fields), ""))
        stored = await events.store_many(batch)
        rows = await ChannelEvent.filter(id__in=[s.id for s in stored])
        await events.process_messages(rows, inbox, config.author_key())
    if db.connection().capabilities.dialect == "postgres":
        await db.connection().execute_script("ANALYZE")
    await db.close()


# -- the load ------------------------------------------------------------------------------
@dataclass
class Request:
    params: dict[str, str]
    body: bytes


class Messages:
    """Encrypted, signed text messages as WeChat sends them, each with a fresh MsgId."""

    def __init__(self) -> None:
        self.crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID)
        self.next_id = 10_000_000

    def make(self, count: int) -> list[Request]:
        out = []
        for _ in range(count):
            self.next_id += 1
            n = self.next_id
            text = FAQ[0][0] if n % 10 == 0 else f"{QUESTIONS[n % len(QUESTIONS)]}（{n}）"
            timestamp, nonce = str(int(time.time())), uuid.uuid4().hex[:10]
            xml = (
                "<xml><ToUserName><![CDATA[gh_bench]]></ToUserName>"
                f"<FromUserName><![CDATA[o{n % 500:06d}]]></FromUserName>"
                f"<CreateTime>{timestamp}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
                f"<Content><![CDATA[{text}]]></Content><MsgId>{n}</MsgId></xml>"
            )
            body = self.crypto.encrypt_message(xml, nonce, timestamp)
            msg_signature = body.split("<MsgSignature><![CDATA[", 1)[1].split("]]>", 1)[0]
            signer = WeChatSigner()
            signer.add_data(TOKEN, timestamp, nonce)
            params = {
                "signature": signer.signature,
                "timestamp": timestamp,
                "nonce": nonce,
                "openid": f"o{n % 500:06d}",
                "encrypt_type": "aes",
                "msg_signature": msg_signature,
            }
            out.append(Request(params, body.encode()))
        return out


@dataclass
class Result:
    sent: int = 0
    failed: int = 0
    latencies: list[float] | None = None


async def send(session: aiohttp.ClientSession, url: str, req: Request) -> bool:
    async with session.post(url, params=req.params, data=req.body) as resp:
        text = await resp.text()
        return resp.status == 200 and (text == "success" or text.startswith("<xml>"))


async def closed_loop(
    session: aiohttp.ClientSession, url: str, reqs: list[Request], concurrency: int, seconds: float
) -> tuple[float, Result]:
    result = Result()
    deadline = time.perf_counter() + seconds
    it = iter(reqs)

    async def one_client() -> None:
        while time.perf_counter() < deadline:
            req = next(it, None)
            if req is None:
                return
            ok = await send(session, url, req)
            result.sent += 1
            result.failed += not ok

    start = time.perf_counter()
    await asyncio.gather(*(one_client() for _ in range(concurrency)))
    return result.sent / (time.perf_counter() - start), result


async def open_loop(
    session: aiohttp.ClientSession, url: str, reqs: list[Request], rate: float
) -> Result:
    """Each request sent at its scheduled time, in a task started then (not all made up front:
    making thousands of tasks at once delayed the first requests by the time it took)."""
    result = Result(latencies=[])
    tasks: set[asyncio.Task[None]] = set()

    async def one(scheduled: float, req: Request) -> None:
        ok = await send(session, url, req)
        assert result.latencies is not None
        result.latencies.append(time.perf_counter() - scheduled)
        result.sent += 1
        result.failed += not ok

    start = time.perf_counter() + 0.1
    for i, req in enumerate(reqs):
        scheduled = start + i / rate
        wait = scheduled - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        task = asyncio.create_task(one(scheduled, req))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.gather(*tasks)
    return result


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000


async def unhandled() -> int:
    from bot.models import ChannelEvent

    return await ChannelEvent.filter(handled_at=None).count()


async def caught_up(patience: float) -> float | None:
    """Seconds until no stored message waits for the inbox any more; None past `patience`."""
    waited = time.perf_counter()
    while await unhandled():
        if time.perf_counter() - waited > patience:
            return None
        await asyncio.sleep(0.1)
    return time.perf_counter() - waited


async def capacity(
    session: aiohttp.ClientSession,
    name: str,
    url: str,
    messages: Messages,
    args: argparse.Namespace,
    inbox: bool,
) -> int:
    """Open loops at rising rates: the highest rate a server sustains, answering every request
    with p99 < 100 ms, and (inbox: the bot with its worker running) with the inbox holding
    every message within --keep-up seconds after the step. Returns how many were sent."""
    sent, best = 0, 0.0
    print(f"capacity {name}:")
    for rate in args.capacity_rates:
        res = await open_loop(session, url, messages.make(int(rate * args.seconds)), rate)
        sent += res.sent
        lat = res.latencies or [0.0]
        p99 = pct(lat, 99)
        held = p99 < 100 and not res.failed
        line = (
            f"  {rate:5.0f}/s for {args.seconds:.0f} s: p50 {pct(lat, 50):.1f} ms, "
            f"p99 {p99:.1f} ms, max {max(lat) * 1000:.1f} ms, {res.failed} failed"
        )
        if inbox:
            lag = await caught_up(args.drain_timeout)
            held = held and lag is not None and lag <= args.keep_up
            line += "; inbox complete " + (
                f"{lag:.1f} s after"
                if lag is not None
                else f"not within {args.drain_timeout:.0f} s"
            )
        print(line + ("" if held else "  <- not sustained"))
        if not held:
            break
        best = rate
    print(f"capacity {name}: {best:.0f} requests/s" + ("" if best else " (none of the rates)"))
    return sent


async def stored() -> tuple[int, int, int]:
    from bot.models import ChannelEvent, Comment

    return (
        await ChannelEvent.all().count(),
        await unhandled(),
        await Comment.all().count(),
    )


async def run(args: argparse.Namespace) -> None:
    async with database(args.database, args.pg_url) as db_url:
        await prepare_db(db_url, args.history)
        await load(args, db_url)


async def drain(db_url: str, sent: int, history: int, patience: float) -> None:
    """Wait until every message sent to the bot is stored once and in the inbox (beside the
    history stored before the load)."""
    from bot import db
    from bot.config import parse_config

    await db.init(parse_config(config_data(db_url), "bench", environ=ENV))
    try:
        waited = time.perf_counter()
        while True:
            events, unhandled, comments = await stored()
            events, comments = events - history, comments - history
            if (unhandled == 0 and comments >= sent) or time.perf_counter() - waited > patience:
                break
            await asyncio.sleep(0.2)
        print(
            f"bot stored {events} messages for {sent} sent; {comments} in the inbox, "
            f"{unhandled} still unhandled, {time.perf_counter() - waited:.1f} s after the load"
        )
    finally:
        await db.close()


async def load(args: argparse.Namespace, db_url: str) -> None:
    """Both servers under the same load, then the capacity sweep and the wait for the inbox to
    catch up."""
    from bot import db
    from bot.config import parse_config

    bot_port, bare_port = free_port(), free_port()
    named = {
        "bot": start_server("bot", bot_port, db_url, args.role),
        "bare": start_server("bare", bare_port, db_url, args.role),
    }
    beside = args.role == "web" and args.worker == "beside"
    worker_running = beside or args.role == "all"  # the inbox is checked during the load
    if beside:
        named["worker"] = start_server("relay", 0, db_url, args.role)
    procs = list(named.values())
    meter = CpuMeter({k: p.pid for k, p in named.items()}, args.database == "postgres")
    if args.role == "all":
        print("bot as --role all")
    elif beside:
        print("bot as --role web with a worker process beside it")
    else:
        print("bot as --role web; its worker starts only after the load (--worker after)")
    bot_url = f"http://127.0.0.1:{bot_port}{PATH}"
    bare_url = f"http://127.0.0.1:{bare_port}{PATH}"
    messages = Messages()
    sent_to_bot = 0
    try:
        # Open loops must not queue in the client; the cap only keeps a stalled server from
        # taking every file descriptor of this process.
        connector = aiohttp.TCPConnector(limit=4096)
        async with aiohttp.ClientSession(connector=connector) as session:
            await wait_up(session, bare_url)
            await wait_up(session, bot_url + "?signature=x")  # 403 means it is up
            # Alternating slices, so that whatever else the machine does weighs on both alike.
            rates: dict[str, list[float]] = {"bare": [], "bot": []}
            cpu: dict[str, list[str]] = {"bare": [], "bot": []}
            for _ in range(args.rounds):
                for name, url in (("bare", bare_url), ("bot", bot_url)):
                    reqs = messages.make(int(args.slice_seconds * 6000))
                    before = meter.snapshot()
                    rate, res = await closed_loop(
                        session, url, reqs, args.concurrency, args.slice_seconds
                    )
                    cpu[name].append(meter.per_request(before, meter.snapshot(), res.sent))
                    rates[name].append(rate)
                    sent_to_bot += res.sent if name == "bot" else 0
                    assert not res.failed, f"{res.failed} requests to {name} failed"
            ratios = sorted(b / a for a, b in zip(rates["bare"], rates["bot"], strict=True))
            for name in ("bare", "bot"):
                shown = ", ".join(f"{r:.0f}" for r in rates[name])
                print(f"throughput {name:4}: {shown} req/s (concurrency {args.concurrency})")
                for line in cpu[name]:
                    print(f"  CPU µs per request: {line}")
            print(
                f"throughput ratio bot/bare: median {ratios[len(ratios) // 2]:.2f}, "
                f"min {ratios[0]:.2f} (target >= 0.5)"
            )
            for name, url in (("bare", bare_url), ("bot", bot_url)):
                count = int(args.rate * args.seconds)
                res = await open_loop(session, url, messages.make(count), args.rate)
                sent_to_bot += res.sent if name == "bot" else 0
                lat = res.latencies or [0.0]
                print(
                    f"open loop {name:4} at {args.rate:.0f}/s for {args.seconds:.0f} s: "
                    f"p50 {pct(lat, 50):.1f} ms, p99 {pct(lat, 99):.1f} ms, "
                    f"max {max(lat) * 1000:.1f} ms ({res.failed} failed)"
                )
            if args.capacity_rates:
                await db.init(parse_config(config_data(db_url), "bench", environ=ENV))
                try:
                    if worker_running:
                        await caught_up(args.drain_timeout)  # the earlier runs' backlog first
                    await capacity(session, "bare", bare_url, messages, args, inbox=False)
                    sent_to_bot += await capacity(
                        session, "bot", bot_url, messages, args, inbox=worker_running
                    )
                finally:
                    await db.close()
        if args.role == "web" and not beside:  # --worker after: now the inbox catches up
            procs.append(start_server("relay", 0, db_url, args.role))
        await drain(db_url, sent_to_bot, args.history, args.drain_timeout)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--serve", choices=["bot", "bare", "relay"], help=argparse.SUPPRESS)
    parser.add_argument(
        "--role",
        choices=["web", "all"],
        default="web",
        help="web: the callback in a --role web process, the inbox step in a worker process; "
        "all: both in one process",
    )
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--db-url", default="", help=argparse.SUPPRESS)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10, help="open-loop run length")
    parser.add_argument("--rounds", type=int, default=3, help="throughput slices per server")
    parser.add_argument("--slice-seconds", type=float, default=4)
    parser.add_argument("--rate", type=float, default=300)
    parser.add_argument(
        "--history", type=int, default=20_000, help="earlier messages in the database"
    )
    parser.add_argument(
        "--worker",
        choices=["beside", "after"],
        default="beside",
        help="--role web: the worker runs beside the web process throughout (beside), or starts "
        "only after all the load (after: the web process's own numbers, as with the worker "
        "on other cores; the inbox is then checked once, at the end)",
    )
    parser.add_argument(
        "--capacity-rates",
        type=lambda v: [float(r) for r in v.split(",") if r],
        default=[500.0, 1000.0, 1500.0, 2000.0, 2500.0, 3000.0, 4000.0, 5000.0],
        help="open-loop rates of the capacity sweep, comma-separated (empty: no sweep)",
    )
    parser.add_argument(
        "--keep-up",
        type=float,
        default=5,
        help="seconds after a sweep step within which the inbox must have every message",
    )
    parser.add_argument("--drain-timeout", type=float, default=120)
    args = parser.parse_args()
    if args.serve == "bot":
        os.chdir(ROOT)
        asyncio.run(serve_bot(args.port, args.db_url, args.role))
    elif args.serve == "relay":
        os.chdir(ROOT)
        asyncio.run(serve_relay(args.db_url))
    elif args.serve == "bare":
        asyncio.run(serve_bare(args.port))
    else:
        asyncio.run(run(args))


if __name__ == "__main__":
    main()
