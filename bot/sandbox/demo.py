"""Demo data of the sandbox (`gongkai run --sandbox`): staff accounts whose passwords are shown
once, FAQ entries and five items written from the source document (the Shanghai local financial
regulator's 2021 disclosure work plan, seed/disclosure-plan-2021.txt): a policy with its
interpretation, an enforcement notice, a consultation and a notice, submitted and approved by
the demo reviewer so the dispatcher publishes them on every channel; and the lines printed on
start."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.transactions import in_transaction

from bot import users
from bot.config import Config
from bot.errors import Refusal
from bot.items import lifecycle
from bot.items.schemas import ItemCreate
from bot.models import ROLE_LABELS, Faq, Finding, Item, Role, SearchDoc, User
from bot.search import index as search_index
from bot.search.documents import faq_doc

log = logging.getLogger(__name__)
ACTOR = "system:sandbox"
OVERRIDE_REASON = "沙箱演示数据"

# (username, roles, display name, office)
DEMO_USERS = (
    ("editor", ["editor"], "宣传处 编辑", "宣传处"),
    ("reviewer", ["reviewer"], "办公室 审核", "办公室"),
    ("moderator", ["moderator"], "办公室 留言处理", "办公室"),
    ("admin", ["admin"], "管理员", "办公室"),
    # 三员分立: the admin does not read the audit log unless [staff] separate_duties = false
    ("auditor", ["auditor"], "办公室 审计", "办公室"),
)

# (question, answer, keywords, office): what the work plan itself answers
DEMO_FAQS = (
    (
        "网上咨询多久答复？答复期限是几个工作日？",
        "通过网上咨询、网站留言等渠道收到的意见建议和问题咨询，答复期限不超过5个工作日，"
        "简单问题在1个工作日内答复。",
        ["答复期限", "多久答复", "几个工作日", "回复时间", "多长时间答复"],
        "办公室",
    ),
    (
        "申请政府信息公开要交费吗？",
        "依申请公开政府信息不收取信息处理费。",
        ["收费", "交费", "信息处理费", "依申请公开"],
        "政策法规处",
    ),
    (
        "在哪里查询本局主动公开的政府文件？",
        "主动公开的政府公文纳入市政府统一的政府公文库，可在“中国上海”门户网站一站通查，"
        "也可以订阅本站的政策文件订阅源。",
        ["查询文件", "政府公文库", "一站通查", "主动公开"],
        "办公室",
    ),
)

POLICY_TITLE = "上海市地方金融监督管理局2021年度政务公开工作要点"
INTERPRETATION_TITLE = "一图读懂：本局2021年度政务公开工作要点"
ENFORCEMENT_TITLE = "行政处罚决定信息公示（上海某某融资租赁有限公司）"
CONSULTATION_TITLE = "关于本机关2021年重大行政决策事项目录公开征求意见的公告"
NOTICE_TITLE = "关于网上咨询答复时限的公告"
TITLES = (POLICY_TITLE, INTERPRETATION_TITLE, ENFORCEMENT_TITLE, CONSULTATION_TITLE, NOTICE_TITLE)

POLICY_BODY = """\
2021年，本机关深入践行“人民城市人民建，人民城市为人民”重要理念，进一步提高政务公开标准化、\
规范化水平，聚焦社会公众需求，持续加大公开力度，提升政府透明度和公信力。主要工作如下：

**一、进一步夯实政务公开工作基础**

严格落实公文公开属性源头审查和公开前发布审查工作机制。对有关政策性文件，需同步报送政策解读稿件，\
对缺项的原则上予以退文。健全法定主动公开专栏的日常检查、维护和更新工作机制，杜绝错链、断链和内容混杂。\
建立依申请公开转主动公开常态化审查机制，不收取政府信息公开信息处理费。

**二、进一步提高解读和回应实效**

