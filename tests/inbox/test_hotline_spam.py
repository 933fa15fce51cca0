"""12345 work orders and message-board exports imported through the hotline file: what
citizens write there — links to the platform that cheated them or to a news item, a quoted
advert, the scammer's WeChat id, a caller calling twice — is never hidden as spam."""

from __future__ import annotations

import csv
from pathlib import Path

from bot.config import Config
from bot.inbox.hotline import import_hotline
from bot.inbox.ingest import Inbox
from bot.models import Comment

HEADER = ["工单编号", "受理时间", "诉求类型", "诉求内容", "来电号码"]
SAME_CALLER = "13800005555"
ORDERS = [
    (
        "投诉",
        "市民来电反映：其于2023年在某P2P平台（网址：www.huiyingcaifu.com）出借资金8万元，"
        "平台逾期至今未兑付，要求相关部门督促平台退还本金。",
        "13800001111",
    ),
    (
        "咨询",
        "网友留言：看到新闻 https://www.chinanews.com.cn/cj/2025/06-12/10432111.shtml 说网贷"
        "清退进入收尾阶段，我们本地的平台什么时候公布清退结果？",
        "",
    ),
    (
        "举报",
        "来电人举报：近期多次收到短信“兼职刷单日结工资，加微信 ab123456 领任务”，链接为 "
        "http://t.cn/A6abcdE ，怀疑是诈骗，要求查处。",
        "13800002222",
    ),
    (
        "求助",
        "网友留言：通过微信转账30000元给网贷中介“办理低息贷款”，转账截图见 "
        "https://img.kuaipic.cn/2025/07/zz01.png ，现在中介失联，请帮帮我。",
        "",
    ),
    (
        "投诉",
        "来电人反映XX网贷平台APP（下载地址 app.xjdai.vip）借款后每月自动扣“会员费”199元，"
        "多次联系客服无果，要求退还。",
        "13800003333",
    ),
    ("投诉", "来电人反映XX典当行不退还当物，要求相关部门核查处理。", SAME_CALLER),
    ("投诉", "来电人反映XX典当行不退还当物，要求相关部门核查处理。", SAME_CALLER),
]


async def test_real_looking_orders_are_imported_open_and_visible(
    config: Config, tmp_path: Path
) -> None:
    path = tmp_path / "orders.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        for n, (kind, text, phone) in enumerate(ORDERS):
            writer.writerow([f"GD2025{n:04d}", f"2025-06-10 10:{n:02d}", kind, text, phone])
    result = await import_hotline(path, Inbox(config), "user:mia")
    assert result.created == len(ORDERS) and not result.errors
    comments = await Comment.all()
    assert [(c.status, c.hidden) for c in comments if c.status == "spam" or c.hidden] == []
    assert all(c.due_at is not None for c in comments)
