"""The item state machine: the one place that changes an item's status.

Every action is one database transaction that also writes its AuditEvent; approval writes the
outbox (one Delivery per target channel) in the same transaction. Status changes are made with
a compare-and-set on the status column, so two concurrent actions cannot both succeed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from bot import audit, db
from bot.actors import Actor
from bot.config import Config
from bot.errors import NotPermitted, Refusal
from bot.items import disclosure, linkcheck, prereview
from bot.items.schemas import ItemCreate, ItemPatch
from bot.models import (
    VALIDITY_LABELS,
    Delivery,
    DeliveryAction,
    DeliveryStatus,
    Disclosure,
    Finding,
    Item,
    ItemContributor,
    ItemStatus,
    ItemVersion,
    Kind,
    Role,
)
from bot.outbox import store as outbox
from bot.search import index as search_index
from bot.site import version as site_version
from moderation.findings import FindingData, LinkCheck

S = ItemStatus

ACTION_LABELS = {
    "submit": "提交",
    "approve": "批准",
    "return": "退文",
    "schedule": "排期",
    "retract": "撤稿",
    "edit": "修改",
}

# How someone first took part in a version (ItemContributor.first_action), for people.
CONTRIBUTION_LABELS = {"create": "撰写", "edit": "修改", "submit": "提交", "import": "导入"}
# The actors upstream imports act as (bot/sources/pull.py): recorded as "import", no account.
IMPORT_ACTOR_PREFIX = "source:"
CONTRIBUTOR_TABLE = ItemContributor._meta.db_table

# action -> states that allow it
ALLOWED: dict[str, frozenset[ItemStatus]] = {
    "submit": frozenset({S.DRAFT, S.RETURNED}),
    "approve": frozenset({S.IN_REVIEW}),
    "return": frozenset({S.SUBMITTED, S.IN_REVIEW}),
    "schedule": frozenset({S.DRAFT, S.RETURNED, S.SUBMITTED, S.IN_REVIEW, S.APPROVED, S.SCHEDULED}),
    "retract": frozenset(
        {S.APPROVED, S.SCHEDULED, S.PUBLISHING, S.PUBLISHED, S.PARTLY_PUBLISHED, S.FAILED}
    ),
    "edit": frozenset(
        {
            S.DRAFT,
            S.RETURNED,
            S.SUBMITTED,
            S.IN_REVIEW,
            S.APPROVED,
            S.SCHEDULED,
            S.PUBLISHING,
            S.PUBLISHED,
            S.PARTLY_PUBLISHED,
            S.FAILED,
        }
    ),
}
# Publication statuses by which an item may be on a channel: a retraction goes there
# (bot/items/retraction.py names them before it is done).
REACHED = (
    DeliveryStatus.DONE.value,
    DeliveryStatus.RUNNING.value,
    DeliveryStatus.UNCONFIRMED.value,
)
# Editing these makes a new version that must be reviewed again.
APPROVED_STATES = frozenset(
    {S.APPROVED, S.SCHEDULED, S.PUBLISHING, S.PUBLISHED, S.PARTLY_PUBLISHED, S.FAILED}
)

CONTENT_FIELDS = (
    "kind",
    "title",
    "wechat_title",
    "summary",
    "body",
    "column",
    "doc_number",
    "office",
    "disclosure",
    "withheld_basis",
    "related_id",
    "interpretation_forms",
    "enforcement",
    "channels",
    "written_on",
    "topic",
    "publisher",
)


class LifecycleError(Refusal):
    """Base of the errors an item action can raise; str() is a message for staff (Chinese)."""


class ItemNotFound(LifecycleError):
    code = "item_not_found"
    status_code = 404

    def __init__(self, item_id: int) -> None:
        super().__init__(f"条目 #{item_id} 不存在。")
        self.item_id = item_id


class FindingNotFound(LifecycleError):
    code = "finding_not_found"
    status_code = 404

    def __init__(self, finding_id: int) -> None:
        super().__init__(f"预审提示 #{finding_id} 不存在。")


class IllegalTransition(LifecycleError):
    code = "illegal_transition"

    def __init__(self, action: str, status: str, allowed: frozenset[ItemStatus]) -> None:
        from bot.models import STATUS_LABELS

        label = ACTION_LABELS[action]
        states = "、".join(f"「{STATUS_LABELS[s]}」" for s in sorted(allowed))
        super().__init__(
            f"无法{label}：条目当前状态为「{STATUS_LABELS.get(ItemStatus(status), status)}」，"
            f"只有状态为 {states} 的条目可以{label}。"
        )
        self.action, self.status, self.allowed = action, status, allowed


class SelfApproval(NotPermitted, LifecycleError):
    code = "self_approval"

    def __init__(self) -> None:
        super().__init__("不能批准自己撰写的稿件，请由另一位审核人员批准。")


class TwoPersonRule(NotPermitted, LifecycleError):
    """The two-person rule by version: whoever created, edited or submitted a version may not
    approve it or accept its findings, whatever their roles (an admin too)."""

    code = "two_person_rule"

    def __init__(self, item: Item, version: int, doing: str) -> None:
        super().__init__(
            f"两人审核规则：您参与了《{item.title}》第 {version} 版的撰写或修改，不能{doing}，"
            "请由未参与该版本的审核人员办理。"
        )
        self.item_id, self.version = item.id, version


class FindingsNotOverridden(LifecycleError):
    code = "findings_not_overridden"

    def __init__(self, open_findings: list[tuple[Item, Finding]]) -> None:
        """`open_findings`: each unconfirmed finding with the item it is on (a package of a
        policy and its interpretations is refused as a whole, every item named by title)."""
        by_item: dict[int, list[str]] = {}
        titles: dict[int, str] = {}
        for item, f in open_findings:
            titles[item.id] = item.title
            by_item.setdefault(item.id, []).append(f.message)
        listed = "；".join(
            f"《{titles[item_id]}》：{'；'.join(messages)}" for item_id, messages in by_item.items()
        )
        super().__init__(
            f"还有 {len(open_findings)} 条预审提示未经审核人员书面确认，不能批准。{listed}"
        )
        self.finding_ids = [f.id for _, f in open_findings]
        self.item_ids = list(by_item)


class AlreadyOverridden(LifecycleError):
    code = "already_overridden"

    def __init__(self, finding: Finding) -> None:
        by, reason = finding.overridden_by, finding.override_reason
        super().__init__(f"此预审提示（{finding.message}）已由 {by} 确认，理由：{reason}")


class NotTogether(LifecycleError):
    code = "publish_with_policy"

    def __init__(self, policy: Item) -> None:
        super().__init__(
            f"政策解读须与其政策文件同步发布：请批准政策文件《{policy.title}》，"
            "其待审核的解读将一并批准。"
        )
        self.policy_id = policy.id


class InvalidItem(LifecycleError):
    code = "invalid_item"
    status_code = 422

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass
class Outcome:
    item: Item
    findings: list[FindingData] = field(default_factory=list)
    cannot_retract: list[str] = field(default_factory=list)


def snapshot(item: Item) -> dict[str, Any]:
    data = {name: getattr(item, name) for name in CONTENT_FIELDS}
    if isinstance(data["written_on"], date):  # a JSON snapshot: the date as YYYY-MM-DD
        data["written_on"] = data["written_on"].isoformat()
    data["id"] = item.id
    data["version"] = item.version
    return data


def target_channels(item: Item, config: Config) -> list[str]:
    return list(item.channels) or config.channels.enabled_names()


async def _contribute(conn: BaseDBAsyncClient, item: Item, actor: Actor, action: str) -> None:
    """Record the actor among the contributors of the item's current version (the first action
    stays). INSERT … ON CONFLICT DO NOTHING: a repeat neither reads first nor, on PostgreSQL,
    aborts the caller's transaction."""
    imported = actor.name.startswith(IMPORT_ACTOR_PREFIX)
    await conn.execute_query(
        db.sql(
            f"INSERT INTO {CONTRIBUTOR_TABLE} "
            '(item_id, version, actor, user_id, first_action, "at") VALUES (?, ?, ?, ?, ?, ?) '
            "ON CONFLICT (item_id, version, actor) DO NOTHING"
        ),
        [
            item.id,
            item.version,
            actor.name,
            None if imported else actor.user_id,
            "import" if imported else action,
            datetime.now(UTC),
        ],
    )


