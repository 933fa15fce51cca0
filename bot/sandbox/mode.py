"""Sandbox mode (`gongkai run --sandbox`, what `make run` starts): the bot with every channel
pointed at a local simulator on 127.0.0.1 (portal webhook, WeChat, 随申办) and a local upstream
feed, a SQLite database under data/sandbox/, secrets generated for the run, demo staff accounts
whose passwords are printed once, demo items from the source document, and a demo loop in
which simulated followers write back so the inbox fills (bot/sandbox/demo.py,
bot/sandbox/followers.py, bot/sandbox/upstream.py).

Only this module starts simulators, and only for a config that sandbox_config derived: the
app.sandbox flag cannot be set in a file, and a sandbox config with a PostgreSQL database or a
channel address off this machine is refused. Every page shows a SANDBOX banner; every log line
starts with "[SANDBOX]".
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import ipaddress
import logging
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
from aiohttp import web

from bot import db, runner
from bot.config import Config, parse_config
from bot.errors import Refusal
from bot.logs import PrefixFilter
from bot.models import ChannelState
from bot.sandbox import demo as sandbox_demo
from bot.sandbox import upstream as sandbox_upstream
from bot.sandbox.followers import DONE_KEY, DemoLoop
from channels.sandbox import webhook as webhook_sim
from channels.sandbox.suishenban import SuishenbanSimulator
from channels.sandbox.suishenban import start_simulator as start_suishenban
from channels.sandbox.wechat import Callback, WechatSimulator
from channels.wechat.token import TOKEN_KEY
from scheduler.polling import cursor_key

log = logging.getLogger(__name__)
DATA_DIR = "data/sandbox"
HOST = "127.0.0.1"
WECHAT_APP_ID = "wx5a0dbec0sandbox"
SUISHENBAN_APP_ID = "ssb-sandbox"
ENV = {  # the environment variable names of the sandbox's secrets (never the real ones)
    "webhook": "GONGKAI_SANDBOX_WEBHOOK_SECRET",
    "wechat_secret": "GONGKAI_SANDBOX_WECHAT_SECRET",
    "wechat_token": "GONGKAI_SANDBOX_WECHAT_TOKEN",
    "wechat_aes_key": "GONGKAI_SANDBOX_WECHAT_AES_KEY",
    "suishenban": "GONGKAI_SANDBOX_SUISHENBAN_SECRET",
    "author_key": "GONGKAI_SANDBOX_AUTHOR_KEY",
    "session_key": "GONGKAI_SANDBOX_SESSION_KEY",
    "audit_key": "GONGKAI_SANDBOX_AUDIT_KEY",
}
AUDIT_KEY_FILE = "audit.key"  # in the data directory: the sandbox's chain verifies across runs


class SandboxRefused(Refusal):
    """The sandbox will not start with this configuration (the message says why, in Chinese)."""


@dataclass(frozen=True)
class SandboxPorts:
    webhook: int = 8091
    wechat: int = 8092
    suishenban: int = 8093
    upstream: int = 8094

    def url(self, name: str) -> str:
        return f"http://{HOST}:{getattr(self, name)}"

    @classmethod
    def of(cls, config: Config) -> SandboxPorts:
        """The ports [sandbox] in config.toml names (8091–8094 unless set)."""
        s = config.sandbox
        return cls(s.webhook_port, s.wechat_port, s.suishenban_port, s.upstream_port)


@dataclass(frozen=True)
class SandboxSecrets:
    """Secrets of one sandbox run: made fresh on every start, shared only with the simulators."""

    webhook: str
    wechat_secret: str
    wechat_token: str
    wechat_aes_key: str  # EncodingAESKey: 43 characters, base64 of 32 bytes without padding
    suishenban: str
    author_key: str
    session_key: str
    audit_key: str = ""  # kept in the data directory (stable_audit_key), not made per run

    @classmethod
    def generate(cls) -> SandboxSecrets:
        aes_key = base64.b64encode(secrets.token_bytes(32)).decode().rstrip("=")
        return cls(
            webhook=secrets.token_urlsafe(16),
            wechat_secret=secrets.token_urlsafe(24),
            wechat_token=secrets.token_urlsafe(16),
            wechat_aes_key=aes_key,
            suishenban=secrets.token_urlsafe(24),
            author_key=secrets.token_urlsafe(32),
            session_key=secrets.token_urlsafe(32),
        )

    def environ(self) -> dict[str, str]:
        return {ENV[name]: getattr(self, name) for name in ENV}


def stable_audit_key(data_dir: str = DATA_DIR) -> str:
    """The sandbox's audit key: made once and kept in its data directory (owner-only), so the
    chain it signs verifies after a restart."""
    path = Path(data_dir) / AUDIT_KEY_FILE
    try:
        key = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        key = ""
    if len(key) >= 32:
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(key + "\n")
    return key


def _loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def sandbox_config(
    base: Config,
    keys: SandboxSecrets,
    ports: SandboxPorts | None = None,
    data_dir: str = DATA_DIR,
) -> Config:
    """The sandbox's configuration derived from the file's: its own database, every channel on
    its local simulator, the local upstream feed as the only source, secrets from `keys` (no
    other environment variable is visible), and app.sandbox set."""
    if base.database.is_postgres:
        raise SandboxRefused(
            "沙箱模式不能使用 PostgreSQL 数据库（database.url）：沙箱只使用 "
            f"{data_dir}/ 下的 SQLite 数据库，请勿用生产配置启动沙箱。"
        )
    ports = ports or SandboxPorts.of(base)
    data = base.model_dump()
    site = data["app"]["public_base_url"]
    if not _loopback(site):
        site = f"http://{HOST}:{base.web.port}"
    data["app"]["public_base_url"] = site
    data["database"]["url"] = f"sqlite://{data_dir}/gongkai.db"
    # The demo items link to the local upstream feed's pages: local addresses are the point here.
    data["review"]["link_allow_private"] = True
    data["web"]["console"]["session_key_env"] = ENV["session_key"]
    channels = data["channels"]
    channels["feed"]["enabled"] = True
    channels["webhook"].update(
        enabled=True, url=f"{ports.url('webhook')}/push", secret_env=ENV["webhook"]
    )
    channels["wechat"].update(
        enabled=True,
        app_id=WECHAT_APP_ID,
        app_secret_env=ENV["wechat_secret"],
        callback_token_env=ENV["wechat_token"],
        encoding_aes_key_env=ENV["wechat_aes_key"],
        message_mode="safe",
        api_base_url=ports.url("wechat"),
        fallback_base_urls=[],
        publish_wait_seconds=5,
        publish_poll_minutes=1,
    )
    channels["suishenban"].update(
        enabled=True,
        app_id=SUISHENBAN_APP_ID,
        app_secret_env=ENV["suishenban"],
        callback_secret_env="",
        api_base_url=ports.url("suishenban"),
    )
    inbox = data["inbox"]
    inbox.update(author_key_env=ENV["author_key"], alert_webhook_env="")
    data["audit"] = {"key_env": ENV["audit_key"], "previous_key_envs": []}
    # Short intervals, so polled comments and new FAQ answers show up while someone watches.
    inbox.update(poll_interval_seconds=10, knowledge_refresh_minutes=1)
    # Its own category models, beside its own database (whose rows name them).
    inbox["classifier"]["model_dir"] = f"{data_dir}/models"
    inbox["form"]["csrf_key_env"] = ""
    data["metrics"]["token_env"] = ""
    data["sources"] = [sandbox_upstream.source_config(ports.url("upstream"))]
    config = parse_config(data, "sandbox", environ=keys.environ())
    # Set after validation, which refuses the flag from any document (see AppConfig.sandbox).
    config = config.model_copy(update={"app": config.app.model_copy(update={"sandbox": True})})
    check_sandbox(config)
    return config


def check_sandbox(config: Config) -> None:
    """Refuse what must never run in sandbox mode: a config not derived by sandbox_config, a
    PostgreSQL database, or a channel or source address that is not on this machine."""
    if not config.app.sandbox:
        raise SandboxRefused("只有 gongkai run --sandbox 生成的沙箱配置才能启动模拟器。")
    if config.database.is_postgres:
        raise SandboxRefused("沙箱模式不能使用 PostgreSQL 数据库（database.url）。")
    c = config.channels
    urls: list[tuple[str, str]] = [(f"sources.{s.name}.url", s.url) for s in config.sources]
    if c.webhook.enabled:
        urls.append(("channels.webhook.url", c.webhook.url))
    if c.wechat.enabled:
        urls += [("channels.wechat.api_base_url", c.wechat.api_base_url)]
        urls += [("channels.wechat.fallback_base_urls", u) for u in c.wechat.fallback_base_urls]
    if c.suishenban.enabled:
        urls.append(("channels.suishenban.api_base_url", c.suishenban.api_base_url))
    for key, url in urls:
        if not _loopback(url):
            raise SandboxRefused(f"沙箱模式只连接本机模拟器，{key} = {url!r} 不是本机地址。")


def install_log_banner() -> None:
    """Mark the log lines written before the bot starts (seeding) as the bot's own logging
    setup (bot/runner.py) marks the rest: every line starts with "[SANDBOX] "."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.INFO)
    for handler in root.handlers:
        if not any(isinstance(f, PrefixFilter) for f in handler.filters):
            handler.addFilter(PrefixFilter(runner.SANDBOX_PREFIX))


