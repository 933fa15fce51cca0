"""Pre-review at the command line: `gongkai review FILE` checks a draft without storing it and
shows each finding on its text; `gongkai findings ITEM` lists an item's findings;
`gongkai finding override ID --reason …` lets a reviewer accept one in writing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.text import Text

from bot.cli.base import as_option, json_option, session, username
from bot.cli.output import SEVERITY_LABELS, STAGE_LABELS, print_table
from bot.config import Config
from moderation.findings import FindingData

CONTEXT_CHARS = 20  # characters shown on each side of the offending text


def highlighted(text: str, span: tuple[int, int]) -> Text:
    """The offending text in reverse video, with a little context on each side."""
    start, end = span
    before = text[max(0, start - CONTEXT_CHARS) : start]
    after = text[end : end + CONTEXT_CHARS]
    out = Text("…" if start > CONTEXT_CHARS else "")
    out.append(before.replace("\n", " "))
    out.append(text[start:end], style="reverse bold red")
    out.append(after.replace("\n", " "))
    if end + CONTEXT_CHARS < len(text):
        out.append("…")
    return out


def field_text(snap: dict[str, Any], field: str) -> str | None:
    value: Any = snap
    for part in field.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value if isinstance(value, str) else None


def show(findings: list[FindingData], snap: dict[str, Any]) -> None:
    console = Console(highlight=False)
    if not findings:
        console.print("预审通过：未发现问题。")
        return
    for f in findings:
        label = SEVERITY_LABELS.get(f.severity, f.severity)
        if f.overridable:
            label += "（可由审核人员书面豁免）"
        console.print(Text(f"[{label}] {f.field or '(条目)'}：{f.message}"))
        text = field_text(snap, f.field) if f.span else None
        if text is not None and f.span is not None:
            console.print(Text("    ").append(highlighted(text, f.span)))
        if f.suggestion:
            console.print(Text(f"    建议：{f.suggestion}"))


@click.command("review")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@json_option
@click.pass_context
def review_file(ctx: click.Context, path: Path, as_json: bool) -> None:
    """预审一份稿件文件（不保存）；有阻断项时退出码为 5。"""
    from bot.errors import EXIT_CHECK_FAILED
    from bot.items import prereview
    from bot.items.itemfile import load_item_file
    from bot.items.serialize import review_finding_json

    async def work(config: Config) -> list[FindingData]:
        data = load_item_file(path)
        snap = {**data.model_dump(mode="json"), "id": None, "version": 0}
        snap["column"] = snap.get("column") or data.kind.value
        channels = data.channels or config.channels.enabled_names()
        findings = await prereview.run(snap, config, channels)
        if as_json:
            click.echo(
                json.dumps(
                    [review_finding_json(f) for f in findings],
                    ensure_ascii=False,
                    indent=2,
                )
            )
        else:
            show(findings, snap)
        return findings

    findings = session(ctx, work) or []
    if any(f.blocks for f in findings):
        ctx.exit(EXIT_CHECK_FAILED)


@click.command("findings")
@click.argument("item_id", type=int)
@json_option
@click.pass_context
def list_findings(ctx: click.Context, item_id: int, as_json: bool) -> None:
    """列出条目当前版本的预审提示（含编号与确认情况）。"""
    from bot.items import prereview
    from bot.items.lifecycle import ItemNotFound
    from bot.items.serialize import finding_json
    from bot.models import Item

    async def work(config: Config) -> None:
        item = await Item.filter(id=item_id).first()
        if item is None:
            raise ItemNotFound(item_id)
        rows = await prereview.findings_now(item)  # a draft's last save, else submit on
        if as_json:
            click.echo(json.dumps([finding_json(f) for f in rows], ensure_ascii=False, indent=2))
            return
        print_table(
            f"条目 #{item.id} 第 {item.version} 版的预审提示",
            ["编号", "阶段", "级别", "字段", "提示", "确认"],
            [
                [
                    str(f.id),
                    STAGE_LABELS.get(f.stage, f.stage),
                    SEVERITY_LABELS.get(f.severity, f.severity),
                    f.field,
                    f.message,
                    f"{f.overridden_by}：{f.override_reason}"
                    if f.overridden_at
                    else ("待确认" if f.needs_override else "—"),
                ]
                for f in rows
            ],
        )

    session(ctx, work)


@click.group("finding")
def finding_group() -> None:
    """预审提示。"""


@finding_group.command("override")
@click.argument("finding_id", type=int)
@click.option("--reason", required=True, help="书面理由（记入审计日志）")
@as_option
@click.pass_context
def override(ctx: click.Context, finding_id: int, reason: str, as_user: str | None) -> None:
    """审核人员以书面理由确认一条预审提示（警告或可豁免的阻断项）。"""
    from bot import users
    from bot.items import lifecycle

    name = username(ctx, as_user)

    async def work(config: Config) -> None:
        finding = await lifecycle.override_finding(
            finding_id, await users.actor_for_user(name), reason
        )
        click.echo(f"已确认预审提示 #{finding.id}（{finding.message}）。")

    session(ctx, work)


@click.command("interpretation-rate")
@click.option("--from", "start", required=True, type=click.DateTime(["%Y-%m-%d"]), help="起始日期")
@click.option(
    "--to", "end", required=True, type=click.DateTime(["%Y-%m-%d"]), help="截止日期（含）"
)
@json_option
@click.pass_context
def interpretation_rate(ctx: click.Context, start: Any, end: Any, as_json: bool) -> None:
    """多元化解读率：期间内发布的解读中，含文字以外形式（图解、视频等）的比例（目标 ≥ 60%）。"""
    from bot.reports import stats

    async def work(config: Config) -> None:
        r = await stats.interpretation_rate(start.date(), end.date(), config.app.timezone)
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "from": r.start.isoformat(),
                        "to": r.end.isoformat(),
                        "interpretations": r.interpretations,
                        "diversified": r.diversified,
                        "rate": r.rate,
                        "target": stats.DIVERSIFIED_TARGET,
                        "meets_target": r.meets_target,
                    },
                    ensure_ascii=False,
                )
            )
        elif r.rate is None:
            click.echo(f"{r.start} 至 {r.end} 没有发布政策解读。")
        else:
            verdict = "达标" if r.meets_target else "未达标"
            click.echo(
                f"{r.start} 至 {r.end}：解读 {r.interpretations} 篇，多元化 {r.diversified} 篇，"
                f"多元化解读率 {r.rate:.0%}（目标 ≥ {stats.DIVERSIFIED_TARGET:.0%}，{verdict}）。"
            )

    session(ctx, work)


COMMANDS = (review_file, list_findings, finding_group, interpretation_rate)
