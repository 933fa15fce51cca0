"""Inbox benchmark: ingestion with triage, and the moderators' list queries, at 100,000 comments.

- ingest: N realistic comments (questions, complaints, suggestions, thanks, a petition now and
  then, personal data in some, spam and floods in some, 5,000 authors, five channels, a year of
  receipt times, a knowledge base of FAQ entries and published items) through
  Inbox.ingest_many on a fresh SQLite file, 2,000 at a call; prints comments/s (target
  >= 2,000/s at 100,000), then the same batch again (all duplicates) to show the dedupe cost.
- list: the comments are then given realistic states (most answered, some closed, some
  assigned), and each list filter of bot/inbox/ops.list_comments (first page of 50 with its
  total) runs --repeat times; prints p50 and p99 in ms (target < 50 ms).

- model (--model-runs N, default 5): ingestion with triage again, on a fresh database each
  time, alternating the keyword scores and the category model trained on the shipped corpus
  (moderation/corpus/), --model-comments (20,000) each run; prints each run and the medians
  (target with the model >= 2,000/s; the keyword-only runs of the same invocation are the
  baseline). --model-runs 0 skips it.

Run: python benchmarks/inbox.py [--comments 100000]   (see benchmarks/README.md)
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tortoise.transactions import in_transaction

from bot import db, users
from bot.config import Config, PasswordConfig, parse_config
from bot.inbox.ingest import Inbox
from bot.inbox.ops import InboxFilter, list_comments
from bot.models import Comment, Faq, Item
from bot.search import index as search_index
from bot.search.documents import faq_doc, item_doc
from channels.base import IncomingComment
from moderation.classifier import Classifier, shipped_corpus

SUBJECTS = [
    "小额贷款公司",
    "融资担保公司",
    "典当行",
    "地方金融组织",
    "网络借贷",
    "非法集资",
    "行政许可",
    "政府信息公开申请",
    "普惠金融",
    "营业执照",
    "年度审计",
    "监管评级",
]
TEMPLATES = [
    ("请问{s}的设立条件是什么？需要准备哪些材料？", 30),
    ("想咨询一下{s}年审什么时候开始，在哪里提交？", 15),
    ("我要投诉某{s}工作人员服务态度恶劣，多次推诿。", 10),
    ("建议对{s}的监管政策出台更详细的解读，方便企业理解。", 10),
    ("{s}的办事窗口排队时间太长，希望增加网上办理渠道。", 8),
    ("感谢贵局工作人员耐心解答关于{s}的问题，点赞！", 5),
    ("求助：{s}拖欠我的款项，我的电话13812345678，请尽快联系。", 6),
    ("我要上访反映{s}问题，多年未解决，要求领导接访。", 2),
    ("加微信领福利，{s}低息贷款秒批 www.fast-loan.com", 4),
    ("关于{s}政策第{n}条的适用范围，身份证号110101199003078515的人是否适用？", 5),
    ("文章写得很好，{s}相关内容很有帮助。", 5),
]
CHANNELS = [
    ("wechat", "message", 40),
    ("wechat", "article_comment", 20),
    ("feed", "form", 20),
    ("app", "feedback", 15),
    ("hotline", "hotline", 5),
]


def generate(n: int, seed: int = 7) -> list[IncomingComment]:
    rng = random.Random(seed)
    templates, weights = zip(*[(t, w) for t, w in TEMPLATES], strict=True)
    channels, cweights = zip(*[((c, k), w) for c, k, w in CHANNELS], strict=True)
    start = datetime(2025, 1, 2, tzinfo=UTC)
    out = []
    for i in range(n):
        channel, kind = rng.choices(channels, cweights)[0]
        text = rng.choices(templates, weights)[0].format(
            s=rng.choice(SUBJECTS), n=rng.randint(1, 40)
        )
        if rng.random() < 0.5:
            text += f"（第{i}号留言）"  # most people write their own words
        out.append(
            IncomingComment(
                channel=channel,
                remote_id=f"{kind}:{i}",
                text=text,
                received_at=start + timedelta(seconds=i * 300 + rng.randint(0, 299)),
                kind=kind,
                author_ref=f"{channel}:{rng.randrange(5000):05d}",
                reply_ref={"openid": f"o{i}"} if channel == "wechat" else {},
            )
        )
    return out


async def seed_knowledge(author_id: int) -> None:
    """FAQ entries and published items, in the search index the knowledge base reads."""
    docs = []
    for s in SUBJECTS:
        faq = await Faq.create(
            question=f"{s}的设立条件是什么？", answer=f"{s}的设立条件见有关办法。"
        )
        item = await Item.create(
            kind="policy",
            title=f"关于加强{s}监督管理的通知",
            summary=f"{s}监督管理的要求。",
            body=f"为加强{s}监督管理，现就有关事项通知如下。" * 20,
            column="policy",
            office="法规处",
            status="published",
            author_id=author_id,
        )
        shown = {k: getattr(item, k) for k in ("kind", "title", "summary", "body", "office")}
        now = datetime.now(UTC)
        docs += [faq_doc(faq), item_doc(item.id, shown, version=1, validity="", published_at=now)]
    async with in_transaction() as conn:
        await search_index.store(conn, docs)


async def shape_states(rng: random.Random) -> None:
    """Most comments answered, some closed, some assigned: what a year of work looks like."""
    conn = db.connection()
    ids = [r["id"] for r in await conn.execute_query_dict("SELECT id FROM gk_comment")]
    replied = [i for i in ids if rng.random() < 0.7]
    await Comment.filter(id__in=replied[: len(replied)], status="open").update(
        status="replied", reply_status="sent"
    )
    closed = [i for i in ids if rng.random() < 0.1]
    await Comment.filter(id__in=closed, status="replied").update(status="closed")
    user = await users.add_user(
        "mia", ["moderator"], None, "bench", policy=PasswordConfig(), must_change=False
    )
    assigned = [i for i in ids if rng.random() < 0.05]
    await Comment.filter(id__in=assigned).update(assignee_id=user.id)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def bench_database(folder: Path, name: str) -> Config:
    """A fresh SQLite file in `folder`, migrated, connected, with an author and the seeded
    knowledge base."""
    config: Config = parse_config(
        {"database": {"url": f"sqlite://{folder}/{name}.db"}},
        "bench",
        environ={"GONGKAI_AUTHOR_KEY": "bench"},
    )
    await db.init(config, check_schema=False)
    await db.upgrade()
    author = await users.add_user(
        "alice", ["editor"], None, "bench", policy=config.staff.password, must_change=False
    )
    await seed_knowledge(author.id)
    return config


async def ingest_rate(
    folder: Path, name: str, batch: list[IncomingComment], classifier: Classifier | None
) -> float:
    """Comments/s of ingest + triage into a fresh SQLite file, with `classifier` (or none)."""
    config = await bench_database(folder, name)
    try:
        inbox = Inbox(config)
        await inbox.refresh_knowledge()
        inbox.triage.set_classifier(classifier)
        t = time.perf_counter()
        for start in range(0, len(batch), 2000):
            await inbox.ingest_many(batch[start : start + 2000])
        return len(batch) / (time.perf_counter() - t)
    finally:
        await db.close()


async def compare_model(args: argparse.Namespace) -> None:
    corpus = [row for rows in shipped_corpus().values() for row in rows]
    t = time.perf_counter()
    classifier = Classifier.fit([text for text, _ in corpus], [c for _, c in corpus])
    print(
        f"model: trained on the shipped corpus ({len(corpus)} examples) in "
        f"{time.perf_counter() - t:.1f} s; {args.model_comments:,} comments a run"
    )
    batch = generate(args.model_comments, seed=11)
    rates: dict[str, list[float]] = {"keywords": [], "model": []}
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(args.model_runs):
            for kind, used in (("keywords", None), ("model", classifier)):
                rate = await ingest_rate(Path(tmp), f"{kind}-{n}", batch, used)
                rates[kind].append(rate)
                print(f"  run {n + 1} {kind:<8} {rate:,.0f} comments/s")
    keywords, model = statistics.median(rates["keywords"]), statistics.median(rates["model"])
    print(
        f"  median of {args.model_runs}: keywords {keywords:,.0f}/s, model {model:,.0f}/s "
        f"({model / keywords:.2f}x the keyword-only triage)"
    )


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep) if args.keep else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        config = await bench_database(folder, "bench")
        try:
            inbox = Inbox(config)
            docs = await inbox.refresh_knowledge()
            batch = generate(args.comments)
            print(f"ingest: {len(batch):,} comments, knowledge base {docs} documents")
            t = time.perf_counter()
            for start in range(0, len(batch), 2000):
                await inbox.ingest_many(batch[start : start + 2000])
            elapsed = time.perf_counter() - t
            stored = await Comment.all().count()
            print(f"  ingest + triage: {elapsed:.1f} s, {len(batch) / elapsed:,.0f} comments/s")
            t = time.perf_counter()
            for start in range(0, len(batch), 2000):
                await inbox.ingest_many(batch[start : start + 2000])
            again = time.perf_counter() - t
            print(
                f"  the same again (all duplicates): {len(batch) / again:,.0f} comments/s; "
                f"stored {stored:,} rows, {await Comment.all().count():,} after"
            )
            spam = await Comment.filter(status="spam").count()
            petitions = await Comment.filter(status="petition").count()
            print(f"  triage: {spam:,} spam, {petitions:,} petitions")
            await shape_states(random.Random(3))
            # Late in the year the comments span: old ones overdue, recent ones due soon.
            now = batch[int(len(batch) * 0.98)].received_at
            office = (
                await Comment.filter(status="open").order_by("office").first().values("office")
            )["office"]
            filters = {
                "all (newest first)": InboxFilter(),
                "status=open": InboxFilter(status="open"),
                "status=replied": InboxFilter(status="replied"),
                "channel=wechat": InboxFilter(channel="wechat"),
                "office + open": InboxFilter(office=office, status="open"),
                "category=投诉": InboxFilter(category="投诉"),
                "assignee=mia": InboxFilter(assignee="mia"),
                "overdue": InboxFilter(overdue=True),
                "due soon": InboxFilter(due_soon=True),
                "page 100 of all": InboxFilter(),
            }
            stages: list[tuple[str, str | None]] = [
                ("as ingested (no statistics)", None),
                ("after ANALYZE (the inbox.analyze job)", "ANALYZE gk_comment"),
            ]
            for title, statement in stages:
                if statement:
                    await db.connection().execute_script(statement)
                print(f"list {title}: first page of 50 + total, {args.repeat} runs each, ms:")
                for name, f in filters.items():
                    page = 100 if name.startswith("page 100") else 1
                    times = []
                    for _ in range(args.repeat):
                        t = time.perf_counter()
                        result = await list_comments(f, config, page=page, now=now)
                        times.append((time.perf_counter() - t) * 1000)
                    print(
                        f"  {name:<24} total {result.total:>7,}"
                        f"  p50 {statistics.median(times):6.1f}  p99 {pct(times, 0.99):6.1f}"
                    )
        finally:
            await db.close()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--comments", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--keep", metavar="DIR", help="keep the database in DIR/bench.db")
    parser.add_argument("--model-runs", type=int, default=5)
    parser.add_argument("--model-comments", type=int, default=20_000)
    parser.add_argument("--skip-list", action="store_true", help="only the model comparison")
    return parser.parse_args()


async def main(args: argparse.Namespace) -> None:
    if not args.skip_list:
        await run(args)
    if args.model_runs:
        await compare_model(args)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
