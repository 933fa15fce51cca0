"""`gongkai run --sandbox` (what `make run` starts): demo accounts printed once, the demo
notice published to the feeds through the simulators, a clean stop on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_sandbox_publishes_the_demo_notice_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "config.toml").write_text(
        f'[app]\npublic_base_url = "http://127.0.0.1:{port}"\n\n[web]\nport = {port}\n',
        encoding="utf-8",
    )
    log = (tmp_path / "out.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run", "--sandbox"],
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)},
    )
    try:
        titles: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not titles:
            assert proc.poll() is None, (tmp_path / "out.log").read_text()
            try:
                url = f"http://127.0.0.1:{port}/feeds/all.json"
                with urllib.request.urlopen(url, timeout=2) as resp:
                    titles = [i["title"] for i in json.load(resp)["items"]]
            except OSError:
                pass
            time.sleep(0.3)
        assert titles == ["关于印发《2021年政务公开工作要点》的通知"]
        output = (tmp_path / "out.log").read_text()
        assert "密码只显示这一次" in output
        for account in ("editor", "reviewer", "moderator", "admin"):
            assert f"  {account}" in output
        assert (tmp_path / "data" / "sandbox" / "gongkai.db").exists()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert "Traceback" not in (tmp_path / "out.log").read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
