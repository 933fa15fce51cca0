"""The annual report (bot/reports/annual.py) as files: Markdown with the sections of the official
format
(国办公开办函〔2021〕30号), one CSV per table (UTF-8 with BOM, so Excel reads the Chinese), and
bar charts as plain SVG text (no plotting library; every text is XML-escaped)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr
from zoneinfo import ZoneInfo

from bot.inbox.metrics import Group
from bot.reports.annual import MONTHS, OFFICIAL_ENFORCEMENT, AnnualReport, EnforcementCount
from bot.reports.labels import CHANNEL_LABELS, channel_label
from moderation.interpretation_stats import DIVERSIFIED_TARGET

__all__ = ["Table", "bar_chart_svg", "report_markdown", "report_tables", "write_report"]

MONTH_HEADERS = [f"{m}月" for m in range(1, MONTHS + 1)]
NOT_RECORDED = "—"


@dataclass(frozen=True)
class Table:
    name: str  # the CSV file's stem
    title: str
    header: list[str]
    rows: list[list[str | int]]


def _pct(value: float | None) -> str:
    return NOT_RECORDED if value is None else f"{value * 100:.1f}%"


def _monthly(
    name: str, title: str, first: str, data: dict[str, list[int]], labels: dict[str, str]
) -> Table:
    rows: list[list[str | int]] = [
        [labels.get(key, key), *counts, sum(counts)] for key, counts in data.items()
    ]
    totals = [sum(counts[m] for counts in data.values()) for m in range(MONTHS)]
    rows.append(["合计", *totals, sum(totals)])
    return Table(name, title, [first, *MONTH_HEADERS, "合计"], rows)


def _groups(name: str, title: str, first: str, groups: list[Group]) -> Table:
    header = [first, "收到", "已答复", "应按期答复", "按期答复", "按期答复率", "逾期未答复"]
    rows: list[list[str | int]] = [
        [
            g.key or "（未填）",
            g.total,
            g.answered,
            g.judged,
            g.on_time,
            _pct(g.on_time_rate),
            g.overdue_open,
        ]
        for g in groups
    ]
    return Table(name, title, header, rows)


def report_tables(r: AnnualReport) -> list[Table]:
    """Every table of the report, in the order of the Markdown."""
    tables = [
        _monthly(
            "items_by_kind", "按类别统计的主动公开条目（按月）", "类别", r.by_kind, r.kind_labels
        ),
        _monthly(
            "items_by_column",
            "按栏目统计的主动公开条目（按月）",
            "栏目",
            r.by_column,
            r.column_labels,
        ),
        _monthly(
            "items_by_channel", "按渠道统计的发布条目（按月）", "渠道", r.by_channel, CHANNEL_LABELS
        ),
    ]
    rate = r.interpretation
    if rate is not None:
        tables.append(
            Table(
                "interpretation",
                "政策解读多元化情况",
                ["解读稿件数", "多元化解读数", "多元化解读率", "目标", "是否达标"],
                [
                    [
                        rate.interpretations,
                        rate.diversified,
                        _pct(rate.rate),
                        _pct(DIVERSIFIED_TARGET),
                        {True: "是", False: "否", None: NOT_RECORDED}[rate.meets_target],
                    ]
                ],
            )
        )
    inbox = r.inbox
    if inbox is not None:
        o = inbox.overall
        hours = inbox.median_first_reply_hours
        tables.append(
            Table(
                "comments",
                "留言办理总体情况",
                [
                    "收到留言",
                    "已答复",
                    "应按期答复",
                    "按期答复",
                    "按期答复率",
                    "逾期未答复",
                    "首次答复用时中位数（小时）",
                    "垃圾信息（不计入）",
                ],
                [
                    [
                        o.total,
                        o.answered,
                        o.judged,
                        o.on_time,
                        _pct(o.on_time_rate),
                        o.overdue_open,
                        NOT_RECORDED if hours is None else f"{hours:.1f}",
                        inbox.spam,
                    ]
                ],
            )
        )
        months = {g.key: g for g in inbox.by_month}
        month_groups = [
            months.get(f"{r.year}-{m:02d}", Group(f"{r.year}-{m:02d}", 0, 0, 0, 0, 0))
            for m in range(1, MONTHS + 1)
        ]
        tables += [
            _groups("comments_by_category", "留言办理情况（按类别）", "类别", inbox.by_category),
            _groups("comments_by_office", "留言办理情况（按承办处室）", "处室", inbox.by_office),
            _groups(
                "comments_by_channel",
                "留言办理情况（按渠道）",
                "渠道",
                [
                    Group(
                        channel_label(g.key),
                        g.total,
                        g.answered,
                        g.on_time,
                        g.judged,
                        g.overdue_open,
                    )
                    for g in inbox.by_channel
                ],
            ),
            _groups("comments_by_month", "留言办理情况（按月）", "月份", month_groups),
        ]
    if r.matters is not None:
        tables += _matter_tables(r)
    p = r.policies
    tables.append(
        Table(
            "normative_documents",
            "第二十条第（一）项",
            ["信息内容", "本年制发件数", "本年废止件数", "现行有效件数"],
            [
                ["规章", NOT_RECORDED, NOT_RECORDED, NOT_RECORDED],
                ["行政规范性文件", p.issued, p.repealed, p.in_force],
            ],
        )
    )
    tables.append(
        Table(
            "normative_documents_validity",
            "行政规范性文件效力状态（年末）",
            ["有效", "已修订（仍有效）", "本年废止", "本年失效"],
            [[p.valid, p.amended, p.repealed, p.expired]],
        )
    )
    tables.append(
        Table(
            "enforcement_decisions",
            "第二十条第（五）（六）项",
            ["信息内容", "本年处理决定数量（已公示）"],
            [[c, r.enforcement.get(c, EnforcementCount()).published] for c in OFFICIAL_ENFORCEMENT],
        )
    )
    rows: list[list[str | int]] = []
    for category, count in r.enforcement.items():
        rows.append(
            [
                category,
                r.enforcement_days.get(category, 0),
                count.published,
                count.within,
                count.late,
                count.undated,
                _pct(count.within_rate),
            ]
        )
    tables.append(
        Table(
            "enforcement_timeliness",
            "行政执法公示及时性",
            [
                "执法类别",
                "公示期限（工作日）",
                "公示数量",
                "按期公示",
                "逾期公示",
                "决定日期缺失",
                "按期公示率",
            ],
            rows,
        )
    )
    return tables


def _matter_tables(r: AnnualReport) -> list[Table]:
    """集中诉求 and 专项回应: the tasks of the year and the matters the public raised."""
    assert r.matters is not None
    t = r.matters.tasks
    average = NOT_RECORDED if r.matters.average is None else f"{r.matters.average:.2f}"
    return [
        Table(
            "special_responses",
            "专项回应任务办理情况",
            ["立项", "按期办结", "逾期办结", "办理中", "其中已逾期", "按期办结率", "好差评条数",
             "好差评平均等级"],
            [[t.opened, t.on_time, t.late, t.open, t.overdue_open, _pct(t.on_time_rate),
              r.matters.ratings, average]],
        ),
        Table(
            "matters",
            "按办事事项统计的诉求与好差评",
            ["办事事项", "承办处室", "诉求件数", "好差评条数", "好差评平均等级", "专项回应立项"],
            [
                [m.name, m.office, m.messages, m.ratings,
                 NOT_RECORDED if m.average is None else f"{m.average:.2f}", m.tasks]
                for m in r.matters.matters
            ],
        ),
    ]  # fmt: skip


def _cell(value: str | int) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _markdown_table(table: Table) -> str:
    lines = [
        "| " + " | ".join(_cell(h) for h in table.header) + " |",
        "|" + "|".join(" --- " for _ in table.header) + "|",
    ]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in table.rows]
    return f"**{table.title}**\n\n" + "\n".join(lines) + "\n"


def _problems(r: AnnualReport) -> list[str]:
    """Facts from the figures an office should address in section 五."""
    found = []
    rate = r.interpretation
    if rate is not None and rate.meets_target is False:
        found.append(f"多元化解读率为 {_pct(rate.rate)}，低于 {_pct(DIVERSIFIED_TARGET)} 的目标。")
    late = sum(c.late for c in r.enforcement.values())
    if late:
        found.append(f"有 {late} 件行政执法决定未在规定期限内公示。")
    undated = sum(c.undated for c in r.enforcement.values())
    if undated:
        found.append(f"有 {undated} 件行政执法公示缺少可识别的决定日期，无法判断是否按期。")
    if r.inbox is not None:
        o = r.inbox.overall
        if o.judged > o.on_time:
            found.append(
                f"应按期答复的 {o.judged} 件留言中有 {o.judged - o.on_time} 件未按期答复"
                f"（按期答复率 {_pct(o.on_time_rate)}）。"
            )
    if r.matters is not None:
        t = r.matters.tasks
        if t.late or t.overdue_open:
            found.append(
                f"专项回应任务中有 {t.late} 项逾期办结、{t.overdue_open} 项已逾期仍在办理"
                f"（按期办结率 {_pct(t.on_time_rate)}）。"
            )
    return found


def report_markdown(r: AnnualReport, charts: dict[str, str] | None = None) -> str:
    """The report as Markdown; `charts` maps a chart's name to its file name (to link)."""
    charts = charts or {}
    tables = {t.name: t for t in report_tables(r)}
    local = r.generated_at.astimezone(ZoneInfo(r.timezone)).strftime("%Y-%m-%d %H:%M")
    short_days = r.enforcement_days.get("行政许可", 0)
    other_days = r.enforcement_days.get("行政强制", 0)

    def chart(name: str, alt: str) -> str:
        return f"![{alt}]({charts[name]})\n" if name in charts else ""

    def table(name: str) -> str:
        return _markdown_table(tables[name]) if name in tables else ""

    parts = [
        f"# {r.year}年政府信息公开工作年度报告（统计数据）\n",
        f"> 由公开（Gongkai）根据系统记录生成，生成时间 {local}（{r.timezone}）。"
        "按国办公开办函〔2021〕30号的格式整理，供撰写年度报告时引用；"
        "本系统没有记录的项目以“—”表示，请据实填写。\n",
        "## 一、总体情况\n",
        f"### （一）主动公开\n\n本年通过本系统主动公开信息 {r.published_total} 条"
        + (f"（另有 {r.retracted} 条发布后已撤稿，不计入）" if r.retracted else "")
        + "。\n",
        table("items_by_kind"),
        chart("items_by_month", "各月主动公开条目数"),
        chart("items_by_kind", "各类别主动公开条目数"),
        table("items_by_column"),
        table("items_by_channel"),
        "### （二）政策解读\n",
        table("interpretation"),
        "### （三）政务互动（留言办理）\n",
        table("comments"),
        chart("comments_by_month", "各月收到留言数"),
        table("comments_by_category"),
        table("comments_by_office"),
        table("comments_by_channel"),
        table("comments_by_month"),
        table("special_responses"),
        table("matters"),
        "## 二、主动公开政府信息情况\n",
        table("normative_documents"),
        table("normative_documents_validity"),
        table("enforcement_decisions"),
        table("enforcement_timeliness"),
        "## 三、收到和处理政府信息公开申请情况\n",
        "本系统不办理政府信息公开申请，请依据依申请公开办理台账填写。\n",
        "## 四、政府信息公开行政复议、行政诉讼情况\n",
        "本系统不记录行政复议、行政诉讼情况，请据实填写。\n",
        "## 五、存在的主要问题及改进情况\n",
        "\n".join(f"- {p}" for p in _problems(r)) + "\n"
        if _problems(r)
        else "根据系统统计，未发现需要说明的问题。\n",
        "## 六、其他需要报告的事项\n",
        "请据实填写。\n",
        "## 附：统计口径\n",
        "- 月份按北京时间（" + r.timezone + "）划分；条目按首次发布时间计入当月。\n"
        "- 主动公开条目不含发布后已撤稿的条目；渠道统计按条目首次在该渠道发布成功的时间计。\n"
        "- 行政规范性文件即类别为“政策文件”的条目；现行有效件数为年末有效及已修订（仍有效）"
        "的件数，本年废止、失效按年内最后一次效力变更计。\n"
        f"- 行政执法公示期限：行政许可、行政处罚为决定之日起 {short_days} 个工作日，"
        f"其他为 {other_days} 个工作日（法定节假日和调休计入）；"
        "按公示当日（北京时间）是否不晚于期限日判断。\n"
        "- 多元化解读率：采用文字以外至少一种解读形式的解读稿件占比，不含已撤稿的。\n"
        "- 留言按收到时间计，不含垃圾信息；应按期答复指有答复期限且已答复或已逾期的留言，"
        "按期答复指首次答复不晚于答复期限。\n"
        "- 诉求按办事事项归集（关键词优先，其次内容相近），不含垃圾信息和表扬；专项回应按立项"
        "时间计入当年，按期办结率为按期办结数除以已办结数与已逾期仍在办理数之和。\n",
    ]
    return "\n".join(p for p in parts if p)


