"""Every action the audit log holds, as staff read it: its name (the 操作 column, the filter's
choices) and the sentence that tells an event of it ({actor} and {target} filled in, e.g.
「张三（alice） 批准发布了《关于…的通知》」), and the Chinese names of the details' fields.
tests/web/console/test_audit_actions.py scans bot/ and scheduler/ for the actions and fields
written and fails on one missing here."""

from __future__ import annotations

from dataclasses import dataclass

from bot.models import (
    DELIVERY_STATUS_LABELS,
    REPLY_STATUS_LABELS,
    STATUS_LABELS,
    DeliveryStatus,
    ItemStatus,
    ReplyStatus,
)

ITEMS = "稿件"
DELIVERIES = "投递"
COMMENTS = "留言"
STAFF = "人员与登录"
MATTERS = "集中诉求与专项回应"
OTHER = "其他"
GROUPS = (ITEMS, DELIVERIES, COMMENTS, MATTERS, STAFF, OTHER)


@dataclass(frozen=True)
class ActionText:
    group: str  # where the filter lists it
    label: str  # what it is called
    sentence: str  # how an event of it is told: {actor}, {target}


ACTIONS: dict[str, ActionText] = {
    # -- items (bot/items/lifecycle.py, bot/sources/pull.py) --
    "item.create": ActionText(ITEMS, "新建稿件", "{actor} 新建了稿件{target}"),
    "item.edit": ActionText(ITEMS, "修改稿件", "{actor} 修改了{target}"),
    "item.submit": ActionText(ITEMS, "提交审核", "{actor} 将{target}提交审核"),
    "item.return": ActionText(ITEMS, "退文", "{actor} 退回了{target}"),
    "item.prereview_passed": ActionText(
        ITEMS, "预审通过", "{actor} 预审通过了{target}，转入待审核"
    ),
    "item.approve": ActionText(ITEMS, "批准发布", "{actor} 批准发布了{target}"),
    "item.schedule": ActionText(ITEMS, "调整发布时间", "{actor} 调整了{target}的发布时间"),
    "item.retract": ActionText(ITEMS, "撤稿", "{actor} 撤下了{target}（撤稿）"),
    "item.validity": ActionText(ITEMS, "修改效力", "{actor} 修改了{target}的效力"),
    "item.convert_to_proactive": ActionText(
        ITEMS, "依申请转主动公开", "{actor} 将{target}由依申请公开转为主动公开"
    ),
    "item.import": ActionText(ITEMS, "从 Word 文件导入", "{actor} 从 Word 文件导入了{target}"),
    "item.source_import": ActionText(ITEMS, "从上游导入", "{actor} 从上游导入了{target}"),
    "item.source_update": ActionText(ITEMS, "按上游更新", "{actor} 按上游的新版本更新了{target}"),
    "item.publishing": ActionText(ITEMS, "开始发布", "{actor} 开始发布{target}"),
    "item.published": ActionText(ITEMS, "发布完成", "{actor} 确认{target}已在全部渠道发布"),
    "item.partly_published": ActionText(
        ITEMS, "部分发布", "{actor} 确认{target}只在部分渠道发布成功"
    ),
    "item.failed": ActionText(ITEMS, "发布失败", "{actor} 确认{target}在各渠道均未发布成功"),
    "finding.override": ActionText(ITEMS, "确认预审提示", "{actor} 确认了{target}的预审提示"),
    "media.upload": ActionText(ITEMS, "上传素材", "{actor} 上传了{target}"),
    # -- deliveries (bot/outbox/) --
    "delivery.retry": ActionText(DELIVERIES, "重试投递", "{actor} 重试了{target}"),
    "delivery.cancel": ActionText(DELIVERIES, "取消投递", "{actor} 取消了{target}"),
    "delivery.done": ActionText(DELIVERIES, "投递完成", "{actor} 完成了{target}"),
    "delivery.dead": ActionText(DELIVERIES, "投递失败", "{actor} 报告{target}失败"),
    "delivery.unconfirmed": ActionText(
        DELIVERIES, "投递结果待确认", "{actor} 报告{target}结果不明，需人工确认"
    ),
    "delivery.missed": ActionText(
        DELIVERIES, "投递已错过", "{actor} 因超过发送时限，停止了{target}"
    ),
    "wechat.mass_send": ActionText(DELIVERIES, "微信群发", "{actor} 完成了{target}"),
    "wechat.preview": ActionText(ITEMS, "预览到手机", "{actor} 将{target}预览发送到手机"),
    "wechat.menu_push": ActionText(OTHER, "推送微信菜单", "{actor} 向微信推送了自定义菜单"),
    "wechat.comments_open": ActionText(
        COMMENTS, "打开微信留言", "{actor} 打开了{target}在微信上的留言"
    ),
    "wechat.comments_close": ActionText(
        COMMENTS, "关闭微信留言", "{actor} 关闭了{target}在微信上的留言"
    ),
    "wechat.comment_elect": ActionText(
        COMMENTS, "微信留言精选", "{actor} 将{target}在微信设为精选"
    ),
    "wechat.comment_unelect": ActionText(
        COMMENTS, "取消微信留言精选", "{actor} 取消了{target}在微信的精选"
    ),
    "wechat.comment_delete": ActionText(COMMENTS, "删除微信留言", "{actor} 在微信删除了{target}"),
    "wechat.reply_delete": ActionText(
        COMMENTS, "删除微信留言回复", "{actor} 在微信删除了对{target}的回复"
    ),
    # -- comments (bot/inbox/, scheduler/sla.py) --
    "comment.assign": ActionText(COMMENTS, "分派留言", "{actor} 分派了{target}"),
    "comment.note": ActionText(COMMENTS, "添加备注", "{actor} 给{target}添加了内部备注"),
    "comment.close": ActionText(COMMENTS, "办结留言", "{actor} 办结了{target}"),
    "comment.reopen": ActionText(COMMENTS, "重新打开留言", "{actor} 重新打开了{target}"),
    "comment.spam": ActionText(COMMENTS, "标记垃圾信息", "{actor} 将{target}标记为垃圾信息"),
    "comment.not_spam": ActionText(
        COMMENTS, "取消垃圾信息标记", "{actor} 取消了{target}的垃圾信息标记"
    ),
    "comment.escalate": ActionText(COMMENTS, "督办升级", "{actor} 督办升级了{target}"),
    "comment.categorize": ActionText(COMMENTS, "修改留言分类", "{actor} 修改了{target}的分类"),
    "comment.remind": ActionText(COMMENTS, "到期提醒", "{actor} 提醒{target}即将到答复期限"),
    "reply.draft": ActionText(COMMENTS, "保存答复草稿", "{actor} 为{target}保存了答复草稿"),
    "reply.queue": ActionText(COMMENTS, "答复留言", "{actor} 答复了{target}"),
    "reply.sent": ActionText(COMMENTS, "答复已送达", "{actor} 将{target}的答复送达留言人"),
    "reply.failed": ActionText(COMMENTS, "答复发送失败", "{actor} 未能发送{target}的答复"),
    "reply.other_route": ActionText(
        COMMENTS, "答复需改用其他方式", "{actor} 报告{target}的答复无法经原渠道送达，需改用其他方式"
    ),
    "qa.select": ActionText(COMMENTS, "选登", "{actor} 将{target}选登到公开问答页"),
    "qa.withdraw": ActionText(COMMENTS, "撤下选登", "{actor} 从公开问答页撤下了{target}"),
    # -- 审签 (bot/inbox/signoff.py, bot/inbox/qa.py, bot/inbox/qa_signoff.py) --
    "reply.await_signoff": ActionText(COMMENTS, "答复提交审签", "{actor} 将{target}的答复提交审签"),
    "reply.signed_off": ActionText(
        COMMENTS, "审签通过答复", "{actor} 审签通过了{target}的答复，答复排入发送队列"
    ),
    "reply.return": ActionText(COMMENTS, "审签退回答复", "{actor} 退回了{target}的待审签答复"),
    "qa.propose": ActionText(COMMENTS, "选登提交审签", "{actor} 将{target}的选登提交审签"),
    "qa.signed_off": ActionText(
        COMMENTS, "审签通过选登", "{actor} 审签通过，将{target}选登到公开问答页"
    ),
    "qa.return": ActionText(COMMENTS, "审签退回选登", "{actor} 退回了{target}的选登申请"),
    "hotline.import": ActionText(COMMENTS, "导入 12345 工单", "{actor} 导入了 12345 工单{target}"),
    "triage.train": ActionText(COMMENTS, "训练分类模型", "{actor} 训练了{target}"),
    # -- 集中诉求 and 专项回应 (bot/matters/) --
    "rating.import": ActionText(MATTERS, "导入好差评", "{actor} 导入了政务服务好差评{target}"),
    "matter.assign_again": ActionText(
        MATTERS, "重新归集诉求", "{actor} 按当前配置把全部诉求和好差评重新归入办事事项"
    ),
    "task.open": ActionText(MATTERS, "专项回应立项", "{actor} 立项{target}，交承办处室专项回应"),
    "task.close": ActionText(
        MATTERS, "办结专项回应", "{actor} 关联已发布的回应稿件，办结了{target}"
    ),
    "task.reply_all": ActionText(
        MATTERS, "批量答复关联留言", "{actor} 把{target}的回应批量答复给关联留言"
    ),
    # -- staff and logins (bot/users.py, bot/staff/, bot/web/console/login.py) --
    "user.add": ActionText(STAFF, "新增账号", "{actor} 新增了账号{target}"),
    "user.disable": ActionText(STAFF, "停用账号", "{actor} 停用了账号{target}"),
    "user.enable": ActionText(STAFF, "启用账号", "{actor} 重新启用了账号{target}"),
    "user.reset_password": ActionText(STAFF, "重设密码", "{actor} 重设了{target}的密码"),
    "user.change_password": ActionText(STAFF, "修改密码", "{actor} 修改了自己的密码"),
    "user.set_wechat": ActionText(STAFF, "设置预览微信", "{actor} 设置了接收预览的微信"),
    "user.set_roles": ActionText(STAFF, "调整角色", "{actor} 调整了{target}的角色"),
    "user.sessions_end": ActionText(STAFF, "注销登录", "{actor} 注销了{target}的登录"),
    "user.unlock": ActionText(STAFF, "解除登录限制", "{actor} 解除了{target}的登录限制"),
    "token.add": ActionText(STAFF, "创建 API 令牌", "{actor} 为{target}创建了 API 令牌"),
    "token.revoke": ActionText(STAFF, "吊销 API 令牌", "{actor} 吊销了{target}的 API 令牌"),
    "console.login": ActionText(STAFF, "登录工作台", "{actor} 登录了工作台"),
    "console.logout": ActionText(STAFF, "退出工作台", "{actor} 退出了工作台"),
    "console.login_throttled": ActionText(
        STAFF, "登录失败过多受限", "{actor} 因登录失败次数过多，暂时限制了{target}的登录"
    ),
    # -- the chain itself (bot/audit.py) --
    "audit.key": ActionText(OTHER, "启用审计密钥", "{actor} 启用了新的审计密钥签名段"),
}