async def contributors(
    item_id: int, version: int, conn: BaseDBAsyncClient | None = None
) -> list[ItemContributor]:
    """Who created, edited or submitted this version of the item, in the order they joined."""
    query = ItemContributor.filter(item_id=item_id, version=version).order_by("at", "id")
    return await (query.using_db(conn) if conn is not None else query)


def contributed(actor: Actor, rows: list[ItemContributor]) -> bool:
    """Whether the actor is among `rows`: by account, whichever way they acted (console, API
    token, CLI), or by name for rows without one."""
    return any(
        row.actor == actor.name or (actor.user_id is not None and row.user_id == actor.user_id)
        for row in rows
    )


def may_review(actor: Actor, item: Item, rows: list[ItemContributor]) -> bool:
    """Whether the two-person rule lets the actor approve the item's version whose
    contributors are `rows`, or accept its findings (roles are checked apart)."""
    own = actor.user_id is not None and item.author_id == actor.user_id
    return not own and not contributed(actor, rows)


async def _check_two_persons(
    conn: BaseDBAsyncClient, item: Item, version: int, actor: Actor, doing: str
) -> None:
    if contributed(actor, await contributors(item.id, version, conn)):
        raise TwoPersonRule(item, version, doing)


async def _load(conn: BaseDBAsyncClient, item_id: int) -> Item:
    item = await Item.filter(id=item_id).using_db(conn).first()
    if item is None:
        raise ItemNotFound(item_id)
    return item