杜绝简单摘抄文字、罗列文件小标题等形式化解读，综合选用新闻发布会、图示图解、专家访谈、短视频等\
多元化解读形式，力争多元化解读率不低于60%。通过网上咨询、网站留言收到的意见建议和问题咨询，\
答复期限不得超过5个工作日，简单问题要在1个工作日内完成答复。

**三、进一步推进决策公开和公众参与**

3月31日前确定并发布本机关重大行政决策事项目录，扩大重要决策草案意见征集的覆盖度。

**四、进一步优化金融领域信息公开**

严格落实地方金融监管行政执法公示制度，按照“谁执法谁公示”的原则，规范信息公示内容的标准、格式，\
及时通过门户网站、政务新媒体等平台向社会公开行政执法基本信息、结果信息。

**五、进一步强化平台和渠道建设**

加强门户网站、政务新媒体、“随申办”移动端等平台联动，统筹做好信息发布的前置审核研判、\
后期评论收集和互动沟通。
"""

INTERPRETATION_BODY = """\
**为什么要制定这份要点？**

过去一年，企业和市民反映最多的是“文件找不到、看不懂、问了没人回”。今年的要点围绕这三件事\
逐项给出办法，让公开从“有没有”转向“好不好用”。

**一张表看懂三项变化**

| 关心的事 | 今年怎么做 | 什么时候见效 |
| --- | --- | --- |
| 文件找不到 | 进入全市公文库，栏目专人维护 | 全年 |
| 政策看不懂 | 每份政策配解读，六成以上用多种形式 | 随文件发布 |
| 问了没回音 | 五个工作日内答复，简单问题一个工作日 | 即日起 |

**和企业、市民关系最密切的三项变化**

- 找得到：我们公开的文件会同步进入全市统一的公文库，栏目专人维护，出现打不开的链接当天处理。
- 看得懂：每份面向企业和市民的政策都配一份解读，并且不只用文字，还会用图解、短视频、专家访谈来讲，\
目标是多种形式的解读占到六成以上。
- 有回音：在网站或政务新媒体上提的问题，一般问题五个工作日内回复，像“去哪里办、找哪个处室”\
这样的简单问题当天或第二个工作日就答复。

**您可以怎么参与？**