def bar_chart_svg(title: str, labels: list[str], values: list[int], unit: str = "条") -> str:
    """A vertical bar chart as SVG text: one bar a label, its value above it."""
    width, height = 720, 360
    left, right, top, bottom = 50, 20, 50, 50
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max(values, default=0) or 1
    slot = plot_w / max(len(values), 1)
    bar = slot * 0.6
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f"<title>{escape(title)}</title>",
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="{width / 2}" y="28" text-anchor="middle" font-size="16">{escape(title)}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'stroke="#333333"/>',
        f'<text x="{left - 8}" y="{top + plot_h}" text-anchor="end">0</text>',
        f'<text x="{left - 8}" y="{top + 4}" text-anchor="end">{peak}</text>',
        f'<text x="{left - 8}" y="{top - 10}" text-anchor="end">{escape(unit)}</text>',
    ]
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        h = plot_h * value / peak
        x = left + i * slot + (slot - bar) / 2
        y = top + plot_h - h
        cx = x + bar / 2
        out.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="#c0392b">'
            f"<title>{escape(f'{label}: {value}')}</title></rect>"
        )
        out.append(f'<text x="{cx:.1f}" y="{y - 4:.1f}" text-anchor="middle">{value}</text>')
        out.append(
            f'<text x="{cx:.1f}" y="{top + plot_h + 18}" text-anchor="middle" '
            f"aria-label={quoteattr(label)}>{escape(label)}</text>"
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _charts(r: AnnualReport) -> dict[str, str]:
    """Chart name → SVG text."""
    charts = {
        "items_by_month": bar_chart_svg(
            f"{r.year}年各月主动公开条目数", MONTH_HEADERS, r.monthly_totals()
        ),
        "items_by_kind": bar_chart_svg(
            f"{r.year}年各类别主动公开条目数",
            [r.kind_labels.get(k, k) for k in r.by_kind],
            [sum(v) for v in r.by_kind.values()],
        ),
    }
    if r.inbox is not None:
        months = {g.key: g.total for g in r.inbox.by_month}
        charts["comments_by_month"] = bar_chart_svg(
            f"{r.year}年各月收到留言数",
            MONTH_HEADERS,
            [months.get(f"{r.year}-{m:02d}", 0) for m in range(1, MONTHS + 1)],
            "件",
        )
    return charts


def write_report(r: AnnualReport, out_dir: Path) -> list[Path]:
    """Write report.md, one CSV a table and the SVG charts into out_dir; the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    files: dict[str, str] = {}
    for name, svg in _charts(r).items():
        path = out_dir / f"{name}.svg"
        path.write_text(svg, encoding="utf-8")
        files[name] = path.name
        written.append(path)
    for table in report_tables(r):
        path = out_dir / f"{table.name}.csv"
        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(table.header)
            writer.writerows(table.rows)
        written.append(path)
    path = out_dir / "report.md"
    path.write_text(report_markdown(r, files), encoding="utf-8")
    written.insert(0, path)
    return written