# The details' fields by their Chinese names (tests/web/console/test_audit_actions.py checks
# every key written in a literal has one).
FIELDS = {
    "reason": "理由",
    "version": "版本",
    "new_version": "新版本",
    "channels": "渠道",
    "channel": "渠道",
    "due_at": "发布时间",
    "publish_at": "定时发布时间",
    "index_no": "索引号",
    "title": "标题",
    "kind": "类型",
    "fields": "修改的内容",
    "cancelled_deliveries": "取消的投递",
    "findings": "预审发现",
    "rules": "预审规则",
    "warnings": "预审提示",
    "retract_on": "撤稿渠道",
    "cannot_retract": "不能撤稿的渠道",
    "finding": "预审发现编号",
    "rule": "预审规则",
    "validity": "效力",
    "source": "上游来源",
    "entry_key": "上游条目标识",
    "link": "上游链接",
    "approver": "上游批准人",
    "upstream_approved_at": "上游批准时间",
    "status": "状态",
    "from": "原状态",
    "to": "新分类",
    "item_id": "稿件",
    "error": "错误",
    "action": "动作",
    "attempts": "尝试次数",
    "remote_url": "发布地址",
    "note": "说明",
    "assignee": "经办人",
    "office": "承办处室",
    "note_id": "备注编号",
    "reply_id": "答复编号",
    "matter": "办事事项",
    "reasons": "立项原因",
    "complaints": "近期诉求件数",
    "average": "好差评平均等级",
    "linked": "关联留言",
    "on_time": "按期办结",
    "replied": "排入发送的答复",
    "awaiting_signoff": "提交审签的答复",
    "skipped": "未答复的留言",
    "matched": "归入办事事项",
    "comments": "留言和工单",
    "ratings": "好差评",
    "follow_up": "系统自动推送的相关链接",
    "level": "督办级别",
    "auto": "自动督办",
    "comment_id": "留言",
    "question_edited": "问题经过修改",
    "answer_edited": "答复经过修改",
    "removed": "去除的个人信息",
    "username": "账号",
    "roles": "角色",
    "scopes": "用途范围",
    "before": "原角色",
    "must_change": "登录后须修改密码",
    "token": "令牌前缀",
    "name": "名称",
    "ended": "注销的登录",
    "cleared": "解除的限制",
    "ip": "IP 地址",
    "key": "限制依据",
    "failures": "失败次数",
    "wait": "限制时长",
    "key_id": "密钥标识",
    "previous_key_id": "上一密钥标识",
    "rows": "文件行数",
    "created": "新增留言",
    "duplicates": "重复留言",
    "errors": "错误",
    "sha256": "模型文件 SHA-256",
    "examples": "训练样本",
    "labels": "本单位标注",
    "accuracy": "交叉验证准确率",
    "held_out": "留出验证的来源",
    "day": "日期",
    "items": "群发稿件",
    "msg_id": "微信消息编号",
    "msg_data_id": "微信图文编号",
    "index": "文章位置",
    "copies": "微信文章",
    "openid_set": "已填写 OpenID",
    "wechat_id_set": "已填写微信号",
    "digest": "菜单摘要",
    "buttons": "一级菜单",
    "filename": "文件名",
    "type": "文件类型",
    "bytes": "大小",
    "new": "新上传",
    "author": "撰写人",
    "sent_by": "提交人",
    "proposal_id": "选登申请编号",
    "proposed_by": "提出人",
    "file": "文件",
    "title_from": "标题取自",
    "images": "图片",
}
# Fields whose empty value says something: the comment was unassigned, the policy is valid.
MEANINGFUL_EMPTY = {"assignee", "validity"}
# Fields that name who did something (an actor string as stored).
ACTOR_KEYS = {"author", "sent_by", "proposed_by"}
# A field whose meaning depends on the action.
FIELDS_OF = {
    ("comment.categorize", "from"): "原分类",
    ("comment.categorize", "status"): "留言状态",
    ("comment.escalate", "from"): "原督办级别",
    ("comment.not_spam", "status"): "留言状态",
    ("token.add", "name"): "令牌名称",
    ("token.revoke", "name"): "令牌名称",
    ("task.open", "due_at"): "办理期限",
    ("task.close", "note"): "流程改进说明",
    ("rating.import", "created"): "新增好差评",
    ("rating.import", "duplicates"): "已导入过的好差评",
}
# Actions written as a family: "<family>.<status>" for whatever status a row ended in. Every
# status gets a name; those written by a person (above) keep theirs.
for _status in ItemStatus:
    ACTIONS.setdefault(
        f"item.{_status.value}",
        ActionText(
            ITEMS,
            f"稿件{STATUS_LABELS[_status]}",
            f"{{actor}} 将{{target}}的状态改为「{STATUS_LABELS[_status]}」",
        ),
    )
