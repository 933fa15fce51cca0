"""The API's 集中诉求 and 专项回应 operations: the listed matters with their figures, the
suggested new ones, the tasks, closing a task with its published response and answering its
comments in bulk (bot/matters/). Declared here as OPERATIONS and added to the one route table
by bot/web/api/routes.py, which registers them and describes them in openapi.json."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Protocol, TypeVar
from zoneinfo import ZoneInfo

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from bot.actors import Actor
from bot.config import Config
from bot.matters import answers, figures, tasks
from bot.matters.shapes import (
    answered_json,
    matter_json,
    rates_json,
    suggestion_json,
    task_detail_json,
    task_json,
)
from bot.models import MatterTaskStatus, Role
from bot.web.api.errors import PREFIX, json_response
from bot.web.api.openapi import Route

M = TypeVar("M", bound=BaseModel)
READERS = (Role.EDITOR, Role.REVIEWER, Role.MODERATOR, Role.ADMIN)
MAX_PAGE = 200
MAX_OFFSET = 1_000_000_000


class Call(Protocol):
    """What bot/web/api/routes.py hands every handler (its Call)."""

    @property
    def request(self) -> web.Request: ...

    @property
    def config(self) -> Config: ...

    def who(self) -> Actor: ...

    def body_as(self, model: type[M]) -> M: ...

    def query_as(self, model: type[M]) -> M: ...

    def item_id(self, what: str = ..., code: str = ...) -> int: ...


class TaskQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: MatterTaskStatus | None = None
    limit: Annotated[int, Field(ge=1, le=MAX_PAGE, description=f"每页条数，最多 {MAX_PAGE}")] = 50
    offset: Annotated[int, Field(ge=0, le=MAX_OFFSET, description="跳过的条数")] = 0


class CloseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item_id: Annotated[int, Field(ge=1, le=tasks.MAX_ID, description="已发布的回应稿件编号")]
    note: Annotated[
        str,
        Field(
            min_length=1,
            max_length=tasks.NOTE_MAX,
            pattern=r"\S",
            description="流程作了哪些改进（不能只有空白）",
        ),
    ]


class ReplyAllBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: Annotated[
        str | None,
        Field(max_length=5000, description="答复内容；不填则按回应稿件生成，不含链接时自动附上"),
    ] = None


def _task_id(call: Call) -> int:
    return call.item_id("专项回应任务", "task_not_found")


async def list_matters(call: Call) -> web.Response:
    call.who().require(*READERS, doing="查看办事事项")
    now = datetime.now(UTC)
    tz = ZoneInfo(call.config.app.timezone)
    year = datetime(now.astimezone(tz).year, 1, 1, tzinfo=tz).astimezone(UTC)
    hot = await figures.hot_matters(call.config, now)
    rates = await figures.task_figures(year, now, now)
    return json_response({"matters": [matter_json(f) for f in hot], "year": rates_json(rates)})


async def suggested_matters(call: Call) -> web.Response:
    call.who().require(*READERS, doing="查看办事事项")
    found = await figures.suggestions(call.config)
    return json_response({"suggested": [suggestion_json(s) for s in found]})


async def list_matter_tasks(call: Call) -> web.Response:
    call.who().require(*READERS, doing="查看专项回应任务")
    q = call.query_as(TaskQuery)
    rows, total = await tasks.list_tasks(q.status.value if q.status else None, q.limit, q.offset)
    shown = [task_json(t) for t in rows]
    return json_response({"tasks": shown, "total": total, "limit": q.limit, "offset": q.offset})


async def get_matter_task(call: Call) -> web.Response:
    call.who().require(*READERS, doing="查看专项回应任务")
    return json_response({"task": task_detail_json(await tasks.get_task(_task_id(call)))})


async def close_matter_task(call: Call) -> web.Response:
    body = call.body_as(CloseBody)
    task = await tasks.close_task(_task_id(call), call.who(), item_id=body.item_id, note=body.note)
    return json_response({"task": task_json(task)})


async def reply_all_matter_task(call: Call) -> web.Response:
    body = call.body_as(ReplyAllBody)
    done = await answers.reply_all(_task_id(call), call.who(), call.config, body.text)
    return json_response({"answered": answered_json(done)})


TASK = PREFIX + "/tasks/{id}"
# fmt: off
OPERATIONS: list[Route] = [
    Route("GET", PREFIX + "/matters", list_matters,
          "列出办事事项：近 30 天诉求、趋势、好差评与办理中的专项回应",
          "办事事项及其统计，本年专项回应按期办结情况", tag="matters"),
    Route("GET", PREFIX + "/matters/suggested", suggested_matters,
          "未归入任何事项、内容相近的诉求分组（建议新增的办事事项）", "建议新增的事项",
          tag="matters"),
    Route("GET", PREFIX + "/tasks", list_matter_tasks, "列出专项回应任务（可按状态筛选）",
          "任务列表与总数", query=TaskQuery, tag="matters"),
    Route("GET", TASK, get_matter_task, "查看专项回应任务及其关联的留言", "任务与关联留言",
          tag="matters"),
    Route("POST", TASK + "/close", close_matter_task,
          "办结专项回应任务：关联已发布的回应稿件并写明流程的改进", "已办结的任务",
          body=CloseBody, tag="matters", errors=(409,)),
    Route("POST", TASK + "/reply-all", reply_all_matter_task,
          "把回应链接批量答复给任务关联的留言（各经其来源渠道，每条一次）",
          "排入发送队列、待审签、此前已答复和未答复的留言", body=ReplyAllBody, tag="matters",
          errors=(409,)),
]
# fmt: on
