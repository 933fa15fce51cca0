"""How the JSON API answers when something goes wrong: the ApiError shape, reading a request's
JSON body and query string into plain values, and the middleware that turns every failure
under /api/ into a JSON error with a Chinese message."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from bot.errors import GongkaiError, Refusal
from bot.items.schemas import field_errors
from bot.web.inputs import BadInput, check_texts, load_json
from bot.web.keys import CONFIG

log = logging.getLogger(__name__)

API_ROOT = "/api"
PREFIX = "/api/v1"

_JSON_REASONS = {
    "Expecting value": "此处应为一个值",
    "Expecting ',' delimiter": "缺少逗号",
    "Expecting ':' delimiter": "缺少冒号",
    "Expecting property name enclosed in double quotes": "属性名须用双引号括起",
    "Unterminated string starting at": "字符串没有结束引号",
    "Extra data": "JSON 之后还有多余内容",
    "Invalid control character at": "字符串中有非法控制字符",
    "Invalid \\escape": "非法的转义序列",
}


class ApiError(Refusal):
    """A request the API refuses; becomes {"error": {code, message, fields}} with the status."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fields: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code, self.code, self.message = status, code, message
        self.fields = fields or []
        self.headers = headers or {}

    def response(self) -> web.Response:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.fields:
            error["fields"] = self.fields
        return json_response({"error": error}, status=self.status_code, headers=self.headers)


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response(
        data, status=status, headers=headers, dumps=partial(json.dumps, ensure_ascii=False)
    )


def validation_error(exc: ValidationError, what: str) -> ApiError:
    fields = field_errors(exc)
    listed = "；".join(f"{f['field']}：{f['message']}" for f in fields)
    return ApiError(422, "validation_failed", f"{what}有 {len(fields)} 处错误：{listed}", fields)


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


async def read_object(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        raise ApiError(400, "empty_body", "请求体为空，应为一个 JSON 对象。")
    try:
        data = load_json(raw.decode("utf-8"), parse_constant=_reject_constant)
    except BadInput as exc:
        raise ApiError(400, "invalid_json", f"请求体不是可接受的 JSON：{exc}。") from exc
    except UnicodeDecodeError as exc:
        raise ApiError(
            400, "invalid_encoding", f"请求体不是合法的 UTF-8 文本（第 {exc.start + 1} 个字节起）。"
        ) from exc
    except json.JSONDecodeError as exc:
        reason = _JSON_REASONS.get(exc.msg, exc.msg)
        raise ApiError(
            400,
            "invalid_json",
            f"请求体不是合法的 JSON：第 {exc.lineno} 行第 {exc.colno} 列，{reason}。",
        ) from exc
    except ValueError as exc:
        raise ApiError(400, "invalid_json", f"JSON 中不允许出现 {exc}。") from exc
    try:
        check_texts(data)
    except BadInput as exc:
        field = str(exc).split("：", 1)[0]
        raise ApiError(
            422,
            "validation_failed",
            f"请求体中的文字无法接受：{exc}。",
            [{"field": field, "message": "含非法字符", "value": None}],
        ) from exc
    if not isinstance(data, dict):
        kind = {list: "数组", str: "字符串", bool: "布尔值", type(None): "null"}.get(
            type(data), "数字"
        )
        raise ApiError(
            422,
            "body_not_object",
            f"请求体应为 JSON 对象，收到的是{kind}。",
            [{"field": "(body)", "message": "应为对象", "value": kind}],
        )
    return data


def query_dict(request: web.Request) -> dict[str, str]:
    out: dict[str, str] = {}
    for key in request.query:
        values = request.query.getall(key)
        if len(values) > 1:
            raise ApiError(
                422,
                "validation_failed",
                f"查询参数 {key} 重复出现。",
                [{"field": key, "message": "参数重复", "value": None}],
            )
        out[key] = values[0]
    return out


# ---- errors for every /api/ path ----------------------------------------------------------


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "body_too_large", f"请求体过大：最多 {limit} 字节。")


async def unmatched(request: web.Request) -> web.StreamResponse:
    """The route of every /api path no operation matched: 405 naming the methods the path
    does take, else 404 (api_errors turns both into JSON)."""
    allowed: set[str] = set()
    for resource in request.app.router.resources():
        if resource.canonical.startswith(API_ROOT) and "{tail" not in resource.canonical:
            match, methods = await resource.resolve(request)
            if match is None:
                allowed |= methods
    if allowed:
        raise web.HTTPMethodNotAllowed(request.method, allowed)
    raise web.HTTPNotFound()


@web.middleware
async def api_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Turn every failure under /api/ into a JSON error; other paths pass through untouched."""
    if request.path != API_ROOT and not request.path.startswith(API_ROOT + "/"):
        return await handler(request)
    limit = request.app[CONFIG].web.max_body_bytes
    try:
        if request.content_length is not None and request.content_length > limit:
            raise _too_large(limit)  # refuse before reading a byte of it
        return await handler(request)
    except ApiError as exc:
        return exc.response()
    except Refusal as exc:
        fields = [{"field": exc.field, "message": str(exc), "value": None}] if exc.field else None
        return ApiError(exc.status_code, exc.code, str(exc), fields).response()
    except GongkaiError as exc:  # Unavailable: a setting or the database, for the operator
        log.exception("API request failed: %s %s", request.method, request.path)
        return ApiError(
            exc.status_code, exc.code, "服务暂不可用，已记录日志，请稍后重试。"
        ).response()
    except web.HTTPRequestEntityTooLarge:
        return _too_large(limit).response()
    except web.HTTPMethodNotAllowed as exc:
        allowed = "、".join(sorted(exc.allowed_methods))
        return ApiError(
            405,
            "method_not_allowed",
            f"接口 {request.path} 不支持 {request.method}，可用：{allowed}。",
            headers={"Allow": ",".join(sorted(exc.allowed_methods))},
        ).response()
    except web.HTTPNotFound:
        return ApiError(
            404,
            "not_found",
            f"接口不存在：{request.method} {request.path}（接口说明见 {PREFIX}/openapi.json）。",
        ).response()
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return ApiError(exc.status, "http_error", exc.reason).response()
    except Exception:
        log.exception("API request failed: %s %s", request.method, request.path)
        return ApiError(
            500, "internal_error", "服务器内部错误，已记录日志，请稍后重试。"
        ).response()