def _wechat_ledger(sim: WechatSimulator) -> dict[str, Any]:
    led = sim.ledger
    return {
        "publications": [
            {
                "publish_id": pid,
                "status": p["status"],
                "article_id": p.get("article_id", ""),
                "titles": [a.get("title", "") for a in p["articles"]],
            }
            for pid, p in led.publications.items()
        ],
        "articles": {
            aid: {"titles": [a.get("title", "") for a in r["articles"]], "deleted": r["deleted"]}
            for aid, r in led.articles.items()
        },
        "mass_sends": led.mass_sends,
        "custom_messages": led.custom_messages,
        "copies": led.copies,  # msg_data_id: the 发表 or 群发 copy whose comments it keys
        "comments": led.comments,
        "callbacks": [
            {"type": c["fields"].get("Event") or c["fields"].get("MsgType"), "status": c["status"]}
            for c in led.callbacks
        ],
        "calls": dict(led.calls),
    }


@dataclass
class Simulators:
    """The running simulators of a sandbox and their ledger pages."""

    wechat: WechatSimulator
    suishenban: SuishenbanSimulator
    upstream: sandbox_upstream.UpstreamLedger
    ledgers: dict[str, str] = field(default_factory=dict)  # label: ledger URL
    runners: list[web.AppRunner] = field(default_factory=list)

    async def close(self) -> None:
        for app_runner in reversed(self.runners):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(app_runner.cleanup(), 5)