async def _move(
    conn: BaseDBAsyncClient, item: Item, action: str, to: ItemStatus, **changes: Any
) -> None:
    """Compare-and-set the status; IllegalTransition if the item is not in an allowed state."""
    allowed = ALLOWED[action]
    if ItemStatus(item.status) not in allowed:
        raise IllegalTransition(action, item.status, allowed)
    changes["updated_at"] = datetime.now(UTC)
    count = (
        await Item.filter(id=item.id, status=item.status)
        .using_db(conn)
        .update(status=to.value, **changes)
    )
    if count != 1:  # someone else moved it between our read and write
        fresh = await _load(conn, item.id)
        raise IllegalTransition(action, fresh.status, allowed)
    item.status = to.value
    for key, value in changes.items():
        setattr(item, key, value)


async def _validate_refs(conn: BaseDBAsyncClient, data: dict[str, Any], config: Config) -> None:
    related_id = data.get("related_id")
    if related_id is not None and not await Item.filter(id=related_id).using_db(conn).exists():
        raise InvalidItem(f"关联条目 #{related_id} 不存在。", "related_id")
    for name in data.get("channels") or []:
        _check_channel(name, config)
    topic = data.get("topic")
    if topic and topic not in config.disclosure.topics:
        raise InvalidItem(
            f"主题分类（topic）「{topic}」不在可选范围内，可选：{'、'.join(config.disclosure.topics)}。",
            "topic",
        )


def _check_channel(name: str, config: Config) -> None:
    enabled = config.channels.enabled_names()
    if name not in enabled:
        known = "不存在" if name not in type(config.channels).model_fields else "未启用"
        raise InvalidItem(
            f"渠道「{name}」{known}，可选：{'、'.join(enabled) or '（无）'}。", "channels"
        )


async def create_item(
    data: ItemCreate, actor: Actor, config: Config, links: LinkCheck | None = None
) -> Item:
    """Create a draft and pre-review it, as every edit is, so its page shows at once what
    submit will say; with a link check, its links are checked first, outside the transaction."""
    actor.require(Role.EDITOR)
    values = data.model_dump()
    if not values.get("column"):
        values["column"] = data.kind.value if data.kind.value in config.columns else ""
    if not values.get("publisher"):
        values["publisher"] = config.publisher()
    check = await linkcheck.precheck(links, values) if links is not None else None
    async with in_transaction() as conn:
        await _validate_refs(conn, values, config)
        item = await Item.create(using_db=conn, author_id=actor.user_id, **values)
        await _contribute(conn, item, actor, "create")
        findings = await _prereview(conn, item, snapshot(item), "edit", config, check)
        await audit.record(
            conn,
            actor.name,
            "item.create",
            "item",
            item.id,
            {"title": item.title, "kind": item.kind, "findings": [f.rule for f in findings]},
        )
    return item


