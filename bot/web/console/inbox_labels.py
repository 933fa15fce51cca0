"""What the inbox pages call flags, due states and bulk actions (shared by the list page and
the actions that answer its forms)."""

from __future__ import annotations

FLAG_LABELS = {
    "spam": "垃圾信息",
    "ad": "广告",
    "link": "外部链接",
    "contact": "联系方式引流",
    "repeat": "重复发送",
    "flood": "刷屏",
    "abuse": "辱骂",
    "personal_data": "含个人信息（已遮盖）",
    "petition": "信访类",
    "calendar_unknown": "节假日安排未知",
    "category_unsure": "分类待确认",
    "auto_replied": "已自动回复",  # bot/wechat/events.py AUTO_REPLY_FLAG
}
DUE_LABELS = {"overdue": "已超期", "soon": "即将到期", "ok": "期限内"}
BULK_OPS = {
    "assign_me": "分派给我",
    "close": "办结",
    "spam": "标记为垃圾信息",
    "not_spam": "取消垃圾信息标记",
    "escalate": "督办升级",
}
