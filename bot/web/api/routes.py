"""The JSON API under /api/v1: bearer-token auth, validated JSON bodies, item actions through
bot.items.lifecycle, and errors as JSON with Chinese messages that name the field.

Routes are declared once in ROUTES (bot/web/api/openapi.py's Route); the same table registers them
and generates /api/v1/openapi.json. Error handling lives in bot/web/api/errors.py, the JSON
shapes in bot/items/serialize.py.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from tortoise.queryset import QuerySet

from bot import audit, users
from bot.actors import Actor
from bot.config import Config
from bot.items import lifecycle, prereview
from bot.items.schemas import ItemCreate, ItemPatch, ReasonBody, ScheduleBody
from bot.items.serialize import delivery_json, finding_json, item_json, review_finding_json
from bot.models import (
    Delivery,
    DeliveryAction,
    DeliveryStatus,
    Item,
    ItemStatus,
    Kind,
    Role,
    Scope,
)
from bot.outbox.channel_set import retract_support
from bot.web.api import knowledge as knowledge_api
from bot.web.api import matters as matters_api
from bot.web.api import openapi
from bot.web.api.errors import (
    API_ROOT,
    PREFIX,
    ApiError,
    api_errors,
    json_response,
    query_dict,
    read_object,
    unmatched,
    validation_error,
)
from bot.web.api.openapi import Route
from bot.web.keys import CONFIG, LINKS, OPENAPI_DOC, SCOPES, WAKEUP

MAX_PAGE = 200
MAX_ID = 2**31 - 1  # IntField: a larger id cannot exist, and must not reach the database

M = TypeVar("M", bound=BaseModel)


# ---- query shapes (also the OpenAPI query parameters) -------------------------------------


# No list is this long; a larger offset is a mistake (or a probe), not a page.
MAX_OFFSET = 1_000_000_000


class _Query(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: Annotated[int, Field(ge=1, le=MAX_PAGE, description=f"每页条数，最多 {MAX_PAGE}")] = 50
    offset: Annotated[int, Field(ge=0, le=MAX_OFFSET, description="跳过的条数")] = 0


class ItemQuery(_Query):
    status: ItemStatus | None = None
    kind: Kind | None = None
    column: Annotated[str, Field(max_length=64)] | None = None


class DeliveryQuery(_Query):
    status: DeliveryStatus | None = None
    channel: Annotated[str, Field(max_length=32)] | None = None


# ---- one request, parsed ------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    request: web.Request
    actor: Actor | None
    body: BaseModel | None
    query: BaseModel | None

    @property
    def config(self) -> Config:
        return self.request.app[CONFIG]

    def who(self) -> Actor:
        assert self.actor is not None, "route declared without auth"
        return self.actor

    def body_as(self, model: type[M]) -> M:
        assert isinstance(self.body, model)
        return self.body

    def query_as(self, model: type[M]) -> M:
        assert isinstance(self.query, model)
        return self.query

    def item_id(self, what: str = "条目", code: str = "item_not_found") -> int:
        raw = self.request.match_info["id"]
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_ID:
            raise ApiError(404, code, f"{what} #{raw} 不存在。")
        return int(raw)


async def _authenticate(request: web.Request) -> Actor:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise ApiError(
            401,
            "unauthorized",
            "缺少访问令牌：请在 Authorization 头中提供 Bearer 令牌。",
            headers={"WWW-Authenticate": 'Bearer realm="gongkai"'},
        )
    actor = None
    if scheme.lower() == "bearer" and token.strip():
        actor = await users.actor_for_token(
            token.strip(), separate_duties=request.app[CONFIG].staff.separate_duties
        )
    if actor is None:
        raise ApiError(
            401,
            "unauthorized",
            "访问令牌无效、已吊销或其用户已停用。",
            headers={"WWW-Authenticate": 'Bearer realm="gongkai", error="invalid_token"'},
        )
    return actor


def _wrap(route: Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Authenticate, parse the query and body the route declares, then call its handler."""

    async def handler(request: web.Request) -> web.StreamResponse:
        actor = await _authenticate(request) if route.auth else None
        query = None
        if route.query is not None:
            try:
                query = route.query.model_validate(query_dict(request))
            except ValidationError as exc:
                raise validation_error(exc, "查询参数") from exc
        body = None
        if route.body is not None:
            data = await read_object(request)
            try:
                body = route.body.model_validate(data)
            except ValidationError as exc:
                raise validation_error(exc, "请求内容") from exc
        return await route.handler(Call(request, actor, body, query))

    handler.__name__ = route.operation_id
    return handler