async def edit_item(
    item_id: int, patch: ItemPatch, actor: Actor, config: Config, links: LinkCheck | None = None
) -> Item:
    """Apply an edit. An approved or published item gets a new version that goes back to draft;
    its pending deliveries are cancelled in the same transaction. The edited text is
    pre-reviewed; with a link check, its links are checked first, outside the transaction."""
    actor.require(Role.EDITOR)
    changes = patch.model_dump(exclude_unset=True)
    if not changes:  # an empty edit must not reopen review or cancel deliveries
        raise InvalidItem("没有要修改的字段。", "(body)")
    check = None
    if links is not None:
        current = await Item.filter(id=item_id).first()
        if current is None:
            raise ItemNotFound(item_id)
        check = await linkcheck.precheck(links, {**snapshot(current), **changes})
    async with in_transaction() as conn:
        item = await _load(conn, item_id)
        await _edit(conn, item, changes, actor, config, "item.edit", check)
    return item


async def _edit(
    conn: BaseDBAsyncClient,
    item: Item,
    changes: dict[str, Any],
    actor: Actor,
    config: Config,
    action: str,
    check_links: LinkCheck | None = None,
) -> None:
    await _validate_refs(conn, changes, config)
    details: dict[str, Any] = {"fields": sorted(changes)}
    if ItemStatus(item.status) in APPROVED_STATES:
        changes["version"] = item.version + 1
        cancelled = await outbox.cancel_pending(conn, item.id, DeliveryAction.PUBLISH)
        details.update(new_version=item.version + 1, cancelled_deliveries=cancelled)
    await _move(conn, item, "edit", S.DRAFT, **changes)
    await _contribute(conn, item, actor, "edit")  # of the new version, when it opened one
    # Review on every edit, so the editor sees what to fix before submitting.
    findings = await _prereview(conn, item, snapshot(item), "edit", config, check_links)
    details["findings"] = [f.rule for f in findings]
    await audit.record(conn, actor.name, action, "item", item.id, details)


async def submit(
    item_id: int, actor: Actor, config: Config, links: LinkCheck | None = None
) -> Outcome:
    """Snapshot the item and pre-review it: blocking findings return it, else it awaits review.
    With a link check, the item's links are checked first, outside the transaction."""
    actor.require(Role.EDITOR)
    check = None
    if links is not None:
        current = await Item.filter(id=item_id).first()
        if current is None:
            raise ItemNotFound(item_id)
        check = await linkcheck.precheck(links, snapshot(current))
    async with in_transaction() as conn:
        item = await _load(conn, item_id)
        await _move(
            conn, item, "submit", S.SUBMITTED, submitted_at=datetime.now(UTC), return_reason=""
        )
        await _contribute(conn, item, actor, "submit")
        snap = snapshot(item)
        await ItemVersion.filter(item_id=item.id, version=item.version).using_db(conn).delete()
        await ItemVersion.create(
            using_db=conn,
            item_id=item.id,
            version=item.version,
            snapshot=snap,
            created_by=actor.name,
        )
        await audit.record(
            conn, actor.name, "item.submit", "item", item.id, {"version": item.version}
        )
        findings = await _prereview(conn, item, snap, "submit", config, check)
        blocking = [f for f in findings if f.blocks]
        if blocking:
            reason = "；".join(f.message for f in blocking)
            await _move_system(conn, item, S.RETURNED, return_reason=reason)
            await audit.record(
                conn,
                "system:prereview",
                "item.return",
                "item",
                item.id,
                {"reason": reason, "rules": [f.rule for f in blocking]},
            )
        else:
            await _move_system(conn, item, S.IN_REVIEW)
            await audit.record(
                conn,
                "system:prereview",
                "item.prereview_passed",
                "item",
                item.id,
                {"warnings": [f.rule for f in findings]},
            )
    return Outcome(item, findings)


