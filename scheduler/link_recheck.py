"""The nightly re-check of everything published (错链断链): every http(s) link in the published
version of every item still online is fetched again with the pre-review link checker
(bot/items/linkcheck.py: bounded concurrency, the [review] timeout, redirects followed by hand,
links to our own items answered from the database), and what no longer works is reported.

The report is the job's JobSlot result (the broken links per item), a Markdown file under
`scheduler.reports_dir` when one is set, and one alert to staff naming item, link and problem.
A fresh checker is built for each run: a nightly check must not answer from a cache.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import aiohttp

from bot.config import Config
from bot.items.linkcheck import LinkChecker, retracted_items
from bot.models import Item, ItemStatus, ItemVersion
from moderation.findings import LinkProblem
from moderation.rules import links
from scheduler.alerts import Alerter

log = logging.getLogger(__name__)
BATCH = 200  # items read, and links checked, per round
ALERT_LINES = 20


@dataclass(frozen=True)
class BrokenLink:
    item_id: int
    title: str
    url: str
    kind: str
    severity: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "item_id": self.item_id,
            "title": self.title,
            "url": self.url,
            "kind": self.kind,
            "severity": self.severity,
            "message": self.message,
        }


async def published_links() -> list[tuple[int, str, list[str]]]:
    """(item id, title, its checkable links) of the version each item has online: items with a
    published version that are not retracted (an item edited after publication keeps its
    published version online until the new one goes out)."""
    rows = (
        await Item.filter(published_version__isnull=False)
        .exclude(status=ItemStatus.RETRACTED.value)
        .order_by("id")
        .values("id", "title", "published_version")
    )
    out = []
    for start in range(0, len(rows), BATCH):
        batch = rows[start : start + BATCH]
        wanted = {int(r["id"]): int(r["published_version"]) for r in batch}
        versions = await ItemVersion.filter(item_id__in=list(wanted)).values(
            "item_id", "version", "snapshot"
        )
        snapshots = {
            int(v["item_id"]): v["snapshot"]
            for v in versions
            if wanted.get(int(v["item_id"])) == int(v["version"])
        }
        for r in batch:
            snap = snapshots.get(int(r["id"]))
            if not snap:
                continue
            urls = [u for _, u, _ in links.extract_links(snap) if links.fetchable(u)]
            if urls:
                out.append((int(r["id"]), str(r["title"]), list(dict.fromkeys(urls))))
    return out


def markdown_report(day: date, items: int, checked: int, broken: list[BrokenLink]) -> str:
    lines = [
        f"# 错链断链复查报告 {day.isoformat()}",
        "",
        f"复查已发布稿件 {items} 条，链接 {checked} 个，发现问题 {len(broken)} 个。",
        "",
    ]
    if broken:
        lines += ["| 稿件 | 标题 | 链接 | 问题 |", "| --- | --- | --- | --- |"]
        for b in broken:
            cells = [f"#{b.item_id}", b.title, b.url, b.message]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def alert_text(day: date, broken: list[BrokenLink]) -> str:
    head = f"【错链断链】{day.isoformat()} 复查已发布稿件，发现 {len(broken)} 个链接有问题："
    lines = [f"#{b.item_id}《{b.title}》：{b.message}" for b in broken[:ALERT_LINES]]
    if len(broken) > ALERT_LINES:
        lines.append(f"……另有 {len(broken) - ALERT_LINES} 个，详见复查报告。")
    return "\n".join([head, *lines])


async def recheck_links(
    config: Config, session: aiohttp.ClientSession, alerter: Alerter, day: date
) -> dict[str, Any]:
    """Check every published link once; report and alert what is broken."""
    r = config.review
    checker = LinkChecker(
        session,
        timeout=r.link_timeout_seconds,
        concurrency=r.link_concurrency,
        cache_seconds=0,
        own_base_url=config.app.public_base_url,
        retracted_lookup=retracted_items,
        allow_private=r.link_allow_private,
    )
    found = await published_links()
    unique = list(dict.fromkeys(u for _, _, urls in found for u in urls))
    answers: dict[str, LinkProblem | None] = {}
    for start in range(0, len(unique), BATCH):
        answers.update(await checker(unique[start : start + BATCH]))
    broken = [
        BrokenLink(
            item_id,
            title,
            url,
            str(getattr(problem, "kind", "problem")),
            problem.severity,
            problem.message,
        )
        for item_id, title, urls in found
        for url in urls
        if (problem := answers.get(url)) is not None
    ]
    report = ""
    if config.scheduler.reports_dir:
        path = Path(config.scheduler.reports_dir) / f"linkcheck-{day.isoformat()}.md"
        text = markdown_report(day, len(found), len(unique), broken)
        await asyncio.to_thread(_write, path, text)
        report = str(path)
    if broken:
        await alerter.send(alert_text(day, broken))
    log.info("link recheck %s: %d links, %d problems", day, len(unique), len(broken))
    return {
        "day": day.isoformat(),
        "items": len(found),
        "links": len(unique),
        "broken": [b.as_dict() for b in broken],
        "report": report,
    }


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