for _delivery in DeliveryStatus:
    ACTIONS.setdefault(
        f"delivery.{_delivery.value}",
        ActionText(
            DELIVERIES,
            f"投递{DELIVERY_STATUS_LABELS[_delivery]}",
            f"{{actor}} 将{{target}}的状态改为「{DELIVERY_STATUS_LABELS[_delivery]}」",
        ),
    )
for _reply in ReplyStatus:
    ACTIONS.setdefault(
        f"reply.{_reply.value}",
        ActionText(
            COMMENTS,
            f"答复{REPLY_STATUS_LABELS[_reply]}",
            f"{{actor}} 将{{target}}的答复状态改为「{REPLY_STATUS_LABELS[_reply]}」",
        ),
    )

# The families above, by prefix: what the coverage test expects of an f-string action.
FAMILIES = {"item.": ItemStatus, "delivery.": DeliveryStatus, "reply.": ReplyStatus}


def action_text(action: str) -> ActionText:
    """The action's name and sentence; one the registry does not know (written by a version
    since removed) is still told in words, its stored name kept for the record."""
    known = ACTIONS.get(action)
    if known is not None:
        return known
    shown = action.replace("{", "{{").replace("}", "}}")
    return ActionText(
        OTHER, f"其他操作（{action}）", f"{{actor}} 对{{target}}进行了操作（{shown}）"
    )


def choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """The filter's choices: (group, [(action, label)]) in the registry's order."""
    return [
        (group, [(name, a.label) for name, a in ACTIONS.items() if a.group == group])
        for group in GROUPS
    ]