async def _move_system(conn: BaseDBAsyncClient, item: Item, to: ItemStatus, **changes: Any) -> None:
    changes["updated_at"] = datetime.now(UTC)
    await Item.filter(id=item.id).using_db(conn).update(status=to.value, **changes)
    item.status = to.value
    for key, value in changes.items():
        setattr(item, key, value)


async def _prereview(
    conn: BaseDBAsyncClient,
    item: Item,
    snap: dict[str, Any],
    stage: str,
    config: Config,
    check_links: LinkCheck | None = None,
) -> list[FindingData]:
    channels = target_channels(item, config)
    findings = await prereview.run(snap, config, channels, conn, check_links)
    await prereview.save_findings(conn, item.id, item.version, stage, findings)
    return findings


async def return_item(item_id: int, actor: Actor, reason: str) -> Item:
    """退文: send the item back to its author with the reason."""
    actor.require(Role.REVIEWER)
    if not reason.strip():
        raise InvalidItem("退文须填写理由。", "reason")
    async with in_transaction() as conn:
        item = await _load(conn, item_id)
        await _move(conn, item, "return", S.RETURNED, return_reason=reason.strip())
        await audit.record(
            conn,
            actor.name,
            "item.return",
            "item",
            item.id,
            {"reason": reason.strip(), "version": item.version},
        )
    return item


async def approve(item_id: int, actor: Actor, config: Config) -> Item:
    """Approve the submitted version and write its outbox rows in the same transaction.

    三同步: a policy's interpretations awaiting review are approved with it and go out at the
    same time; an interpretation of a policy not yet approved waits for that approval."""
    actor.require(Role.REVIEWER)
    async with in_transaction() as conn:
        # NOTIFY is delivered at commit wherever it stands in the transaction: first, so the
        # end of the transaction (after the audit chain's lock is taken) is as short as can be.
        await outbox.notify(conn)
        item = await _load(conn, item_id)
        if item.kind == Kind.INTERPRETATION.value and item.related_id:
            policy = await Item.filter(id=item.related_id).using_db(conn).first()
            if policy is not None and waits_for(policy):
                raise NotTogether(policy)
        partners: list[Item] = []
        if item.kind == Kind.POLICY.value:
            partners = (
                await Item.filter(
                    related_id=item.id,
                    kind=Kind.INTERPRETATION.value,
                    status=ItemStatus.IN_REVIEW.value,
                )
                .using_db(conn)
                .order_by("id")
            )
        for one in (item, *partners):  # who may decide comes first, then what is left open
            if actor.user_id is not None and one.author_id == actor.user_id:
                raise SelfApproval()
            await _check_two_persons(conn, one, one.version, actor, "批准")
        # Every unconfirmed finding of the package at once, not the first item's alone.
        open_findings = [
            (one, f) for one in (item, *partners) for f in await _open_findings(conn, one)
        ]
        if open_findings:
            raise FindingsNotOverridden(open_findings)
        due = await _approve_one(conn, item, actor, config)
        for partner in partners:
            await _approve_one(conn, partner, actor, config, due)
    return item


async def _open_findings(conn: BaseDBAsyncClient, item: Item) -> list[Finding]:
    """The findings of the item's submitted version that wait for a reviewer's override."""
    rows = await Finding.filter(
        item_id=item.id, item_version=item.version, stage="submit", overridden_at=None
    ).using_db(conn)
    return [f for f in rows if f.awaits_override]


def waits_for(policy: Item) -> bool:
    """An interpretation of this policy may not be approved before it (三同步): the policy is
    proactively disclosed and not approved yet; its package is decided with it."""
    return (
        policy.kind == Kind.POLICY.value
        and policy.disclosure == Disclosure.PROACTIVE.value
        and ItemStatus(policy.status) not in APPROVED_STATES
    )