async def _findings(item: Item) -> list[dict[str, Any]]:
    return [finding_json(f) for f in await prereview.findings_now(item)]


async def _page(
    qs: QuerySet[Any], query: _Query, key: str, convert: Callable[[Any], dict[str, Any]]
) -> web.Response:
    total = await qs.count()
    rows = await qs.order_by("-id").offset(query.offset).limit(query.limit)
    return json_response(
        {
            key: [convert(r) for r in rows],
            "total": total,
            "limit": query.limit,
            "offset": query.offset,
        }
    )


async def _item_response(item: Item, status: int = 200, **extra: Any) -> web.Response:
    fresh = await Item.get(id=item.id)
    return json_response({"item": item_json(fresh), **extra}, status=status)


# ---- handlers -----------------------------------------------------------------------------

# Who may read items and deliveries: every role but the auditor's, who reads the audit log and
# nothing else (三员分立). What changes an item checks its own role in bot/items/lifecycle.py.
READERS = (Role.EDITOR, Role.REVIEWER, Role.MODERATOR, Role.ADMIN)


async def list_items(call: Call) -> web.Response:
    call.who().require(*READERS, doing="查看条目")
    q = call.query_as(ItemQuery)
    qs = Item.all()
    if q.status is not None:
        qs = qs.filter(status=q.status.value)
    if q.kind is not None:
        qs = qs.filter(kind=q.kind.value)
    if q.column is not None:
        qs = qs.filter(column=q.column)
    return await _page(qs, q, "items", partial(item_json, full=False))


async def create_item(call: Call) -> web.Response:
    item = await lifecycle.create_item(
        call.body_as(ItemCreate), call.who(), call.config, call.request.app[LINKS]
    )
    response = await _item_response(item, status=201)
    response.headers["Location"] = f"{PREFIX}/items/{item.id}"
    return response


async def get_item(call: Call) -> web.Response:
    call.who().require(*READERS, doing="查看条目")
    item_id = call.item_id()
    item = await Item.filter(id=item_id).first()
    if item is None:
        raise lifecycle.ItemNotFound(item_id)
    deliveries = await Delivery.filter(item_id=item.id).order_by("id")
    summary = {
        "total": len(deliveries),
        "by_status": dict(Counter(d.status for d in deliveries)),
        "current_version": [delivery_json(d) for d in deliveries if d.item_version == item.version],
    }
    return json_response(
        {"item": item_json(item), "findings": await _findings(item), "deliveries": summary}
    )


async def edit_item(call: Call) -> web.Response:
    patch = call.body_as(ItemPatch)
    if not patch.model_fields_set:  # an empty edit would still send the item back to draft
        raise ApiError(
            422,
            "validation_failed",
            "请求内容没有要修改的字段。",
            [{"field": "(body)", "message": "至少修改一个字段", "value": None}],
        )
    links = call.request.app[LINKS]
    item = await lifecycle.edit_item(call.item_id(), patch, call.who(), call.config, links)
    return await _item_response(item)


async def submit_item(call: Call) -> web.Response:
    links = call.request.app[LINKS]
    outcome = await lifecycle.submit(call.item_id(), call.who(), call.config, links)
    return await _item_response(outcome.item, findings=await _findings(outcome.item))


async def approve_item(call: Call) -> web.Response:
    item = await lifecycle.approve(call.item_id(), call.who(), call.config)
    call.request.app[WAKEUP].notify()
    deliveries = await Delivery.filter(
        item_id=item.id, item_version=item.version, action=DeliveryAction.PUBLISH.value
    ).order_by("id")
    return await _item_response(item, deliveries=[delivery_json(d) for d in deliveries])


async def return_item(call: Call) -> web.Response:
    reason = call.body_as(ReasonBody).reason
    return await _item_response(await lifecycle.return_item(call.item_id(), call.who(), reason))


