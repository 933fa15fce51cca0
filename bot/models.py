"""The data model (tortoise-orm): items and their versions, 索引号 counters, findings,
deliveries (the outbox), comments with their replies and notes, FAQ and 选登 entries, channel
state and events, the hash-chained audit log, staff users and API tokens, worker heartbeats.

Model docstrings become SQL table comments: tortoise splits SQLite scripts on semicolons, so
they must not contain one. Times are stored in UTC. Queries that coordinate workers live in
bot/outbox/store.py, not here.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model


class Kind(StrEnum):
    POLICY = "policy"  # 政策文件
    INTERPRETATION = "interpretation"  # 政策解读
    ENFORCEMENT = "enforcement"  # 行政执法公示
    NOTICE = "notice"  # 通知公告
    CONSULTATION = "consultation"  # 意见征集


KIND_LABELS = {
    Kind.POLICY: "政策文件",
    Kind.INTERPRETATION: "政策解读",
    Kind.ENFORCEMENT: "行政执法公示",
    Kind.NOTICE: "通知公告",
    Kind.CONSULTATION: "意见征集",
}


class Disclosure(StrEnum):
    PROACTIVE = "proactive"  # 主动公开
    ON_REQUEST = "on_request"  # 依申请公开
    WITHHELD = "withheld"  # 不予公开


DISCLOSURE_LABELS = {
    Disclosure.PROACTIVE: "主动公开",
    Disclosure.ON_REQUEST: "依申请公开",
    Disclosure.WITHHELD: "不予公开",
}


class ItemStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    RETURNED = "returned"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    SCHEDULED = "scheduled"
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    PARTLY_PUBLISHED = "partly_published"
    FAILED = "failed"
    RETRACTED = "retracted"


STATUS_LABELS = {
    ItemStatus.DRAFT: "草稿",
    ItemStatus.SUBMITTED: "已提交",
    ItemStatus.RETURNED: "已退文",
    ItemStatus.IN_REVIEW: "待审核",
    ItemStatus.APPROVED: "已批准",
    ItemStatus.SCHEDULED: "已排期",
    ItemStatus.PUBLISHING: "发布中",
    ItemStatus.PUBLISHED: "已发布",
    ItemStatus.PARTLY_PUBLISHED: "部分发布",
    ItemStatus.FAILED: "发布失败",
    ItemStatus.RETRACTED: "已撤稿",
}


class DeliveryAction(StrEnum):
    PUBLISH = "publish"
    RETRACT = "retract"


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for its time (next_attempt_at)
    RUNNING = "running"  # claimed by a worker holding a lease
    DONE = "done"
    DEAD = "dead"  # permanent failure or attempts exhausted
    UNCONFIRMED = "unconfirmed"  # outcome of an irreversible call unknown: a person decides
    MISSED = "missed"  # overdue by more than the configured window: not sent stale
    CANCELLED = "cancelled"  # superseded by an edit or a retraction


# The legal force of a policy (效力): valid, amended, expired or repealed.
VALIDITY_LABELS = {"": "有效", "amended": "已修订", "expired": "已失效", "repealed": "已废止"}

DELIVERY_STATUS_LABELS = {
    DeliveryStatus.PENDING: "待发送",
    DeliveryStatus.RUNNING: "发送中",
    DeliveryStatus.DONE: "已完成",
    DeliveryStatus.DEAD: "失败",
    DeliveryStatus.UNCONFIRMED: "结果待确认",
    DeliveryStatus.MISSED: "已错过",
    DeliveryStatus.CANCELLED: "已取消",
}
DELIVERY_ACTION_LABELS = {DeliveryAction.PUBLISH: "发布", DeliveryAction.RETRACT: "撤稿"}


class Role(StrEnum):
    EDITOR = "editor"
    REVIEWER = "reviewer"
    MODERATOR = "moderator"
    ADMIN = "admin"
    # 三员分立: reads the audit log and nothing else; an admin does not hold it implicitly
    AUDITOR = "auditor"


ROLE_LABELS = {
    Role.EDITOR: "编辑",
    Role.REVIEWER: "审核",
    Role.MODERATOR: "留言处理",
    Role.ADMIN: "管理员",
    Role.AUDITOR: "审计员",
}


class Scope(StrEnum):
    """What an API token made for another system may do instead of a staff role's work: a
    token with a scope holds no role (bot/actors.py)."""

    # GET /api/v1/knowledge and nothing else: the city's unified Q&A platform (一网通答)
    KNOWLEDGE = "knowledge"


SCOPE_LABELS = {Scope.KNOWLEDGE: "知识库只读"}


class User(Model):
    id = fields.IntField(primary_key=True)
    username = fields.CharField(max_length=64, unique=True)
    display_name = fields.CharField(max_length=128, default="")
    office = fields.CharField(max_length=128, default="")
    roles = fields.JSONField[list[str]](default=list)
    password_hash = fields.CharField(max_length=255, default="")
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    # A password set by someone else (an admin, the CLI) must be changed at the next login.
    must_change_password = fields.BooleanField(default=False, db_default=False)
    password_changed_at = fields.DatetimeField(null=True)
    # Where 预览到手机 (message/mass/preview) reaches this person: their openid under the
    # account, else their 微信号 (bot/wechat/preview.py). Set by the person on 个人设置.
    wechat_openid = fields.CharField(max_length=64, default="", db_default="")
    wechat_id = fields.CharField(max_length=64, default="", db_default="")

    class Meta:
        table = "gk_user"


class StaffSession(Model):
    """A console login, held on the server: the cookie carries only its random id, this row
    keeps the SHA-256 digest of it. Deleting the row ends the session in every web process
    (logout, disable, password change, revoke). With [redis] the sessions live in Redis
    instead (bot/staff/sessions.py)."""

    id = fields.CharField(max_length=64, primary_key=True)  # sha256 hex of the cookie's id
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="sessions", on_delete=fields.CASCADE
    )
    created_at = fields.DatetimeField()
    seen_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()  # the absolute limit; the idle limit runs from seen_at
    ip = fields.CharField(max_length=64, default="")
    user_agent = fields.CharField(max_length=255, default="")

    user_id: int

    class Meta:
        table = "gk_staff_session"
        indexes = (("user_id",),)


class LoginThrottle(Model):
    """Failed logins counted per key ("account:<name>", "address:<ip>", "device:<id>") and
    shared by every web process: after the free attempts each failure doubles the wait, told
    as 429 Retry-After (bot/staff/throttle.py). With [redis] the counters live in Redis."""

    key = fields.CharField(max_length=160, primary_key=True)
    failures = fields.IntField(default=0)
    first_at = fields.DatetimeField()
    last_at = fields.DatetimeField()
    blocked_until = fields.DatetimeField(null=True)

    class Meta:
        table = "gk_login_throttle"


class ApiToken(Model):
    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="tokens", on_delete=fields.RESTRICT
    )
    name = fields.CharField(max_length=128)
    prefix = fields.CharField(max_length=16)
    token_hash = fields.CharField(max_length=64, unique=True)
    roles = fields.JSONField[list[str]](default=list)
    # Scope values: a token for another system (roles then empty), e.g. ["knowledge"]
    scopes = fields.JSONField[list[str]](default=list, db_default="[]")
    created_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "gk_api_token"


class Item(Model):
    """The working copy of an item. What was approved for each version is in ItemVersion."""

    id = fields.IntField(primary_key=True)
    kind = fields.CharField(max_length=32)
    title = fields.CharField(max_length=500)
    # 微信标题: the title WeChat shows when `title` is longer than its limit (32 characters);
    # empty: WeChat gets `title`. Longer than any limit so pre-review, not the insert, says so.
    wechat_title = fields.CharField(max_length=500, default="", db_default="")
    summary = fields.TextField(default="")
    body = fields.TextField(default="")
    column = fields.CharField(max_length=64)
    doc_number = fields.CharField(max_length=128, default="")
    office = fields.CharField(max_length=128, default="")
    disclosure = fields.CharField(max_length=32, default=Disclosure.PROACTIVE.value)
    withheld_basis = fields.TextField(default="")
    related: fields.ForeignKeyNullableRelation[Item] = fields.ForeignKeyField(
        "models.Item", related_name="interpretations", null=True, on_delete=fields.SET_NULL
    )
    interpretation_forms = fields.JSONField[list[str]](default=list)
    enforcement = fields.JSONField[dict[str, Any]](default=dict)
    publish_at = fields.DatetimeField(null=True)
    channels = fields.JSONField[list[str]](default=list)
    version = fields.IntField(default=1)
    published_version = fields.IntField(null=True)
    status = fields.CharField(max_length=32, default=ItemStatus.DRAFT.value, db_index=True)
    author: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="items", on_delete=fields.RESTRICT
    )
    source = fields.CharField(max_length=255, default="")
    return_reason = fields.TextField(default="")
    retraction_reason = fields.TextField(default="")
    # 有效 (""), or for a policy: repealed / expired / amended, shown on its page and in feeds
    validity = fields.CharField(max_length=16, default="", db_default="")
    # 主动公开目录 metadata: 成文日期, 主题分类 (one of [disclosure] topics), 发布机构
    written_on = fields.DateField(null=True)
    topic = fields.CharField(max_length=64, default="", db_default="")
    publisher = fields.CharField(max_length=128, default="", db_default="")
    # 索引号: given once, in the transaction of the first approval, and never given again
    # (bot/items/disclosure.py); a retracted item keeps it. Not part of a version.
    index_no = fields.CharField(max_length=64, null=True, unique=True)
    # Include in the day's WeChat mass send (群发) and its rank there (higher first)
    notify = fields.BooleanField(default=False, db_default=False)
    priority = fields.IntField(default=0, db_default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    submitted_at = fields.DatetimeField(null=True)
    approved_at = fields.DatetimeField(null=True)
    published_at = fields.DatetimeField(null=True)
    retracted_at = fields.DatetimeField(null=True)

    author_id: int
    related_id: int | None
    versions: fields.ReverseRelation[ItemVersion]
    findings: fields.ReverseRelation[Finding]
    deliveries: fields.ReverseRelation[Delivery]

    class Meta:
        table = "gk_item"


class IndexCounter(Model):
    """The last 索引号 sequence number given in a scope (the index pattern filled in but for
    the number, e.g. GK-2026-{seq}). It only goes up, by one atomic upsert in the approving
    transaction, so concurrent approvals never share a number and none is given twice."""

    scope = fields.CharField(max_length=255, primary_key=True)
    value = fields.BigIntField(default=0)

    class Meta:
        table = "gk_index_counter"


class ItemVersion(Model):
    """An immutable snapshot of item content, taken at submission: channels publish this."""

    id = fields.IntField(primary_key=True)
    item: fields.ForeignKeyRelation[Item] = fields.ForeignKeyField(
        "models.Item", related_name="versions", on_delete=fields.CASCADE
    )
    version = fields.IntField()
    snapshot = fields.JSONField[dict[str, Any]]()
    created_by = fields.CharField(max_length=128)
    created_at = fields.DatetimeField(auto_now_add=True)
    approved_by = fields.CharField(max_length=128, default="")
    approved_at = fields.DatetimeField(null=True)

    item_id: int

    class Meta:
        table = "gk_item_version"
        unique_together = (("item", "version"),)


class ItemContributor(Model):
    """Who created, edited or submitted a version of an item (the working copy while that
    version is open): none of them may approve that version or override its findings."""

    id = fields.IntField(primary_key=True)
    item: fields.ForeignKeyRelation[Item] = fields.ForeignKeyField(
        "models.Item", related_name="contributors", on_delete=fields.CASCADE
    )
    version = fields.IntField()
    actor = fields.CharField(max_length=128)  # e.g. "user:alice"
    # The staff account behind the actor (None for system actors such as an upstream import)
    user: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="contributions", null=True, on_delete=fields.RESTRICT
    )
    first_action = fields.CharField(max_length=32)  # create | edit | submit | import
    at = fields.DatetimeField()

    item_id: int
    user_id: int | None

    class Meta:
        table = "gk_item_contributor"
        unique_together = (("item", "version", "actor"),)


class Finding(Model):
    id = fields.IntField(primary_key=True)
    item: fields.ForeignKeyRelation[Item] = fields.ForeignKeyField(
        "models.Item", related_name="findings", on_delete=fields.CASCADE
    )
    item_version = fields.IntField()
    stage = fields.CharField(max_length=16)  # submit | dispatch
    rule = fields.CharField(max_length=64)
    severity = fields.CharField(max_length=8)  # block | warn
    field = fields.CharField(max_length=64, default="")
    message = fields.TextField()
    span_start = fields.IntField(null=True)
    span_end = fields.IntField(null=True)
    suggestion = fields.TextField(default="")
    # db_default: columns added by a migration need a default the database itself applies.
    overridable = fields.BooleanField(default=False, db_default=False)
    overridden_by = fields.CharField(max_length=128, default="", db_default="")
    override_reason = fields.TextField(default="", db_default="")
    overridden_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    item_id: int

    @property
    def needs_override(self) -> bool:
        return self.severity == "warn" or self.overridable

    @property
    def awaits_override(self) -> bool:
        """Stands between its submitted version and approval until a reviewer confirms it."""
        return self.stage == "submit" and self.needs_override and self.overridden_at is None

    class Meta:
        table = "gk_finding"
        # Foreign keys get no index of their own in PostgreSQL: the item page reads by item.
        indexes = (("item_id", "item_version"),)


class Delivery(Model):
    """One item version on one channel (publish or retract): an outbox row, idempotency key."""

    id = fields.IntField(primary_key=True)
    item: fields.ForeignKeyRelation[Item] = fields.ForeignKeyField(
        "models.Item", related_name="deliveries", on_delete=fields.RESTRICT
    )
    item_version = fields.IntField()
    channel = fields.CharField(max_length=32)
    action = fields.CharField(max_length=16, default=DeliveryAction.PUBLISH.value)
    status = fields.CharField(max_length=16, default=DeliveryStatus.PENDING.value)
    attempts = fields.IntField(default=0)
    due_at = fields.DatetimeField()
    next_attempt_at = fields.DatetimeField()
    lease_owner = fields.CharField(max_length=128, default="")
    lease_expires_at = fields.DatetimeField(null=True)
    checkpoint = fields.JSONField[dict[str, Any]](default=dict)
    remote_id = fields.CharField(max_length=255, default="")
    remote_url = fields.CharField(max_length=1000, default="")
    last_error = fields.TextField(default="")
    error_class = fields.CharField(max_length=16, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    finished_at = fields.DatetimeField(null=True)

    item_id: int

    class Meta:
        table = "gk_delivery"
        unique_together = (("item", "item_version", "channel", "action"),)
        # the second finds the item a comment is about from the channel's id for it
        indexes = (("status", "channel", "next_attempt_at"), ("channel", "remote_id"))


class CommentStatus(StrEnum):
    OPEN = "open"  # waiting for an answer (the clock runs)
    REPLIED = "replied"  # an answer was sent (the clock stopped at first_reply_at)
    CLOSED = "closed"  # done, with or without an answer (e.g. a thank-you)
    SPAM = "spam"  # kept, hidden, no clock
    PETITION = "petition"  # 信访类: handed to the statutory petition process, no 5-day clock


COMMENT_STATUS_LABELS = {
    CommentStatus.OPEN: "待答复",
    CommentStatus.REPLIED: "已答复",
    CommentStatus.CLOSED: "已办结",
    CommentStatus.SPAM: "垃圾信息",
    CommentStatus.PETITION: "转信访",
}

COMMENT_KIND_LABELS = {
    "message": "公众号消息",
    "article_comment": "文章留言",
    "feedback": "用户反馈",
    "form": "网站留言",
    "hotline": "12345工单",
}


class Comment(Model):
    """What the public wrote, from any channel. original_text is never changed after ingestion.
    People see masked_text. Unique on (channel, remote_id) so channel retries are stored once.
    """

    id = fields.IntField(primary_key=True)
    channel = fields.CharField(max_length=32)
    remote_id = fields.CharField(max_length=255)
    item: fields.ForeignKeyNullableRelation[Item] = fields.ForeignKeyField(
        "models.Item", related_name="comments", null=True, on_delete=fields.SET_NULL
    )
    author_ref = fields.CharField(max_length=255, default="")
    kind = fields.CharField(max_length=32, default="message")
    original_text = fields.TextField()
    masked_text = fields.TextField(default="")
    category = fields.CharField(max_length=32, default="")
    simple = fields.BooleanField(default=False)
    office = fields.CharField(max_length=128, default="")
    status = fields.CharField(max_length=32, default=CommentStatus.OPEN.value, db_index=True)
    received_at = fields.DatetimeField()
    due_at = fields.DatetimeField(null=True)
    reply = fields.TextField(default="")
    reply_status = fields.CharField(max_length=32, default="")
    selected = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)
    # What the channel needs to answer (e.g. a follower id, an article comment id). Never shown.
    reply_ref = fields.JSONField[dict[str, Any]](default=dict, db_default="{}")
    # The channel's reference to the item it is about when the item is not known yet
    remote_item_ref = fields.CharField(max_length=255, default="", db_default="")
    # spam, abuse, flood, link, repeat, personal_data, petition, calendar_unknown, ...
    flags = fields.JSONField[list[str]](default=list, db_default="[]")
    hidden = fields.BooleanField(default=False, db_default=False)
    confidence = fields.FloatField(default=0.0, db_default=0.0)
    suggested_answer = fields.TextField(default="", db_default="")
    suggested_source = fields.CharField(max_length=255, default="", db_default="")
    assignee: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="assigned_comments", null=True, on_delete=fields.SET_NULL
    )
    # Whether the official holiday calendar was known for every day of the due-time count
    calendar_known = fields.BooleanField(default=True, db_default=True)
    first_reply_at = fields.DatetimeField(null=True)
    closed_at = fields.DatetimeField(null=True)
    reminded_at = fields.DatetimeField(null=True)
    escalated_at = fields.DatetimeField(null=True)
    escalation_level = fields.IntField(default=0, db_default=0)
    # 查询码 given to the writer of a website form message to look up the answer later
    query_code = fields.CharField(max_length=32, null=True, unique=True)
    updated_at = fields.DatetimeField(auto_now=True, null=True)

    item_id: int | None
    assignee_id: int | None
    replies: fields.ReverseRelation[CommentReply]
    notes: fields.ReverseRelation[CommentNote]

    class Meta:
        table = "gk_comment"
        unique_together = (("channel", "remote_id"),)
        indexes = (
            ("status", "due_at"),
            ("office", "status"),
            ("author_ref", "received_at"),
            ("channel", "status"),
            ("category", "status"),
            ("assignee_id", "status"),
            ("item_id",),  # the comments on an item
        )


class ReplyStatus(StrEnum):
    DRAFT = "draft"
    QUEUED = "queued"  # waiting for the reply sender (next_attempt_at)
    SENDING = "sending"  # claimed by a sender holding a lease
    SENT = "sent"
    FAILED = "failed"  # permanent failure or attempts exhausted
    OTHER_ROUTE = "other_route"  # the channel cannot carry it now (e.g. 48-hour window closed)
    # [inbox.signoff]: waiting for a second moderator (bot/inbox/signoff.py); not sent
    SIGNOFF = "signoff"
    RETURNED = "returned"  # sent back by the second moderator, with a reason; never sent


REPLY_STATUS_LABELS = {
    ReplyStatus.DRAFT: "草稿",
    ReplyStatus.SIGNOFF: "待审签",
    ReplyStatus.RETURNED: "审签退回",
    ReplyStatus.QUEUED: "待发送",
    ReplyStatus.SENDING: "发送中",
    ReplyStatus.SENT: "已送达",
    ReplyStatus.FAILED: "发送失败",
    ReplyStatus.OTHER_ROUTE: "需改用其他方式答复",
}
# The author of the replies the system sends on its own: WeChat's follow-up search links
# (bot/wechat/follow_up.py). Queued and sent like any reply, they are no answer: the comment
# stays open with its clock running, a moderator may answer meanwhile, 选登 never takes one.
FOLLOW_UP_AUTHOR = "system:wechat-follow-up"


class CommentReply(Model):
    """An answer to a comment, sent back through the channel the comment came from."""

    id = fields.IntField(primary_key=True)
    comment: fields.ForeignKeyRelation[Comment] = fields.ForeignKeyField(
        "models.Comment", related_name="replies", on_delete=fields.CASCADE
    )
    text = fields.TextField()
    author = fields.CharField(max_length=128)
    status = fields.CharField(max_length=16, default=ReplyStatus.DRAFT.value, db_index=True)
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField(null=True)
    lease_owner = fields.CharField(max_length=128, default="")
    lease_expires_at = fields.DatetimeField(null=True)
    remote_id = fields.CharField(max_length=255, default="")
    last_error = fields.TextField(default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    sent_at = fields.DatetimeField(null=True)
    # 审签: who asked to send it (they, like its author, may not sign it off), and who signed
    # it off or returned it, when, and why it was returned
    sent_by = fields.CharField(max_length=128, default="", db_default="")
    signoff_by = fields.CharField(max_length=128, default="", db_default="")
    signoff_at = fields.DatetimeField(null=True)
    return_reason = fields.TextField(default="", db_default="")

    comment_id: int

    class Meta:
        table = "gk_comment_reply"
        indexes = (("comment_id",),)


class CommentNote(Model):
    """An internal note on a comment, seen only by staff."""

    id = fields.IntField(primary_key=True)
    comment: fields.ForeignKeyRelation[Comment] = fields.ForeignKeyField(
        "models.Comment", related_name="notes", on_delete=fields.CASCADE
    )
    author = fields.CharField(max_length=128)
    text = fields.TextField()
    created_at = fields.DatetimeField(auto_now_add=True)

    comment_id: int

    class Meta:
        table = "gk_comment_note"
        indexes = (("comment_id",),)


class CategoryLabel(Model):
    """A person's category for a comment, what the category model learns from: a moderator's
    (set or corrected in the console or CLI) or a 12345 operator's (the work order's 诉求类型).
    One per comment, the latest decision, with who made it and when (the audit log keeps the
    earlier ones). text is the comment's masked_text: no personal data reaches the model."""

    id = fields.IntField(primary_key=True)
    comment: fields.ForeignKeyNullableRelation[Comment] = fields.ForeignKeyField(
        "models.Comment", related_name="labels", null=True, unique=True, on_delete=fields.SET_NULL
    )
    text = fields.TextField()
    category = fields.CharField(max_length=32)
    source = fields.CharField(max_length=16)  # "moderator" | "hotline"
    labelled_by = fields.CharField(max_length=128)
    labelled_at = fields.DatetimeField(db_index=True)

    comment_id: int | None

    class Meta:
        table = "gk_category_label"