async def _approve_one(
    conn: BaseDBAsyncClient,
    item: Item,
    actor: Actor,
    config: Config,
    due: datetime | None = None,
) -> datetime:
    """Approve one item inside the caller's transaction (who approves and the findings already
    checked by approve()); returns when it is due to go out."""
    now = datetime.now(UTC)
    if due is None:
        later = item.publish_at is not None and item.publish_at > now
        due = item.publish_at.astimezone(UTC) if later and item.publish_at else now
    await _move(conn, item, "approve", S.SCHEDULED if due > now else S.APPROVED, approved_at=now)
    index_no = await disclosure.assign_index_no(conn, item, config, now)
    await (
        ItemVersion.filter(item_id=item.id, version=item.version)
        .using_db(conn)
        .update(approved_by=actor.name, approved_at=now)
    )
    channels = target_channels(item, config)
    for name in channels:  # a channel may have been disabled since the item was written
        _check_channel(name, config)
    try:
        await outbox.enqueue(conn, item.id, item.version, DeliveryAction.PUBLISH, channels, due)
    except IntegrityError as exc:  # the (item, version, channel, action) key: never twice
        raise IllegalTransition("approve", item.status, ALLOWED["approve"]) from exc
    await audit.record(
        conn,
        actor.name,
        "item.approve",
        "item",
        item.id,
        {
            "version": item.version,
            "channels": channels,
            "due_at": due.isoformat(),
            **({"index_no": index_no} if index_no else {}),
        },
    )
    return due


async def schedule(item_id: int, actor: Actor, publish_at: datetime | None) -> Item:
    """Set or clear the publication time; pending deliveries of an approved item move with it."""
    actor.require(Role.EDITOR, Role.REVIEWER)
    now = datetime.now(UTC)
    if publish_at is not None and publish_at.tzinfo is None:
        raise InvalidItem("发布时间必须带时区。", "publish_at")
    if publish_at is not None:
        if publish_at <= now:  # accepted silently, it would go out at once: say so instead
            shown = publish_at.isoformat(" ", "minutes")  # as given, with its UTC offset
            raise InvalidItem(
                f"发布时间 {shown} 已经过去：请选择将来的时间；要立即发布，请清除发布时间。",
                "publish_at",
            )
        publish_at = publish_at.astimezone(UTC)  # UTC everywhere: SQLite compares times as text
    async with in_transaction() as conn:
        item = await _load(conn, item_id)
        status = ItemStatus(item.status)
        to = status
        if status in (S.APPROVED, S.SCHEDULED):
            to = S.SCHEDULED if publish_at and publish_at > now else S.APPROVED
        await _move(conn, item, "schedule", to, publish_at=publish_at)
        if status in (S.APPROVED, S.SCHEDULED):
            due = publish_at if publish_at and publish_at > now else now
            await outbox.reschedule(conn, item.id, item.version, due)
            await outbox.notify(conn)
        await audit.record(
            conn,
            actor.name,
            "item.schedule",
            "item",
            item.id,
            {"publish_at": publish_at.isoformat() if publish_at else None},
        )
    return item


async def retract(item_id: int, actor: Actor, reason: str, can_retract: dict[str, bool]) -> Outcome:
    """撤稿: cancel what has not gone out, and queue a retraction on every channel it reached
    that supports one; report plainly the channels that cannot retract."""
    actor.require(Role.REVIEWER)
    if not reason.strip():
        raise InvalidItem("撤稿须填写理由。", "reason")
    now = datetime.now(UTC)
    async with in_transaction() as conn:
        item = await _load(conn, item_id)
        await _move(
            conn, item, "retract", S.RETRACTED, retracted_at=now, retraction_reason=reason.strip()
        )
        cancelled = await outbox.cancel_pending(conn, item.id, DeliveryAction.PUBLISH)
        reached = (
            await Delivery.filter(
                item_id=item.id, action=DeliveryAction.PUBLISH.value, status__in=REACHED
            )
            .using_db(conn)
            .distinct()
            .values_list("channel", flat=True)
        )
        channels = sorted({str(c) for c in reached})
        retractable = [c for c in channels if can_retract.get(c, False)]
        cannot = [c for c in channels if not can_retract.get(c, False)]
        await outbox.enqueue(conn, item.id, item.version, DeliveryAction.RETRACT, retractable, now)
        await audit.record(
            conn,
            actor.name,
            "item.retract",
            "item",
            item.id,
            {
                "reason": reason.strip(),
                "cancelled_deliveries": cancelled,
                "retract_on": retractable,
                "cannot_retract": cannot,
            },
        )
        await outbox.notify(conn)
        await site_version.announce(conn)  # its page answers 410 and it leaves the feeds
        await search_index.remove_item(conn, item.id)  # and the search, in the same commit
    return Outcome(item, cannot_retract=cannot)


