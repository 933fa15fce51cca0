"""A session's browser as staff read it on the 人员管理 page: real User-Agent strings named
in words (Edge and 微信 before the Chrome and Safari they also claim to be)."""

from __future__ import annotations

import pytest

from bot.web.console.labels import device

CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
EDGE = CHROME_WINDOWS + " Edg/120.0.2210.91"
WECHAT_ANDROID = (
    "Mozilla/5.0 (Linux; Android 13; V2183A Build/TP1A.220624.014; wv) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/116.0.0.0 Mobile Safari/537.36 "
    "MicroMessenger/8.0.44.2502(0x28002C37) NetType/WIFI Language/zh_CN"
)
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)
HEADLESS = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/120.0.6099.28 Safari/537.36"
)


@pytest.mark.parametrize(
    ("ua", "shown"),
    [
        (CHROME_WINDOWS, "Chrome 浏览器 · Windows"),
        (EDGE, "Edge 浏览器 · Windows"),
        (WECHAT_ANDROID, "微信内置浏览器 · Android"),
        (SAFARI_IPHONE, "Safari 浏览器 · iPhone"),
        (HEADLESS, "无界面 Chrome（自动化程序） · Linux"),
        ("something/1.0", "未知浏览器"),
        ("", "—"),
        (None, "—"),
    ],
)
def test_a_user_agent_is_named_in_words(ua: str | None, shown: str) -> None:
    assert device(ua) == shown