class CategoryModel(Model):
    """A trained category model: its file in [inbox.classifier] model_dir, the file's SHA-256
    and the scikit-learn version that wrote it (a file that differs is refused), what it was
    trained on and its cross-validation. The newest row is the model in use; every process
    follows it (bot/inbox/learning.py)."""

    id = fields.IntField(primary_key=True)
    file = fields.CharField(max_length=255)
    sha256 = fields.CharField(max_length=64)
    sklearn_version = fields.CharField(max_length=32)
    examples = fields.IntField()
    labels = fields.IntField()  # of them, the office's own (CategoryLabel rows)
    labels_through = fields.DatetimeField(null=True)  # the newest label it learnt from
    report = fields.JSONField[dict[str, Any]](default=dict)
    trained_by = fields.CharField(max_length=128)
    trained_at = fields.DatetimeField()

    class Meta:
        table = "gk_category_model"


class Faq(Model):
    """A question the office answers often, with its answer (part of the knowledge base)."""

    id = fields.IntField(primary_key=True)
    question = fields.TextField()
    answer = fields.TextField()
    keywords = fields.JSONField[list[str]](default=list)
    office = fields.CharField(max_length=128, default="")
    active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "gk_faq"


class QaEntry(Model):
    """An answered exchange selected (选登) for the public Q&A page, personal data removed."""

    id = fields.IntField(primary_key=True)
    comment: fields.OneToOneNullableRelation[Comment] = fields.OneToOneField(
        "models.Comment", related_name="qa_entry", null=True, on_delete=fields.SET_NULL
    )
    question = fields.TextField()
    answer = fields.TextField()
    office = fields.CharField(max_length=128, default="")
    category = fields.CharField(max_length=32, default="")
    selected_by = fields.CharField(max_length=128)
    published_at = fields.DatetimeField()
    withdrawn_at = fields.DatetimeField(null=True)

    comment_id: int | None

    class Meta:
        table = "gk_qa_entry"