async def override_finding(finding_id: int, actor: Actor, reason: str) -> Finding:
    """A reviewer accepts a warning (or an overridable block) with a written reason."""
    actor.require(Role.REVIEWER)
    if not reason.strip():
        raise InvalidItem("确认预审提示须填写书面理由。", "reason")
    async with in_transaction() as conn:
        finding = await Finding.filter(id=finding_id).using_db(conn).first()
        if finding is None:
            raise FindingNotFound(finding_id)
        if not finding.needs_override:
            raise NotPermitted(
                f"预审提示「{finding.message}」是不可豁免的阻断项，只能修改稿件后重新提交。"
            )
        if finding.overridden_at is not None:
            raise AlreadyOverridden(finding)
        item = await _load(conn, finding.item_id)
        if actor.user_id is not None and item.author_id == actor.user_id:
            raise NotPermitted("不能确认自己撰写的稿件的预审提示，请由另一位审核人员确认。")
        await _check_two_persons(conn, item, finding.item_version, actor, "确认其预审提示")
        finding.overridden_by = actor.name
        finding.override_reason = reason.strip()
        finding.overridden_at = datetime.now(UTC)
        await finding.save(
            using_db=conn, update_fields=["overridden_by", "override_reason", "overridden_at"]
        )
        await audit.record(
            conn,
            actor.name,
            "finding.override",
            "item",
            item.id,
            {"finding": finding.id, "rule": finding.rule, "reason": finding.override_reason},
        )
    return finding


async def convert_to_proactive(item_id: int, actor: Actor, config: Config) -> Item:
    """依申请转主动: propose an item released on request for proactive disclosure. It becomes
    a new draft with the proactive attribute and is reviewed like a new item."""
    actor.require(Role.EDITOR)
    async with in_transaction() as conn:
        item = await _load(conn, item_id)
        if item.disclosure != Disclosure.ON_REQUEST.value:
            raise InvalidItem("只有依申请公开的条目可以转为主动公开。", "disclosure")
        changes: dict[str, Any] = {"disclosure": Disclosure.PROACTIVE.value}
        await _edit(conn, item, changes, actor, config, "item.convert_to_proactive")
    return item


async def set_validity(item_id: int, actor: Actor, validity: str, reason: str) -> Item:
    """Mark a policy amended, expired or repealed (or valid again); once published, its page
    and the feeds show it. This is a fact about the document, not an edit of its text."""
    actor.require(Role.REVIEWER)
    if validity not in VALIDITY_LABELS:
        choices = "、".join(k or "（空：有效）" for k in VALIDITY_LABELS)
        raise InvalidItem(f"效力状态「{validity}」无效，可选：{choices}", "validity")
    async with in_transaction() as conn:
        item = await _load(conn, item_id)
        if item.kind != "policy":
            raise InvalidItem("只有政策文件有效力状态。", "validity")
        await (
            Item.filter(id=item.id)
            .using_db(conn)
            .update(validity=validity, updated_at=datetime.now(UTC))
        )
        item.validity = validity
        await audit.record(
            conn,
            actor.name,
            "item.validity",
            "item",
            item.id,
            {"validity": validity, "reason": reason.strip()},
        )
        await site_version.announce(conn)  # its page and the feeds show the mark
        await search_index.set_validity(conn, item.id, validity)
    return item