async def schedule_item(call: Call) -> web.Response:
    publish_at = call.body_as(ScheduleBody).publish_at
    item = await lifecycle.schedule(call.item_id(), call.who(), publish_at)
    call.request.app[WAKEUP].notify()
    return await _item_response(item)


async def retract_item(call: Call) -> web.Response:
    reason = call.body_as(ReasonBody).reason
    outcome = await lifecycle.retract(
        call.item_id(), call.who(), reason, retract_support(call.config)
    )
    call.request.app[WAKEUP].notify()
    cannot = outcome.cannot_retract
    message = (
        "已撤稿。"
        if not cannot
        else f"已撤稿；以下渠道不支持撤稿，须人工删除：{'、'.join(cannot)}。"
    )
    return await _item_response(outcome.item, cannot_retract=cannot, message=message)


async def item_deliveries(call: Call) -> web.Response:
    call.who().require(*READERS, doing="查看投递")
    item_id = call.item_id()
    if not await Item.filter(id=item_id).exists():
        raise lifecycle.ItemNotFound(item_id)
    rows = await Delivery.filter(item_id=item_id).order_by("id")
    return json_response({"deliveries": [delivery_json(d) for d in rows]})


async def list_deliveries(call: Call) -> web.Response:
    call.who().require(*READERS, doing="查看投递")
    q = call.query_as(DeliveryQuery)
    qs = Delivery.all()
    if q.status is not None:
        qs = qs.filter(status=q.status.value)
    if q.channel is not None:
        qs = qs.filter(channel=q.channel)
    return await _page(qs, q, "deliveries", delivery_json)


async def verify_audit(call: Call) -> web.Response:
    call.who().require(Role.AUDITOR)  # 三员分立: an admin only when also an auditor
    result = await audit.verify()
    return json_response(
        {
            "ok": result.ok,
            "checked": result.checked,
            "broken_id": result.broken_id,
            "reason": result.reason,
        }
    )


async def review_draft(call: Call) -> web.Response:
    """Pre-review a draft without storing anything (for other tools and editors)."""
    call.who().require(Role.EDITOR, Role.REVIEWER)
    data = call.body_as(ItemCreate)
    snap = {**data.model_dump(mode="json"), "id": None, "version": 0}
    if not snap.get("column"):
        snap["column"] = data.kind.value
    channels = data.channels or call.config.channels.enabled_names()
    findings = await prereview.run(snap, call.config, channels, check_links=call.request.app[LINKS])
    return json_response(
        {
            "blocked": any(f.blocks for f in findings),
            "findings": [review_finding_json(f) for f in findings],
        }
    )


async def override_finding(call: Call) -> web.Response:
    reason = call.body_as(ReasonBody).reason
    finding_id = call.item_id("预审提示", "finding_not_found")
    finding = await lifecycle.override_finding(finding_id, call.who(), reason)
    return json_response({"finding": finding_json(finding)})


async def convert_item(call: Call) -> web.Response:
    return await _item_response(
        await lifecycle.convert_to_proactive(call.item_id(), call.who(), call.config)
    )


class ValidityBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    validity: Annotated[str, Field(description="空（有效）、amended、expired 或 repealed")]
    reason: Annotated[str, Field(max_length=2000)] = ""


async def set_validity(call: Call) -> web.Response:
    body = call.body_as(ValidityBody)
    item = await lifecycle.set_validity(call.item_id(), call.who(), body.validity, body.reason)
    return await _item_response(item)


async def knowledge(call: Call) -> web.Response:
    """The knowledge export for the city's platform: a token with the knowledge scope, or any
    token that may read items (all of it is public already)."""
    call.who().require(*READERS, doing="读取知识库", scope=Scope.KNOWLEDGE)
    return await knowledge_api.answer(call.config, call.query_as(knowledge_api.KnowledgeQuery))


async def openapi_document(call: Call) -> web.Response:
    return json_response(call.request.app[OPENAPI_DOC])


