"""`gongkai report --year 2026 [--out DIR]`: the statistics of the annual report on government
information disclosure as Markdown, CSV and SVG files (bot/reports/annual.py,
bot/reports/annual_files.py)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from bot.cli.base import json_option, session
from bot.config import Config
from bot.reports.annual import annual_report
from bot.reports.annual_files import write_report


@click.command("report")
@click.option("--year", type=click.IntRange(2000, 9998), required=True, help="报告年度，如 2026")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="输出目录（默认 ./report-年度）",
)
@json_option
@click.pass_context
def report(ctx: click.Context, year: int, out_dir: Path | None, as_json: bool) -> None:
    """生成政府信息公开工作年度报告的统计数据（Markdown、CSV 与 SVG 图表）。"""
    target = out_dir or Path(f"report-{year}")

    async def work(config: Config) -> None:
        data = await annual_report(config, year)
        written = write_report(data, target)
        if as_json:
            summary = {
                "year": year,
                "published": data.published_total,
                "files": [str(p) for p in written],
            }
            click.echo(json.dumps(summary, ensure_ascii=False))
            return
        click.echo(f"{year} 年度报告统计已写入 {target}（主动公开 {data.published_total} 条）：")
        for path in written:
            click.echo(f"  {path}")

    session(ctx, work)


COMMANDS = (report,)
