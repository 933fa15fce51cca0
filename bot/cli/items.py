"""The `gongkai item` group (add, list, show, edit and the workflow verbs), plus `gongkai
deliveries` and `gongkai dispatch --once` for the publishing queue."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click
from rich.console import Console
from rich.table import Table

from bot.cli import workflow as cli_workflow
from bot.cli.base import Refused, as_option, fail, json_option, session, username
from bot.cli.output import (
    DELIVERY_COLUMNS,
    SEVERITY_LABELS,
    delivery_rows,
    item_json_with_author,
    local,
    print_table,
    status_label,
)
from bot.cli.workflow import report
from bot.config import Config
from bot.errors import EXIT_REFUSED, EXIT_USAGE
from bot.items.itemfile import ItemFileError
from bot.items.serialize import delivery_json, iso
from bot.models import DeliveryStatus, ItemStatus


@click.group("item")
def item_group() -> None:
    """稿件：导入、查看与流转。"""


def read_item_file(path: Path) -> Any:
    from bot.items import itemfile

    try:
        return itemfile.load_item_file(path)
    except ItemFileError as exc:
        fail(str(exc), EXIT_REFUSED)


@item_group.command("add")
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--kind",
    default=None,
    help="仅用于 .docx：稿件类型（policy 或 政策文件 等；默认 notice 通知公告）",
)
@click.option("--column", default=None, help="仅用于 .docx：栏目（默认与类型同名的栏目）")
@as_option
@json_option
@click.pass_context
def item_add(
    ctx: click.Context,
    file: Path,
    kind: str | None,
    column: str | None,
    as_user: str | None,
    as_json: bool,
) -> None:
    """从条目文件（.md 带 TOML 前置元数据，或 .json）或 Word 文档（.docx）新建草稿。"""
    from bot import users
    from bot.items import lifecycle, wordfile

    name = username(ctx, as_user)
    if wordfile.is_word_name(file.name):
        add_word_file(ctx, file, kind, column, name, as_json)
        return
    if kind is not None or column is not None:
        fail(
            "--kind 与 --column 只用于 .docx 文件；"
            "Markdown 与 JSON 条目文件请在文件中写明 kind 与 column。",
            EXIT_USAGE,
        )
    data = read_item_file(file)

    async def work(config: Config) -> None:
        actor = await users.actor_for_user(name)
        item = await lifecycle.create_item(data, actor, config)
        if as_json:
            click.echo(json.dumps({"id": item.id, "status": item.status, "version": item.version}))
        else:
            click.echo(f"已新建条目 #{item.id}「{item.title}」（{status_label(item.status)}）。")

    session(ctx, work)


def add_word_file(
    ctx: click.Context,
    file: Path,
    kind_text: str | None,
    column: str | None,
    name: str,
    as_json: bool,
) -> None:
    """A draft from a Word document: the title, 文号 and 成文日期 from its head, its pictures
    stored as uploads ([web.media]); the kind and column from the options."""
    from bot import users
    from bot.items import wordfile, wordimport
    from bot.items.itemfile import kind_from_text
    from bot.items.media import MediaStore
    from bot.models import KIND_LABELS, Kind

    kind = kind_from_text(kind_text or Kind.NOTICE.value)
    if kind is None:
        choices = "、".join(f"{k.value}（{label}）" for k, label in KIND_LABELS.items())
        fail(f"--kind 的取值「{kind_text}」无效，可选：{choices}。", EXIT_USAGE)
        return

    async def work(config: Config) -> None:
        if column is not None and column not in config.columns:
            raise Refused(f"栏目「{column}」不存在，可选：{'、'.join(config.columns)}。")
        actor = await users.actor_for_user(name)
        word = wordfile.read_word_file(file, config.web.media.word)
        done = await wordimport.create_from_word(
            word, kind, actor, config, MediaStore(config.web.media), column=column
        )
        item = done.item
        if as_json:
            data = {
                "id": item.id,
                "status": item.status,
                "version": item.version,
                "title": item.title,
                "title_from": word.title_from,
                "doc_number": item.doc_number,
                "written_on": item.written_on.isoformat() if item.written_on else None,
                "images": [s.url for s in done.images],
            }
            click.echo(json.dumps(data, ensure_ascii=False))
        else:
            click.echo(
                f"已从「{file.name}」新建条目 #{item.id}「{item.title}」（{KIND_LABELS[kind]}，"
                f"{status_label(item.status)}）：{done.summary()}。请核对后提交审核。"
            )

    session(ctx, work)


@item_group.command("list")
@click.option(
    "--status", type=click.Choice([s.value for s in ItemStatus]), default=None, help="按状态筛选"
)
@click.option("--kind", default=None, help="按类型筛选（policy 或 政策文件 等）")
@click.option("--column", default=None, help="按栏目筛选")
@json_option
@click.pass_context
def item_list(
    ctx: click.Context, status: str | None, kind: str | None, column: str | None, as_json: bool
) -> None:
    """列出条目。"""
    from bot.items.itemfile import kind_from_text
    from bot.models import KIND_LABELS, Item, Kind

    filters: dict[str, Any] = {}
    if status:
        filters["status"] = status
    if kind:
        found = kind_from_text(kind)
        if found is None:
            fail(
                f"--kind 的取值「{kind}」无效，可选：{'、'.join(k.value for k in Kind)}。",
                EXIT_USAGE,
            )
            return
        filters["kind"] = found.value
    if column:
        filters["column"] = column

    async def work(config: Config) -> None:
        items = await Item.filter(**filters).order_by("id").prefetch_related("author")
        if as_json:
            click.echo(
                json.dumps([item_json_with_author(i) for i in items], ensure_ascii=False, indent=2)
            )
            return
        if not items:
            click.echo("没有符合条件的条目。")
            return
        tz = ZoneInfo(config.app.timezone)
        print_table(
            "条目",
            ["编号", "类型", "标题", "栏目", "状态", "版本", "作者", "更新时间"],
            [
                [
                    str(i.id),
                    KIND_LABELS.get(Kind(i.kind), i.kind),
                    i.title,
                    i.column,
                    status_label(i.status),
                    str(i.version),
                    i.author.username,
                    local(i.updated_at, tz),
                ]
                for i in items
            ],
        )

    session(ctx, work)


@item_group.command("show")
@click.argument("item_id", type=int)
@json_option
@click.pass_context
def item_show(ctx: click.Context, item_id: int, as_json: bool) -> None:
    """显示条目的字段、版本、预审结果与投递。"""
    from bot.models import DISCLOSURE_LABELS, KIND_LABELS, Delivery, Disclosure, Item, Kind

    async def work(config: Config) -> None:
        item = await Item.filter(id=item_id).prefetch_related("author").first()
        if item is None:
            raise Refused(f"条目 #{item_id} 不存在。")
        versions = await item.versions.all().order_by("version")
        findings = await item.findings.all().order_by("id")
        deliveries = await Delivery.filter(item_id=item_id).order_by("id")
        if as_json:
            data = {
                "item": item_json_with_author(item),
                "versions": [
                    {
                        "version": v.version,
                        "created_by": v.created_by,
                        "created_at": iso(v.created_at),
                        "approved_by": v.approved_by or None,
                        "approved_at": iso(v.approved_at),
                    }
                    for v in versions
                ],
                "findings": [
                    {
                        "version": f.item_version,
                        "stage": f.stage,
                        "rule": f.rule,
                        "severity": f.severity,
                        "field": f.field,
                        "message": f.message,
                        "suggestion": f.suggestion,
                    }
                    for f in findings
                ],
                "deliveries": [delivery_json(d) for d in deliveries],
            }
            click.echo(json.dumps(data, ensure_ascii=False, indent=2))
            return
        tz = ZoneInfo(config.app.timezone)
        body = item.body if len(item.body) <= 300 else item.body[:300] + "…"
        fields = [
            ("编号", f"#{item.id}"),
            ("类型", KIND_LABELS.get(Kind(item.kind), item.kind)),
            ("标题", item.title),
            ("状态", status_label(item.status)),
            ("版本", str(item.version)),
            ("栏目", item.column),
            ("索引号", item.index_no or ""),
            ("文号", item.doc_number),
            ("成文日期", item.written_on.isoformat() if item.written_on else ""),
            ("主题分类", item.topic),
            ("发布机构", item.publisher),
            ("处室", item.office),
            ("公开属性", DISCLOSURE_LABELS.get(Disclosure(item.disclosure), item.disclosure)),
            ("关联条目", f"#{item.related_id}" if item.related_id else ""),
            ("解读形式", "、".join(item.interpretation_forms)),
            ("发布时间", local(item.publish_at, tz) if item.publish_at else "批准后立即"),
            ("渠道", "、".join(item.channels) or "全部已启用渠道"),
            ("作者", item.author.username),
            ("退文理由", item.return_reason),
            ("撤稿理由", item.retraction_reason),
            ("摘要", item.summary),
            ("正文", body),
        ]
        grid = Table(title=f"条目 #{item.id}", show_header=False)
        grid.add_column("字段", style="bold")
        grid.add_column("值", overflow="fold")
        for key, value in fields:
            if value:
                grid.add_row(key, value)
        Console().print(grid)
        if versions:
            print_table(
                "版本",
                ["版本", "提交人", "提交时间", "批准人", "批准时间"],
                [
                    [
                        str(v.version),
                        v.created_by,
                        local(v.created_at, tz),
                        v.approved_by or "—",
                        local(v.approved_at, tz),
                    ]
                    for v in versions
                ],
            )
        if findings:
            print_table(
                "预审结果",
                ["版本", "阶段", "级别", "字段", "说明"],
                [
                    [
                        str(f.item_version),
                        f.stage,
                        SEVERITY_LABELS.get(f.severity, f.severity),
                        f.field,
                        f.message,
                    ]
                    for f in findings
                ],
            )
        if deliveries:
            print_table("投递", DELIVERY_COLUMNS, delivery_rows(deliveries, tz))

    session(ctx, work)


@item_group.command("edit")
@click.argument("item_id", type=int)
@click.argument("file", type=click.Path(path_type=Path))
@as_option
@json_option
@click.pass_context
def item_edit(
    ctx: click.Context, item_id: int, file: Path, as_user: str | None, as_json: bool
) -> None:
    """用条目文件中给出的字段修改条目；已批准的条目生成新版本，须重新审核。"""
    from bot import users
    from bot.items import itemfile, lifecycle
    from bot.models import Item

    name = username(ctx, as_user)
    try:
        patch, kind = itemfile.load_item_patch(file)
    except ItemFileError as exc:
        fail(str(exc), EXIT_REFUSED)
        return

    async def work(config: Config) -> None:
        current = await Item.filter(id=item_id).first()
        if current is None:
            raise Refused(f"条目 #{item_id} 不存在。")
        if kind is not None and kind != current.kind:
            raise Refused(f"{file}：不能修改条目类型（当前为 {current.kind}，文件中为 {kind}）。")
        if not patch.model_fields_set:
            raise Refused(f"{file}：文件中没有要修改的字段。")
        item = await lifecycle.edit_item(item_id, patch, await users.actor_for_user(name), config)
        report(
            item,
            as_json,
            f"已修改条目 #{item.id}（字段：{'、'.join(sorted(patch.model_fields_set))}），"
            f"当前为第 {item.version} 版，状态：{status_label(item.status)}。",
        )

    session(ctx, work)


for _command in cli_workflow.COMMANDS:
    item_group.add_command(_command)


@click.command("deliveries")
@click.argument("item_id", type=int, required=False)
@click.option(
    "--status",
    type=click.Choice([s.value for s in DeliveryStatus]),
    default=None,
    help="按投递状态筛选",
)
@click.option("--limit", type=click.IntRange(1, 10000), default=200, show_default=True)
@json_option
@click.pass_context
def deliveries_cmd(
    ctx: click.Context, item_id: int | None, status: str | None, limit: int, as_json: bool
) -> None:
    """列出投递（发布队列）。"""
    from bot.models import Delivery

    filters: dict[str, Any] = {}
    if item_id is not None:
        filters["item_id"] = item_id
    if status:
        filters["status"] = status

    async def work(config: Config) -> None:
        rows = await Delivery.filter(**filters).order_by("-id").limit(limit)
        rows.reverse()
        if as_json:
            click.echo(json.dumps([delivery_json(d) for d in rows], ensure_ascii=False, indent=2))
        elif not rows:
            click.echo("没有符合条件的投递。")
        else:
            print_table(
                "投递", DELIVERY_COLUMNS, delivery_rows(rows, ZoneInfo(config.app.timezone))
            )

    session(ctx, work)


@click.command("dispatch")
@click.option("--once", is_flag=True, help="处理当前到期的全部投递后退出")
@click.option(
    "--timeout", type=click.FloatRange(min=0.1), default=60, show_default=True, help="最长运行秒数"
)
@json_option
@click.pass_context
def dispatch_cmd(ctx: click.Context, once: bool, timeout: float, as_json: bool) -> None:
    """运行一次发布调度（持续运行请用 `gongkai run --role worker`）。"""
    from bot.outbox.channel_set import build_channels
    from bot.outbox.dispatcher import Dispatcher
    from bot.outbox.wakeup import Wakeup

    if not once:
        fail("请加 --once；持续调度请用 `gongkai run --role worker`。", EXIT_USAGE)

    async def work(config: Config) -> None:
        dispatcher = Dispatcher(config, build_channels(config), Wakeup())
        processed = await dispatcher.run_until_idle(timeout)
        if as_json:
            click.echo(json.dumps({"processed": processed}))
        else:
            click.echo(f"已处理 {processed} 条投递。")

    session(ctx, work)


COMMANDS: tuple[click.Command, ...] = (item_group, deliveries_cmd, dispatch_cmd)
