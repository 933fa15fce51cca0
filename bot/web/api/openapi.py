"""The JSON API's route table and the OpenAPI 3.1 document generated from it.

bot/web/api/routes.py declares each route once as a Route; the same list registers the aiohttp
routes
and produces the document, so the document cannot drift from what the server answers.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from aiohttp import web
from pydantic import BaseModel

OPENAPI_VERSION = "3.1.0"
SCHEMA_REF = "#/components/schemas/{model}"
_PATH_PARAM = re.compile(r"\{(\w+)\}")

Handler = Callable[..., Awaitable[web.StreamResponse]]

# Why each error status can happen; a route lists the ones that apply to it.
ERROR_DESCRIPTIONS = {
    400: "请求体不是合法的 JSON",
    401: "缺少或无效的访问令牌",
    403: "角色不允许此操作",
    404: "条目或资源不存在",
    409: "条目当前状态不允许此操作",
    413: "请求体超过大小限制",
    422: "字段校验失败（fields 列出每个字段的问题）",
}

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "机器可读的错误代码"},
                "message": {"type": "string", "description": "给人看的说明（简体中文）"},
                "fields": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["field", "message"],
                        "properties": {
                            "field": {"type": "string"},
                            "message": {"type": "string"},
                            "value": {},
                        },
                    },
                },
            },
        }
    },
}


@dataclass(frozen=True)
class Route:
    """One API operation: everything both the router and the document need to know."""

    method: str
    path: str  # full path, aiohttp syntax; path parameters are integer ids: {id}
    handler: Handler
    summary: str
    response: str  # what a successful answer holds
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    auth: bool = True
    errors: tuple[int, ...] = ()  # beyond those implied by auth, body, query and path params
    tag: str = "items"
    status: int = 200  # the status of a successful answer
    media_type: str = "application/json"  # of a successful answer
    # The schema of a successful answer, put under components by its name (None: an object);
    # for JSON Lines the schema of one line, as OpenAPI 3.1 documents describe sequences
    schema: tuple[str, dict[str, Any]] | None = None
    headers: tuple[tuple[str, str], ...] = ()  # of a successful answer: (name, description)

    @property
    def operation_id(self) -> str:
        return self.handler.__name__.lstrip("_")

    @property
    def path_params(self) -> list[str]:
        return _PATH_PARAM.findall(self.path)

    def error_statuses(self) -> list[int]:
        statuses = set(self.errors)
        if self.auth:
            statuses |= {401, 403}
        if self.body is not None:
            statuses |= {400, 413, 422}
        if self.query is not None:
            statuses.add(422)
        if self.path_params:
            statuses.add(404)
        return sorted(statuses)


def register(app: web.Application, routes: list[Route], wrap: Callable[[Route], Handler]) -> None:
    """Add every route to the app's router, each handler wrapped by the API's request logic."""
    for route in routes:
        app.router.add_route(
            route.method, route.path, wrap(route), name="api." + route.operation_id
        )


def _model_schema(model: type[BaseModel], components: dict[str, Any]) -> dict[str, Any]:
    """Put the model (and the models and enums it uses) under components; return its schema."""
    schema = model.model_json_schema(ref_template=SCHEMA_REF)
    for name, sub in schema.pop("$defs", {}).items():
        components[name] = sub
    components[model.__name__] = schema
    return schema


def _query_parameters(model: type[BaseModel], components: dict[str, Any]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=SCHEMA_REF)
    for name, sub in schema.pop("$defs", {}).items():
        components[name] = sub
    required = set(schema.get("required", []))
    params = []
    for name, prop in schema.get("properties", {}).items():
        param_schema = {k: v for k, v in prop.items() if k not in ("description", "title")}
        # A query parameter is absent or a string, never JSON null: drop the null branch.
        branches = [b for b in param_schema.get("anyOf", []) if b != {"type": "null"}]
        if "anyOf" in param_schema and len(branches) == 1:
            param_schema.pop("anyOf")
            param_schema.update(branches[0])
            if param_schema.get("default", 0) is None:
                param_schema.pop("default")
        param: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": param_schema,
        }
        if "description" in prop:
            param["description"] = prop["description"]
        params.append(param)
    return params


def _operation(route: Route, components: dict[str, Any]) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": route.operation_id,
        "summary": route.summary,
        "tags": [route.tag],
    }
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
        for name in route.path_params
    ]
    if route.query is not None:
        params.extend(_query_parameters(route.query, components))
    if params:
        op["parameters"] = params
    if route.body is not None:
        _model_schema(route.body, components)
        op["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": SCHEMA_REF.format(model=route.body.__name__)}
                }
            },
        }
    schema: dict[str, Any] = {"type": "object"}
    if route.schema is not None:
        name, components[name] = route.schema
        schema = {"$ref": SCHEMA_REF.format(model=name)}
    success: dict[str, Any] = {
        "description": route.response,
        "content": {route.media_type: {"schema": schema}},
    }
    if route.headers:
        success["headers"] = {
            name: {"description": text, "schema": {"type": "string"}}
            for name, text in route.headers
        }
    responses: dict[str, Any] = {str(route.status): success}
    for status in route.error_statuses():
        responses[str(status)] = {
            "description": ERROR_DESCRIPTIONS.get(status, "错误"),
            "content": {"application/json": {"schema": {"$ref": SCHEMA_REF.format(model="Error")}}},
        }
    op["responses"] = responses
    if not route.auth:
        op["security"] = []
    return op


def _version() -> str:
    try:
        return metadata.version("gongkai")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def document(routes: list[Route], title: str = "公开 Gongkai API") -> dict[str, Any]:
    """The OpenAPI 3.1 document for the given route table."""
    components: dict[str, Any] = {"Error": ERROR_SCHEMA}
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, components)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": title,
            "version": _version(),
            "description": "政府信息公开发布机器人的 JSON 接口。所有时间均为 ISO 8601 UTC。",
        },
        "paths": paths,
        "components": {
            "schemas": dict(sorted(components.items())),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "由管理员为员工账户创建的 API 令牌",
                }
            },
        },
        "security": [{"bearer": []}],
    }
