"""Shared by the 集中诉求 tests: a configuration listing matters on the test's (connected)
database, a moderator, and comments ingested the real way (12345 work orders through the
hotline import, messages through the inbox)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot import users
from bot.actors import Actor
from bot.config import Config
from bot.inbox.hotline import import_hotline
from bot.inbox.ingest import Inbox
from tests.conftest import add_test_user, make_config

MATTERS: list[dict[str, Any]] = [
    {
        "key": "kaiban",
        "name": "企业开办",
        "office": "企业服务处",
        "keywords": ["营业执照", "开办企业", "设立登记"],
        "aliases": ["企业开办一窗通"],
        "description": "企业设立登记、营业执照办理、刻章、申领发票",
    },
    {
        "key": "gongjijin",
        "name": "住房公积金提取",
        "office": "住房保障处",
        "keywords": ["公积金"],
    },
    {
        "key": "jiaotong",
        "name": "交通违法处理",
        "office": "交通管理处",
        "keywords": ["违章", "罚单"],
    },
]
ORDERS = (
    "营业执照办了一个月还没下来，窗口说材料不全又说不清缺什么",
    "网上开办企业系统老是提示错误，提交不了营业执照申请",
    "营业执照变更登记要跑三次，能不能一次办好",
)


def matters_config(base: Config, **hot: Any) -> Config:
    """`base`'s database, the three matters above, [hot_matters] as given."""
    sections: dict[str, Any] = {"matters": MATTERS, "review": {"check_links": False}}
    if hot:
        sections["hot_matters"] = hot
    return make_config(base.database.url, **sections)


async def moderator(name: str = "mia") -> Actor:
    await add_test_user(name, ["moderator"], "Pw-lima-2026", "system:test")
    return await users.actor_for_user(name)


def orders_csv(path: Path, count: int, start: datetime, prefix: str = "GD") -> Path:
    """`count` 12345 work orders about 企业开办, one a day from `start` (Shanghai time)."""
    lines = ["工单编号,受理时间,诉求内容,诉求类型,承办单位"]
    for i in range(count):
        at = (start + timedelta(days=i)).strftime("%Y-%m-%d %H:%M")
        lines.append(f"{prefix}{i:04d},{at},{ORDERS[i % len(ORDERS)]}（第{i + 1}件）,投诉,")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def import_orders(config: Config, path: Path) -> int:
    result = await import_hotline(path, Inbox(config), "user:mia")
    assert not result.errors, result.errors
    return result.created
