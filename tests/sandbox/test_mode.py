"""`gongkai run --sandbox` (what `make run` starts): the console address and the demo logins
printed once, the demo loop completing by itself (feeds, simulator ledgers, an inbox filled
from every channel, answers delivered), a clean stop on SIGTERM, the second start; and what the
sandbox refuses: the flag in a config file, a PostgreSQL database, a channel off this machine,
simulators for a production config."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from bot.config import ConfigError, load_config, parse_config
from bot.sandbox.demo import TITLES
from bot.sandbox.mode import (
    SandboxPorts,
    SandboxRefused,
    SandboxSecrets,
    check_sandbox,
    sandbox_config,
    start_simulators,
)
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ")


def test_a_config_file_cannot_turn_sandbox_mode_on(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("[app]\nsandbox = true\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"app\.sandbox = True: cannot be set in a config"):
        load_config(tmp_path / "config.toml")
    assert parse_config({"app": {"sandbox": False}}).app.sandbox is False


def test_sandbox_refuses_a_postgres_database() -> None:
    base = parse_config({"database": {"url": "postgres://gongkai@db.example.cn:5432/gongkai"}})
    with pytest.raises(SandboxRefused, match="PostgreSQL"):
        sandbox_config(base, SandboxSecrets.generate())
    # Nor may a sandbox config be pointed at one afterwards.
    config = sandbox_config(parse_config({}), SandboxSecrets.generate())
    moved = config.model_copy(
        update={"database": config.database.model_copy(update={"url": "postgres://x@h:5432/d"})}
    )
    with pytest.raises(SandboxRefused, match="PostgreSQL"):
        check_sandbox(moved)


def test_sandbox_refuses_a_channel_address_off_this_machine() -> None:
    config = sandbox_config(parse_config({}), SandboxSecrets.generate())
    channels = config.channels
    real = channels.wechat.model_copy(update={"api_base_url": "https://api.weixin.qq.com"})
    moved = config.model_copy(update={"channels": channels.model_copy(update={"wechat": real})})
    with pytest.raises(SandboxRefused, match=r"channels\.wechat\.api_base_url"):
        check_sandbox(moved)


async def test_simulators_never_start_for_a_production_config() -> None:
    ports = SandboxPorts(free_port(), free_port(), free_port(), free_port())
    with pytest.raises(SandboxRefused, match="--sandbox"):
        await start_simulators(parse_config({}), SandboxSecrets.generate(), ports)
    for port in (ports.webhook, ports.wechat, ports.suishenban, ports.upstream):
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))  # nothing was started there


def test_sandbox_config_sees_only_its_own_secrets_and_local_addresses() -> None:
    production = parse_config(
        {
            "channels": {"webhook": {"enabled": True, "url": "https://portal.example.cn/push"}},
            "sources": [
                {"name": "gov", "url": "https://www.example.cn/a.atom", "approver": "市府"}
            ],
        },
        environ={"GONGKAI_WEBHOOK_SECRET": "production", "GONGKAI_AUTHOR_KEY": "production"},
    )
    keys = SandboxSecrets.generate()
    config = sandbox_config(production, keys, data_dir="data/sandbox")
    assert config.app.sandbox and not production.app.sandbox
    assert config.database.url == "sqlite://data/sandbox/gongkai.db"
    assert config.secret("GONGKAI_WEBHOOK_SECRET") is None
    assert config.author_key() == keys.author_key.encode()
    assert config.secret(config.channels.wechat.encoding_aes_key_env) == keys.wechat_aes_key
    assert len(keys.wechat_aes_key) == 43
    assert config.channels.enabled_names() == ["feed", "webhook", "wechat", "suishenban"]
    assert config.channels.webhook.url == "http://127.0.0.1:8091/push"
    assert config.channels.wechat.fallback_base_urls == []
    assert [s.url for s in config.sources] == ["http://127.0.0.1:8094/feeds/documents.atom"]
    assert SandboxSecrets.generate() != keys  # fresh for every run


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=3) as resp:
        return json.load(resp)


def _inbox(db_file: Path) -> dict[str, int]:
    try:
        with sqlite3.connect(f"file:{db_file}?mode=ro", uri=True, timeout=2) as conn:
            rows = conn.execute("SELECT channel, COUNT(*) FROM gk_comment GROUP BY channel")
            return {str(c): int(n) for c, n in rows}
    except sqlite3.Error:
        return {}


def _start(tmp_path: Path, name: str) -> tuple[subprocess.Popen[bytes], Path]:
    out = tmp_path / name
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli.main", "run", "--sandbox"],
        cwd=tmp_path,
        stdout=out.open("wb"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)},
    )
    return proc, out


def _stop(proc: subprocess.Popen[bytes], out: Path) -> str:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0, out.read_text()
    text = out.read_text()
    assert "Traceback" not in text
    return text


def test_simulator_ports_come_from_the_sandbox_section() -> None:
    chosen = parse_config(
        {
            "sandbox": {
                "webhook_port": 18091,
                "wechat_port": 18092,
                "suishenban_port": 18093,
                "upstream_port": 18094,
            }
        }
    )
    assert SandboxPorts.of(chosen) == SandboxPorts(18091, 18092, 18093, 18094)
    config = sandbox_config(chosen, SandboxSecrets.generate())
    assert config.channels.webhook.url == "http://127.0.0.1:18091/push"
    assert config.channels.wechat.api_base_url == "http://127.0.0.1:18092"
    assert config.channels.suishenban.api_base_url == "http://127.0.0.1:18093"
    assert [s.url for s in config.sources] == ["http://127.0.0.1:18094/feeds/documents.atom"]
    with pytest.raises(ConfigError, match="four different ports"):
        parse_config({"sandbox": {"wechat_port": 8091}})


def sandbox_file(tmp_path: Path) -> tuple[str, SandboxPorts]:
    """A config.toml in tmp_path putting the web server and every simulator on a free port,
    so a run never needs 8080 or 8091–8094 (a `make run` may hold them)."""
    port = free_port()
    ports = SandboxPorts(free_port(), free_port(), free_port(), free_port())
    site = f"http://127.0.0.1:{port}"
    (tmp_path / "config.toml").write_text(
        f'[app]\npublic_base_url = "{site}"\n\n[web]\nport = {port}\n\n'
        f"[sandbox]\nwebhook_port = {ports.webhook}\nwechat_port = {ports.wechat}\n"
        f"suishenban_port = {ports.suishenban}\nupstream_port = {ports.upstream}\n",
        encoding="utf-8",
    )
    return site, ports


@pytest.mark.slow
def test_sandbox_runs_the_whole_demo_loop_by_itself_and_stops_cleanly(tmp_path: Path) -> None:
    site, ports = sandbox_file(tmp_path)
    proc, out = _start(tmp_path, "first.log")
    db_file = tmp_path / "data" / "sandbox" / "gongkai.db"
    state: dict[str, Any] = {"feed": set(), "wechat": {}, "suishenban": {}}
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert proc.poll() is None, out.read_text()
            try:
                state["feed"] = {i["title"] for i in _get(f"{site}/feeds/all.json")["items"]}
                state["wechat"] = _get(f"{ports.url('wechat')}/_sim/ledger")
                state["suishenban"] = _get(f"{ports.url('suishenban')}/_sim/ledger")
            except OSError:
                pass
            state["inbox"] = _inbox(db_file)
            if (
                state["feed"] == set(TITLES)
                and {"wechat", "suishenban", "feed"} <= set(state["inbox"])
                and state["inbox"]["wechat"] >= 5  # messages, and the polled article comments
                and state["inbox"]["suishenban"] >= 2  # pushed, and polled
                and state["wechat"].get("custom_messages")
                and state["suishenban"].get("replies")
            ):
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"the demo loop did not complete: {state}\n{out.read_text()}")
        published = {t for p in state["wechat"]["publications"] for t in p["titles"]}
        assert published == set(TITLES)
        assert {c["title"] for c in state["suishenban"]["cards"].values()} == set(TITLES)
        with urllib.request.urlopen(f"{site}/console/login", timeout=3) as resp:
            assert "SANDBOX" in resp.read().decode()
        text = out.read_text()
        assert f"控制台：{site}/console/" in text
        assert "密码只显示这一次" in text
        for account in ("editor", "reviewer", "moderator", "admin"):
            assert re.search(rf"^  {account} +\S+ +角色：", text, re.M), account
        assert f"{ports.url('wechat')}/_sim/ledger" in text
        assert "命令行操作沙箱数据：.venv/bin/gongkai --sandbox <命令>" in text
        assert f"{site}/feeds/all.atom" in text
        assert "answered at once (FAQ auto-reply)" in text
        text = _stop(proc, out)
        log_lines = [line for line in text.splitlines() if LOG_LINE.match(line)]
        assert log_lines and all("[SANDBOX] " in line for line in log_lines)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    # A second start keeps the data: no passwords again, and how to reset one.
    proc, out = _start(tmp_path, "second.log")
    try:
        deadline = time.monotonic() + 30
        while "web server on" not in out.read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, out.read_text()
            time.sleep(0.3)
        text = _stop(proc, out)
        assert "密码只显示这一次" not in text
        assert "演示账号已存在" in text and "gongkai --sandbox user reset-password" in text
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