async def _serve(app: web.Application, port: int) -> web.AppRunner:
    app_runner = web.AppRunner(app, access_log=None)
    await app_runner.setup()
    try:
        await web.TCPSite(app_runner, HOST, port).start()
    except OSError as exc:
        await app_runner.cleanup()
        raise SandboxRefused(f"沙箱模拟器端口 {HOST}:{port} 已被占用：{exc}") from exc
    return app_runner


async def start_simulators(
    config: Config, keys: SandboxSecrets, ports: SandboxPorts | None = None
) -> Simulators:
    """Start the portal webhook, WeChat and 随申办 simulators and the upstream feed on 127.0.0.1,
    calling back the bot at its web port. Refused for any config but a sandbox one."""
    check_sandbox(config)
    ports = ports or SandboxPorts.of(config)
    bot_url = f"http://{HOST}:{config.web.port}"
    started: list[web.AppRunner] = []
    try:
        started.append(
            await _serve(webhook_sim.create_app(keys.webhook, latency_ms=20), ports.webhook)
        )
        callback = Callback(
            f"{bot_url}/wechat/callback",
            keys.wechat_token,
            keys.wechat_aes_key,
            WECHAT_APP_ID,
            "safe",
        )
        wechat = WechatSimulator(WECHAT_APP_ID, keys.wechat_secret, callback)

        async def wechat_ledger(request: web.Request) -> web.Response:
            return web.json_response(_wechat_ledger(wechat))

        wechat.app.router.add_get("/_sim/ledger", wechat_ledger)
        started.append(await _serve(wechat.app, ports.wechat))
        try:
            ssb_runner, ssb = await start_suishenban(
                HOST,
                ports.suishenban,
                app_id=SUISHENBAN_APP_ID,
                app_secret=keys.suishenban,
                callback_url=f"{bot_url}{config.channels.suishenban.callback_path}",
            )
        except OSError as exc:
            raise SandboxRefused(
                f"沙箱模拟器端口 {HOST}:{ports.suishenban} 已被占用：{exc}"
            ) from exc
        started.append(ssb_runner)
        upstream_app, upstream = sandbox_upstream.create_app(ports.url("upstream"))
        started.append(await _serve(upstream_app, ports.upstream))
    except BaseException:
        for app_runner in reversed(started):
            await app_runner.cleanup()
        raise
    ledgers = {
        "门户推送模拟器": f"{ports.url('webhook')}/_ledger",
        "微信公众号模拟器": f"{ports.url('wechat')}/_sim/ledger",
        "随申办模拟器": f"{ports.url('suishenban')}/_sim/ledger",
        "上游订阅源": f"{ports.url('upstream')}/_ledger",
    }
    return Simulators(wechat, ssb, upstream, ledgers, started)