class QaProposalStatus(StrEnum):
    PENDING = "pending"  # waiting for a second moderator
    SIGNED_OFF = "signed_off"  # published (entry_id)
    RETURNED = "returned"


class QaProposal(Model):
    """A 选登 waiting for a second moderator's sign-off ([inbox.signoff]): the masked question
    and answer as they will be published. pending_comment holds the comment's id while the
    proposal is pending and NULL after: its unique key lets one proposal per comment wait."""

    id = fields.IntField(primary_key=True)
    comment: fields.ForeignKeyRelation[Comment] = fields.ForeignKeyField(
        "models.Comment", related_name="qa_proposals", on_delete=fields.CASCADE
    )
    pending_comment = fields.IntField(null=True, unique=True)
    reply_id = fields.IntField()
    question = fields.TextField()
    answer = fields.TextField()
    question_edited = fields.BooleanField(default=False)
    answer_edited = fields.BooleanField(default=False)
    removed = fields.JSONField[list[str]](default=list)
    status = fields.CharField(max_length=16, default=QaProposalStatus.PENDING.value)
    proposed_by = fields.CharField(max_length=128)
    proposed_at = fields.DatetimeField()
    decided_by = fields.CharField(max_length=128, default="")
    decided_at = fields.DatetimeField(null=True)
    return_reason = fields.TextField(default="")
    entry_id = fields.IntField(null=True)

    comment_id: int

    class Meta:
        table = "gk_qa_proposal"
        indexes = (("comment_id",),)