ITEM = PREFIX + "/items/{id}"
# One declaration per route: it registers the route and describes it in openapi.json.
# fmt: off
ROUTES: list[Route] = [
    Route("GET", PREFIX + "/items", list_items, "列出条目（可按状态、类型、栏目筛选）",
          "条目列表与总数", query=ItemQuery),
    Route("POST", PREFIX + "/items", create_item, "新建条目（草稿）", "新建的条目",
          body=ItemCreate, status=201),
    Route("GET", ITEM, get_item, "查看条目、其预审结果与投递概况", "条目、预审结果与投递概况"),
    Route("PATCH", ITEM, edit_item, "修改条目；已批准的条目修改后成为新版本并回到草稿",
          "修改后的条目", body=ItemPatch, errors=(409,)),
    Route("POST", ITEM + "/submit", submit_item, "提交条目并进行发布前预审",
          "条目（通过预审则待审核，否则已退文）与预审结果", errors=(409,)),
    Route("POST", ITEM + "/approve", approve_item, "批准条目并生成各渠道的投递",
          "已批准的条目与其投递", errors=(409,)),
    Route("POST", ITEM + "/return", return_item, "退文（须填写理由）", "已退文的条目",
          body=ReasonBody, errors=(409,)),
    Route("POST", ITEM + "/schedule", schedule_item, "设置或清除发布时间", "排期后的条目",
          body=ScheduleBody, errors=(409,)),
    Route("POST", ITEM + "/retract", retract_item, "撤稿（须填写理由）",
          "已撤稿的条目，以及不支持撤稿、须人工处理的渠道", body=ReasonBody, errors=(409,)),
    Route("POST", ITEM + "/convert", convert_item, "依申请公开转主动公开：成为新草稿并重新审核",
          "转换后的条目（草稿）", errors=(409, 422)),
    Route("POST", ITEM + "/validity", set_validity, "标注政策文件的效力（修订、失效、废止）",
          "标注后的条目", body=ValidityBody),
    Route("POST", PREFIX + "/review", review_draft, "预审一份稿件（不保存）",
          "预审结果：是否阻断与各条提示", body=ItemCreate, tag="review"),
    Route("POST", PREFIX + "/findings/{id}/override", override_finding,
          "审核人员以书面理由确认一条预审提示", "已确认的预审提示", body=ReasonBody,
          tag="review", errors=(409,)),
    Route("GET", ITEM + "/deliveries", item_deliveries, "列出条目的全部投递", "投递列表",
          tag="deliveries"),
    Route("GET", PREFIX + "/deliveries", list_deliveries, "列出投递（可按状态、渠道筛选）",
          "投递列表与总数", query=DeliveryQuery, tag="deliveries"),
    Route("GET", PREFIX + "/audit/verify", verify_audit, "校验审计日志哈希链（审计员）",
          "校验结果：是否完整、已校验条数、第一处断裂", tag="audit"),
    Route("GET", PREFIX + "/knowledge", knowledge,
          "知识库导出（供全市统一检索与问答平台）：公开信息、网上咨询选登与常见问题，按变化先后"
          "分页，可只取某时刻以来的变化（含撤下的删除标记）",
          "JSON Lines，每行一条（见 KnowledgeRecord）", query=knowledge_api.KnowledgeQuery,
          tag="knowledge", media_type=knowledge_api.MEDIA_TYPE,
          schema=("KnowledgeRecord", knowledge_api.RECORD_SCHEMA),
          headers=((knowledge_api.NEXT_CURSOR, knowledge_api.NEXT_CURSOR_TEXT),)),
    *matters_api.OPERATIONS,  # 办事事项 and 专项回应 (bot/matters/)
    Route("GET", PREFIX + "/openapi.json", openapi_document, "本接口的 OpenAPI 3.1 文档",
          "OpenAPI 文档", auth=False, tag="meta"),
]
# fmt: on


def setup(app: web.Application) -> None:
    """Register the API routes and the middleware that answers every /api/ path in JSON."""
    app[OPENAPI_DOC] = openapi.document(ROUTES)
    scopes = app[SCOPES]
    scopes.add(API_ROOT, api_errors)  # every failure under /api as JSON
    openapi.register(app, ROUTES, lambda route: scopes.wrap(API_ROOT, _wrap(route)))
    # Last: what no route above matched, as a JSON 404 or 405 (see unmatched).
    for path in (API_ROOT, API_ROOT + "/{tail:.*}"):
        app.router.add_route("*", path, scopes.wrap(API_ROOT, unmatched))