async def _forget_simulator_state() -> None:
    """The simulators start empty on every run: drop what the database remembers of the last
    run's (the WeChat access token, the comment cursors), or the bot would ask for feedback
    after a cursor the new simulator never reached."""
    keys = [TOKEN_KEY, cursor_key("wechat"), cursor_key("suishenban")]
    await ChannelState.filter(key__in=keys).delete()


def command_config(base: Config) -> Config:
    """The sandbox's configuration for a one-shot command (`gongkai --sandbox user …`): the same
    database and audit key as `gongkai run --sandbox`; the per-run secrets are fresh, which only
    the running simulators would notice, and a command talks to none of them."""
    keys = dataclasses.replace(SandboxSecrets.generate(), audit_key=stable_audit_key())
    try:
        return sandbox_config(base, keys)
    except SandboxRefused as exc:
        raise click.ClickException(str(exc)) from exc


async def serve(base: Config, role: str, ports: SandboxPorts | None = None) -> None:
    """Run the sandbox until SIGTERM / SIGINT: seed, start the simulators, run the bot (see
    bot/runner.py) and the demo loop beside it."""
    keys = dataclasses.replace(SandboxSecrets.generate(), audit_key=stable_audit_key())
    try:
        config = sandbox_config(base, keys, ports)
    except SandboxRefused as exc:
        raise click.ClickException(str(exc)) from exc
    install_log_banner()
    await db.init(config, check_schema=False)
    try:
        await db.upgrade()
        seeded = await sandbox_demo.seed(config)
        await _forget_simulator_state()
        demo_done = await ChannelState.filter(key=DONE_KEY).exists()
    finally:
        await db.close()
    try:
        sims = await start_simulators(config, keys, ports)
    except SandboxRefused as exc:
        raise click.ClickException(str(exc)) from exc
    for line in sandbox_demo.startup_lines(config, seeded, sims.ledgers, demo_done):
        click.echo(line)
    site = f"http://{HOST}:{config.web.port}"
    loop = DemoLoop(config, sims.wechat, sims.suishenban, site)
    try:
        await runner.serve(config, role, companion=loop.run)
    finally:
        await sims.close()