class ChannelState(Model):
    """Shared state of a channel that every process reads: access tokens, polling cursors,
    daily quotas. version makes updates compare-and-set, lock_owner/lock_until a short lease
    for single-flight refreshes across processes.
    """

    key = fields.CharField(max_length=128, primary_key=True)
    value = fields.JSONField[dict[str, Any]](default=dict)
    expires_at = fields.DatetimeField(null=True)
    version = fields.IntField(default=0)
    lock_owner = fields.CharField(max_length=128, default="")
    lock_until = fields.DatetimeField(null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "gk_channel_state"


class ChannelEvent(Model):
    """An event a channel reported (subscribe, publish finished, ...), stored once per key."""

    id = fields.IntField(primary_key=True)
    channel = fields.CharField(max_length=32)
    key = fields.CharField(max_length=255)
    kind = fields.CharField(max_length=64)
    payload = fields.JSONField[dict[str, Any]](default=dict)
    at = fields.DatetimeField()
    handled_at = fields.DatetimeField(null=True)

    class Meta:
        table = "gk_channel_event"
        unique_together = (("channel", "key"),)
        indexes = (("channel", "kind", "at"),)


class MassSend(Model):
    """The day's planned 群发 of a WeChat account: one row per (channel, Shanghai date)."""

    id = fields.IntField(primary_key=True)
    channel = fields.CharField(max_length=32)
    day = fields.DateField()
    status = fields.CharField(max_length=16, default="planned")  # planned|sending|sent|failed
    item_ids = fields.JSONField[list[int]](default=list)
    planned_at = fields.DatetimeField()
    checkpoint = fields.JSONField[dict[str, Any]](default=dict)
    msg_id = fields.CharField(max_length=64, default="")
    last_error = fields.TextField(default="")
    sent_at = fields.DatetimeField(null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "gk_mass_send"
        unique_together = (("channel", "day"),)


class AuditEvent(Model):
    """Append-only: each row hash covers the previous hash and the row canonical content."""

    id = fields.BigIntField(primary_key=True)
    at = fields.DatetimeField()
    actor = fields.CharField(max_length=128)
    action = fields.CharField(max_length=64)
    target_type = fields.CharField(max_length=32)
    target_id = fields.CharField(max_length=64)
    details = fields.JSONField[dict[str, Any]](default=dict)
    prev_hash = fields.CharField(max_length=64)
    hash = fields.CharField(max_length=64, unique=True)

    class Meta:
        table = "gk_audit_event"
        indexes = (("target_type", "target_id"),)


class WorkerHeartbeat(Model):
    worker_id = fields.CharField(max_length=128, primary_key=True)
    role = fields.CharField(max_length=16)
    host = fields.CharField(max_length=255)
    pid = fields.IntField()
    started_at = fields.DatetimeField()
    beat_at = fields.DatetimeField()
    consumed_at = fields.DatetimeField(null=True)
    backlog = fields.IntField(default=0)

    class Meta:
        table = "gk_worker_heartbeat"


class WechatArticleStat(Model):
    """WeChat's figures of one 群发 article on one day (datacube/getarticlesummary), as WeChat
    gave them; msgid is WeChat's "msg_data_id_index" (index from 1), item_id the item it is when
    known (bot/wechat/stats.py)."""

    id = fields.IntField(primary_key=True)
    day = fields.DateField()
    msgid = fields.CharField(max_length=64)
    item_id = fields.IntField(null=True, db_index=True)
    title = fields.CharField(max_length=255, default="")
    read_user = fields.IntField(default=0)  # int_page_read_user: 图文页阅读人数
    read_count = fields.IntField(default=0)
    share_user = fields.IntField(default=0)
    share_count = fields.IntField(default=0)
    fav_user = fields.IntField(default=0)
    fav_count = fields.IntField(default=0)

    class Meta:
        table = "gk_wechat_article_stat"
        unique_together = (("msgid", "day"),)


class WechatFollowerStat(Model):
    """The account's followers on one day (datacube/getusersummary and getusercumulate)."""

    id = fields.IntField(primary_key=True)
    day = fields.DateField(unique=True)
    new_user = fields.IntField(default=0)
    cancel_user = fields.IntField(default=0)
    cumulate_user = fields.IntField(default=0)

    class Meta:
        table = "gk_wechat_follower_stat"


class WechatStatsDay(Model):
    """A day whose WeChat statistics are stored: written with them, in one transaction, so a
    day WeChat could not answer has none and is fetched again by the next run."""

    id = fields.IntField(primary_key=True)
    day = fields.DateField(unique=True)
    fetched_at = fields.DatetimeField()
    articles = fields.IntField(default=0)

    class Meta:
        table = "gk_wechat_stats_day"


class JobSlot(Model):
    """One run of a once-per-slot scheduled job: the unique (job, slot) row decides which
    process runs it, so several processes never run it twice."""

    id = fields.IntField(primary_key=True)
    job = fields.CharField(max_length=64)
    slot = fields.CharField(max_length=64)
    owner = fields.CharField(max_length=128)
    started_at = fields.DatetimeField()
    finished_at = fields.DatetimeField(null=True)
    result = fields.JSONField[dict[str, Any]](default=dict)

    class Meta:
        table = "gk_job_slot"
        unique_together = (("job", "slot"),)


class SourceEntry(Model):
    """An entry of an upstream feed (a [[sources]] entry in config) and the item made from it:
    unique on (source, entry key) so a pull after a restart creates nothing twice."""

    id = fields.IntField(primary_key=True)
    source = fields.CharField(max_length=64)
    entry_key = fields.CharField(max_length=500)  # the entry's guid, else its link
    item: fields.ForeignKeyNullableRelation[Item] = fields.ForeignKeyField(
        "models.Item", related_name="source_entries", null=True, on_delete=fields.SET_NULL
    )
    content_hash = fields.CharField(max_length=64)
    link = fields.CharField(max_length=1000, default="")
    upstream_updated_at = fields.DatetimeField(null=True)
    first_seen_at = fields.DatetimeField()
    last_seen_at = fields.DatetimeField()

    item_id: int | None

    class Meta:
        table = "gk_source_entry"
        unique_together = (("source", "entry_key"),)
        indexes = (("item_id",),)


class SearchDocKind(StrEnum):
    ITEM = "item"  # a published item (its published version)
    QA = "qa"  # a 选登 exchange
    FAQ = "faq"  # an active FAQ entry


SEARCH_KIND_LABELS = {
    SearchDocKind.ITEM: "公开信息",
    SearchDocKind.QA: "网上咨询选登",
    SearchDocKind.FAQ: "常见问题",
}


class SearchDoc(Model):
    """One thing the public can find (一网通查) and the knowledge base answers from: a published
    item, a 选登 exchange or an FAQ entry, with its text segmented once (jieba) into the tokens
    the search engine indexes (SQLite FTS5 or PostgreSQL full-text, bot/search/engine.py). A
    document that leaves the site (retracted, withdrawn, deactivated) stays as a tombstone with
    `removed_at` and no tokens, for the knowledge export's `since` (GET /api/v1/knowledge)."""

    id = fields.IntField(primary_key=True)
    key = fields.CharField(max_length=32, unique=True)  # "item:12", "qa:3", "faq:2"
    kind = fields.CharField(max_length=8)  # SearchDocKind
    item_kind = fields.CharField(max_length=32, default="")  # Kind of an item
    column = fields.CharField(max_length=64, default="")
    year = fields.IntField(null=True)  # of publication (成文日期 for policies when known)
    validity = fields.CharField(max_length=16, default="")
    version = fields.IntField(default=0)  # the item version indexed (a later one replaces it)
    title = fields.TextField()
    text = fields.TextField()  # plain text, for snippets
    answer = fields.TextField(default="")  # FAQ and 选登: the answer; an item: its summary
    url = fields.CharField(max_length=255)  # path on the public site
    office = fields.CharField(max_length=128, default="")
    title_tokens = fields.TextField(default="")  # space-separated search tokens
    body_tokens = fields.TextField(default="")
    published_at = fields.DatetimeField(null=True)
    updated_at = fields.DatetimeField(db_index=True)
    removed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "gk_search_doc"


class SearchMiss(Model):
    """How many times a search found nothing, per query and Shanghai day (the 数据看板's
    「检索无结果的词」): the query as the visitor typed it with personal data masked the way
    the inbox masks it (bot/search/misses.py), counted by an upsert so processes add up."""

    id = fields.IntField(primary_key=True)
    query = fields.CharField(max_length=1000)  # masked; at most [search] max_query_chars
    day = fields.DateField()  # in app.timezone
    count = fields.IntField(default=0)

    class Meta:
        table = "gk_search_miss"
        unique_together = (("query", "day"),)
        indexes = (("day",),)


class ServiceRating(Model):
    """One 政务服务好差评 rating imported from an export (bot/matters/ratings.py): the 事项名称
    as the file names it, the grade (5 非常满意 … 1 非常不满意), the 评价内容 with personal data
    masked as the inbox masks it, and the listed matter it was given. Unique on `key` (the
    评价编号, else a hash of the row's content), so a second import of a file adds nothing."""

    id = fields.IntField(primary_key=True)
    key = fields.CharField(max_length=128, unique=True)
    service = fields.CharField(max_length=200)  # 事项名称
    grade = fields.IntField()  # 1 … 5
    text = fields.TextField(default="")  # 评价内容, masked
    channel = fields.CharField(max_length=64, default="")  # 渠道 as the file names it
    rated_at = fields.DatetimeField()
    matter = fields.CharField(max_length=64, default="")  # a [[matters]] key, "" none fits
    match_method = fields.CharField(max_length=16, default="")  # name | keyword | similar
    match_score = fields.FloatField(default=0.0)
    imported_by = fields.CharField(max_length=128)
    imported_at = fields.DatetimeField()

    class Meta:
        table = "gk_service_rating"
        indexes = (("matter", "rated_at"), ("rated_at",))


class MatterComment(Model):
    """The listed matter a comment (any channel, 12345 orders included) is about, given once by
    bot/matters/assign.py: by keyword, by likeness, or none ("" matter). One row a comment."""

    id = fields.IntField(primary_key=True)
    comment: fields.OneToOneRelation[Comment] = fields.OneToOneField(
        "models.Comment", related_name="matter_link", on_delete=fields.CASCADE
    )
    matter = fields.CharField(max_length=64, default="")
    method = fields.CharField(max_length=16, default="")  # keyword | similar | none
    score = fields.FloatField(default=0.0)
    assigned_at = fields.DatetimeField()

    comment_id: int

    class Meta:
        table = "gk_matter_comment"
        indexes = (("matter",),)


class MatterTaskStatus(StrEnum):
    OPEN = "open"  # the office owes a 专项回应
    CLOSED = "closed"  # answered by a published item, with a note on what changed


MATTER_TASK_STATUS_LABELS = {MatterTaskStatus.OPEN: "办理中", MatterTaskStatus.CLOSED: "已办结"}


class MatterTask(Model):
    """A 专项回应 task: a listed matter crossed a threshold (complaints in a window, or among
    the lowest rated), so its office answers by a due day. open_matter holds the matter key
    while the task is open and NULL after: its unique key lets one task per matter be open,
    whichever process or command opens it. Closed only with a published response item."""

    id = fields.IntField(primary_key=True)
    matter = fields.CharField(max_length=64)
    matter_name = fields.CharField(max_length=100)
    office = fields.CharField(max_length=128)
    open_matter = fields.CharField(max_length=64, null=True, unique=True)
    status = fields.CharField(max_length=16, default=MatterTaskStatus.OPEN.value)
    reasons = fields.JSONField[list[str]](default=list)  # complaints | low_rating
    figures = fields.JSONField[dict[str, Any]](default=dict)  # what the thresholds saw
    opened_by = fields.CharField(max_length=128)
    opened_at = fields.DatetimeField()
    due_at = fields.DatetimeField()
    calendar_known = fields.BooleanField(default=True)
    response_item: fields.ForeignKeyNullableRelation[Item] = fields.ForeignKeyField(
        "models.Item", related_name="matter_tasks", null=True, on_delete=fields.RESTRICT
    )
    note = fields.TextField(default="")  # what changed in the process
    closed_by = fields.CharField(max_length=128, default="")
    closed_at = fields.DatetimeField(null=True)
    on_time = fields.BooleanField(null=True)

    response_item_id: int | None

    class Meta:
        table = "gk_matter_task"
        indexes = (("matter", "opened_at"), ("status", "due_at"))


class MatterTaskComment(Model):
    """A comment a 专项回应 task answers: linked when the task opens and while it is open.
    reply_id is the answer the bulk reply queued for it, set once in the transaction that
    queues it, so no comment is answered twice."""

    id = fields.IntField(primary_key=True)
    task: fields.ForeignKeyRelation[MatterTask] = fields.ForeignKeyField(
        "models.MatterTask", related_name="links", on_delete=fields.CASCADE
    )
    comment: fields.ForeignKeyRelation[Comment] = fields.ForeignKeyField(
        "models.Comment", related_name="matter_tasks", on_delete=fields.CASCADE
    )
    linked_at = fields.DatetimeField()
    reply_id = fields.IntField(null=True)
    answered_by = fields.CharField(max_length=128, default="")
    answered_at = fields.DatetimeField(null=True)

    task_id: int
    comment_id: int

    class Meta:
        table = "gk_matter_task_comment"
        unique_together = (("task", "comment"),)
        indexes = (("comment_id",),)
