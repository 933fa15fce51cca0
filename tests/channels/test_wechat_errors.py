"""Every WeChat errcode the channel meets maps to the dispatcher's error class, with a Chinese
message a staff member can act on."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from channels.base import (
    AuthError,
    ChannelError,
    NeedsOtherRoute,
    PermanentError,
    RateLimited,
    TransientError,
)
from channels.wechat.errors import classify, publish_failure, seconds_until_beijing_midnight

TABLE: list[tuple[int, type[ChannelError], str]] = [
    (-1, TransientError, "系统繁忙"),
    (45009, RateLimited, "今日调用次数已用完"),
    (45011, RateLimited, "每分钟"),
    (48001, PermanentError, "微信认证"),
    (40164, PermanentError, "IP 白名单"),
    (40001, AuthError, "access_token"),
    (40014, AuthError, "access_token"),
    (42001, AuthError, "access_token"),
    (40007, PermanentError, "cover.png"),
    (40005, PermanentError, "cover.png"),
    (40009, PermanentError, "cover.png"),
    (45015, NeedsOtherRoute, "48小时"),
    (45047, NeedsOtherRoute, "其他方式"),
    (88000, PermanentError, "未开启留言"),
    (88001, PermanentError, "图文不存在"),
    (88002, PermanentError, "限制留言"),
    (88008, PermanentError, "留言不存在"),
    (45028, PermanentError, "群发次数已用完"),
    (45066, RateLimited, "clientmsgid"),
    (45067, PermanentError, "clientmsgid"),
    (53503, PermanentError, "发表检查"),
    (99999, PermanentError, "99999"),
]


@pytest.mark.parametrize(("code", "cls", "words"), TABLE)
def test_errcode_maps_to_its_class_with_an_actionable_message(
    code: int, cls: type[ChannelError], words: str
) -> None:
    error = classify(code, "errmsg from wechat", "draft/add", "cover.png")
    assert type(error) is cls
    assert words in str(error)


def test_unknown_errcode_is_permanent_naming_code_and_errmsg() -> None:
    error = classify(61234, "something new rid: abc", "freepublish/submit")
    assert isinstance(error, PermanentError)
    assert "61234" in str(error) and "something new" in str(error)


def test_daily_quota_retries_after_beijing_midnight() -> None:
    error = classify(45009, "reach max api daily quota limit")
    assert isinstance(error, RateLimited) and error.retry_after is not None
    assert 60 < error.retry_after <= 24 * 3600 + 60
    # 23:30 in Beijing is 15:30 UTC: half an hour (and a minute) to go.
    at = datetime(2026, 3, 2, 15, 30, tzinfo=UTC)
    assert seconds_until_beijing_midnight(at) == 30 * 60 + 60


def test_minute_quota_retries_after_a_minute() -> None:
    error = classify(45011, "api minute-quota reach limit")
    assert isinstance(error, RateLimited) and error.retry_after == 60


def test_same_clientmsgid_retried_too_fast_waits_a_minute_not_fails() -> None:
    error = classify(45066, "clientmsgid retry too fast", "message/mass/sendall")
    assert isinstance(error, RateLimited) and error.retry_after == 60


def test_publish_failure_names_the_status_and_the_failed_article() -> None:
    # fail_idx is 1-based ("第一篇为 1", S18): [1] is the first article.
    assert "原创" in publish_failure(2, [1]) and "第 1 篇" in publish_failure(2, [1])
    assert "第 1、3 篇" in publish_failure(4, [1, 3])
    assert "封禁" in publish_failure(6, [])


def test_fail_idx_is_ignored_unless_the_status_is_2_or_4() -> None:
    # freepublish/get's example for status 1 still has "fail_idx": [1] (S17; "Disagreements").
    assert "篇" not in publish_failure(3, [1])