重大决策草案会在网站“意见征集”栏目公开征求意见，涉企政策还会专门听取企业和行业协会的意见。\
对本局执法结果有疑问，可以在对应的公示页面留言，我们会转给负责的处室答复。
"""


def _items(today: date) -> list[tuple[str, dict[str, Any]]]:
    """(title, fields) of the demo items in the order they are created; the interpretation's
    related_id is filled in with the policy's id when it is created."""
    year = today.year
    return [
        (
            POLICY_TITLE,
            {
                "kind": "policy",
                "title": POLICY_TITLE,
                "summary": "本局2021年政务公开的五项重点任务：夯实基础、解读回应、决策公开、"
                "金融领域信息公开和平台渠道建设。",
                "body": POLICY_BODY,
                "doc_number": f"沪金管〔{year}〕1号",
                "office": "办公室",
                "written_on": today.replace(day=1).isoformat(),
                "topic": "综合政务",
            },
        ),
        (
            INTERPRETATION_TITLE,
            {
                "kind": "interpretation",
                "title": INTERPRETATION_TITLE,
                "summary": "用一张图和三个问题，讲清今年政务公开和企业、市民最相关的变化。",
                "body": INTERPRETATION_BODY,
                "office": "办公室",
                "interpretation_forms": ["图解", "文字"],
            },
        ),
        (
            ENFORCEMENT_TITLE,
            {
                "kind": "enforcement",
                "title": ENFORCEMENT_TITLE,
                "summary": "上海某某融资租赁有限公司未按规定报送经营数据，予以警告并处罚款。",
                "body": "根据地方金融监管行政执法公示制度，现将行政处罚决定信息公示如下。",
                "office": "地方金融监管二处",
                "enforcement": {
                    "authority": "上海市地方金融监督管理局",
                    "target": "上海某某融资租赁有限公司",
                    "target_type": "legal_person",
                    "category": "行政处罚",
                    "facts": "未按监管要求按时报送季度经营数据和重大事项报告。",
                    "basis": "《上海市地方金融监督管理条例》相关规定",
                    "decision": "警告，并处罚款人民币三万元。",
                    "decision_date": today.isoformat(),
                    "document_number": f"沪金管罚〔{year}〕1号",
                },
            },
        ),
        (
            CONSULTATION_TITLE,
            {
                "kind": "consultation",
                "title": CONSULTATION_TITLE,
                "summary": "重大行政决策事项目录（征求意见稿）公开征求社会公众意见。",
                "body": "为畅通人民群众参与公共政策制订的渠道，现将本机关重大行政决策事项目录"
                "（征求意见稿）向社会公开征求意见。\n\n"
                "目录内事项的决策草案、制订背景、意见征集采纳情况和决策结果将以超链接方式"
                "逐项展示。\n\n"
                "请于公告发布之日起30日内，通过本站“网上留言”、政务新媒体留言或“随申办”"
                "反馈提出意见建议。",
                "office": "政策法规处",
            },
        ),
        (
            NOTICE_TITLE,
            {
                "kind": "notice",
                "title": NOTICE_TITLE,
                "summary": "网上咨询5个工作日内答复，简单问题1个工作日内答复。",
                "body": "通过网上咨询、网站留言、政务新媒体和“随申办”收到的意见建议和问题"
                "咨询，本机关在5个工作日内答复；简单问题在1个工作日内答复。\n\n"
                "政策性问题由政策起草处室负责解答和回应。留言提交后可凭查询码查看办理"
                "情况和答复。",
                "office": "办公室",
            },
        ),
    ]


@dataclass
class Seeded:
    """What seeding did, for the startup output (nothing is printed here)."""

    passwords: dict[str, str] = field(default_factory=dict)  # new accounts only
    faqs: int = 0
    approved: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # title: why it was not approved


async def seed_users(config: Config, result: Seeded) -> None:
    """The demo accounts not there yet, created with fresh passwords that meet the policy. They
    are printed for the person running the sandbox and need no change at first login."""
    policy = config.staff.password
    existing = set(
        await User.filter(username__in=[u[0] for u in DEMO_USERS]).values_list(
            "username", flat=True
        )
    )
    for username, roles, name, office in DEMO_USERS:
        if username in existing:
            continue
        password = users.new_secret(policy, (username, name))
        await users.add_user(
            username,
            roles,
            password,
            ACTOR,
            display_name=name,
            office=office,
            policy=policy,
            must_change=False,
        )
        result.passwords[username] = password


async def seed_faqs(result: Seeded) -> None:
    if await Faq.exists():
        return
    for question, answer, keywords, office in DEMO_FAQS:
        faq = await Faq.create(question=question, answer=answer, keywords=keywords, office=office)
        async with in_transaction() as conn:  # the public search finds it too
            await search_index.store(conn, [faq_doc(faq)])
        result.faqs += 1


