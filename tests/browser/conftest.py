"""Fixtures for the console's browser tests: the whole site running in the test's event loop
(web app on 127.0.0.1, a dispatcher with the feed and webhook channels, the webhook receiver
simulator), staff accounts, and headless Debian Chromium driven by Playwright's async API.

Without Playwright or /usr/bin/chromium the tests skip with the reason; CI sets
GONGKAI_REQUIRE_MARKS=browser and installs both, so there a skip cannot pass unnoticed.
Screenshots go to tests/browser/screenshots/ (ignored by git).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from bot import db
from bot.config import Config, parse_config
from bot.outbox.channel_set import build_channels
from bot.outbox.dispatcher import Dispatcher
from bot.outbox.wakeup import Wakeup
from bot.web.app import create_app
from channels.sandbox.webhook import LEDGER, Ledger
from channels.sandbox.webhook import create_app as webhook_app
from tests.conftest import Staff, create_staff, free_port

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
WEBHOOK_SECRET = "browser-webhook-secret"

try:
    from playwright.async_api import Browser, async_playwright
except ImportError:  # the dev extras not installed
    async_playwright = None  # type: ignore[assignment]


@dataclass
class Site:
    base: str
    config: Config
    staff: Staff
    ledger: Ledger
    shots: Path

    def url(self, path: str) -> str:
        return self.base + path


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    hook = TestServer(webhook_app(WEBHOOK_SECRET), host="127.0.0.1")
    await hook.start_server()
    # The public pages link with app.public_base_url: the address this test's server has.
    port = free_port()
    data: dict[str, Any] = {
        "app": {"public_base_url": f"http://127.0.0.1:{port}"},
        "database": {"url": f"sqlite://{tmp_path}/gongkai.db"},
        "review": {"check_links": False},
        "channels": {
            "webhook": {"enabled": True, "url": str(hook.make_url("/push")), "timeout_seconds": 5}
        },
        "dispatcher": {"backoff_base_seconds": 0.05, "backoff_max_seconds": 0.2},
    }
    config = parse_config(
        data,
        "browser-test",
        environ={
            "GONGKAI_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "GONGKAI_AUTHOR_KEY": "browser-author-key",
            "GONGKAI_SESSION_KEY": "browser-session-key-0123456789abcdef",
        },
    )
    await db.init(config, check_schema=False)
    await db.upgrade()
    staff = await create_staff()
    wakeup = Wakeup()
    dispatcher = Dispatcher(config, build_channels(config), wakeup)
    await dispatcher.start()
    server = TestServer(create_app(config, wakeup), host="127.0.0.1", port=port)
    await server.start_server()
    SCREENSHOTS.mkdir(exist_ok=True)
    try:
        yield Site(
            str(server.make_url("")).rstrip("/"), config, staff, hook.app[LEDGER], SCREENSHOTS
        )
    finally:
        await server.close()
        await dispatcher.stop(grace=1)
        await db.close()
        await hook.close()


@pytest.fixture
def chromium() -> Path:
    """Debian's Chromium, or a skip that says what is missing (an error in CI)."""
    if async_playwright is None:
        pytest.skip("playwright is not installed (pip install -e '.[dev]')")
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is missing (apt-get install chromium fonts-noto-cjk)")
    return CHROMIUM


@pytest.fixture
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=str(chromium), headless=True)
        try:
            yield launched
        finally:
            await launched.close()