async def seed_items(config: Config, result: Seeded) -> None:
    """Create, submit and approve the demo items (once: skipped when the policy exists)."""
    if await Item.filter(title=POLICY_TITLE).exists():
        return
    editor = await users.actor_for_user("editor")
    reviewer = await users.actor_for_user("reviewer")
    today = datetime.now(ZoneInfo(config.app.timezone)).date()
    created: dict[str, Item] = {}
    for title, fields in _items(today):
        if fields["kind"] == "interpretation":
            fields = {**fields, "related_id": created[POLICY_TITLE].id}
        if fields.get("topic") and fields["topic"] not in config.disclosure.topics:
            fields = {**fields, "topic": config.disclosure.topics[0]}  # the office's own list
        created[title] = await lifecycle.create_item(
            ItemCreate.model_validate(fields), editor, config
        )
    # The interpretation goes in first: a policy submitted without one is returned (退文).
    order = [INTERPRETATION_TITLE, POLICY_TITLE, ENFORCEMENT_TITLE, CONSULTATION_TITLE]
    for title in [*order, NOTICE_TITLE]:
        outcome = await lifecycle.submit(created[title].id, editor, config)
        if outcome.item.status != "in_review":  # demo text the rules now refuse: say so
            result.refused[title] = outcome.item.return_reason
            continue
        for finding in await Finding.filter(item_id=created[title].id, stage="submit"):
            if finding.needs_override:
                await lifecycle.override_finding(finding.id, reviewer, OVERRIDE_REASON)
    for title in [POLICY_TITLE, ENFORCEMENT_TITLE, CONSULTATION_TITLE, NOTICE_TITLE]:
        if title in result.refused:
            continue
        try:
            await lifecycle.approve(created[title].id, reviewer, config)
        except Refusal as exc:
            result.refused[title] = str(exc)
            continue
        result.approved.append(title)
        if title == POLICY_TITLE and INTERPRETATION_TITLE not in result.refused:
            result.approved.append(INTERPRETATION_TITLE)  # approved with its policy (三同步)


async def seed(config: Config) -> Seeded:
    """Accounts, FAQ and items, each only when not there yet (a restart keeps the data)."""
    result = Seeded()
    await seed_users(config, result)
    await seed_faqs(result)
    await seed_items(config, result)
    if not await SearchDoc.exists() and await Item.filter(status="published").exists():
        # Data from before the search index existed (an older sandbox): index what is public.
        await search_index.reindex()
    return result


def startup_lines(
    config: Config, seeded: Seeded, ledgers: dict[str, str], demo_done: bool
) -> list[str]:
    """What `gongkai run --sandbox` prints on start (Chinese, for the person at the terminal):
    the console address, the demo logins (passwords only when just created), the simulators'
    ledgers and the feeds."""
    site = config.app.public_base_url
    lines = ["=" * 64, "【沙箱模式 SANDBOX】本地模拟渠道与演示数据，不连接任何真实平台。"]
    lines.append(f"控制台：{site}/console/")
    if seeded.passwords:
        lines.append("沙箱演示账号（密码只显示这一次）：")
        for username, roles, _name, _office in DEMO_USERS:
            if username in seeded.passwords:
                password = seeded.passwords[username]
                named = "、".join(ROLE_LABELS.get(Role(role), role) for role in roles)
                lines.append(f"  {username:<10} {password}   角色：{named}")
    existing = [u[0] for u in DEMO_USERS if u[0] not in seeded.passwords]
    if existing:
        lines.append(
            f"演示账号已存在（{'、'.join(existing)}），密码只在首次启动时显示；"
            "重设密码：.venv/bin/gongkai --sandbox user reset-password 用户名"
            "（重设的密码须在登录后修改）"
        )
    if seeded.approved:
        lines.append(
            f"演示稿件 {len(seeded.approved)} 篇已批准，将发布到网站、门户、微信和随申办。"
        )
    lines += [f"演示稿件《{title}》未通过：{why}" for title, why in seeded.refused.items()]
    lines += [f"{label}：{url}" for label, url in ledgers.items()]
    lines.append(f"网站订阅源：{site}/feeds/all.atom  {site}/feeds/all.json")
    lines.append(f"网上留言：{site}/feedback")
    lines.append(
        "命令行操作沙箱数据：.venv/bin/gongkai --sandbox <命令>，"
        "例如 .venv/bin/gongkai --sandbox item list"
    )
    if demo_done:
        lines.append("演示留言已在之前的启动中写入，本次不再重复。")
    else:
        lines.append("演示开始：稿件发布后，模拟的关注者会留言，留言箱将自动填充。")
    return [*lines, "=" * 64]
